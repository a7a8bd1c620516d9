//! `cargo bench --bench pipeline`: how long each stage takes on a large Accounts Worksheet.
//!
//! Builds a worksheet of N request lines in the template layout (valid lines for the bundled
//! catalog, desks and profiles included), then times each stage over a few runs and prints
//! the median. Figures are kept in `docs/benchmarks.md`.

use rolecall::catalog;
use rolecall::changeset::{self, SubmissionInfo};
use rolecall::document::Format;
use rolecall::layout::{Field, HEADER_ROW, RequesterField};
use rolecall::read::{Isolation, read_document};
use rolecall::{report, validate};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn write_worksheet(path: &Path, lines: u32) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Accounts").unwrap();
    let block = [
        (RequesterField::Name, "Dana Whitfield"),
        (RequesterField::Email, "dwhitfield@gcsu.example.edu"),
        (RequesterField::Institution, "01FALSC_GCSU"),
    ];
    for (field, value) in block {
        ws.write_string(field.template_row() - 1, 0, field.label())
            .unwrap();
        ws.write_string(field.template_row() - 1, 1, value).unwrap();
    }
    for field in Field::ALL {
        ws.write_string(
            HEADER_ROW - 1,
            (field.template_col() - 1) as u16,
            field.header(),
        )
        .unwrap();
    }
    let kinds: [&[(Field, &str)]; 3] = [
        &[
            (Field::Action, "Add"),
            (Field::Profile, "Circulation Student Worker"),
            (Field::Library, "MAIN"),
            (Field::Unit, "DEFAULT_CIRC_DESK"),
        ],
        &[
            (Field::Action, "Add"),
            (Field::Role, "Cataloger; Physical Inventory Operator"),
            (Field::Library, "LAW"),
        ],
        &[
            (Field::Action, "Add"),
            (Field::Role, "Receiving Operator"),
            (Field::Library, "MAIN"),
            (Field::Unit, "ACQ_RECEIVING"),
        ],
    ];
    for i in 0..lines {
        let row = HEADER_ROW + i;
        let id = format!("{:08}", 1_000_000 + i);
        let person = [
            (Field::PrimaryId, id.as_str()),
            (Field::LastName, "Alvarez"),
            (Field::FirstName, "Sam"),
            (Field::Email, &*format!("s{i}@gcsu.example.edu")),
        ];
        for (field, value) in person.iter().chain(kinds[i as usize % 3]) {
            ws.write_string(row, (field.template_col() - 1) as u16, *value)
                .unwrap();
        }
    }
    wb.save(path).unwrap();
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    (median(times), last.unwrap())
}

fn main() {
    let catalog = catalog::bundled();
    let dir = tempfile::tempdir().unwrap();
    let today = jiff::civil::date(2026, 11, 24);
    println!(
        "{:>6} lines | {:>10} | {:>10} | {:>10} | {:>10} | {:>10}",
        "", "read", "read child", "validate", "changeset", "workbook"
    );
    for lines in [100u32, 1_000, 5_000] {
        let path = dir.path().join(format!("bench-{lines}.xlsx"));
        write_worksheet(&path, lines);
        let (read, document) = time(5, || {
            read_document(&path, Format::Xlsx, &Isolation::InProcess)
        });
        assert_eq!(document.rows.len(), lines as usize);
        let child = Isolation::Child {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_rolecall")),
            memory_mb: 1024,
            timeout: Duration::from_secs(120),
        };
        let (read_child, _) = time(5, || read_document(&path, Format::Xlsx, &child));
        let (check, outcome) = time(5, || validate::validate(document.clone(), &catalog, today));
        assert_eq!(
            outcome.counts().accepted,
            lines as usize,
            "{:?}",
            outcome.all_findings().next()
        );
        let info = SubmissionInfo {
            id: "bench".into(),
            source: "bench.xlsx".into(),
            sha256: String::new(),
            processed_at: String::new(),
            requester_name: None,
            requester_email: None,
        };
        let (build, cs) = time(5, || {
            changeset::build(&outcome, info.clone(), &catalog.version)
        });
        let (write, _) = time(3, || report::result_bytes(&outcome, &cs, &catalog).unwrap());
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{lines:>6} lines | {:>10} | {:>10} | {:>10} | {:>10} | {:>10}",
            ms(read),
            ms(read_child),
            ms(check),
            ms(build),
            ms(write)
        );
    }
}
