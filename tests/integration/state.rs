//! The account state end to end, through the real binary: a generated state of 2,618 users
//! across the four sample institutions (`tests/fixtures/state/make_state.py`: Alma Users API
//! JSON, Analytics CSV and XLSX, two Staff Login Reports) is imported, the sample worksheets
//! are processed against it, change sets are applied, audited and exported. Numbers are
//! checked against counts made here from the generator's own `truth.json`, never through
//! the library's queries.

use crate::support::test::{Out, rolecall};
use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const NOW: &str = "2026-11-24T15:00:00Z";
const AS_OF: &str = "2026-11-24";
const GCSU: &str = "01FALSC_GCSU";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/state").join(name)
}

fn sample(name: &str) -> PathBuf {
    repo().join("samples/worksheets").join(name)
}

/// A temporary folder with a state database.
struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn empty() -> Desk {
        Desk {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A desk with the whole generated state imported.
    fn imported() -> Desk {
        let desk = Desk::empty();
        let files: Vec<String> = [
            "users.json",
            "users-with-roles.csv",
            "users-with-roles.xlsx",
            "staff-logins-2026-08.csv",
            "staff-logins-2026-11.xlsx",
        ]
        .iter()
        .map(|f| fixture(f).display().to_string())
        .collect();
        let mut args = vec!["state", "import"];
        args.extend(files.iter().map(String::as_str));
        let out = desk.run(&args);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        desk
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = rolecall(self.dir.path());
        cmd.arg("--db").arg(self.path("rolecall.db")).args(args);
        cmd.output().unwrap().into()
    }

    /// Processes a worksheet into `out/<name>` and returns its change set.
    fn process(&self, file: &Path, out: &str) -> Json {
        let run = self.run(&["process", &file.display().to_string(), "--out", out]);
        assert!(run.code <= 1, "{}\n{}", run.stdout, run.stderr);
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let folder = file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "-");
        let path = self
            .path(out)
            .join(folder)
            .join(format!("{stem}-changeset.json"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn changeset_path(&self, file: &str, out: &str) -> String {
        let stem = file.split('.').next().unwrap();
        self.path(out)
            .join(file.replace('.', "-"))
            .join(format!("{stem}-changeset.json"))
            .display()
            .to_string()
    }
}

/// All text cells of a sheet, row by row.
fn sheet(path: &Path, name: &str) -> Vec<Vec<String>> {
    let mut book = open_workbook_auto(path).unwrap();
    let range = book.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    Data::Empty => String::new(),
                    other => format!("{other}"),
                })
                .collect()
        })
        .collect()
}

/// The Problems sheet as (rule, location, message).
fn problems(result: &Path) -> Vec<(String, String, String)> {
    sheet(result, "Problems")
        .into_iter()
        .skip(1)
        .filter(|r| r.len() >= 4)
        // The Location's first line is the stable reference; a form field's label follows.
        .map(|r| {
            let at = r[2].lines().next().unwrap_or_default().to_string();
            (r[1].clone(), at, r[3].clone())
        })
        .collect()
}

