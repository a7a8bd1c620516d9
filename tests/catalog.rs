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
