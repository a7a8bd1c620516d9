//! The worksheet reader on real files from real producers (openpyxl, LibreOffice), and on
//! hostile files built to take a reader down. Fixtures: `tests/fixtures/read/`, made by
//! `make_fixtures.py` there.

use rolecall::document::{Document, Format, ValueKind};
use rolecall::finding::Rule;
use rolecall::intake;
use rolecall::layout::{Field, RequesterField};
use rolecall::location::Location;
use rolecall::read::{Isolation, read_document};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/read")
        .join(name)
}

fn child() -> Isolation {
    Isolation::Child {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_rolecall")),
        memory_mb: 1024,
        timeout: Duration::from_secs(60),
    }
}

/// Sniffs and reads a fixture in a child process, as the command line does.
fn read(name: &str) -> Document {
    let path = fixture(name);
    let format = intake::sniff(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    read_document(&path, format, &child())
}

/// A value as `(field, text, cell, kind)`.
type Cell = (Field, String, String, ValueKind);

/// Each row as `(row, [(field, text, cell, kind)])`, for comparing whole documents.
fn table(doc: &Document) -> Vec<(u32, Vec<Cell>)> {
    doc.rows
        .iter()
        .map(|r| {
            (
                r.location.row().unwrap(),
                r.values
                    .iter()
                    .map(|(f, v)| (*f, v.text.clone(), v.location.to_string(), v.kind))
                    .collect(),
            )
        })
        .collect()
}

fn rules(doc: &Document) -> Vec<(Rule, String)> {
    doc.findings
        .iter()
        .map(|f| (f.rule, f.location.to_string()))
        .collect()
}

fn only_finding(doc: &Document) -> &rolecall::finding::Finding {
    assert_eq!(doc.findings.len(), 1, "{:#?}", doc.findings);
    &doc.findings[0]
}

#[test]
fn template_layout_gives_requester_block_and_one_line_per_row() {
    let doc = read("template_layout.xlsx");
    assert_eq!(doc.sheet.as_deref(), Some("Accounts"));
    assert_eq!(doc.header_row, Some(8));
    assert_eq!(doc.columns.len(), 14);
    assert!(doc.findings.is_empty(), "{:#?}", doc.findings);

    let email = doc.requester(RequesterField::Email).unwrap();
    assert_eq!(email.text, "ana.diaz@ucf.edu");
    assert_eq!(email.location.to_string(), "Accounts!B3");
    assert_eq!(
        doc.requester(RequesterField::Institution).unwrap().text,
        "01FALSC_UCF"
    );
    assert_eq!(
        doc.requester(RequesterField::CatalogVersion).unwrap().text,
        "2025.1"
    );

    let rows: Vec<u32> = doc.rows.iter().map(|r| r.location.row().unwrap()).collect();
    assert_eq!(rows, [9, 10, 11, 12]);
    let first = &doc.rows[0];
    assert_eq!(first.location.to_string(), "Accounts!9:9");
    let id = &first.values[&Field::PrimaryId];
    assert_eq!((id.text.as_str(), id.kind), ("12345", ValueKind::Number));
    assert_eq!(id.location.to_string(), "Accounts!B9");
    let expiry = &first.values[&Field::Expiry];
    assert_eq!(
        (expiry.text.as_str(), expiry.kind),
        ("2025-12-31", ValueKind::Date)
    );
    assert_eq!(expiry.location.to_string(), "Accounts!M9");
    // The same ID typed as text on the next line, and one whose zeros were kept as text.
    assert_eq!(doc.rows[1].values[&Field::PrimaryId].kind, ValueKind::Text);
    assert_eq!(doc.rows[2].text(Field::PrimaryId), Some("00789"));
    assert_eq!(doc.rows[2].text(Field::Change), Some("Remove"));
}

#[test]
fn messy_sheet_header_below_titles_shuffled_renamed_columns() {
    let doc = read("messy.xlsx");
    assert_eq!(doc.header_row, Some(3));
    // "Roles", "E-mail address", "Surname", "Request type", "User ID", "Given name", ...
    let cols: Vec<(Field, u32)> = doc.columns.iter().map(|(f, c)| (*f, *c)).collect();
    assert_eq!(
        cols,
        [
            (Field::Action, 4),
            (Field::PrimaryId, 5),
            (Field::LastName, 3),
            (Field::FirstName, 6),
            (Field::Email, 2),
            (Field::Role, 1),
            (Field::Library, 7),
            (Field::Expiry, 8),
        ]
    );
    // "Shoe size" is unknown; "Status" (from a result workbook) is ignored silently.
    assert_eq!(doc.extra_columns, [(9, "Shoe size".to_string())]);
    assert_eq!(
        rules(&doc),
        [(Rule::UnknownColumn, "Accounts!I3".to_string())]
    );
    assert!(!doc.findings[0].is_error());

    // Blank rows 4, 7 (spaces only) and 8 are skipped.
    let rows: Vec<u32> = doc.rows.iter().map(|r| r.location.row().unwrap()).collect();
    assert_eq!(rows, [5, 6, 9]);
    let r5 = &doc.rows[0];
    assert_eq!(
        r5.text(Field::LastName),
        Some("Ruiz"),
        "non-breaking space trimmed"
    );
    assert_eq!(r5.text(Field::Email), Some("ana.ruiz@fiu.edu"));
    assert_eq!(r5.text(Field::Role), Some("Cataloger; Catalog Manager"));
    assert_eq!(r5.values[&Field::PrimaryId].kind, ValueKind::Number);
    assert_eq!(r5.text(Field::PrimaryId), Some("12345"));
    assert_eq!(r5.values[&Field::Expiry].text, "2026-01-15");
    assert_eq!(
        r5.values[&Field::Expiry].location.to_string(),
        "Accounts!H5"
    );
    let r6 = &doc.rows[1];
    assert_eq!(
        r6.text(Field::Role),
        Some("Circulation Desk Operator\nRequests Operator")
    );
    assert_eq!(r6.text(Field::Action), Some("add"));
    assert_eq!(r6.values[&Field::PrimaryId].kind, ValueKind::Text);
    assert_eq!(r6.text(Field::PrimaryId), Some("00789"));
    assert_eq!(
        doc.rows[2].values[&Field::PrimaryId].location.to_string(),
        "Accounts!E9"
    );
}

#[test]
fn xlsx_xls_and_ods_of_the_same_sheet_read_the_same() {
    for base in ["template_layout", "messy", "accounts_second"] {
        let xlsx = read(&format!("{base}.xlsx"));
        assert!(!xlsx.rows.is_empty(), "{base}");
        for ext in ["xls", "ods"] {
            let other = read(&format!("{base}.{ext}"));
            let name = format!("{base}.{ext}");
            assert_eq!(table(&other), table(&xlsx), "{name}");
            assert_eq!(other.requester, xlsx.requester, "{name}");
            assert_eq!(other.columns, xlsx.columns, "{name}");
            assert_eq!(other.header_row, xlsx.header_row, "{name}");
            assert_eq!(other.sheet, xlsx.sheet, "{name}");
            assert_eq!(rules(&other), rules(&xlsx), "{name}");
        }
    }
}

#[test]
fn accounts_sheet_is_found_after_other_sheets_with_a_requester_sheet() {
    let doc = read("accounts_second.xlsx");
    assert_eq!(doc.sheet.as_deref(), Some("Accounts"));
    assert_eq!(doc.header_row, Some(1));
    assert_eq!(doc.rows.len(), 1);
    assert_eq!(
        doc.rows[0].values[&Field::Role].location.to_string(),
        "Accounts!D2"
    );
    let name = doc.requester(RequesterField::Name).unwrap();
    assert_eq!(name.text, "Sam Ortiz");
    assert_eq!(name.location.to_string(), "Requester!B1");
    assert_eq!(
        doc.requester(RequesterField::Email).unwrap().text,
        "sam.ortiz@usf.edu"
    );
}

#[test]
fn an_empty_workbook_says_it_is_empty() {
    let doc = read("empty.xlsx");
    let f = only_finding(&doc);
    assert_eq!((f.rule, &f.location), (Rule::NoHeader, &Location::File));
    assert!(f.message.contains("empty"), "{}", f.message);
    assert!(doc.is_unreadable());
}

#[test]
fn a_workbook_without_the_headings_names_the_headings_it_needs() {
    let doc = read("no_header.xlsx");
    let f = only_finding(&doc);
    assert_eq!(f.rule, Rule::NoHeader);
    assert!(f.message.contains("Primary ID"), "{}", f.message);
    assert!(doc.rows.is_empty());
}

#[test]
fn a_renamed_text_file_is_not_a_submission() {
    let err = intake::sniff(&fixture("renamed_text.xlsx")).unwrap_err();
    assert_eq!(err, intake::SkipReason::Text);
    assert_eq!(err.to_string(), "a text file, not a workbook or PDF form");
    // Even if a caller insists, the reader gives a finding, not a panic.
    let doc = read_document(&fixture("renamed_text.xlsx"), Format::Xlsx, &child());
    assert_eq!(only_finding(&doc).rule, Rule::Unreadable);
    let doc = read_document(
        &fixture("renamed_text.xlsx"),
        Format::Xls,
        &Isolation::InProcess,
    );
    assert_eq!(only_finding(&doc).rule, Rule::Unreadable);
}

#[test]
fn real_workbooks_are_sniffed_by_content() {
    for (name, want) in [
        ("template_layout.xlsx", Format::Xlsx),
        ("template_layout.xls", Format::Xls),
        ("template_layout.ods", Format::Ods),
        ("hostile_dense_grid.xlsx", Format::Xlsx),
        ("hostile_dense_grid.ods", Format::Ods),
    ] {
        assert_eq!(intake::sniff(&fixture(name)), Ok(want), "{name}");
    }
}

#[test]
fn a_pdf_that_is_only_a_header_is_damaged_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("form.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n%\xE2\xE3\n").unwrap();
    assert_eq!(intake::sniff(&pdf), Ok(Format::Pdf));
    let doc = rolecall::read::read_submission(
        &pdf,
        Format::Pdf,
        &child(),
        &rolecall::catalog::bundled(),
        rolecall::read::DEFAULT_MAX_LINES,
    );
    let f = only_finding(&doc);
    assert_eq!(f.rule, Rule::Unreadable);
    assert!(f.message.contains("damaged or incomplete"), "{f:?}");
    assert!(f.message.contains("Save As"), "says what to do: {f:?}");
}

