//! The account state end to end, through the real binary: a generated state of 2,618 users
//! across the four sample institutions (`tests/fixtures/state/make_state.py`: Alma Users API
//! JSON, Analytics CSV and XLSX, two Staff Login Reports) is imported, the sample worksheets
//! are processed against it, change sets are applied, audited and exported. Numbers are
//! checked against counts made here from the generator's own `truth.json`, never through
//! the library's queries.

use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

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

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
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
        let out = Command::new(env!("CARGO_BIN_EXE_rolecall"))
            .arg("--db")
            .arg(self.path("rolecall.db"))
            .args(args)
            .current_dir(self.dir.path())
            .env("ROLECALL_NOW", NOW)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
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
    let found = problems(&desk.path("out/mistakes-xlsx/mistakes-result.xlsx"));
    assert!(
        found.iter().any(|(r, _, m)| r == "unknown-account"
            && m.contains("00510019 is not an account of Gulf Coast State University")),
        "{found:#?}"
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
    let found = problems(&desk.path("out/mcc-add-xlsx/mcc-add-result.xlsx"));
    assert!(
        found.iter().any(|(r, _, m)| r == "over-allotment"
            && m.contains("25 named users now, 26 after this request, allotment 25")),
        "{found:#?}"
    );
}

#[test]
fn exported_alma_json_round_trips_through_state_import() {
    let desk = Desk::imported();
    desk.process(&sample("clean-batch.xlsx"), "out");
    let path = desk.changeset_path("clean-batch.xlsx", "out");
    let export = desk.run(&["export", &path, "--alma", "alma"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = std::fs::read_to_string(desk.path("alma/requests.tsv")).unwrap();
    assert!(requests.contains("POST\t/almaws/v1/users\t01FALSC_GCSU/00455120.json"));
    assert!(requests.contains("PUT\t/almaws/v1/users/00398811\t01FALSC_GCSU/00398811.json"));
    let index = std::fs::read_to_string(desk.path("alma/update-users.txt")).unwrap();
    assert!(
        index.contains("add_role-32-LAW.txt\t1 IDs\tCANNOT"),
        "{index}"
    );
    assert!(
        index.contains("add_role-204-01FALSC_GCSU.txt\t1 IDs\n"),
        "{index}"
    );

    assert_eq!(desk.run(&["apply", &path]).code, 0);
    let after = rolecall::state::State::open(&desk.path("rolecall.db")).unwrap();
    for id in ["00455120", "00398811", "00412345", "G20455871"] {
        let fresh = Desk::empty();
        let body = desk.path(&format!("alma/01FALSC_GCSU/{id}.json"));
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
    let requests = std::fs::read_to_string(desk.path("alma/requests.tsv")).unwrap();
    assert!(
        requests.contains("POST\t/almaws/v1/users\t01FALSC_GCSU/00455120.json"),
        "{requests}"
    );
    assert!(
        requests.contains("PUT\t/almaws/v1/users/00398811\t"),
        "{requests}"
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
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Accounts").unwrap();
    for (row, (label, value)) in [
        ("Requester name", "Dana Whitfield"),
        ("Requester email", "dwhitfield@gcsu.example.edu"),
        ("Institution", GCSU),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1 + row as u32, 0, *label).unwrap();
        ws.write_string(1 + row as u32, 1, *value).unwrap();
    }
    let header = ["Action", "Primary ID", "Last name", "Email", "Role"];
    let values = [
        "Modify",
        account.primary_id.as_str(),
        account.last_name.as_str(),
        new_email,
        "Cataloger",
    ];
    for (c, (h, v)) in header.iter().zip(values).enumerate() {
        ws.write_string(7, c as u16, *h).unwrap();
        ws.write_string(8, c as u16, v).unwrap();
    }
    wb.save(&path).unwrap();

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
    let body =
        std::fs::read_to_string(desk.path(&format!("alma/{GCSU}/{}.json", account.primary_id)))
            .unwrap();
    assert!(body.contains(new_email), "{body}");
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