fn ops(cs: &Json) -> Vec<(String, String)> {
    cs["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["op"].as_str().unwrap().to_string(),
                o["primary_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ---- the generator's truth, counted here ----

struct Truth {
    accounts: Vec<Json>,
}

impl Truth {
    fn load() -> Truth {
        let json: Json =
            serde_json::from_str(&std::fs::read_to_string(fixture("truth.json")).unwrap()).unwrap();
        Truth {
            accounts: json["accounts"].as_array().unwrap().clone(),
        }
    }

    /// Holds an active role other than Patron (200): the licence rule of PRODUCT.md §3.
    fn is_named(a: &Json) -> bool {
        a["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[0].as_u64() != Some(200) && r[1].as_bool() == Some(true))
    }

    fn named_per_institution(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for a in &self.accounts {
            if Truth::is_named(a) {
                *m.entry(a["inst"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
        m
    }

    /// Inactive as of 2026-11-24 with 90 days: no login, or the last before 2026-08-26;
    /// the allow-list (policy.toml) exempts ana.desk@palmettoridge.example.edu.
    fn inactive(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for a in &self.accounts {
            if !Truth::is_named(a) || a["email"] == "ana.desk@palmettoridge.example.edu" {
                continue;
            }
            let stale = match a["last_login"].as_str() {
                None => true,
                Some(d) => d < "2026-08-26",
            };
            if stale {
                m.entry(a["inst"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(a["id"].as_str().unwrap().to_string());
            }
        }
        m
    }
}

#[test]
fn the_samples_against_the_generated_state_show_each_diff_case() {
    let desk = Desk::imported();
    let cs = desk.process(&sample("clean-batch.xlsx"), "out");
    assert!(cs["state_version"].as_i64().is_some());
    let ops = ops(&cs);
    // Brooks is new: created. Alvarez is patron-only: roles, no new account. Nguyen exists.
    assert!(ops.contains(&("create_account".into(), "00455120".into())));
    assert!(
        !ops.iter()
            .any(|(op, id)| op == "create_account" && id != "00455120")
    );
    assert!(ops.contains(&("add_role".into(), "00412345".into())));
    // Kim already holds License Manager: only Electronic Inventory Operator is added.
    let kim: Vec<&Json> = cs["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["primary_id"] == "00467001")
        .collect();
    assert_eq!(kim.len(), 1);
    assert_eq!(kim[0]["role"]["name"], "Electronic Inventory Operator");
    // Campbell's removal of a role she lacks and Hughes (another institution) give nothing.
    assert!(
        !ops.iter()
            .any(|(_, id)| id == "00301122" || id == "00276543")
    );

    let result = desk.path("out/clean-batch-xlsx/clean-batch-result.xlsx");
    let found = problems(&result);
    let has = |rule: &str, cell: &str, words: &str| {
        assert!(
            found
                .iter()
                .any(|(r, l, m)| r == rule && l == cell && m.contains(words)),
            "no {rule} at {cell} saying {words:?} in {found:#?}"
        );
    };
    has("account-exists", "Accounts!A10", "carried out as a Modify");
    has(
        "already-has-role",
        "Accounts!I13",
        "00467001 already has License Manager",
    );
    has(
        "role-not-held",
        "Accounts!I15",
        "00301122 does not have Circulation Desk Operator at HEALTH",
    );
    has(
        "other-institution-account",
        "Accounts!B16",
        "00276543 is an account of Palmetto Ridge University",
    );
    has(
        "external-field-change",
        "Accounts!D17",
        "stays \"Eric\" and is not changed to \"Erik\"",
    );
    // The Roles sheet: each person's roles before and after.
    let roles = sheet(&result, "Roles");
    let nguyen = roles.iter().find(|r| r[1] == "00398811").unwrap();
    assert_eq!(
        nguyen[3],
        "Patron (200)\nPhysical Inventory Operator (210) at MAIN"
    );
    assert!(nguyen[4].contains("Cataloger (204)"));
    let brooks = roles.iter().find(|r| r[1] == "00455120").unwrap();
    assert_eq!(brooks[3], "");
    assert!(brooks[4].contains("Circulation Desk Operator (32) at LAW, desk DEFAULT_CIRC_DESK"));

    // mistakes.xlsx: Brennan's Modify is for an account nobody knows.
    desk.process(&sample("mistakes.xlsx"), "out");
    has_problem(
        &desk.path("out/mistakes-xlsx/mistakes-result.xlsx"),
        "unknown-account",
        "00510019 is not an account of Gulf Coast State University",
    );
}

#[test]
fn a_long_batch_read_against_the_state_beside_validation_shows_the_same_diff_cases() {
    // From 100 lines the state is read while the lines are validated, by the cells'
    // primary IDs: the sample's lines, then 110 new people like Brooks (a new account).
    let desk = Desk::imported();
    let rows = sheet(&sample("clean-batch.xlsx"), "Accounts");
    let header = rows.iter().position(|r| r[0] == "Action").unwrap();
    // lifecycle::worksheet puts the headings where the sample has them: same cells.
    assert_eq!(header, 7, "{rows:?}");
    // Written back as text: a date cell (read as its serial number) as the date.
    let expiry = rows[header]
        .iter()
        .position(|h| h.contains("xpir"))
        .unwrap();
    let day = |serial: &str| match serial.parse::<i64>() {
        Ok(n) => jiff::civil::date(1899, 12, 30)
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
            .to_string(),
        Err(_) => serial.to_string(),
    };
    let lines: Vec<Vec<String>> = rows[header + 1..]
        .iter()
        .filter(|r| r.iter().any(|c| !c.is_empty()))
        .map(|r| {
            let mut r = r.clone();
            r[expiry] = day(&r[expiry]);
            r
        })
        .collect();
    let brooks = lines
        .iter()
        .find(|r| r.contains(&"00455120".into()))
        .unwrap();
    let mut padded = lines.clone();
    for n in 0..110 {
        let id = format!("{:08}", 991_000 + n);
        padded.push(
            brooks
                .iter()
                .map(|c| match c.as_str() {
                    "00455120" => id.clone(),
                    c if c.contains('@') => format!("p{id}@gcsu.example.edu"),
                    c => c.to_string(),
                })
                .collect(),
        );
    }
    let cells: Vec<Vec<&str>> = padded
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let cells: Vec<&[&str]> = cells.iter().map(Vec::as_slice).collect();
    let headings: Vec<&str> = rows[header].iter().map(String::as_str).collect();
    let path = desk.path("long.xlsx");
    crate::lifecycle::worksheet(&path, &headings, &cells);
    let cs = desk.process(&path, "out");
    let created: Vec<String> = ops(&cs)
        .into_iter()
        .filter(|(op, _)| op == "create_account")
        .map(|(_, id)| id)
        .collect();
    // Brooks, then the new people in file order while Gulf Coast's allotment has room;
    // each one past it is refused (the sample catalog allots 150 named users).
    let padded_ids: Vec<String> = (0..110).map(|n| format!("{:08}", 991_000 + n)).collect();
    assert_eq!(created[0], "00455120");
    let room = created.len() - 1;
    assert!(room > 0 && room < 110, "{created:?}");
    assert_eq!(created[1..], padded_ids[..room]);
    let result = desk.path("out/long-xlsx/long-result.xlsx");
    let refused = problems(&result)
        .into_iter()
        .filter(|(rule, _, _)| rule == "over-allotment")
        .count();
    assert_eq!(refused, 110 - room);
    has_problem(&result, "account-exists", "carried out as a Modify");
    has_problem(
        &result,
        "already-has-role",
        "00467001 already has License Manager",
    );
    has_problem(
        &result,
        "role-not-held",
        "00301122 does not have Circulation Desk Operator at HEALTH",
    );
    has_problem(
        &result,
        "other-institution-account",
        "00276543 is an account of Palmetto Ridge University",
    );
    has_problem(
        &result,
        "external-field-change",
        "is not changed to \"Erik\"",
    );
    let roles = sheet(&result, "Roles");
    let nguyen = roles.iter().find(|r| r[1] == "00398811").unwrap();
    assert_eq!(
        nguyen[3],
        "Patron (200)\nPhysical Inventory Operator (210) at MAIN"
    );
}

#[test]
fn applying_then_processing_again_gives_an_empty_change_set() {
    let desk = Desk::imported();
    desk.process(&sample("clean-batch.xlsx"), "first");
    let path = desk.changeset_path("clean-batch.xlsx", "first");

    let dry = desk.run(&["apply", &path, "--dry-run"]);
    assert!(
        dry.stdout
            .contains("add Circulation Desk Operator at LAW, desk DEFAULT_CIRC_DESK, to 00455120"),
        "{}",
        dry.stdout
    );
    let applied = desk.run(&["apply", &path]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(
        applied.stdout.contains("9 of 9 operations recorded"),
        "{}",
        applied.stdout
    );
    let again = desk.run(&["apply", &path]);
    assert!(again.stdout.contains("already applied"), "{}", again.stdout);

    let cs = desk.process(&sample("clean-batch.xlsx"), "second");
    assert_eq!(cs["operations"], serde_json::json!([]), "{cs:#}");
}

#[test]
fn licence_audit_counts_named_users_per_institution() {
    let desk = Desk::imported();
    let run = desk.run(&["audit", "licence", "-o", "licence.xlsx"]);
    assert_eq!(
        run.code, 1,
        "an institution over its allotment needs attention"
    );
    let expected = Truth::load().named_per_institution();
    let rows = sheet(&desk.path("licence.xlsx"), "Licence use");
    let allot = [
        ("01FALSC_GCSU", 150),
        ("01FALSC_PRU", 120),
        ("01FALSC_CLSC", 40),
        ("01FALSC_MCC", 25),
    ];
    for (inst, allotment) in allot {
        let row = rows.iter().find(|r| r[0] == inst).unwrap();
        let n = expected[inst];
        assert_eq!(row[2], n.to_string(), "{inst}");
        assert_eq!(row[3], allotment.to_string());
        assert_eq!(row[4], (allotment as i64 - n as i64).to_string());
    }
    let total = rows.iter().find(|r| r[0] == "Consortium total").unwrap();
    assert_eq!(total[2], expected.values().sum::<u64>().to_string());
    assert_eq!(total[3], "335");
}

#[test]
fn inactivity_audit_suspends_the_right_accounts_and_writes_to_each_institution() {
    let desk = Desk::imported();
    let run = desk.run(&["audit", "inactive", "--as-of", AS_OF, "--out", "audit"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let expected = Truth::load().inactive();
    let cs: Json = serde_json::from_str(
        &std::fs::read_to_string(desk.path("audit/suspend-changeset.json")).unwrap(),
    )
    .unwrap();
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for op in cs["operations"].as_array().unwrap() {
        assert_eq!(op["op"], "suspend_roles");
        got.entry(op["institution"].as_str().unwrap().into())
            .or_default()
            .insert(op["primary_id"].as_str().unwrap().into());
    }
    assert_eq!(got, expected);
    assert!(!got["01FALSC_PRU"].contains("00700999"), "allow-listed");

    let outbox: Vec<PathBuf> = std::fs::read_dir(desk.path("audit/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(outbox.len(), expected.len(), "one notice per institution");
    for (inst, ids) in &expected {
        let rows = sheet(
            &desk.path(&format!("audit/{inst}-inactive-{AS_OF}.xlsx")),
            "Suspended",
        );
        let listed: BTreeSet<String> = rows.iter().skip(4).map(|r| r[0].clone()).collect();
        assert_eq!(&listed, ids, "{inst}");
        let mail = outbox
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .find(|bytes| String::from_utf8_lossy(bytes).contains(&format!("inactive-{inst}")))
            .unwrap_or_else(|| panic!("no notice for {inst}"));
        let msg = mail_parser::MessageParser::default().parse(&mail).unwrap();
        let body = msg.body_text(0).unwrap();
        assert!(
            body.contains(&format!("{} account(s)", ids.len())),
            "{body}"
        );
        assert!(body.contains("\"Restore\""), "{body}");
        assert!(msg.attachments().count() == 1);
    }
    let gcsu = outbox
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|t| t.contains("inactive-01FALSC_GCSU"))
        .unwrap();
    assert!(
        gcsu.contains("dwhitfield@gcsu.example.edu") && gcsu.contains("mortega@gcsu.example.edu")
    );
}

#[test]
fn restore_puts_back_exactly_the_suspended_roles() {
    let desk = Desk::imported();
    let db = desk.path("rolecall.db");
    let before = {
        let state = rolecall::state::State::open(&db).unwrap();
        state.roles(GCSU, "00600999").unwrap()
    };
    assert_eq!(before.iter().filter(|a| a.active).count(), 3);
    desk.run(&["audit", "inactive", "--as-of", AS_OF, "--out", "audit"]);
    let applied = desk.run(&["apply", "audit/suspend-changeset.json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    {
        let state = rolecall::state::State::open(&db).unwrap();
        let roles = state.roles(GCSU, "00600999").unwrap();
        assert_eq!(roles.iter().filter(|a| a.active).count(), 1, "Patron only");
    }
    let cs = desk.process(&fixture("restore.xlsx"), "restore");
    let op = &cs["operations"][0];
    assert_eq!(op["op"], "restore_roles");
    let codes: Vec<u64> = op["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["role"]["code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [32, 204]);
    assert_eq!(
        op["roles"][0]["parameters"][0]["value"],
        "DEFAULT_CIRC_DESK"
    );
    let path = desk.changeset_path("restore.xlsx", "restore");
    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let state = rolecall::state::State::open(&db).unwrap();
    assert_eq!(state.roles(GCSU, "00600999").unwrap(), before);
    // Asking again: nothing is suspended any more.
    let cs = desk.process(&fixture("restore.xlsx"), "again");
    assert_eq!(cs["operations"], serde_json::json!([]));
}

#[test]
fn a_request_past_the_allotment_is_refused_with_the_numbers() {
    let desk = Desk::imported();
    let cs = desk.process(&fixture("mcc-add.xlsx"), "out");
    assert_eq!(cs["operations"], serde_json::json!([]));
    has_problem(
        &desk.path("out/mcc-add-xlsx/mcc-add-result.xlsx"),
        "over-allotment",
        "25 named users now, 26 after this request, allotment 25",
    );
}

#[test]
fn exported_alma_json_round_trips_through_state_import() {
    let desk = Desk::imported();
    desk.process(&sample("clean-batch.xlsx"), "out");
    let path = desk.changeset_path("clean-batch.xlsx", "out");
    let export = desk.run(&["export", &path, "--alma", "alma"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = read_tsv(&desk.path("alma/requests.tsv"));
    let has = |row: [&str; 3]| requests.iter().any(|r| r == &row);
    assert!(
        has([
            "POST",
            "/almaws/v1/users",
            "01FALSC_GCSU/00455120.roles.json"
        ]),
        "{requests:?}"
    );
    assert!(
        has([
            "PUT",
            "/almaws/v1/users/00398811",
            "01FALSC_GCSU/00398811.roles.json"
        ]),
        "{requests:?}"
    );
    let index = read_tsv(&desk.path("alma/update-users.txt"));
    assert!(
        index.contains(&vec![
            "update-users/01FALSC_GCSU/add_role-204-01FALSC_GCSU.txt".to_string(),
            "1".to_string()
        ]),
        "{index:?}"
    );
    // A role with a desk is not for the job: the README names it "API only".
    assert!(
        !index.iter().any(|r| r[0].contains("add_role-32-")),
        "{index:?}"
    );
    let readme = std::fs::read_to_string(desk.path("alma/README.txt")).unwrap();
    assert!(
        readme.contains("add Circulation Desk Operator at LAW"),
        "{readme}"
    );

    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let after = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    for id in ["00455120", "00398811", "00412345", "G20455871"] {
        let fresh = Desk::empty();
        let body = desk.path(&format!("alma/01FALSC_GCSU/{id}.roles.json"));
        let run = fresh.run(&["state", "import", &body.display().to_string()]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let state = rolecall::state::State::open(&fresh.path("rolecall.db")).unwrap();
        assert_eq!(
            state.roles(GCSU, id).unwrap(),
            after.roles(GCSU, id).unwrap(),
            "{id}"
        );
    }
}

#[test]
fn a_missing_import_column_is_named_with_the_file() {
    let desk = Desk::empty();
    let csv = desk.path("export.csv");
    std::fs::write(
        &csv,
        "Primary Identifier,Role Type,Role Status\n00412345,Cataloger,Active\n",
    )
    .unwrap();
    let run = desk.run(&["state", "import", &csv.display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("export.csv") && run.stderr.contains("\"Role Scope\" is missing"),
        "{}",
        run.stderr
    );
}

#[test]
fn new_named_users_take_the_headroom_in_file_order_after_the_licences_freed() {
    // Mangrove Coast is at its allotment (25 of 25). One Delete frees a licence, so of the
    // two new people after it the first fits and the second does not.
    let truth = Truth::load();
    let leaving = truth
        .accounts
        .iter()
        .find(|a| a["inst"] == "01FALSC_MCC" && Truth::is_named(a))
        .expect("a named MCC account")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let desk = Desk::imported();
    let path = desk.path("mcc-two-new.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Accounts").unwrap();
    for (row, (label, value)) in [
        ("Requester name", "Jordan Price"),
        ("Requester email", "jprice@mangrovecoast.example.edu"),
        ("Institution", "01FALSC_MCC"),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1 + row as u32, 0, *label).unwrap();
        ws.write_string(1 + row as u32, 1, *value).unwrap();
    }
    let header = [
        "Action",
        "Primary ID",
        "Last name",
        "First name",
        "Email",
        "Account type",
        "Role",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(7, c as u16, *h).unwrap();
    }
    let rows: [[&str; 7]; 3] = [
        ["Delete", &leaving, "", "", "", "", ""],
        [
            "Add",
            "MCCNEW01",
            "Abara",
            "Chidi",
            "cabara@mangrovecoast.example.edu",
            "Internal",
            "Cataloger",
        ],
        [
            "Add",
            "MCCNEW02",
            "Boyle",
            "Dana",
            "dboyle@mangrovecoast.example.edu",
            "Internal",
            "Cataloger",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(8 + r as u32, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(&path).unwrap();

    desk.process(&path, "out");
    let found = problems(&desk.path("out/mcc-two-new-xlsx/mcc-two-new-result.xlsx"));
    let over: Vec<_> = found
        .iter()
        .filter(|(r, _, _)| r == "over-allotment")
        .collect();
    assert_eq!(
        over.len(),
        1,
        "only the second new person is past it: {found:#?}"
    );
    assert_eq!(over[0].1, "Accounts!B11", "{over:?}");
    assert!(
        over[0]
            .2
            .contains("25 named users now, 26 after this request, allotment 25"),
        "{over:?}"
    );
}

#[test]
fn exporting_after_apply_still_posts_the_new_accounts() {
    let desk = Desk::imported();
    desk.process(&sample("clean-batch.xlsx"), "out");
    let path = desk.changeset_path("clean-batch.xlsx", "out");
    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let export = desk.run(&["export", &path, "--alma", "alma"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = read_tsv(&desk.path("alma/requests.tsv"));
    assert!(
        requests.contains(&vec![
            "POST".into(),
            "/almaws/v1/users".into(),
            "01FALSC_GCSU/00455120.roles.json".into()
        ]),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r[0] == "PUT" && r[1] == "/almaws/v1/users/00398811"),
        "{requests:?}"
    );
}

#[test]
fn a_new_email_for_an_internal_account_is_an_update_and_reaches_the_alma_body() {
    let desk = Desk::imported();
    // An internal account of Gulf Coast with an email on record and no Cataloger role.
    let (account, _roles) = {
        let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
        state
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|a| {
                a.institution == GCSU
                    && a.account_type == rolecall::validate::AccountType::Internal
                    && !a.email.is_empty()
            })
            .map(|a| {
                let roles = state.roles(GCSU, &a.primary_id).unwrap();
                (a, roles)
            })
            .find(|(_, roles)| roles.iter().all(|r| r.code != 204))
            .expect("an internal GCSU account without Cataloger")
    };
    let new_email = "new.address@gcsu.example.edu";
    let path = desk.path("new-email.xlsx");
    worksheet(
        &path,
        &[
            ("Action", "Modify"),
            ("Primary ID", account.primary_id.as_str()),
            ("Last name", account.last_name.as_str()),
            ("Email", new_email),
            ("Role", "Cataloger"),
        ],
    );

    let cs = desk.process(&path, "out");
    let updates: Vec<&Json> = cs["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["op"] == "update_account")
        .collect();
    assert_eq!(updates.len(), 1, "{cs:#}");
    assert_eq!(updates[0]["email"], new_email);
    assert!(
        updates[0].get("last_name").is_none(),
        "an unchanged name is not an update: {cs:#}"
    );
    // The reply says so, on the cell: a nickname would otherwise rename the account unseen.
    let found = problems(&desk.path("out/new-email-xlsx/new-email-result.xlsx"));
    assert!(
        found
            .iter()
            .any(|(rule, at, message)| rule == "account-update"
                && at == "Accounts!D9"
                && message.contains(new_email)),
        "{found:#?}"
    );
    assert!(
        !found
            .iter()
            .any(|(rule, at, _)| rule == "account-update" && at != "Accounts!D9"),
        "only the email changes: {found:#?}"
    );

    let cs_path = desk
        .path("out/new-email-xlsx/new-email-changeset.json")
        .display()
        .to_string();
    let dry = desk.run(&["apply", "--dry-run", &cs_path]);
    assert!(
        dry.stdout.contains(&format!("email \u{2192} {new_email}")),
        "{}",
        dry.stdout
    );
    assert_eq!(desk.run(&["apply", &cs_path]).code, 0);
    let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    assert_eq!(
        state
            .account(GCSU, &account.primary_id)
            .unwrap()
            .unwrap()
            .email,
        new_email
    );
    drop(state);
    let export = desk.run(&["export", &cs_path, "--alma", "alma"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let file: Json = serde_json::from_str(
        &std::fs::read_to_string(
            desk.path(&format!("alma/{GCSU}/{}.roles.json", account.primary_id)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(file["update"]["email"], new_email, "{file:#}");
    // Asked again, nothing is left to change.
    let again = desk.process(&path, "again");
    assert!(
        again["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["op"] != "update_account"),
        "{again:#}"
    );
}

#[test]
fn imports_are_logged_at_the_time_rolecall_was_given() {
    // ROLECALL_NOW fixes the clock for everything, the import log included.
    let desk = Desk::imported();
    let conn = rusqlite::Connection::open(desk.path("rolecall.db")).unwrap();
    let stamps: Vec<String> = conn
        .prepare("SELECT imported_at FROM state_import")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stamps.len(), 5);
    assert!(stamps.iter().all(|s| s == NOW), "{stamps:?}");
}

#[test]
fn the_sample_forms_are_diffed_against_the_state_too() {
    let desk = Desk::imported();
    let forms = repo().join("samples/forms");
    // A new person: created, with the roles asked for.
    let cs = desk.process(&forms.join("clean.pdf"), "out");
    let ops = ops(&cs);
    assert!(ops.iter().any(|(op, _)| op == "create_account"), "{ops:?}");
    // A Modify for a person the state does not hold at that institution: refused, located on
    // the form's field.
    desk.process(&forms.join("other-producer.pdf"), "out");
    let found = problems(&desk.path("out/other-producer-pdf/other-producer-result.xlsx"));
    assert!(
        found
            .iter()
            .any(|(rule, at, message)| rule == "unknown-account"
                && at == "form field person.primary_id"
                && message.contains("0098765")),
        "{found:#?}"
    );
}

#[test]
fn a_change_set_from_an_older_state_is_rechecked_against_the_current_one() {
    // Made against the generated state...
    let made = Desk::imported();
    made.process(&sample("clean-batch.xlsx"), "out");
    let path = made.changeset_path("clean-batch.xlsx", "out");
    // ...applied to a state that knows only logins (another version, none of the accounts).
    let other = Desk::empty();
    let logins = fixture("staff-logins-2026-11.xlsx").display().to_string();
    assert_eq!(other.run(&["state", "import", &logins]).code, 0);
    let applied = other.run(&["apply", &path]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(
        applied.stdout.contains("made against an older state"),
        "{}",
        applied.stdout
    );
    // 00398811 gets a role in the change set but is not in this state.
    assert!(
        applied
            .stdout
            .lines()
            .any(|l| l.starts_with("re-check: 00398811 is not in the state")),
        "{}",
        applied.stdout
    );
    // A new account the change set creates is no surprise: no re-check line for it.
    assert!(
        !applied.stdout.contains("re-check: 00455120"),
        "{}",
        applied.stdout
    );
}

// ---- Alma files: roles only, merged into a GET ----

/// A user as `GET /almaws/v1/users/{id}?view=full&expand=none` returns it, with everything a
/// swap-all PUT could wipe: identifiers, addresses, phones, an External email segment,
/// `external_id`, notes, blocks, statistics, and roles outside the catalog (9999), with
/// cross-library parameters (a LAW desk on a MAIN role) and a MetadataType parameter.
/// Written here in the documented shapes (alma-api.md 1.1, 1.4; SLSP `user_test1.json`).
fn rich_get() -> Json {
    let param = |kind: &str, scope: &str, value: &str| {
        serde_json::json!({
            "type": { "value": kind, "desc": null },
            "scope": { "value": scope, "desc": scope },
            "value": { "value": value, "desc": value },
        })
    };
    let role = |code: &str, scope: &str, params: Vec<Json>| {
        serde_json::json!({
            "status": { "value": "ACTIVE", "desc": "Active" },
            "scope": { "value": scope, "desc": scope },
            "role_type": { "value": code, "desc": format!("Alma's name of {code}") },
            "parameter": params,
        })
    };
    serde_json::json!({
        "record_type": { "value": "STAFF", "desc": "Staff" },
        "primary_id": "00455999",
        "first_name": "Eric",
        "last_name": "Ramos",
        "user_group": { "value": "STAFF", "desc": "Staff" },
        "job_category": { "value": "LIBRARIAN", "desc": "Librarian" },
        "cataloger_level": { "value": "30", "desc": "[30] Librarian" },
        "account_type": { "value": "EXTERNAL", "desc": "External" },
        "external_id": "SIS",
        "status": { "value": "ACTIVE", "desc": "Active" },
        "expiry_date": "2030-06-30Z",
        "purge_date": "2031-06-30Z",
        "user_identifier": [
            { "id_type": { "value": "BARCODE" }, "value": "21000455999", "segment_type": "External" },
            { "id_type": { "value": "UNIV_ID" }, "value": "U455999", "segment_type": "External" },
        ],
        "contact_info": {
            "address": [{ "line1": "231 W Hancock St", "city": "Milledgeville", "preferred": true,
                          "address_type": [{ "value": "work" }], "segment_type": "External" }],
            "email": [{ "email_address": "eric.ramos@gcsu.example.edu", "preferred": true,
                        "email_type": [{ "value": "school", "desc": "School" }],
                        "segment_type": "External" }],
            "phone": [{ "phone_number": "478-445-0000", "preferred": true,
                        "phone_type": [{ "value": "office" }], "segment_type": "External" }],
        },
        "user_note": [{ "note_type": { "value": "OTHER" }, "note_text": "Keys returned", "segment_type": "Internal" }],
        "user_block": [{ "block_type": { "value": "GENERAL" }, "block_description": { "value": "03-LOST" },
                         "block_status": "ACTIVE", "segment_type": "Internal" }],
        "user_statistic": [{ "statistic_category": { "value": "FAC" }, "segment_type": "External" }],
        "proxy_for_user": [],
        "user_role": [
            role("200", GCSU, vec![]),
            role("32", "MAIN", vec![param("CirculationDesk", "MAIN", "DEFAULT_CIRC_DESK"),
                                    param("CirculationDesk", "MAIN", "RESERVES_DESK")]),
            role("32", "HEALTH", vec![param("CirculationDesk", "HEALTH", "DEFAULT_CIRC_DESK")]),
            role("51", "MAIN", vec![param("CirculationDesk", "LAW", "DEFAULT_CIRC_DESK")]),
            role("37", "MAIN", vec![param("ServiceUnit", "LAW", "ACQ_RECEIVING"),
                                    param("ServiceUnit", "MAIN", "ACQ_RECEIVING")]),
            role("204", GCSU, vec![param("MetadataType", GCSU, "MARC21_BIB")]),
            role("9999", GCSU, vec![]),
        ],
    })
}

/// A change set written by hand: `ops` for account(s) of GCSU.
fn changeset_with(ops: Json) -> Json {
    serde_json::json!({
        "schema": "rolecall.changeset/1",
        "submission": {
            "id": "20261124-aaaaaaaaaa", "source": "by-hand.xlsx", "sha256": "00",
            "processed_at": NOW, "requester_name": "Dana Whitfield",
            "requester_email": "dwhitfield@gcsu.example.edu"
        },
        "catalog_version": "x",
        "operations": ops,
    })
}

fn role_op(op: &str, id: &str, code: u32, name: &str, scope: Json, params: Json) -> Json {
    let mut o = serde_json::json!({
        "op": op, "institution": GCSU, "primary_id": id,
        "role": { "code": code, "name": name }, "scope": scope, "parameters": params,
        "lines": ["Accounts!9:9"],
    });
    if op == "add_role" {
        o["needs_approval"] = Json::Bool(false);
    }
    o
}

/// Exports a hand-written change set to `alma/` and reads the roles file of GCSU's `id`.
fn export_roles(desk: &Desk, cs: &Json, id: &str) -> (Out, Json) {
    std::fs::write(desk.path("cs.json"), cs.to_string()).unwrap();
    let run = desk.run(&["export", "cs.json", "--alma", "alma"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let path = desk.path(&format!("alma/{GCSU}/{id}.roles.json"));
    let file = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (run, file)
}

/// A role as the merge compares it: code, scope, status and sorted parameters (`desc`s are
/// names, which Alma ignores on input).
fn norm_role(r: &Json) -> (String, String, String, Vec<(String, String, String)>) {
    let v = |x: &Json| x["value"].as_str().unwrap_or_default().to_string();
    let mut params: Vec<(String, String, String)> = r["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (v(&p["type"]), v(&p["scope"]), v(&p["value"])))
        .collect();
    params.sort();
    (v(&r["role_type"]), v(&r["scope"]), v(&r["status"]), params)
}

/// The merge rule of `docs/state.md`, step by step, written here from the documentation.
fn merge_as_documented(get: &Json, file: &Json) -> Json {
    assert_eq!(file["rolecall"], "roles only — merge into a GET");
    let live = get["user_role"].as_array().unwrap();
    let key = |r: &Json| {
        (
            r["role_type"]["value"].as_str().unwrap().to_string(),
            r["scope"]["value"].as_str().unwrap().to_string(),
        )
    };
    let mut roles = Vec::new();
    for r in file["user_role"].as_array().unwrap() {
        let from_get = file["parameters_from_get"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| {
                (
                    k["role_type"].as_str().unwrap(),
                    k["scope"].as_str().unwrap(),
                ) == (key(r).0.as_str(), key(r).1.as_str())
            });
        let matching: Vec<&Json> = live.iter().filter(|l| key(l) == key(r)).collect();
        if from_get && !matching.is_empty() {
            for l in matching {
                let mut r = r.clone();
                r["parameter"] = l["parameter"].clone();
                roles.push(r);
            }
        } else {
            roles.push(r.clone());
        }
    }
    for k in file["keep_from_get"].as_array().unwrap() {
        roles.extend(
            live.iter()
                .filter(|l| {
                    l["role_type"]["desc"] == k["role_type_desc"]
                        && l["scope"]["value"] == k["scope"]
                })
                .cloned(),
        );
    }
    let mut body = get.clone();
    body["user_role"] = Json::Array(roles);
    body
}

#[test]
fn an_export_merged_into_a_rich_get_as_documented_drops_no_field_and_no_role() {
    let desk = Desk::empty();
    let get = rich_get();
    std::fs::write(desk.path("get.json"), get.to_string()).unwrap();
    let run = desk.run(&["state", "import", "get.json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("role 9999 is not in the catalog; kept"),
        "{}",
        run.stdout
    );

    let lib = |code: &str| serde_json::json!({ "kind": "library", "code": code });
    let cs = changeset_with(serde_json::json!([
        role_op(
            "remove_role",
            "00455999",
            32,
            "Circulation Desk Operator",
            lib("HEALTH"),
            serde_json::json!([{ "type": "CirculationDesk", "value": "DEFAULT_CIRC_DESK", "scope": "HEALTH" }])
        ),
        role_op(
            "add_role",
            "00455999",
            50,
            "User Administrator",
            serde_json::json!({ "kind": "institution", "code": GCSU }),
            serde_json::json!([])
        ),
    ]));
    let (run, file) = export_roles(&desk, &cs, "00455999");
    assert!(
        run.stdout.contains("roles only — merge into a GET"),
        "{}",
        run.stdout
    );
    for whole_user_field in [
        "first_name",
        "last_name",
        "contact_info",
        "account_type",
        "status",
    ] {
        assert!(
            file.get(whole_user_field).is_none(),
            "{whole_user_field}: {file:#}"
        );
    }

    let body = merge_as_documented(&get, &file);
    for (field, value) in get.as_object().unwrap() {
        if field != "user_role" {
            assert_eq!(&body[field], value, "{field}");
        }
    }
    // Worked out by hand: the GET's roles minus 32 at HEALTH, plus 50 at the institution.
    let mut want: Vec<_> = get["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !(r["role_type"]["value"] == "32" && r["scope"]["value"] == "HEALTH"))
        .map(norm_role)
        .collect();
    want.push(("50".into(), GCSU.into(), "ACTIVE".into(), vec![]));
    want.sort();
    let mut got: Vec<_> = body["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(norm_role)
        .collect();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn analytics_without_parameters_marks_them_unknown_and_the_merge_keeps_desks_and_unknown_roles() {
    let desk = Desk::empty();
    // A real Analytics "users with roles" report has no parameter column (alma-api.md 1.2).
    std::fs::write(
        desk.path("analytics.csv"),
        "Primary Identifier,Role Type,Role Status,Role Scope,Institution Code\n\
         00455998,Patron,Active,01FALSC_GCSU,01FALSC_GCSU\n\
         00455998,Circulation Desk Operator,Active,MAIN,01FALSC_GCSU\n\
         00455998,Printout Queue Operator,Active,MAIN,01FALSC_GCSU\n\
         00455998,Designs Analytics,Active,01FALSC_GCSU,01FALSC_GCSU\n",
    )
    .unwrap();
    let run = desk.run(&["state", "import", "analytics.csv"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("\"Printout Queue Operator\" is not a role in the catalog; kept"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("no \"Role Parameters\" column"),
        "{}",
        run.stdout
    );
    {
        let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
        let roles = state.roles(GCSU, "00455998").unwrap();
        let circ = roles.iter().find(|r| r.code == 32).expect("32 kept");
        assert!(circ.parameters_unknown(), "{circ:?}");
        let unmatched: Vec<String> = state
            .unmatched_roles(GCSU, "00455998")
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert!(unmatched.contains(&"Printout Queue Operator".to_string()));
        // "Designs Analytics" is role 220 once the catalog has that alias; kept either way.
        assert!(
            unmatched.contains(&"Designs Analytics".to_string())
                || roles.iter().any(|r| r.code == 220),
            "{roles:?} {unmatched:?}"
        );
    }

    let cs = changeset_with(serde_json::json!([role_op(
        "add_role",
        "00455998",
        204,
        "Cataloger",
        serde_json::json!({ "kind": "institution", "code": GCSU }),
        serde_json::json!([])
    )]));
    let (_, file) = export_roles(&desk, &cs, "00455998");
    // What Alma holds: the desks the report did not show, and the roles it named by name
    // (their codes are not public: the placeholders here are matched by name, as documented).
    let get = serde_json::json!({
        "primary_id": "00455998",
        "user_identifier": [{ "id_type": { "value": "BARCODE" }, "value": "21000455998" }],
        "user_role": [
            { "status": { "value": "ACTIVE" }, "scope": { "value": GCSU }, "role_type": { "value": "200", "desc": "Patron" }, "parameter": [] },
            { "status": { "value": "ACTIVE" }, "scope": { "value": "MAIN" }, "role_type": { "value": "32", "desc": "Circulation Desk Operator" },
              "parameter": [{ "type": { "value": "CirculationDesk" }, "scope": { "value": "LAW" }, "value": { "value": "DEFAULT_CIRC_DESK" } }] },
            { "status": { "value": "ACTIVE" }, "scope": { "value": "MAIN" }, "role_type": { "value": "placeholder-1", "desc": "Printout Queue Operator" }, "parameter": [] },
            { "status": { "value": "ACTIVE" }, "scope": { "value": GCSU }, "role_type": { "value": "220", "desc": "Designs Analytics" }, "parameter": [] },
        ],
    });
    let body = merge_as_documented(&get, &file);
    let mut want: Vec<_> = get["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(norm_role)
        .collect();
    want.push(("204".into(), GCSU.into(), "ACTIVE".into(), vec![]));
    want.sort();
    let mut got: Vec<_> = body["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(norm_role)
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(got, want, "{file:#}");
    assert_eq!(body["user_identifier"], get["user_identifier"]);
}

fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn id_lists_have_the_username_header_only_what_the_job_can_do_and_no_formula() {
    let desk = Desk::empty();
    let inst = serde_json::json!({ "kind": "institution", "code": GCSU });
    let formula = "=cmd|' /C calc'!A0";
    let cs = changeset_with(serde_json::json!([
        role_op("add_role", formula, 204, "Cataloger", inst.clone(), serde_json::json!([])),
        role_op("add_role", "00455120", 204, "Cataloger", inst.clone(), serde_json::json!([])),
        role_op("add_role", "00455120", 32, "Circulation Desk Operator",
            serde_json::json!({ "kind": "library", "code": "MAIN" }),
            serde_json::json!([{ "type": "CirculationDesk", "value": "DEFAULT_CIRC_DESK", "scope": "MAIN" }])),
        { "op": "remove_all_staff_roles", "institution": GCSU, "primary_id": "00276543",
          "keep": [{ "code": 200, "name": "Patron" }], "lines": [] },
        { "op": "suspend_roles", "institution": GCSU, "primary_id": "+00301122",
          "roles": [{ "role": { "code": 204, "name": "Cataloger" }, "scope": inst, "parameters": [] }],
          "reason": "never logged in", "lines": [] },
    ]));
    std::fs::write(desk.path("cs.json"), cs.to_string()).unwrap();
    let run = desk.run(&["export", "cs.json", "--alma", "alma"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let list = read_tsv(&desk.path("alma/update-users/01FALSC_GCSU/add_role-204-01FALSC_GCSU.txt"));
    assert_eq!(
        list,
        [
            vec!["USERNAME".to_string()],
            vec![format!("'{formula}")],
            vec!["00455120".to_string()]
        ]
    );
    let files: Vec<String> = walk(&desk.path("alma/update-users"));
    assert_eq!(
        files,
        ["01FALSC_GCSU/add_role-204-01FALSC_GCSU.txt"],
        "only what the job can do"
    );
    let index = read_tsv(&desk.path("alma/update-users.txt"));
    assert_eq!(
        index,
        [
            vec!["file", "IDs"],
            vec![
                "update-users/01FALSC_GCSU/add_role-204-01FALSC_GCSU.txt",
                "2"
            ]
        ]
    );
    let readme = std::fs::read_to_string(desk.path("alma/README.txt")).unwrap();
    assert!(readme.contains("API only (3 operations)"), "{readme}");
    for what in [
        "Circulation Desk Operator at MAIN",
        "remove every staff role",
        "suspend Cataloger",
    ] {
        assert!(readme.contains(what), "{what}: {readme}");
    }
    // No cell of any text file for a spreadsheet starts like a formula.
    for path in [
        desk.path("alma/requests.tsv"),
        desk.path("alma/update-users.txt"),
    ] {
        for row in read_tsv(&path) {
            for c in row {
                assert!(
                    !c.starts_with(['=', '+', '-', '@']),
                    "{}: {c}",
                    path.display()
                );
            }
        }
    }
}

/// Files under `dir`, relative, sorted.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_staff_login_report_with_user_name_and_dashes_is_read() {
    let desk = Desk::empty();
    // CARLI: rows by primary identifier, "-" in Last Login for no login; KC: "User Name".
    std::fs::write(
        desk.path("staff-login.csv"),
        "User Name,Last Login,Institution Code\n\
         00600004,2026-11-02,01FALSC_GCSU\n\
         00600007,-,01FALSC_GCSU\n\
         00600009,11/20/2026,01FALSC_GCSU\n",
    )
    .unwrap();
    let run = desk.run(&["state", "import", "staff-login.csv"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 logins added"), "{}", run.stdout);
    let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    let date = |d: &str| d.parse::<jiff::civil::Date>().unwrap();
    assert_eq!(
        state.last_login(GCSU, "00600004").unwrap(),
        Some(date("2026-11-02"))
    );
    assert_eq!(state.last_login(GCSU, "00600007").unwrap(), None);
    assert_eq!(
        state.last_login(GCSU, "00600009").unwrap(),
        Some(date("2026-11-20"))
    );
}

#[test]
fn the_inactivity_audit_spares_new_accounts_and_refuses_a_date_before_the_last_change() {
    let desk = Desk::imported();
    desk.process(&sample("clean-batch.xlsx"), "out");
    let path = desk.changeset_path("clean-batch.xlsx", "out");
    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let run = desk.run(&["audit", "inactive", "--as-of", AS_OF, "--out", "audit"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let cs: Json = serde_json::from_str(
        &std::fs::read_to_string(desk.path("audit/suspend-changeset.json")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = ops(&cs).into_iter().map(|(_, id)| id).collect();
    // Created by the clean batch on AS_OF, never logged in: within the 30 days of grace.
    for new in ["00398811", "00412345"] {
        assert!(!listed.contains(new), "{new} was just created: {listed:?}");
    }
    assert!(
        run.stdout
            .contains("created or given roles in the last 30 days"),
        "{}",
        run.stdout
    );
    let notice = walk(&desk.path("audit/outbox"))
        .into_iter()
        .map(|f| std::fs::read_to_string(desk.path("audit/outbox").join(f)).unwrap())
        .find(|t| t.contains("inactive-01FALSC_GCSU"))
        .unwrap();
    let msg = mail_parser::MessageParser::default()
        .parse(notice.as_bytes())
        .unwrap();
    let body = msg.body_text(0).unwrap();
    assert!(!body.contains("are suspended"), "{body}");
    assert!(body.contains("due for suspension"), "{body}");
    assert!(msg.subject().unwrap().contains("to be suspended"));

    let early = desk.run(&[
        "audit",
        "inactive",
        "--as-of",
        "2026-11-01",
        "--out",
        "early",
    ]);
    assert_eq!(early.code, 2, "{}\n{}", early.stdout, early.stderr);
    assert!(
        early
            .stderr
            .contains("--as-of 2026-11-01 is before the newest change")
            && early.stderr.contains("use --as-of 2026-11-24 or later"),
        "{}",
        early.stderr
    );
}

/// Runs the binary in `dir` with exactly these arguments (no `--db`).
fn run_in(dir: &Path, args: &[&str]) -> Out {
    rolecall(dir).args(args).output().unwrap().into()
}

/// The result workbook's Problems sheet has a problem of this rule whose message says this.
fn has_problem(result: &Path, rule: &str, words: &str) {
    let found = problems(result);
    assert!(
        found.iter().any(|(r, _, m)| r == rule && m.contains(words)),
        "no {rule} saying {words:?} in {found:#?}"
    );
}

/// The Summary sheet's value for a label.
fn summary_value(result: &Path, label: &str) -> String {
    sheet(result, "Summary")
        .into_iter()
        .find(|r| r.first().is_some_and(|c| c == label))
        .and_then(|r| r.get(1).cloned())
        .unwrap_or_else(|| panic!("no {label} row"))
}

#[test]
fn process_uses_only_the_state_it_is_told_about_and_says_which() {
    let desk = Desk::imported();
    // A folder that happens to hold a data folder with a state in it.
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("rolecall-data")).unwrap();
    std::fs::copy(
        desk.path("rolecall.db"),
        work.path().join("rolecall-data/rolecall.db"),
    )
    .unwrap();
    let batch = sample("clean-batch.xlsx").display().to_string();
    let changeset = |out: &str| -> Json {
        let p = work
            .path()
            .join(out)
            .join("clean-batch-xlsx/clean-batch-changeset.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let result = |out: &str| {
        work.path()
            .join(out)
            .join("clean-batch-xlsx/clean-batch-result.xlsx")
    };

    // Not asked for: not used, and every output says so.
    let text = run_in(work.path(), &["process", &batch, "--out", "plain"]);
    assert!(text.code <= 1, "{}\n{}", text.stdout, text.stderr);
    assert!(
        text.stdout.starts_with("account state: none"),
        "{}",
        text.stdout
    );
    assert_eq!(changeset("plain")["state"], Json::Null);
    assert!(changeset("plain").get("state_version").is_none());
    assert!(summary_value(&result("plain"), "Account state").starts_with("none"));
    let json = run_in(
        work.path(),
        &["process", &batch, "--out", "plain", "--json"],
    );
    let doc: Json = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["submissions"][0]["state"], Json::Null, "{doc:#}");

    // Asked for: used, named with its version (5 imports made version 5).
    let db = "rolecall-data/rolecall.db";
    let text = run_in(
        work.path(),
        &["--db", db, "process", &batch, "--out", "told"],
    );
    assert!(text.code <= 1, "{}\n{}", text.stdout, text.stderr);
    assert!(
        text.stdout
            .starts_with("account state: rolecall-data/rolecall.db (version 5)"),
        "{}",
        text.stdout
    );
    let cs = changeset("told");
    assert_eq!(cs["state"], serde_json::json!({ "path": db, "version": 5 }));
    assert_eq!(
        summary_value(&result("told"), "Account state"),
        "rolecall-data/rolecall.db (version 5)"
    );
    let json = run_in(
        work.path(),
        &["--db", db, "process", &batch, "--out", "told", "--json"],
    );
    let doc: Json = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["submissions"][0]["state"]["version"], 5, "{doc:#}");

    // A data folder named on the command line is asked for too: its database is used.
    let text = run_in(
        work.path(),
        &[
            "--data",
            "rolecall-data",
            "process",
            &batch,
            "--out",
            "data",
        ],
    );
    assert!(
        text.stdout
            .starts_with("account state: rolecall-data/rolecall.db (version 5)"),
        "{}",
        text.stdout
    );
    assert_eq!(changeset("data")["state"]["version"], 5);
}

/// A one-line worksheet of Gulf Coast from its coordinator: (header, value) pairs.
fn worksheet(path: &Path, cells: &[(&str, &str)]) {
    let (header, values): (Vec<&str>, Vec<&str>) = cells.iter().copied().unzip();
    crate::lifecycle::worksheet(path, &header, &[&values]);
}

#[test]
fn a_delete_removes_roles_known_only_by_name_and_the_roles_sheet_shows_them() {
    let desk = Desk::empty();
    std::fs::write(
        desk.path("analytics.csv"),
        "Primary Identifier,Last Name,Role Type,Role Status,Role Scope,Institution Code\n\
         00455997,Okafor,Patron,Active,01FALSC_GCSU,01FALSC_GCSU\n\
         00455997,Okafor,Printout Queue Operator,Active,MAIN,01FALSC_GCSU\n",
    )
    .unwrap();
    let run = desk.run(&["state", "import", "analytics.csv"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Only a role the catalog does not know: still a named user (to be safe).
    let licence = desk.run(&["audit", "licence", "-o", "licence.xlsx"]);
    assert!(
        licence.stdout.contains("01FALSC_GCSU: 1 named user,"),
        "{}",
        licence.stdout
    );

    let sheet_path = desk.path("delete.xlsx");
    worksheet(
        &sheet_path,
        &[
            ("Action", "Delete"),
            ("Primary ID", "00455997"),
            ("Last name", "Okafor"),
        ],
    );
    let cs = desk.process(&sheet_path, "out");
    assert_eq!(
        ops(&cs),
        [("remove_all_staff_roles".to_string(), "00455997".to_string())]
    );
    let rows = sheet(&desk.path("out/delete-xlsx/delete-result.xlsx"), "Roles");
    let person = rows
        .iter()
        .find(|r| r.get(1).is_some_and(|c| c == "00455997"))
        .unwrap();
    assert!(
        person[3].contains("Printout Queue Operator at MAIN (not in the catalog)"),
        "{person:?}"
    );
    assert!(!person[4].contains("Printout Queue Operator"), "{person:?}");

    let path = desk.changeset_path("delete.xlsx", "out");
    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    assert!(state.unmatched_roles(GCSU, "00455997").unwrap().is_empty());
}

#[test]
fn a_user_without_user_role_keeps_the_roles_on_record() {
    let desk = Desk::empty();
    std::fs::write(desk.path("get.json"), rich_get().to_string()).unwrap();
    assert_eq!(desk.run(&["state", "import", "get.json"]).code, 0);
    let before = {
        let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
        state.roles(GCSU, "00455999").unwrap()
    };
    assert_eq!(before.len(), 7);
    // A brief view has no user_role: that is not "no roles".
    std::fs::write(
        desk.path("brief.json"),
        r#"{"user": [{"primary_id": "00455999", "first_name": "Eric", "last_name": "Ramos-Diaz"}]}"#,
    )
    .unwrap();
    let run = desk.run(&["state", "import", "brief.json", "--institution", GCSU]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("the roles on record are kept"),
        "{}",
        run.stdout
    );
    let state = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    assert_eq!(state.roles(GCSU, "00455999").unwrap(), before);
    let account = state.account(GCSU, "00455999").unwrap().unwrap();
    assert_eq!(account.last_name, "Ramos-Diaz");
    // What the brief record does not give stays as it was.
    assert_eq!(
        account.account_type,
        rolecall::validate::AccountType::External
    );
    assert_eq!(account.email, "eric.ramos@gcsu.example.edu");
}

#[test]
fn an_account_a_push_wrote_gets_the_grace_period_too() {
    let desk = Desk::imported();
    // 00600015 of Gulf Coast never logged in (the generator's truth): audited as inactive.
    assert!(Truth::load().inactive()[GCSU].contains("00600015"));
    // A push recorded it on 2026-11-20 (what `push` writes in its journal).
    let conn = rusqlite::Connection::open(desk.path("rolecall.db")).unwrap();
    conn.execute(
        "INSERT INTO alma_journal (changeset, institution, primary_id, step, updated_at)
         VALUES ('f00d', ?1, '00600015', 'recorded', '2026-11-20T10:00:00Z')",
        [GCSU],
    )
    .unwrap();
    drop(conn);
    let run = desk.run(&["audit", "inactive", "--as-of", AS_OF, "--out", "audit"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let cs: Json = serde_json::from_str(
        &std::fs::read_to_string(desk.path("audit/suspend-changeset.json")).unwrap(),
    )
    .unwrap();
    assert!(!ops(&cs).iter().any(|(_, id)| id == "00600015"), "{cs:#}");
    let early = desk.run(&[
        "audit",
        "inactive",
        "--as-of",
        "2026-11-19",
        "--out",
        "early",
    ]);
    assert_eq!(early.code, 2, "{}\n{}", early.stdout, early.stderr);
    assert!(
        early.stderr.contains("use --as-of 2026-11-20 or later"),
        "{}",
        early.stderr
    );
}

/// One person on two lines (the second adds a role held already) and an Add for an account
/// the state lacks: the Roles sheet shows each person once, with the roles of both lines
/// after, and the new account with the Patron Alma gives it.
#[test]
fn one_person_on_two_lines_and_a_new_account_show_their_roles_after_once() {
    let desk = Desk::empty();
    std::fs::write(
        desk.path("analytics.csv"),
        "Primary Identifier,Last Name,Role Type,Role Status,Role Scope,Institution Code\n\
         00455997,Okafor,Patron,Active,01FALSC_GCSU,01FALSC_GCSU\n\
         00455997,Okafor,Cataloger,Active,01FALSC_GCSU,01FALSC_GCSU\n",
    )
    .unwrap();
    let run = desk.run(&["state", "import", "analytics.csv"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let path = desk.path("two.xlsx");
    let header = [
        "Action",
        "Primary ID",
        "First name",
        "Last name",
        "Email",
        "Role",
    ];
    crate::lifecycle::worksheet(
        &path,
        &header,
        &[
            &["Modify", "00455997", "", "Okafor", "", "Catalog Manager"],
            &["Modify", "00455997", "", "Okafor", "", "Cataloger"],
            &[
                "Add",
                "00455998",
                "Ada",
                "Brooks",
                "abrooks@gcsu.example.edu",
                "Catalog Manager",
            ],
        ],
    );
    desk.process(&path, "out");
    let rows = sheet(&desk.path("out/two-xlsx/two-result.xlsx"), "Roles");
    let people: Vec<&[String]> = rows
        .iter()
        .skip_while(|r| r[0] != "Institution")
        .skip(1)
        .map(Vec::as_slice)
        .collect();
    assert_eq!(
        people,
        [
            [
                GCSU,
                "00455997",
                "Okafor",
                "Patron (200)\nCataloger (204)",
                "Patron (200)\nCataloger (204)\nCatalog Manager (206)",
            ],
            [
                GCSU,
                "00455998",
                "Ada Brooks",
                "",
                "Patron (200)\nCatalog Manager (206)",
            ],
        ],
        "{rows:#?}"
    );
}
