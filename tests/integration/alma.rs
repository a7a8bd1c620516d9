//! `rolecall push` and `rolecall state sync` end to end: the real binary against a fake Alma
//! (`support/alma.rs`, written from the documented contract) on 127.0.0.1. Change sets are
//! written here by hand in the documented format (`docs/changeset.md`), and every expected
//! role list is worked out by hand from the seeded users.

use crate::support::alma::{FakeAlma, Fault, Req, rich_user};
pub(crate) use crate::support::test::Out;
use crate::support::test::rolecall;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) const GCSU: &str = "01FALSC_GCSU";
const PRU: &str = "01FALSC_PRU";
const KEY: &str = "l8xx-gcsu-SECRET-0001";
const PRU_KEY: &str = "l8xx-pru-SECRET-0002";
const NOW: &str = "2026-11-24T15:00:00Z";

pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) fake: FakeAlma,
}

impl Env {
    /// A fake Alma with two rich GCSU users (internal jdoe, external esmith) and a config.
    pub(crate) fn new(extra_config: &str) -> Env {
        let fake = FakeAlma::start(&[(KEY, GCSU), (PRU_KEY, PRU)]);
        fake.add_user(GCSU, rich_user("jdoe", "Jane", "Doe", false));
        fake.add_user(GCSU, rich_user("esmith", "Eric", "Smith", true));
        let dir = tempfile::tempdir().unwrap();
        catalog_with_create_defaults(&dir.path().join("catalog"));
        let config = format!(
            "data = \"data\"\ncatalog = \"catalog\"\n\n[alma]\nbase_url = \"{}\"\nexpect_environment = \"sandbox\"\n{extra_config}\n\
             [alma.keys]\n\"{GCSU}\" = \"TEST_GCSU_KEY\"\n\"{PRU}\" = \"TEST_PRU_KEY\"\n",
            fake.base_url()
        );
        std::fs::write(dir.path().join("rolecall.toml"), config).unwrap();
        Env { dir, fake }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = rolecall(self.dir.path());
        c.arg("--config")
            .arg(self.dir.path().join("rolecall.toml"))
            .args(args)
            .env("TEST_GCSU_KEY", KEY)
            .env("TEST_PRU_KEY", PRU_KEY);
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Out {
        let o: Out = self.command(args).output().unwrap().into();
        for text in [&o.stdout, &o.stderr] {
            assert!(
                !text.contains(KEY) && !text.contains(PRU_KEY),
                "a key in the output: {text}"
            );
        }
        o
    }

    pub(crate) fn changeset(&self, name: &str, ops: Json) -> PathBuf {
        let cs = json!({
            "schema": "rolecall.changeset/1",
            "submission": {
                "id": format!("20261124-{name}"), "source": format!("{name}.xlsx"),
                "sha256": format!("{name:0>64}"), "processed_at": NOW,
                "requester_name": "Ana Lopez", "requester_email": "ana@gcsu.example.edu",
            },
            "catalog_version": "test",
            "state_version": 1,
            "operations": ops,
        });
        let path = self.dir.path().join(format!("{name}-changeset.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&cs).unwrap()).unwrap();
        path
    }

    pub(crate) fn writes(&self) -> Vec<Req> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }
}

/// A copy of the sample catalog, which has `[institution.create]` for GCSU and none for PRU.
fn catalog_with_create_defaults(dir: &Path) {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/catalog");
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(&sample).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string(dir.join("institutions.toml")).unwrap();
    let gcsu = text.find(&format!("code = \"{GCSU}\"")).unwrap();
    let pru = text.find(&format!("code = \"{PRU}\"")).unwrap();
    let create = text.find("\n[institution.create]").unwrap();
    assert!(
        gcsu < create && create < pru,
        "the sample's GCSU has create defaults"
    );
    assert!(
        !text[pru..]
            .split("\n[[institution]]")
            .next()
            .unwrap()
            .contains("[institution.create]")
    );
}

pub(crate) fn add_role(
    id: &str,
    code: u32,
    name: &str,
    library: Option<&str>,
    desk: Option<(&str, &str)>,
) -> Json {
    let scope = match library {
        Some(l) => json!({ "kind": "library", "code": l }),
        None => json!({ "kind": "institution", "code": GCSU }),
    };
    let parameters = match desk {
        Some((kind, v)) => json!([{ "type": kind, "value": v, "scope": library.unwrap_or(GCSU) }]),
        None => json!([]),
    };
    json!({ "op": "add_role", "institution": GCSU, "primary_id": id,
            "role": { "code": code, "name": name }, "scope": scope, "parameters": parameters,
            "needs_approval": false, "lines": ["Accounts!9:9"] })
}

fn remove_role(id: &str, code: u32, name: &str) -> Json {
    json!({ "op": "remove_role", "institution": GCSU, "primary_id": id,
            "role": { "code": code, "name": name },
            "scope": { "kind": "institution", "code": GCSU }, "parameters": [],
            "lines": ["Accounts!10:10"] })
}

fn remove_all(id: &str) -> Json {
    json!({ "op": "remove_all_staff_roles", "institution": GCSU, "primary_id": id,
            "keep": [{ "code": 200, "name": "Patron" }], "lines": ["Accounts!11:11"] })
}

/// A role list as comparable text: "code@scope status [type:scope:value,...]".
fn role_set(user: &Json) -> BTreeSet<String> {
    user["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut ps: Vec<String> = r["parameter"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}:{}",
                        p["type"]["value"].as_str().unwrap(),
                        p["scope"]["value"].as_str().unwrap(),
                        p["value"]["value"].as_str().unwrap()
                    )
                })
                .collect();
            ps.sort();
            format!(
                "{}@{} {} [{}]",
                r["role_type"]["value"].as_str().unwrap(),
                r["scope"]["value"].as_str().unwrap(),
                r["status"]["value"].as_str().unwrap_or("ACTIVE"),
                ps.join(",")
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// jdoe's roles as seeded (support/alma.rs `rich_user`), in `role_set` form.
fn seeded_roles() -> Vec<&'static str> {
    vec![
        "200@01FALSC_GCSU ACTIVE []",
        "32@MAIN ACTIVE [CirculationDesk:MAIN:DEFAULT_CIRC_DESK,CirculationDesk:MAIN:RESERVES_DESK]",
        "37@MAIN ACTIVE [ServiceUnit:LAW:ACQ_RECEIVING,ServiceUnit:MAIN:ACQ_RECEIVING]",
        "204@01FALSC_GCSU ACTIVE [MetadataType:01FALSC_GCSU:MARC21_Bibliographic]",
        "9999@01FALSC_GCSU ACTIVE []",
    ]
}

/// Every PUT's body equals the GET answered just before it for the same user, except
/// `user_role` and the fields named.
fn assert_puts_only_change_roles(fake: &FakeAlma, also: &[&str]) {
    let reqs = fake.requests();
    let mut puts = 0;
    for (i, put) in reqs.iter().enumerate().filter(|(_, r)| r.method == "PUT") {
        let id = put.user_id().unwrap();
        let get = reqs[..i]
            .iter()
            .rev()
            .find(|r| {
                r.method == "GET" && r.user_id().as_deref() == Some(id.as_str()) && r.status == 200
            })
            .expect("a GET before every PUT");
        // The GET's answer is the user as the fake held it: replay it from the PUT's own
        // view of the fields that must not change.
        let before = get_answer(fake, &reqs[..i], &id);
        let mut body = put.body_json();
        let mut was = before.clone();
        for field in std::iter::once("user_role").chain(also.iter().copied()) {
            body.as_object_mut().unwrap().remove(field);
            was.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(body, was, "PUT {id} changed more than its roles");
        assert!(!put.query.contains("override") && !put.query.contains("recalculate_roles"));
        let _ = get;
        puts += 1;
    }
    assert!(puts > 0, "no PUT to check");
}

/// What the fake answered to the last GET of `id` before these requests: the fake records
/// requests, not answers, so the answer is rebuilt from the seeded user and the PUTs before.
fn get_answer(fake: &FakeAlma, before: &[Req], id: &str) -> Json {
    let last_put = before
        .iter()
        .rev()
        .find(|r| r.method == "PUT" && r.user_id().as_deref() == Some(id));
    match last_put {
        Some(p) => p.body_json(),
        None => seeded(fake, id),
    }
}

fn seeded(_fake: &FakeAlma, id: &str) -> Json {
    match id {
        "jdoe" => rich_user("jdoe", "Jane", "Doe", false),
        "esmith" => rich_user("esmith", "Eric", "Smith", true),
        other => panic!("no seed for {other}"),
    }
}

fn assert_no_key_in_urls(fake: &FakeAlma) {
    for r in fake.requests() {
        let url = format!("{}?{}", r.path, r.query);
        assert!(
            !url.contains(KEY) && !url.to_lowercase().contains("apikey"),
            "{url}"
        );
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        assert!(
            auth.is_some_and(|(_, v)| v.starts_with("apikey ")),
            "no Authorization header"
        );
        let accept = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("accept"));
        assert!(accept.is_some_and(|(_, v)| v == "application/json"));
    }
}

pub(crate) fn sync(env: &Env) {
    let out = env.run(&["state", "sync", "--institution", GCSU, "jdoe", "esmith"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.prints("2 of 2 accounts refreshed");
    out.prints(
        "keeps Role 9999 (9999) at 01FALSC_GCSU, until 2030-01-16, a role outside the catalog",
    );
}

#[test]
fn push_changes_the_requested_roles_and_nothing_else() {
    let env = Env::new("");
    sync(&env);
    let cs = env.changeset(
        "mixed",
        json!([
            remove_role("jdoe", 204, "Cataloger"),
            add_role(
                "jdoe",
                51,
                "Requests Operator",
                Some("MAIN"),
                Some(("CirculationDesk", "DEFAULT_CIRC_DESK"))
            ),
            remove_all("esmith"),
        ]),
    );
    let cs = cs.to_str().unwrap();

    let dry = env.run(&["push", cs, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(env.writes().is_empty(), "a dry run wrote");
    assert!(
        dry.stdout
            .contains("+ Requests Operator (51) at MAIN, circulation desk DEFAULT_CIRC_DESK"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("- Cataloger (204) at 01FALSC_GCSU"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("2 would change"), "{}", dry.stdout);
    let dry_json = env.run(&["push", cs, "--dry-run", "--json"]);
    let report: Json = serde_json::from_str(&dry_json.stdout).unwrap();
    assert_eq!(report["accounts"][1]["outcome"], "would_change");
    let docs = crate::command_line::documented();
    crate::command_line::only_documented_fields("push", &report, &docs["push"][0]);
    assert!(env.writes().is_empty());

    let out = env.run(&["push", cs]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.prints("2 changed");
    // Worked out by hand: Cataloger gone (with its MetadataType), Requests Operator added,
    // everything else as seeded, desks and the cross-library service unit intact.
    let mut want = seeded_roles();
    want.retain(|r| !r.starts_with("204@"));
    want.push("51@MAIN ACTIVE [CirculationDesk:MAIN:DEFAULT_CIRC_DESK]");
    assert_eq!(role_set(&env.fake.user(GCSU, "jdoe").unwrap()), set(&want));
    assert_eq!(
        role_set(&env.fake.user(GCSU, "esmith").unwrap()),
        set(&["200@01FALSC_GCSU ACTIVE []"])
    );
    // Everything but the roles is as seeded: identifiers, addresses, notes, blocks, the
    // external_id and the External email segment.
    for (id, external) in [("jdoe", false), ("esmith", true)] {
        let mut now = env.fake.user(GCSU, id).unwrap();
        let mut was = rich_user(
            id,
            if external { "Eric" } else { "Jane" },
            if external { "Smith" } else { "Doe" },
            external,
        );
        now.as_object_mut().unwrap().remove("user_role");
        was.as_object_mut().unwrap().remove("user_role");
        assert_eq!(now, was, "{id} changed beyond its roles");
    }
    assert_puts_only_change_roles(&env.fake, &[]);
    assert_no_key_in_urls(&env.fake);
    for r in env
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.user_id().is_some())
    {
        assert_eq!(r.query, "user_id_type=all_unique&view=full&expand=none");
    }

    // The same change set again: nothing written.
    let puts = env.writes().len();
    let again = env.run(&["push", cs]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("2 done earlier"), "{}", again.stdout);
    assert_eq!(env.writes().len(), puts, "a re-run wrote");
}

#[test]
fn an_account_changed_in_alma_is_refused_and_rebase_merges_onto_it() {
    let env = Env::new("");
    sync(&env);
    // A librarian adds a role in Alma after the sync.
    env.fake.edit(GCSU, "jdoe", |u| {
        u["user_role"].as_array_mut().unwrap().push(json!({
            "status": { "value": "ACTIVE" }, "scope": { "value": GCSU },
            "role_type": { "value": "46" }, "parameter": [],
        }));
    });
    let cs = env.changeset("drift", json!([remove_role("jdoe", 204, "Cataloger")]));
    let cs = cs.to_str().unwrap();
    let out = env.run(&["push", cs]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("refused");
    out.prints("in Alma, not in the state: Selector (46) at 01FALSC_GCSU");
    assert!(env.writes().is_empty());

    let out = env.run(&["push", cs, "--rebase"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let mut want = seeded_roles();
    want.retain(|r| !r.starts_with("204@"));
    want.push("46@01FALSC_GCSU ACTIVE []");
    assert_eq!(role_set(&env.fake.user(GCSU, "jdoe").unwrap()), set(&want));
}

#[test]
fn a_user_changed_between_the_get_and_the_put_still_gets_exactly_the_requested_roles() {
    let env = Env::new("");
    sync(&env);
    // After the push's GET, someone edits the user in Alma; the PUT carries the GET's view.
    // Alma has no conditional PUT, so this window cannot be closed (docs/alma.md, "Known
    // limit"); what the push does is check the roles Alma answers with.
    let mut edited = rich_user("jdoe", "Jane", "Doe", false);
    edited["user_note"] = json!([]);
    env.fake.change_after_get("jdoe", edited);
    let cs = env.changeset(
        "race",
        json!([add_role("jdoe", 46, "Selector", None, None)]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let mut want = seeded_roles();
    want.push("46@01FALSC_GCSU ACTIVE []");
    assert_eq!(role_set(&env.fake.user(GCSU, "jdoe").unwrap()), set(&want));
}

#[test]
fn a_role_alma_leaves_inactive_fails_the_account_in_words() {
    let env = Env::new("");
    sync(&env);
    // Circulation Desk Manager without a desk: Alma saves it inactive.
    let cs = env.changeset(
        "nodesk",
        json!([add_role(
            "jdoe",
            221,
            "Circulation Desk Manager",
            Some("MAIN"),
            None
        )]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("Alma left Circulation Desk Manager (221) at MAIN inactive");
}

#[test]
fn a_new_account_is_created_with_the_catalog_defaults_once() {
    let env = Env::new("");
    sync(&env);
    // mlee exists already in Alma (created by hand): 401851 is not reached, the GET finds it.
    let mut mlee = rich_user("mlee", "Min", "Lee", false);
    mlee["user_role"] = json!([{ "status": { "value": "ACTIVE" }, "scope": { "value": GCSU }, "role_type": { "value": "200" }, "parameter": [] }]);
    env.fake.add_user(GCSU, mlee);
    let create = |id: &str, first: &str| {
        json!({ "op": "create_account", "institution": GCSU, "primary_id": id,
        "first_name": first, "last_name": "New", "email": format!("{id}@gcsu.example.edu"),
        "account_type": "INTERNAL", "lines": ["Accounts!9:9"] })
    };
    let cs = env.changeset(
        "create",
        json!([
            create("anew", "Ann"),
            add_role("anew", 204, "Cataloger", None, None),
            create("mlee", "Min"),
            add_role("mlee", 204, "Cataloger", None, None),
        ]),
    );
    let cs = cs.to_str().unwrap();
    let out = env.run(&["push", cs]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let posts: Vec<Req> = env
        .writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "one POST, for anew only");
    let body = posts[0].body_json();
    // The test catalog's [institution.create] for GCSU.
    assert_eq!(body["record_type"]["value"], "STAFF");
    assert_eq!(body["user_group"]["value"], "STAFF");
    assert_eq!(body["job_category"]["value"], "LIBSTAFF");
    assert_eq!(body["account_type"]["value"], "INTERNAL");
    assert_eq!(
        body["contact_info"]["email"][0]["email_address"],
        "anew@gcsu.example.edu"
    );
    assert_eq!(
        role_set(&env.fake.user(GCSU, "anew").unwrap()),
        set(&["200@01FALSC_GCSU ACTIVE []", "204@01FALSC_GCSU ACTIVE []"])
    );
    assert_eq!(
        role_set(&env.fake.user(GCSU, "mlee").unwrap()),
        set(&["200@01FALSC_GCSU ACTIVE []", "204@01FALSC_GCSU ACTIVE []"])
    );
    out.prints("mlee exists in Alma already");
    let again = env.run(&["push", cs]);
    assert_eq!(again.code, 0);
    assert_eq!(
        env.writes().iter().filter(|r| r.method == "POST").count(),
        1
    );
}

#[test]
fn a_post_answered_401851_goes_the_update_path() {
    let env = Env::new("");
    // bnew exists, but the first GET says it does not (created in between, as far as the
    // push can tell): the POST gets Alma's 401851, and the push merges onto the live user.
    let mut bnew = rich_user("bnew", "Bo", "New", false);
    bnew["user_role"] = json!([{ "status": { "value": "ACTIVE" }, "scope": { "value": GCSU }, "role_type": { "value": "200" }, "parameter": [] }]);
    env.fake.add_user(GCSU, bnew);
    env.fake.fault(
        "GET",
        "bnew",
        Fault::Error(
            "401861".into(),
            "User with identifier bnew was not found.".into(),
        ),
    );
    let cs = env.changeset(
        "exists",
        json!([
            { "op": "create_account", "institution": GCSU, "primary_id": "bnew", "first_name": "Bo",
              "last_name": "New", "email": "bnew@gcsu.example.edu", "account_type": "INTERNAL", "lines": [] },
            add_role("bnew", 204, "Cataloger", None, None),
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let posts: Vec<Req> = env
        .writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 400);
    let user = env.fake.user(GCSU, "bnew").unwrap();
    assert_eq!(
        role_set(&user),
        set(&["200@01FALSC_GCSU ACTIVE []", "204@01FALSC_GCSU ACTIVE []"])
    );
    // The live user's other fields stayed (the POST body did not replace it).
    assert_eq!(
        user["user_note"],
        rich_user("bnew", "Bo", "New", false)["user_note"]
    );
}

#[test]
fn alma_errors_retries_and_limits() {
    let env = Env::new("max_per_second = 5\ntimeout_ms = 700\n");
    sync(&env);
    env.fake.set_per_second(6);
    // A 429 on a GET (JSON), a 429 on the PUT (XML), a 500 and a hang on GETs: all retried.
    env.fake.fault("GET", "jdoe", Fault::PerSecond);
    env.fake.fault("GET", "jdoe", Fault::Status500);
    env.fake.fault("PUT", "jdoe", Fault::PerSecondXml);
    env.fake
        .fault("GET", "esmith", Fault::Hang(Duration::from_secs(2)));
    // Alma refuses esmith's PUT with an error list.
    env.fake.fault(
        "PUT",
        "esmith",
        Fault::Error(
            "401652".into(),
            "General Error - An error has occurred while processing the request.".into(),
        ),
    );
    let cs = env.changeset(
        "limits",
        json!([
            add_role("jdoe", 46, "Selector", None, None),
            add_role("esmith", 46, "Selector", None, None),
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    out.prints("01FALSC_GCSU jdoe: changed");
    out.prints("01FALSC_GCSU esmith: failed");
    out.prints("401652 General Error - An error has occurred while processing the request. (tracking id E01-0112263000-TEST-FAKE0001)");
    assert_eq!(env.fake.throttled(), 0, "the fake's own rate limit was hit");
    // Never more than 5 calls in any second.
    let times: Vec<_> = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.institution.as_deref() == Some(GCSU))
        .map(|r| r.at)
        .collect();
    for (i, t) in times.iter().enumerate() {
        let n = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_millis(900))
            .count();
        assert!(n <= 5, "{n} calls within a second");
    }
    assert_no_key_in_urls(&env.fake);
}

#[test]
fn an_invalid_key_stops_its_institution_only_and_the_daily_threshold_leaves_the_rest_pending() {
    // No floor on X-Exl-Api-Remaining here: the daily threshold itself is under test.
    let env = Env::new("stop_below_remaining = 0\n");
    sync(&env);
    let pru = |id: &str| {
        json!({ "op": "add_role", "institution": PRU, "primary_id": id,
        "role": { "code": 46, "name": "Selector" }, "scope": { "kind": "institution", "code": PRU },
        "parameters": [], "needs_approval": false, "lines": [] })
    };
    let cs = env.changeset(
        "keys",
        json!([
            pru("p1"),
            pru("p2"),
            add_role("jdoe", 46, "Selector", None, None)
        ]),
    );
    let mut cmd = env.command(&["push", cs.to_str().unwrap()]);
    cmd.env("TEST_PRU_KEY", "wrong-key");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("01FALSC_PRU p1: failed"), "{stdout}");
    assert!(stdout.contains("Invalid API Key"), "{stdout}");
    assert!(stdout.contains("01FALSC_GCSU jdoe: changed"), "{stdout}");
    // p2 was not tried: one call with the bad key.
    let pru_calls = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/p"))
        .count();
    assert_eq!(pru_calls, 1);

    // Daily threshold: the fake allows 2 more calls; esmith and jdoe2 stay pending.
    let used = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.institution.as_deref() == Some(GCSU))
        .count();
    env.fake.set_daily_limit(Some(used + 2));
    let cs = env.changeset(
        "daily",
        json!([
            add_role("esmith", 46, "Selector", None, None),
            remove_role("jdoe", 46, "Selector")
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("pending");
    out.prints("DAILY_THRESHOLD");
    // Tomorrow: the rest goes through, nothing twice.
    env.fake.set_daily_limit(None);
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let esmith = env.fake.user(GCSU, "esmith").unwrap();
    assert!(role_set(&esmith).contains("46@01FALSC_GCSU ACTIVE []"));
    let puts = env
        .writes()
        .iter()
        .filter(|r| r.user_id().as_deref() == Some("esmith") && r.status == 200)
        .count();
    assert_eq!(puts, 1);
}

#[test]
fn the_wrong_environment_is_refused_before_any_write() {
    let env = Env::new("");
    sync(&env);
    env.fake.set_environment("Production");
    let cs = env.changeset("env", json!([add_role("jdoe", 46, "Selector", None, None)]));
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("expect_environment is sandbox");
    assert!(env.writes().is_empty());
}

#[test]
fn the_push_stops_short_of_the_daily_limit() {
    let env = Env::new("stop_below_remaining = 5000\n");
    sync(&env);
    let used = env.fake.requests().len();
    env.fake.set_daily_limit(Some(used + 4000));
    let cs = env.changeset(
        "floor",
        json!([
            add_role("jdoe", 46, "Selector", None, None),
            add_role("esmith", 46, "Selector", None, None)
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("below stop_below_remaining = 5000");
    out.prints("0 changed");
    out.prints("2 pending");
    assert!(env.writes().is_empty());
}

/// Spawns a push, waits for the fake to hold a request, kills the push with SIGKILL.
fn killed_push(env: &Env, cs: &Path) {
    let mut child = env
        .command(&["push", cs.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    env.fake.wait_holding(Duration::from_secs(20));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    env.fake.release();
}

#[test]
fn a_push_killed_at_any_moment_resumes_and_writes_nothing_twice() {
    let ops = json!([
        add_role("jdoe", 46, "Selector", None, None),
        { "op": "create_account", "institution": GCSU, "primary_id": "knew", "first_name": "Kay",
          "last_name": "New", "email": "knew@gcsu.example.edu", "account_type": "INTERNAL", "lines": [] },
        add_role("knew", 204, "Cataloger", None, None),
        remove_all("esmith"),
    ]);
    let mut want_jdoe = seeded_roles();
    want_jdoe.push("46@01FALSC_GCSU ACTIVE []");
    let check = |env: &Env| {
        assert_eq!(
            role_set(&env.fake.user(GCSU, "jdoe").unwrap()),
            set(&want_jdoe)
        );
        assert_eq!(
            role_set(&env.fake.user(GCSU, "knew").unwrap()),
            set(&["200@01FALSC_GCSU ACTIVE []", "204@01FALSC_GCSU ACTIVE []"])
        );
        assert_eq!(
            role_set(&env.fake.user(GCSU, "esmith").unwrap()),
            set(&["200@01FALSC_GCSU ACTIVE []"])
        );
        let applied_posts = env
            .fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(applied_posts, 1, "knew POSTed more than once");
    };
    // 1. Killed while the fake holds the POST it has applied (the write landed, unheard).
    // 2. Killed while it holds a PUT it has not applied (nothing landed).
    // 3. Killed while it holds a PUT it has applied: the next run must see the intent in
    //    Alma and record it, neither refusing the account as changed nor writing again.
    // 4. Killed after the POST was answered, while the next account's GET is held.
    let cases = [
        ("POST", "/users", true),
        ("PUT", "esmith", false),
        ("PUT", "esmith", true),
        ("GET", "esmith", false),
    ];
    for (method, part, apply) in cases {
        let env = Env::new("");
        sync(&env);
        let cs = env.changeset("kill", ops.clone());
        env.fake.fault(method, part, Fault::Hold { apply });
        killed_push(&env, &cs);
        let out = env.run(&["push", cs.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{method} {part}: {}{}", out.stdout, out.stderr);
        check(&env);
        // Every account written at most once that landed: jdoe's PUT once.
        let jdoe_puts = env
            .writes()
            .iter()
            .filter(|r| r.user_id().as_deref() == Some("jdoe"))
            .count();
        assert_eq!(jdoe_puts, 1, "{method} {part}");
        let esmith_puts = env
            .writes()
            .iter()
            .filter(|r| r.user_id().as_deref() == Some("esmith"))
            .count();
        assert_eq!(
            esmith_puts,
            if (method, apply) == ("PUT", false) {
                2
            } else {
                1
            },
            "{method} {part} {apply}"
        );
        let again = env.run(&["push", cs.to_str().unwrap()]);
        assert!(again.stdout.contains("3 done earlier"), "{}", again.stdout);
    }
}

#[test]
fn sync_keeps_roles_outside_the_catalog_and_processing_again_changes_nothing() {
    let env = Env::new("");
    sync(&env);
    // Without IDs, a sync refreshes every account the state holds; an unknown ID needs
    // --institution; a user Alma does not have is said, not dropped.
    let all = env.run(&["state", "sync"]);
    assert_eq!(all.code, 0, "{}", all.stdout);
    assert!(
        all.stdout.contains("2 of 2 accounts refreshed"),
        "{}",
        all.stdout
    );
    let unknown = env.run(&["state", "sync", "nobody"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("say which institution with --institution"),
        "{}",
        unknown.stderr
    );
    let missing = env.run(&["state", "sync", "--institution", GCSU, "nobody"]);
    assert_eq!(missing.code, 1, "{}", missing.stdout);
    assert!(missing.stdout.contains("not in Alma"), "{}", missing.stdout);
    let listed = env.run(&["--json", "state", "sync"]);
    let report: Json = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(report["refreshed"], 2, "{report}");
    let docs = crate::command_line::documented();
    crate::command_line::only_documented_fields("state sync", &report, &docs["state sync"][0]);
    let cs = env.changeset(
        "twice",
        json!([add_role("jdoe", 46, "Selector", None, None)]),
    );
    assert_eq!(env.run(&["push", cs.to_str().unwrap()]).code, 0);
    // The state now holds what Alma holds: a sync finds nothing new, and a push of a new
    // change set with the same request has nothing to write.
    let cs2 = env.changeset(
        "twice-again",
        json!([add_role("jdoe", 46, "Selector", None, None)]),
    );
    let before = env.writes().len();
    let out = env.run(&["push", cs2.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    out.prints("1 unchanged");
    assert_eq!(env.writes().len(), before);
}

/// The acceptance story: seeded rich users, `state sync`, the sample clean batch processed
/// against the state, `push`: every user is exactly as before but for the requested roles,
/// and processing the same worksheet again gives an empty change set.
#[test]
fn sync_process_push_then_processing_again_changes_nothing() {
    let env = Env::new("");
    let ids = ["00276543", "00287654", "00301122"];
    for id in ids {
        // 00287654 as the sheet names him; 00301122 under another name, which the sheet
        // corrects (an internal account's update_account).
        let mut u = match id {
            "00287654" => rich_user(id, "Ravi", "Patel", false),
            _ => rich_user(id, "Sam", "Seeded", false),
        };
        if id == "00287654" {
            u["contact_info"]["email"][0]["email_address"] = json!("ravi.patel@gcsu.example.edu");
        }
        let roles = u["user_role"].as_array_mut().unwrap();
        match id {
            // Requested: 37 at MAIN with the MAIN receiving unit; seeded without any 37.
            "00287654" => roles.retain(|r| r["role_type"]["value"] != "37"),
            // Requested: remove 32 at HEALTH; seeded with it.
            "00301122" => roles.push(json!({
                "status": { "value": "ACTIVE" }, "scope": { "value": "HEALTH" },
                "role_type": { "value": "32" },
                "parameter": [{ "type": { "value": "CirculationDesk" }, "scope": { "value": "HEALTH" }, "value": { "value": "DEFAULT_CIRC_DESK" } }],
            })),
            _ => {}
        }
        env.fake.add_user(GCSU, u);
    }
    env.fake
        .add_user(GCSU, rich_user("G20455871", "Eric", "Gomez", true));
    let before: Vec<Json> = ids
        .iter()
        .chain(["G20455871"].iter())
        .map(|id| env.fake.user(GCSU, id).unwrap())
        .collect();
    let out = env.run(&[
        "state",
        "sync",
        "--institution",
        GCSU,
        "00276543",
        "00287654",
        "00301122",
        "G20455871",
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/worksheets/clean-batch.xlsx");
    let sample = sample.to_str().unwrap();
    let processed = env.run(&["process", sample, "--out", "results"]);
    assert_eq!(
        processed.code, 0,
        "{}{}",
        processed.stdout, processed.stderr
    );
    let cs = env
        .dir
        .path()
        .join("results/clean-batch-xlsx/clean-batch-changeset.json");
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.prints("8 changed");

    // By hand, from the seeds and the sample's lines.
    let patron = "200@01FALSC_GCSU ACTIVE []";
    let want: Vec<BTreeSet<String>> = vec![
        set(&[patron]),
        {
            let mut s: Vec<&str> = seeded_roles()
                .into_iter()
                .filter(|r| !r.starts_with("37@"))
                .collect();
            s.push("37@MAIN ACTIVE [ServiceUnit:MAIN:ACQ_RECEIVING]");
            set(&s)
        },
        set(&seeded_roles()),
        {
            let mut s = seeded_roles();
            s.push("231@MAIN ACTIVE []");
            set(&s)
        },
    ];
    for (was, want) in before.iter().zip(want) {
        let id = was["primary_id"].as_str().unwrap();
        let mut now = env.fake.user(GCSU, id).unwrap();
        assert_eq!(role_set(&now), want, "{id}");
        let mut was = was.clone();
        let renamed = id == "00301122";
        if renamed {
            assert_eq!(
                (&now["first_name"], &now["last_name"]),
                (&json!("Erin"), &json!("Campbell"))
            );
        }
        for field in ["user_role", "first_name", "last_name"]
            .iter()
            .take(if renamed { 3 } else { 1 })
        {
            now.as_object_mut().unwrap().remove(*field);
            was.as_object_mut().unwrap().remove(*field);
        }
        assert_eq!(now, was, "{id} changed beyond its roles");
    }
    assert_eq!(
        role_set(&env.fake.user(GCSU, "00455120").unwrap()),
        set(&[
            patron,
            "32@LAW ACTIVE [CirculationDesk:LAW:DEFAULT_CIRC_DESK]",
            "51@LAW ACTIVE [CirculationDesk:LAW:DEFAULT_CIRC_DESK]",
            "210@LAW ACTIVE []",
        ])
    );
    assert_puts_only_change_roles_of(&env.fake, &before);
    assert_no_key_in_urls(&env.fake);

    let again = env.run(&["process", sample, "--out", "again"]);
    let cs: Json = serde_json::from_slice(
        &std::fs::read(
            env.dir
                .path()
                .join("again/clean-batch-xlsx/clean-batch-changeset.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cs["operations"], json!([]), "{}", again.stdout);
}

/// As `assert_puts_only_change_roles`, for users seeded as `seeds` (each written once).
fn assert_puts_only_change_roles_of(fake: &FakeAlma, seeds: &[Json]) {
    for put in fake.requests().iter().filter(|r| r.method == "PUT") {
        let id = put.user_id().unwrap();
        let seed = seeds
            .iter()
            .find(|s| s["primary_id"].as_str().unwrap().to_lowercase() == id)
            .expect("a seeded user");
        let (mut body, mut was) = (put.body_json(), seed.clone());
        for field in ["user_role", "first_name", "last_name"] {
            body.as_object_mut().unwrap().remove(field);
            was.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(body, was, "PUT {id} changed more than its roles");
    }
}

#[test]
fn catalog_check_names_the_institutions_the_push_cannot_create_accounts_at() {
    let env = Env::new("");
    let out = env.run(&["catalog", "check"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    // The sample lists four institutions and gives defaults to all but Palmetto Ridge.
    let warned: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("no [institution.create]"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", out.stdout);
    assert!(
        warned
            .iter()
            .any(|l| l.starts_with("institutions.toml:") && l.contains("01FALSC_PRU"))
    );
    assert!(!out.stdout.contains("01FALSC_GCSU has no"));
    // A create at PRU fails in words, nothing posted.
    let cs = env.changeset("pru", json!([{ "op": "create_account", "institution": PRU, "primary_id": "pnew",
        "first_name": "P", "last_name": "New", "email": "p@pru.example.edu", "account_type": "INTERNAL", "lines": [] }]));
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    out.prints("the catalog has no [institution.create] defaults for 01FALSC_PRU");
    assert!(env.writes().is_empty());
}

#[test]
fn a_write_that_times_out_is_checked_by_a_get_before_any_retry() {
    let env = Env::new("timeout_ms = 700\n");
    sync(&env);
    // jdoe's PUT lands but its answer never comes; knew's POST hangs without landing.
    env.fake.fault("PUT", "jdoe", Fault::Hold { apply: true });
    env.fake
        .fault("POST", "/users", Fault::Hang(Duration::from_secs(2)));
    let cs = env.changeset(
        "timeouts",
        json!([
            add_role("jdoe", 46, "Selector", None, None),
            { "op": "create_account", "institution": GCSU, "primary_id": "knew", "first_name": "Kay",
              "last_name": "New", "email": "knew@gcsu.example.edu", "account_type": "INTERNAL", "lines": [] },
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    env.fake.release();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let methods: Vec<(String, Option<String>)> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.user_id().is_some() || r.method == "POST")
        .map(|r| (r.method.clone(), r.user_id()))
        .collect();
    let jdoe = Some("jdoe".to_string());
    let after_sync: Vec<&(String, Option<String>)> = methods.iter().skip(2).collect();
    // jdoe: GET, PUT (held), GET shows the intent: no second PUT.
    let jdoe_calls: Vec<&str> = after_sync
        .iter()
        .filter(|(_, id)| *id == jdoe)
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(jdoe_calls, ["GET", "PUT", "GET"]);
    // knew: GET (not found), POST (no answer), GET (still not found), POST.
    let knew: Vec<&str> = after_sync
        .iter()
        .filter(|(m, id)| *id == Some("knew".to_string()) || m == "POST")
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(knew, ["GET", "POST", "GET", "POST"]);
    let mut want = seeded_roles();
    want.push("46@01FALSC_GCSU ACTIVE []");
    assert_eq!(role_set(&env.fake.user(GCSU, "jdoe").unwrap()), set(&want));
    assert!(env.fake.user(GCSU, "knew").is_some());
}

#[test]
fn a_push_killed_between_alma_answering_and_the_state_recording_records_without_calling_alma() {
    let env = Env::new("");
    sync(&env);
    let cs = env.changeset(
        "written",
        json!([add_role("jdoe", 46, "Selector", None, None)]),
    );
    env.fake.fault("PUT", "jdoe", Fault::Hold { apply: true });
    killed_push(&env, &cs);
    // Put the journal where a kill right after Alma's answer leaves it: `written`, with the
    // answer stored (the user as the fake now holds it).
    let db = rusqlite::Connection::open(env.dir.path().join("data/rolecall.db")).unwrap();
    let answer = env.fake.user(GCSU, "jdoe").unwrap().to_string();
    let n = db
        .execute(
            "UPDATE alma_journal SET step = 'written', answer = ?1 WHERE primary_id = 'jdoe'",
            [answer],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let calls = env.fake.requests().len();
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.prints("written by an earlier run; recorded now");
    assert_eq!(env.fake.requests().len(), calls, "the re-run called Alma");
    // The state holds the new role: the same request again has nothing to write.
    let cs2 = env.changeset(
        "written-again",
        json!([add_role("jdoe", 46, "Selector", None, None)]),
    );
    let out = env.run(&["push", cs2.to_str().unwrap()]);
    out.prints("1 unchanged");
}

#[test]
fn push_takes_the_id_of_a_submission_the_watcher_processed() {
    let env = Env::new("[watch]\nsettle_ms = 0\n");
    let inbox = env.dir.path().join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/worksheets/clean-batch.xlsx");
    std::fs::copy(&sample, inbox.join("clean-batch.xlsx")).unwrap();
    let watched = env.run(&["watch", "--once"]);
    assert_eq!(watched.code, 0, "{}{}", watched.stdout, watched.stderr);
    let status: Json = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    let id = status["waiting"][0]["submission_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.run(&["push", &id, "--dry-run"]);
    // Nobody of the batch is in the fake: the creates would be made, the others fail.
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    out.prints("01FALSC_GCSU 00398811: would change");
    out.prints(&format!("{id}: 0 changed, 4 would change"));
    assert!(env.writes().is_empty());
    let unknown = env.run(&["push", "20261124-0000000000", "--dry-run"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("neither a change set file nor a submission id"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_alma_slower_than_the_configured_rate_is_waited_for() {
    // The client may send 10 a second; this Alma takes 3: its 429 PER_SECOND answers are
    // waited out (1-2 s with jitter) and every account still goes through, once.
    let env = Env::new("max_per_second = 10\n");
    sync(&env);
    env.fake.set_per_second(3);
    let cs = env.changeset(
        "slow",
        json!([
            add_role("jdoe", 46, "Selector", None, None),
            add_role("esmith", 46, "Selector", None, None)
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.prints("2 changed");
    assert!(
        env.fake.throttled() >= 1,
        "the fake never throttled: the test proves nothing"
    );
    let applied = env.writes().iter().filter(|r| r.status == 200).count();
    assert_eq!(applied, 2);
}