// ------------------------------------------------------------------ hostile files

/// Reads a hostile file in a child and checks it ends as a size or damage finding, fast.
fn hostile(name: &str, isolation: &Isolation) -> rolecall::finding::Finding {
    let started = Instant::now();
    let doc = read_document(
        &fixture(name),
        intake::sniff(&fixture(name)).unwrap(),
        isolation,
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{name} took {:?}",
        started.elapsed()
    );
    assert!(doc.rows.is_empty(), "{name}");
    let f = only_finding(&doc).clone();
    assert!(
        matches!(f.rule, Rule::TooLarge | Rule::Unreadable),
        "{name}: {f}"
    );
    assert!(f.is_error());
    f
}

#[test]
fn a1_and_xfd1048576_is_too_large_in_a_child_and_in_process() {
    for isolation in [child(), Isolation::InProcess] {
        let f = hostile("hostile_dense_grid.xlsx", &isolation);
        assert_eq!(f.rule, Rule::TooLarge);
        assert_eq!(f.location.to_string(), "sheet Accounts");
        assert!(f.message.contains("Accounts!XFD1048576"), "{}", f.message);
    }
}

#[test]
fn a_shared_strings_bomb_is_refused_before_it_is_inflated() {
    for isolation in [child(), Isolation::InProcess] {
        let f = hostile("hostile_strings_bomb.xlsx", &isolation);
        assert_eq!(f.rule, Rule::TooLarge);
        assert!(f.message.contains("xl/sharedStrings.xml"), "{}", f.message);
    }
}

