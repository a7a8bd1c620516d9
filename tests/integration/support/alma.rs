//! A fake Alma Users API for the tests, on `127.0.0.1:0`: a small HTTP/1.1 server over std's
//! `TcpListener`, written from the documented contract (`docs/alma.md`), not from Rolecall's
//! client, so that the tests can catch the client getting the contract wrong.
//!
//! It is stateful: users per institution (keys map to institutions), swap-all PUT (the body
//! replaces the user; a body without `user_role` keeps the roles; a role that needs a desk or
//! service unit and has none is saved INACTIVE), POST with mandatory fields and 401851,
//! Alma's error JSON, 429 PER_SECOND_THRESHOLD above its rate, DAILY_THRESHOLD (the XML
//! form) after N calls, faults on demand (500, a hang, a 429, a held request), an invalid
//! key (plain text), and it records every request.

#![allow(dead_code)] // each test binary uses its own part of it

use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub institution: Option<String>,
    pub at: Instant,
    pub status: u16,
}

impl Req {
    /// The user ID of a `/users/{id}` path.
    pub fn user_id(&self) -> Option<String> {
        self.path
            .strip_prefix("/almaws/v1/users/")
            .map(|id| decode(id).to_lowercase())
    }

    pub fn body_json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }
}

/// A fault served instead of (or around) the normal answer, once.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 500 with an error body.
    Status500,
    /// Read the request, answer nothing for this long (the client times out).
    Hang(Duration),
    /// 429 PER_SECOND_THRESHOLD, JSON.
    PerSecond,
    /// 429 PER_SECOND_THRESHOLD, the XML `web_service_result` form.
    PerSecondXml,
    /// 400 with this Alma error code and message.
    Error(String, String),
    /// Hold the request until released (or forever); `apply` first when true.
    Hold { apply: bool },
}

struct Planned {
    method: String,
    path_part: String,
    fault: Fault,
}

#[derive(Default)]
struct Inner {
    users: BTreeMap<(String, String), Json>,
    keys: HashMap<String, String>,
    environment: String,
    requests: Vec<Req>,
    per_second: usize,
    daily_limit: Option<usize>,
    calls: HashMap<String, usize>,
    faults: Vec<Planned>,
    after_get: HashMap<String, Json>,
    holding: usize,
    released: bool,
    throttled: usize,
}

