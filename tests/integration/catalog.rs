//! The catalog: the bundled sample loads and checks clean, and each small bad catalog under
//! `tests/fixtures/catalog/<case>/` gets exactly the problems its `expected.txt` lists, at
//! the file and line written there by hand.
//!
//! A case folder holds only the files that differ from `base/` (plus `absent.txt` naming
//! files to leave out). On a mismatch the actual output is written to
//! `<case>/expected.txt.failed` for comparison.

use rolecall::catalog::{self, CatalogError, check_catalog, load_catalog};
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/catalog";

/// Copies `base/`, overlays the case's files and removes those named in `absent.txt`.
fn assemble(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in fs::read_dir(Path::new(FIXTURES).join("base")).expect("base fixture") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    for entry in fs::read_dir(case).expect("case fixture") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    if let Ok(absent) = fs::read_to_string(case.join("absent.txt")) {
        for name in absent.lines().map(str::trim).filter(|l| !l.is_empty()) {
            fs::remove_file(dir.path().join(name)).expect("remove absent file");
        }
    }
    dir
}

fn expected_lines(case: &Path) -> Vec<String> {
    fs::read_to_string(case.join("expected.txt"))
        .expect("expected.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn each_bad_catalog_gets_its_problems_at_the_right_lines() {
    let mut cases: Vec<PathBuf> = fs::read_dir(FIXTURES)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "base"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "only {} cases ran", cases.len());
    let mut failed = Vec::new();
    for case in &cases {
        let dir = assemble(case);
        let actual: Vec<String> = check_catalog(dir.path())
            .iter()
            .map(ToString::to_string)
            .collect();
        let expected = expected_lines(case);
        // Each expected line is the start of one problem, in file and line order.
        let ok = actual.len() == expected.len()
            && actual.iter().zip(&expected).all(|(a, e)| a.starts_with(e));
        let failed_file = case.join("expected.txt.failed");
        if ok {
            let _ = fs::remove_file(failed_file);
        } else {
            fs::write(&failed_file, actual.join("\n") + "\n").expect("write .failed");
            failed.push(format!(
                "{}:\n  expected:\n    {}\n  actual:\n    {}",
                case.display(),
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn the_base_fixture_is_clean() {
    let problems = check_catalog(&Path::new(FIXTURES).join("base"));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_sample_catalog_checks_clean_and_is_realistic() {
    let dir = Path::new("samples/catalog");
    let problems = check_catalog(dir);
    assert!(problems.is_empty(), "{problems:#?}");
    let c = load_catalog(dir).expect("sample loads");
    assert_eq!(c.roles.len(), 58, "every role of alma-roles.csv");
    assert!(c.profiles.len() >= 5);
    assert!(c.institutions.len() >= 3);
    assert!(c.institutions.iter().all(|i| i.libraries.len() >= 2));
    assert!(
        c.institutions
            .iter()
            .all(|i| c.coordinators_for(&i.code).count() >= 1)
    );
    assert!(c.coordinators.iter().any(|co| co.institutions.len() >= 2));
    assert_eq!(c.policy.inactivity_days, 90);
}

#[test]
fn the_bundled_catalog_is_the_sample_folder() {
    let bundled = catalog::bundled();
    let from_disk = load_catalog(Path::new("samples/catalog")).expect("sample loads");
    assert_eq!(bundled.version, from_disk.version);
    assert_eq!(bundled.dir, PathBuf::from("samples/catalog"));
    assert_eq!(bundled.version.len(), 12);
}

#[test]
fn the_sample_catalog_answers_the_lookups_requests_need() {
    let c = catalog::bundled();
    let cdo = c.role("circulation desk operator").expect("by name");
    assert_eq!(cdo.code, 32);
    assert_eq!(cdo.parameter, Some(catalog::ParameterKind::CirculationDesk));
    assert!(cdo.needs_library());
    assert!(
        c.role("General System Administrator")
            .expect("26")
            .privileged
    );
    assert!(!c.role("Patron").expect("200").named_user);
    assert_eq!(
        c.role("Work Order Operator").expect("214").scope,
        catalog::ScopeKind::Either
    );
    let student = c.profile("Circulation Student Worker").expect("profile");
    assert!(student.needs_library());
    assert_eq!(
        student.needs_parameter(),
        Some(catalog::ParameterKind::CirculationDesk)
    );
    let acq = c.profile("acquisitions staff").expect("profile");
    assert_eq!(
        acq.needs_parameter(),
        Some(catalog::ParameterKind::ServiceUnit)
    );
    let gcsu = c.institution("01FALSC_GCSU").expect("institution");
    assert!(gcsu.library("main").is_some());
    assert!(c.is_coordinator("DWhitfield@gcsu.example.edu", "01FALSC_GCSU"));
    assert!(!c.is_coordinator("dwhitfield@gcsu.example.edu", "01FALSC_PRU"));
}

#[test]
fn a_missing_file_and_a_syntax_error_are_typed_errors_with_file_and_line() {
    let missing = assemble(&Path::new(FIXTURES).join("missing-file"));
    match load_catalog(missing.path()) {
        Err(CatalogError::Missing { path }) => assert!(path.ends_with("roles.toml")),
        other => panic!("expected Missing, got {other:?}"),
    }
    let syntax = assemble(&Path::new(FIXTURES).join("syntax-error"));
    match load_catalog(syntax.path()) {
        Err(CatalogError::Syntax { file, line, .. }) => {
            assert_eq!((file.as_str(), line), ("institutions.toml", 3));
        }
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn an_invalid_catalog_lists_every_problem_when_loading() {
    let dir = assemble(&Path::new(FIXTURES).join("coordinator-mistakes"));
    let err = load_catalog(dir.path()).expect_err("invalid");
    let text = err.to_string();
    assert!(text.starts_with("the catalog has 4 errors"), "{text}");
    assert!(
        text.contains("coordinators.toml:8: error: coordinator email"),
        "{text}"
    );
    assert!(text.contains("coordinators.toml:22: error:"), "{text}");
}

#[test]
fn warnings_alone_do_not_stop_a_catalog_from_loading() {
    let dir = assemble(&Path::new(FIXTURES).join("profile-needs-desk-and-service-unit"));
    // That case has an error too; take only its Patron warning by rewriting the profile.
    fs::write(
        dir.path().join("profiles.toml"),
        "[[profile]]\nname = \"P\"\n\n[[profile.role]]\nrole = 200\nscope = \"institution\"\n",
    )
    .expect("write");
    let c = load_catalog(dir.path()).expect("warnings only");
    assert_eq!(c.profiles[0].entries[0].role, 200);
}

/// True when any of the sample policy's generic patterns matches `text`.
fn generic(text: &str) -> bool {
    catalog::bundled()
        .policy
        .generic_patterns
        .iter()
        .any(|re| re.is_match(text))
}

#[test]
fn generic_patterns_catch_shared_accounts() {
    for text in [
        "circdesk1",
        "circdesk@gcsu.example.edu",
        "circ.desk@gcsu.example.edu",
        "CIRC_2",
        "Circulation Desk",
        "Front Desk",
        "reference.desk@pru.example.edu",
        "Student Worker",
        "studentworkers@gcsu.example.edu",
        "info@gcsu.example.edu",
        "library@mangrovecoast.example.edu",
        "frontdesk@gcsu.example.edu",
        "staff2@gcsu.example.edu",
        "admin",
        "test3",
        "Shared Account",
        "generic_user",
        "temp01",
        "Temporary Staff",
    ] {
        assert!(generic(text), "{text} should look generic");
    }
}

#[test]
fn generic_patterns_leave_real_names_alone() {
    for text in [
        "Circelli",
        "Maria Circelli",
        "mcircelli@gcsu.example.edu",
        "circelli.m@gcsu.example.edu",
        "Circe Okonkwo",
        "Deskins",
        "Tom Deskins",
        "tdeskins@gcsu.example.edu",
        "Tempest",
        "Ruth Templeton",
        "Adminah Yusuf",
        "Testa",
        "Infante",
        "info.okafor@gcsu.example.edu",
        "Libby Staffordshire",
        "Genericka",
        "Sharedah Ali",
        "00412345",
        "ngozi.okafor@gcsu.example.edu",
    ] {
        assert!(
            !generic(text),
            "{text} is a real name, not a generic account"
        );
    }
}

// --- the sample worksheets made by samples/make_samples.py ---------------------------------

use calamine::{Data, Reader, open_workbook_auto};

/// The Accounts sheet of a sample worksheet, as calamine reads it.
fn accounts(name: &str) -> calamine::Range<Data> {
    let path = Path::new("samples/worksheets").join(name);
    let mut wb = open_workbook_auto(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    wb.worksheet_range("Accounts")
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The text of a cell by its 1-based row and column, "" when empty.
fn text_at(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row - 1, col - 1)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[test]
fn sample_worksheets_carry_the_bundled_catalog_version() {
    let version = catalog::bundled().version;
    for name in [
        "clean-batch.xlsx",
        "clean-batch.ods",
        "clean-batch.xls",
        "mistakes.xlsx",
        "not-a-coordinator.xlsx",
    ] {
        let sheet = accounts(name);
        assert_eq!(text_at(&sheet, 6, 1), "Catalog version", "{name}");
        assert_eq!(
            text_at(&sheet, 6, 2),
            version,
            "{name} was made from another catalog: rerun python3 samples/make_samples.py"
        );
    }
}

#[test]
fn the_clean_batch_keeps_ids_as_text_and_dates_as_dates_in_every_format() {
    for name in ["clean-batch.xlsx", "clean-batch.ods", "clean-batch.xls"] {
        let sheet = accounts(name);
        assert_eq!(text_at(&sheet, 8, 2), "Primary ID", "{name}");
        assert_eq!(
            sheet.get_value((8, 1)),
            Some(&Data::String("00412345".into())),
            "{name}: the ID must stay text with its leading zeros"
        );
        let expiry = sheet.get_value((8, 12)).cloned().unwrap_or_default();
        assert!(
            matches!(expiry, Data::DateTime(_) | Data::DateTimeIso(_)),
            "{name}: expiry should be a date cell, got {expiry:?}"
        );
    }
}

#[test]
fn the_clean_batch_names_only_what_the_catalog_holds() {
    let c = catalog::bundled();
    let sheet = accounts("clean-batch.xlsx");
    let requester = text_at(&sheet, 3, 2);
    assert!(c.is_coordinator(&requester, "01FALSC_GCSU"), "{requester}");
    let gcsu = c.institution("01FALSC_GCSU").expect("GCSU");
    let mut lines = 0;
    for row in 9..=sheet.end().map_or(0, |(r, _)| r + 1) {
        if text_at(&sheet, row, 1).is_empty() {
            continue;
        }
        lines += 1;
        for role in text_at(&sheet, row, 9)
            .split([';', '\n'])
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let role = c
                .role(role)
                .unwrap_or_else(|| panic!("row {row}: role {role}"));
            assert!(
                !role.privileged && !role.is_patron(),
                "row {row}: {}",
                role.name
            );
        }
        let profile = text_at(&sheet, row, 8);
        if !profile.is_empty() {
            assert!(
                c.profile(&profile).is_some(),
                "row {row}: profile {profile}"
            );
        }
        let library = text_at(&sheet, row, 11);
        let unit = text_at(&sheet, row, 12);
        if !library.is_empty() {
            let lib = gcsu
                .library(&library)
                .unwrap_or_else(|| panic!("row {row}"));
            if !unit.is_empty() {
                assert!(
                    lib.desks
                        .iter()
                        .chain(&lib.service_units)
                        .any(|u| u.code == unit),
                    "row {row}: {unit} not in {library}"
                );
            }
        }
    }
    assert!(lines >= 8, "{lines} lines");
}

#[test]
fn every_expected_finding_of_the_mistakes_sample_points_into_the_sheet() {
    let text = fs::read_to_string("samples/worksheets/mistakes.expected.json").expect("json");
    let expected: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid json");
    let sheet = accounts("mistakes.xlsx");
    let rules: Vec<&str> = rolecall::finding::Rule::ALL
        .iter()
        .map(|r| r.code())
        .collect();
    assert!(expected.len() >= 20);
    for item in &expected {
        let rule = item["rule"].as_str().expect("rule");
        assert!(rules.contains(&rule), "{rule} is not a rule code");
        let cell = item["cell"].as_str().expect("cell");
        let row: u32 = cell
            .trim_start_matches("Accounts!")
            .trim_start_matches(|c: char| c.is_ascii_uppercase())
            .parse()
            .expect("row");
        // Every finding sits on a request line, which has an action.
        assert!(!text_at(&sheet, row, 1).is_empty(), "{cell}");
    }
}

#[test]
fn a_left_out_key_and_an_empty_file_are_reported() {
    let dir = assemble(&Path::new(FIXTURES).join("base"));
    fs::write(dir.path().join("roles.toml"), "# no roles yet\n").expect("write");
    fs::write(
        dir.path().join("coordinators.toml"),
        "[[coordinator]]\nname = \"Pat Example\"\ninstitutions = [\"01TEST_ONE\"]\n",
    )
    .expect("write");
    let problems: Vec<String> = check_catalog(dir.path())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "roles.toml:1: error: no [[role]] tables in this file",
            "coordinators.toml:1: error: [[coordinator]]: missing field `email`",
        ]
    );
}

#[test]
fn an_institution_is_found_by_the_drop_down_text_of_the_worksheet_and_the_form() {
    let catalog = rolecall::catalog::bundled();
    for text in [
        "01FALSC_GCSU",
        "01falsc_gcsu - Gulf Coast State University",
        "01FALSC_GCSU — Gulf Coast State University",
    ] {
        assert_eq!(
            catalog.institution(text).map(|i| i.code.as_str()),
            Some("01FALSC_GCSU"),
            "{text}"
        );
    }
    assert!(catalog.institution("01FALSC_NOPE — Nowhere").is_none());
}

#[test]
fn a_renamed_role_keeps_its_old_name_as_an_alias() {
    // The role-aliases case without its mistakes: Cataloger renamed Cataloguer.
    let dir = assemble(Path::new(FIXTURES).join("role-aliases").as_path());
    let roles = fs::read_to_string(dir.path().join("roles.toml")).unwrap();
    let roles = roles.replace(", \"circ desk operator\", \"\"", "");
    fs::write(dir.path().join("roles.toml"), roles).unwrap();
    let catalog = load_catalog(dir.path()).unwrap();
    assert_eq!(catalog.role("Cataloger").map(|r| r.code), Some(204));
    assert_eq!(catalog.role("cataloguer").map(|r| r.code), Some(204));
    assert_eq!(catalog.role("Circ desk operator").map(|r| r.code), Some(32));
    // The bundled catalog knows role 220 by its common misspelling too.
    let bundled = catalog::bundled();
    assert_eq!(bundled.role("Designs Analytics").map(|r| r.code), Some(220));
}

#[test]
fn one_toml_error_does_not_hide_the_cross_file_errors_when_loading() {
    let dir = assemble(&Path::new(FIXTURES).join("typo-does-not-hide-cross-file"));
    let text = load_catalog(dir.path()).expect_err("invalid").to_string();
    assert!(text.starts_with("the catalog has 3 errors"), "{text}");
    assert!(text.contains("policy.toml:2: error: TOML syntax"), "{text}");
    assert!(
        text.contains("profiles.toml:12: error: profile \"Cataloger\" names unknown role code 999"),
        "{text}"
    );
}