#[test]
fn a_shared_strings_bomb_with_lying_zip_headers_is_stopped() {
    // The zip reader refuses to inflate past the declared size, so this ends as damage.
    for isolation in [child(), Isolation::InProcess] {
        hostile("hostile_strings_bomb_lying.xlsx", &isolation);
    }
}

#[test]
fn an_ods_that_unpacks_to_gigabytes_is_stopped_by_the_child_memory_limit() {
    // Never read in process: calamine would try to allocate about 3 GB.
    let f = hostile("hostile_dense_grid.ods", &child());
    assert_eq!(f.rule, Rule::TooLarge);
    assert!(f.message.contains("memory limit"), "{}", f.message);
}

#[test]
fn a_child_that_runs_out_of_time_is_killed_and_reported() {
    let isolation = Isolation::Child {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_rolecall")),
        memory_mb: 4096,
        timeout: Duration::from_millis(1),
    };
    let f = hostile("hostile_dense_grid.ods", &isolation);
    assert_eq!(f.rule, Rule::TooLarge);
    assert!(f.message.contains("time limit"), "{}", f.message);
}

#[test]
fn a_folder_with_hostile_files_still_reads_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in [
        "hostile_dense_grid.xlsx",
        "hostile_dense_grid.ods",
        "hostile_strings_bomb.xlsx",
        "template_layout.xlsx",
        "renamed_text.xlsx",
    ] {
        std::fs::copy(fixture(name), d.join(name)).unwrap();
    }
    std::fs::create_dir(d.join("catalog")).unwrap();
    std::fs::write(d.join("catalog/roles.toml"), "[[role]]\ncode = 204\n").unwrap();
    std::fs::write(d.join("request.eml"), "From: a@b\r\n\r\nhi").unwrap();
    std::fs::write(d.join(".DS_Store"), [0u8, 1, 2]).unwrap();

    let collected = intake::collect(&[d.to_path_buf(), d.join("missing.xlsx")]);
    let names = |p: &Path| {
        p.strip_prefix(d)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let subs: Vec<(String, Format)> = collected
        .submissions
        .iter()
        .map(|(p, f)| (names(p), *f))
        .collect();
    assert_eq!(
        subs,
        [
            ("hostile_dense_grid.ods".to_string(), Format::Ods),
            ("hostile_dense_grid.xlsx".to_string(), Format::Xlsx),
            ("hostile_strings_bomb.xlsx".to_string(), Format::Xlsx),
            ("template_layout.xlsx".to_string(), Format::Xlsx),
        ]
    );
    let skipped: Vec<(String, String)> = collected
        .skipped
        .iter()
        .map(|s| (names(&s.path), s.reason.to_string()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "catalog/roles.toml".to_string(),
                "a text file, not a workbook or PDF form".to_string()
            ),
            (
                "renamed_text.xlsx".to_string(),
                "a text file, not a workbook or PDF form".to_string()
            ),
            (
                "request.eml".to_string(),
                "an email message: drop it into the inbox of `rolecall watch`, which reads its attachments and answers the sender".to_string()
            ),
            (
                "missing.xlsx".to_string(),
                "no such file or folder".to_string()
            ),
        ]
    );

    let isolation = child();
    let docs: Vec<Document> = collected
        .submissions
        .iter()
        .map(|(p, f)| read_document(p, *f, &isolation))
        .collect();
    for doc in &docs[..3] {
        assert_eq!(doc.findings[0].rule, Rule::TooLarge);
    }
    assert_eq!(docs[3].rows.len(), 4);
    assert!(docs[3].findings.is_empty());
}