/// The fake server.
#[derive(Clone)]
pub struct FakeAlma {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

/// Roles that need a parameter, by the public role list (`alma-roles.csv`).
const NEEDS_PARAMETER: &[u32] = &[32, 37, 51, 214, 221, 299];

impl FakeAlma {
    /// Starts the fake; `keys` maps each API key to its institution.
    pub fn start(keys: &[(&str, &str)]) -> FakeAlma {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let inner = Inner {
            keys: keys
                .iter()
                .map(|(k, i)| (k.to_string(), i.to_string()))
                .collect(),
            environment: "Sandbox".into(),
            per_second: 25,
            ..Inner::default()
        };
        let fake = FakeAlma {
            addr: listener.local_addr().unwrap(),
            inner: Arc::new(Mutex::new(inner)),
        };
        let server = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = server.clone();
                std::thread::spawn(move || s.serve(stream));
            }
        });
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_user(&self, institution: &str, user: Json) {
        let id = user["primary_id"].as_str().unwrap().to_lowercase();
        self.lock().users.insert((institution.into(), id), user);
    }

    pub fn user(&self, institution: &str, id: &str) -> Option<Json> {
        self.lock()
            .users
            .get(&(institution.to_string(), id.to_lowercase()))
            .cloned()
    }

    /// Edits a user directly, as a librarian in Alma's UI would.
    pub fn edit(&self, institution: &str, id: &str, f: impl FnOnce(&mut Json)) {
        let mut inner = self.lock();
        f(inner
            .users
            .get_mut(&(institution.to_string(), id.to_lowercase()))
            .unwrap());
    }

    /// After the next GET of `id` is answered, the user becomes `then` (changed between the
    /// GET and the PUT).
    pub fn change_after_get(&self, id: &str, then: Json) {
        self.lock().after_get.insert(id.to_lowercase(), then);
    }

    pub fn set_environment(&self, env: &str) {
        self.lock().environment = env.into();
    }

    pub fn set_per_second(&self, n: usize) {
        self.lock().per_second = n;
    }

    pub fn set_daily_limit(&self, n: Option<usize>) {
        self.lock().daily_limit = n;
    }

    /// Serves `fault` to the next request with this method whose path contains `path_part`.
    pub fn fault(&self, method: &str, path_part: &str, fault: Fault) {
        self.lock().faults.push(Planned {
            method: method.into(),
            path_part: path_part.into(),
            fault,
        });
    }

    pub fn requests(&self) -> Vec<Req> {
        self.lock().requests.clone()
    }

    /// How many 429 PER_SECOND answers the fake's own rate limit gave.
    pub fn throttled(&self) -> usize {
        self.lock().throttled
    }

    /// How many requests are being held now.
    pub fn holding(&self) -> usize {
        self.lock().holding
    }

    pub fn release(&self) {
        self.lock().released = true;
    }

    /// Waits until a request is held (or panics after `limit`).
    pub fn wait_holding(&self, limit: Duration) {
        let start = Instant::now();
        while self.holding() == 0 {
            assert!(start.elapsed() < limit, "no request was held");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn serve(&self, stream: TcpStream) {
        let Some(mut req) = read_request(&stream) else {
            return;
        };
        let (status, ctype, body, remaining) = self.answer(&mut req);
        if status == 0 {
            return; // hung or held: no answer
        }
        req.status = status;
        self.lock().requests.push(req);
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            _ => "Other",
        };
        let mut out = stream;
        let _ = write!(
            out,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
             X-Exl-Api-Remaining: {remaining}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = out.flush();
    }

    /// (status, content type, body, remaining calls); status 0: no answer.
    fn answer(&self, req: &mut Req) -> (u16, &'static str, String, u64) {
        let mut inner = self.lock();
        let auth = header(req, "authorization").unwrap_or_default();
        let key = auth
            .strip_prefix("apikey ")
            .unwrap_or("")
            .trim()
            .to_string();
        let Some(inst) = inner.keys.get(&key).cloned() else {
            return (400, "text/plain", "Invalid API Key".into(), 0);
        };
        req.institution = Some(inst.clone());
        // Per-second threshold, over the requests of this institution in the last second.
        let now = Instant::now();
        let recent = inner
            .requests
            .iter()
            .filter(|r| r.institution.as_deref() == Some(&inst))
            .filter(|r| now.duration_since(r.at) < Duration::from_secs(1))
            .count();
        if recent >= inner.per_second {
            inner.throttled += 1;
            let so_far = inner.calls.get(&inst).copied().unwrap_or(0);
            let left = inner
                .daily_limit
                .map_or(1_000_000, |l| l.saturating_sub(so_far)) as u64;
            return (
                429,
                "application/json",
                error_json("PER_SECOND_THRESHOLD", "Per second threshold reached"),
                left,
            );
        }
        let calls = {
            let c = inner.calls.entry(inst.clone()).or_default();
            *c += 1;
            *c
        };
        let remaining = inner
            .daily_limit
            .map_or(1_000_000, |l| l.saturating_sub(calls)) as u64;
        if inner.daily_limit.is_some_and(|l| calls > l) {
            return (
                429,
                "application/xml",
                error_xml("DAILY_THRESHOLD", "Daily threshold has been reached"),
                0,
            );
        }
        let planned = inner
            .faults
            .iter()
            .position(|f| f.method == req.method && req.path.contains(&f.path_part));
        if let Some(i) = planned {
            let fault = inner.faults.remove(i).fault;
            drop(inner);
            return self.faulted(req, &inst, fault, remaining);
        }
        let (status, body) = route(&mut inner, req, &inst);
        (status, "application/json", body, remaining)
    }

    fn faulted(
        &self,
        req: &mut Req,
        inst: &str,
        fault: Fault,
        remaining: u64,
    ) -> (u16, &'static str, String, u64) {
        match fault {
            Fault::Status500 => (
                500,
                "application/json",
                error_json("500", "Internal server error"),
                remaining,
            ),
            Fault::Hang(d) => {
                self.lock().requests.push(Req {
                    status: 0,
                    ..req.clone()
                });
                std::thread::sleep(d);
                (0, "", String::new(), 0)
            }
            Fault::PerSecond => (
                429,
                "application/json",
                error_json("PER_SECOND_THRESHOLD", "Per second threshold reached"),
                remaining,
            ),
            Fault::PerSecondXml => (
                429,
                "application/xml",
                error_xml("PER_SECOND_THRESHOLD", "Per second threshold reached"),
                remaining,
            ),
            Fault::Error(code, message) => (
                400,
                "application/json",
                error_json(&code, &message),
                remaining,
            ),
            Fault::Hold { apply } => {
                {
                    let mut inner = self.lock();
                    if apply {
                        let _ = route(&mut inner, req, inst);
                    }
                    inner.requests.push(Req {
                        status: 0,
                        ..req.clone()
                    });
                    inner.holding += 1;
                }
                while !self.lock().released {
                    std::thread::sleep(Duration::from_millis(10));
                }
                self.lock().holding -= 1;
                (0, "", String::new(), 0)
            }
        }
    }
}

fn route(inner: &mut Inner, req: &Req, inst: &str) -> (u16, String) {
    if req.method == "GET" && req.path == "/almaws/v1/conf/general" {
        let env = inner.environment.clone();
        return (
            200,
            json!({
                "environment_type": { "value": env.to_uppercase(), "desc": env },
                "institution": { "value": inst },
            })
            .to_string(),
        );
    }
    if req.path == "/almaws/v1/users" && req.method == "POST" {
        return create(inner, req, inst);
    }
    let Some(id) = req.user_id() else {
        return (400, error_json("402204", "Unknown path"));
    };
    let k = (inst.to_string(), id.clone());
    let Some(user) = inner.users.get(&k).cloned() else {
        return (
            400,
            error_json(
                "401861",
                &format!("User with identifier {id} was not found."),
            ),
        );
    };
    match req.method.as_str() {
        "GET" => {
            if let Some(then) = inner.after_get.remove(&id) {
                inner.users.insert(k, then);
            }
            (200, user.to_string())
        }
        "PUT" => {
            let Ok(mut body) = serde_json::from_str::<Json>(&req.body) else {
                return (
                    400,
                    error_json("401652", "General Error: the body is not a user"),
                );
            };
            // Swap-all: the body is the user; only a body without roles keeps them.
            if body.get("user_role").is_none() {
                body["user_role"] = user["user_role"].clone();
            }
            body["primary_id"] = user["primary_id"].clone();
            saved_roles(&mut body);
            inner.users.insert(k, body.clone());
            (200, body.to_string())
        }
        _ => (400, error_json("402204", "Unsupported method")),
    }
}

fn create(inner: &mut Inner, req: &Req, inst: &str) -> (u16, String) {
    let Ok(mut body) = serde_json::from_str::<Json>(&req.body) else {
        return (
            400,
            error_json("401652", "General Error: the body is not a user"),
        );
    };
    for field in [
        "primary_id",
        "first_name",
        "last_name",
        "record_type",
        "user_group",
    ] {
        let v = &body[field];
        let empty = v.is_null()
            || v.as_str() == Some("")
            || (v.is_object() && v["value"].as_str().unwrap_or("").is_empty());
        if empty {
            return (
                400,
                error_json("401664", &format!("Mandatory field is missing: {field}")),
            );
        }
    }
    let id = body["primary_id"].as_str().unwrap_or("").to_lowercase();
    let k = (inst.to_string(), id.clone());
    if inner.users.contains_key(&k) {
        return (
            400,
            error_json(
                "401851",
                &format!("User with identifier {id} already exists"),
            ),
        );
    }
    saved_roles(&mut body);
    inner.users.insert(k, body.clone());
    (200, body.to_string())
}

/// What Alma does to the roles it saves: an empty status is Active; a role that needs a
/// parameter and has none stays Inactive.
fn saved_roles(user: &mut Json) {
    let Some(roles) = user["user_role"].as_array_mut() else {
        return;
    };
    for r in roles {
        let code: u32 = r["role_type"]["value"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let no_params = r["parameter"].as_array().is_none_or(|p| p.is_empty());
        if NEEDS_PARAMETER.contains(&code) && no_params {
            r["status"] = json!({ "value": "INACTIVE", "desc": "Inactive" });
        } else if r["status"]["value"].as_str().unwrap_or("").is_empty() {
            r["status"] = json!({ "value": "ACTIVE", "desc": "Active" });
        }
    }
}

pub fn error_json(code: &str, message: &str) -> String {
    json!({
        "errorsExist": true,
        "errorList": { "error": [{
            "errorCode": code,
            "errorMessage": message,
            "trackingId": "E01-0112263000-TEST-FAKE0001",
        }]},
        "result": null,
    })
    .to_string()
}

fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <web_service_result xmlns=\"http://com/exlibris/urm/general/xmlbeans\">\
         <errorsExist>true</errorsExist><errorList><error><errorCode>{code}</errorCode>\
         <errorMessage>{message}</errorMessage><trackingId>E01-TEST</trackingId></error>\
         </errorList></web_service_result>"
    )
}

fn header(req: &Req, name: &str) -> Option<String> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn read_request(stream: &TcpStream) -> Option<Req> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Some(Req {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        institution: None,
        at: Instant::now(),
        status: 0,
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A rich user in the documented `view=full` shape (`docs/alma.md`): identifiers, addresses,
/// phones, emails with segment types, notes, a block, statistics, and roles with multi-desk,
/// cross-library and MetadataType parameters, a role outside the catalog and an expiry.
pub fn rich_user(id: &str, first: &str, last: &str, external: bool) -> Json {
    let coded = |v: &str, d: &str| json!({ "value": v, "desc": d });
    let param = |t: &str, scope: &str, v: &str| {
        json!({
            "type": { "value": t, "desc": null },
            "scope": coded(scope, scope),
            "value": coded(v, v),
        })
    };
    let role = |code: &str, scope: &str, params: Vec<Json>| {
        json!({
            "status": coded("ACTIVE", "Active"),
            "scope": coded(scope, scope),
            "role_type": coded(code, code),
            "parameter": params,
        })
    };
    let mut roles = vec![
        role("200", "01FALSC_GCSU", vec![]),
        role(
            "32",
            "MAIN",
            vec![
                param("CirculationDesk", "MAIN", "DEFAULT_CIRC_DESK"),
                param("CirculationDesk", "MAIN", "RESERVES_DESK"),
            ],
        ),
        role(
            "37",
            "MAIN",
            vec![
                param("ServiceUnit", "LAW", "ACQ_RECEIVING"),
                param("ServiceUnit", "MAIN", "ACQ_RECEIVING"),
            ],
        ),
        role(
            "204",
            "01FALSC_GCSU",
            vec![param(
                "MetadataType",
                "01FALSC_GCSU",
                "MARC21_Bibliographic",
            )],
        ),
        role("9999", "01FALSC_GCSU", vec![]),
    ];
    roles[4]["expiry_date"] = json!("2030-01-16Z");
    let mut user = json!({
        "record_type": coded("STAFF", "Staff"),
        "primary_id": id,
        "first_name": first,
        "last_name": last,
        "user_title": coded("Dr", "Dr."),
        "user_group": coded("STAFF", "Staff"),
        "job_category": coded("LIBSTAFF", "Library staff"),
        "cataloger_level": coded("20", "[20] Cataloger"),
        "preferred_language": coded("en", "English"),
        "expiry_date": "2031-05-31Z",
        "purge_date": "2032-05-31Z",
        "account_type": coded(if external { "EXTERNAL" } else { "INTERNAL" }, ""),
        "status": coded("ACTIVE", "Active"),
        "contact_info": {
            "address": [{
                "preferred": true, "segment_type": "Internal",
                "line1": "100 College Dr", "city": "Panama City", "postal_code": "32401",
                "address_type": [{ "value": "work", "desc": "Work" }],
            }],
            "email": [
                { "email_address": format!("{id}@gcsu.example.edu"), "preferred": true,
                  "segment_type": if external { "External" } else { "Internal" },
                  "email_type": [{ "value": "school", "desc": "School" }] },
                { "email_address": format!("{id}@home.example.org"), "preferred": false,
                  "segment_type": "Internal",
                  "email_type": [{ "value": "personal", "desc": "Personal" }] },
            ],
            "phone": [{ "phone_number": "850-555-0100", "preferred": true, "segment_type": "Internal",
                        "phone_type": [{ "value": "office", "desc": "Office" }] }],
        },
        "user_identifier": [
            { "id_type": coded("BARCODE", "Barcode"), "value": format!("B{id}"), "status": "ACTIVE", "segment_type": "Internal" },
            { "id_type": coded("UNIV_ID", "University ID"), "value": format!("U{id}"), "status": "ACTIVE", "segment_type": "External" },
        ],
        "user_note": [{ "note_type": coded("CIRCULATION", "Circulation"), "note_text": "Keys to the reserve room", "user_viewable": false, "segment_type": "Internal" }],
        "user_block": [{ "block_type": coded("GENERAL", "General"), "block_description": coded("02", "Lost items"), "block_status": "ACTIVE", "segment_type": "Internal" }],
        "user_statistic": [{ "statistic_category": coded("FAC", "Faculty"), "segment_type": "Internal" }],
        "user_role": roles,
    });
    if external {
        user["external_id"] = json!("SIS");
    }
    user
}