#[test]
fn an_xls_that_makes_calamine_panic_is_a_damaged_file_not_a_crash() {
    // Found by the workbook_reader fuzz target: calamine 0.38 panics in cfb.rs ("slice index
    // starts at 8192 but ends at 7691") on this cut-off compound file. Intake already refuses
    // it (no Workbook stream), but the reader must hold on its own: it catches the panic in
    // process, and the child process turns it into a finding too.
    let path = fixture("fuzz_cfb_short_sector.xls");
    assert!(intake::sniff(&path).is_err());
    for isolation in [child(), Isolation::InProcess] {
        let doc = read_document(&path, Format::Xls, &isolation);
        let f = only_finding(&doc);
        assert_eq!(f.rule, Rule::Unreadable, "{f}");
        assert!(doc.rows.is_empty());
    }
}

#[test]
fn an_xls_that_asks_calamine_for_10_gb_is_too_large_in_the_child() {
    // Found by the workbook_reader fuzz target: a 9 KB .xls whose dimensions make calamine
    // allocate about 10 GB for its cell grid (an abort, not a panic, so only the child's
    // memory limit stops it; in process it would end the program).
    let path = fixture("fuzz_xls_huge_dimensions.xls");
    assert_eq!(intake::sniff(&path), Ok(Format::Xls));
    let f = hostile("fuzz_xls_huge_dimensions.xls", &child());
    assert_eq!(f.rule, Rule::TooLarge, "{f}");
    assert!(f.message.contains("memory limit"), "{f}");
}
