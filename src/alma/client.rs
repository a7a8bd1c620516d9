//! The Alma Users API client of one institution: blocking HTTP (ureq, on the rustls lettre
//! already builds), the key in the `Authorization: apikey …` header (never in a URL, never
//! in an error or a log line), a pace of at most `max_per_second` calls, and Alma's answers
//! typed: its error list (JSON or the XML `web_service_result`), the plain-text
//! `Invalid API Key`, the `PER_SECOND_THRESHOLD` and `DAILY_THRESHOLD` 429s, and the
//! `X-Exl-Api-Remaining` header.
//!
//! Retries follow what is safe to repeat: a GET is retried on a 5xx or a timeout with a
//! bounded backoff; a 429 is retried for any method (Alma did nothing with the call); a PUT
//! or POST that got no clear answer is *not* retried here but returned as
//! [`AlmaError::Unanswered`], so that the push GETs first and decides.

use serde_json::Value as Json;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// What a client needs.
#[derive(Clone)]
pub struct Settings {
    /// The institution code (for messages).
    pub institution: String,
    /// `https://api-na.hosted.exlibrisgroup.com`, or a test server.
    pub base_url: String,
    /// The institution's API key.
    pub key: String,
    /// Calls per second, at most.
    pub max_per_second: u32,
    /// Stop when `X-Exl-Api-Remaining` falls below this.
    pub stop_below_remaining: u64,
    /// How long one call may take.
    pub timeout: Duration,
}

/// One error of Alma's `errorList`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiError {
    /// `errorCode`, e.g. `401861`.
    pub code: String,
    /// `errorMessage`.
    pub message: String,
    /// `trackingId`, for Ex Libris support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
}

/// Why an institution stops for the rest of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Alma refused the key.
    InvalidKey,
    /// Alma's daily call budget is spent.
    DailyThreshold,
    /// `X-Exl-Api-Remaining` fell below the configured floor.
    RemainingLow {
        /// What Alma said was left.
        remaining: u64,
        /// `stop_below_remaining`.
        floor: u64,
    },
}

/// A call that did not give what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AlmaError {
    /// Alma answered with an error list.
    #[error("Alma answered {status} to {call}: {}", words(errors))]
    Api {
        /// `GET /almaws/v1/users/jdoe` (no query, no key).
        call: String,
        /// HTTP status.
        status: u16,
        /// Alma's errors.
        errors: Vec<ApiError>,
    },
    /// The institution stopped (bad key, thresholds): nothing more is sent for it.
    #[error("{institution}: {}", stop_words(stop))]
    Stopped {
        /// The institution.
        institution: String,
        /// Why.
        stop: Stop,
    },
    /// No clear answer (a timeout, a dropped connection, a 5xx): for a write, whether it
    /// happened is unknown until a GET shows it.
    #[error("no answer from Alma to {call}: {why}")]
    Unanswered {
        /// The call.
        call: String,
        /// What happened.
        why: String,
    },
    /// An answer that is not the JSON it should be.
    #[error("Alma's answer to {call} is not a user: {why}")]
    BadAnswer {
        /// The call.
        call: String,
        /// What is wrong.
        why: String,
    },
    /// No key configured for the institution.
    #[error("{institution}: no Alma API key: {why}")]
    NoKey {
        /// The institution.
        institution: String,
        /// What is missing.
        why: String,
    },
}

impl AlmaError {
    /// True when Alma says the user does not exist (the codes clients treat alike).
    pub fn is_not_found(&self) -> bool {
        self.has_code(&["401861", "401890", "4019990", "4019998"])
    }

    /// True when one of Alma's errors has one of these codes.
    pub fn has_code(&self, codes: &[&str]) -> bool {
        matches!(self, AlmaError::Api { errors, .. }
            if errors.iter().any(|e| codes.contains(&e.code.as_str())))
    }

    /// True when nothing more should be sent for the institution.
    pub fn stops_institution(&self) -> bool {
        matches!(self, AlmaError::Stopped { .. } | AlmaError::NoKey { .. })
    }

    /// Alma's errors, for the JSON report.
    pub fn api_errors(&self) -> &[ApiError] {
        match self {
            AlmaError::Api { errors, .. } => errors,
            _ => &[],
        }
    }
}

fn words(errors: &[ApiError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| match &e.tracking_id {
            Some(t) => format!("{} {} (tracking id {t})", e.code, e.message),
            None => format!("{} {}", e.code, e.message),
        })
        .collect();
    if parts.is_empty() {
        "no error details".to_string()
    } else {
        parts.join("; ")
    }
}

fn stop_words(stop: &Stop) -> String {
    match stop {
        Stop::InvalidKey => {
            "Alma refused the API key (\"Invalid API Key\"): check the key in [alma.keys]".into()
        }
        Stop::DailyThreshold => "Alma's daily API call limit is reached (DAILY_THRESHOLD): \
            the rest stays pending until tomorrow"
            .into(),
        Stop::RemainingLow { remaining, floor } => format!(
            "Alma has {remaining} API calls left today, below stop_below_remaining = {floor}: \
             the rest stays pending"
        ),
    }
}

/// HTTP methods the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read.
    Get,
    /// Replace (swap-all).
    Put,
    /// Create.
    Post,
}

impl Method {
    fn word(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }
}

/// Tries of one call: a GET on a 5xx or timeout; any call on a PER_SECOND 429.
const GET_TRIES: u32 = 4;
const THROTTLE_TRIES: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// The client of one institution.
pub struct Client {
    settings: Settings,
    agent: ureq::Agent,
    next_slot: Option<Instant>,
    stopped: Option<Stop>,
    seed: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Client")
            .field("institution", &self.settings.institution)
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

/// What one attempt gave.
enum Attempt {
    Done(Json),
    Again(AlmaError),
    Fail(AlmaError),
}

impl Client {
    /// A client for one institution.
    pub fn new(settings: Settings) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .build();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1);
        Client {
            agent: ureq::Agent::new_with_config(config),
            settings,
            next_slot: None,
            stopped: None,
            seed,
        }
    }

    /// The institution.
    pub fn institution(&self) -> &str {
        &self.settings.institution
    }

    /// `GET /almaws/v1/users/{id}` with the full view.
    pub fn get_user(&mut self, id: &str) -> Result<Json, AlmaError> {
        let path = format!(
            "/almaws/v1/users/{}?user_id_type=all_unique&view=full&expand=none",
            encode(id)
        );
        self.call(Method::Get, &path, None)
    }

    /// `PUT /almaws/v1/users/{id}` with the whole user; Alma's answer is the user saved.
    pub fn put_user(&mut self, id: &str, user: &Json) -> Result<Json, AlmaError> {
        let path = format!("/almaws/v1/users/{}?user_id_type=all_unique", encode(id));
        self.call(Method::Put, &path, Some(user))
    }

    /// `POST /almaws/v1/users`: creates a user.
    pub fn post_user(&mut self, user: &Json) -> Result<Json, AlmaError> {
        let path = "/almaws/v1/users?social_authentication=false&send_pin_number_letter=false";
        self.call(Method::Post, path, Some(user))
    }

    /// The environment the key belongs to (`environment_type` of `/conf/general`).
    pub fn environment(&mut self) -> Result<String, AlmaError> {
        let general = self.call(Method::Get, "/almaws/v1/conf/general", None)?;
        let t = &general["environment_type"];
        Ok(t["value"].as_str().or(t.as_str()).unwrap_or("").to_string())
    }

    /// One call, with the retries its method allows.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, AlmaError> {
        let name = format!(
            "{} {}",
            method.word(),
            path.split('?').next().unwrap_or(path)
        );
        let mut tries = 0;
        let mut throttled = 0;
        loop {
            if let Some(stop) = &self.stopped {
                return Err(self.stopped_error(stop.clone()));
            }
            self.pace();
            match self.attempt(method, path, body, &name) {
                Attempt::Done(json) => return Ok(json),
                Attempt::Fail(e) => return Err(e),
                Attempt::Again(e) => {
                    if matches!(e, AlmaError::Api { status: 429, .. }) {
                        throttled += 1;
                        if throttled >= THROTTLE_TRIES {
                            return Err(e);
                        }
                        // Alma counts per second: wait past the second, with jitter so
                        // that parallel runs do not retry in step.
                        sleep(Duration::from_millis(1000 + self.jitter(1000)));
                        continue;
                    }
                    tries += 1;
                    if method != Method::Get {
                        return Err(e);
                    }
                    if tries >= GET_TRIES {
                        return Err(e);
                    }
                    sleep(
                        BACKOFF_BASE * 2u32.pow(tries - 1)
                            + Duration::from_millis(self.jitter(100)),
                    );
                }
            }
        }
    }

    fn stopped_error(&self, stop: Stop) -> AlmaError {
        AlmaError::Stopped {
            institution: self.settings.institution.clone(),
            stop,
        }
    }

    /// Waits for the next slot: calls are spaced `1 / max_per_second` apart, so no second
    /// ever holds more than `max_per_second` of them (a token bucket of one token).
    fn pace(&mut self) {
        let interval = Duration::from_secs(1) / self.settings.max_per_second;
        let now = Instant::now();
        let slot = self.next_slot.map_or(now, |s| s.max(now));
        if slot > now {
            sleep(slot - now);
        }
        self.next_slot = Some(slot + interval);
    }

    fn jitter(&mut self, max_ms: u64) -> u64 {
        // xorshift: enough to spread retries; no need for a random crate.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % max_ms.max(1)
    }

    fn attempt(&mut self, method: Method, path: &str, body: Option<&Json>, name: &str) -> Attempt {
        let url = format!("{}{path}", self.settings.base_url);
        let auth = format!("apikey {}", self.settings.key);
        let sent = match method {
            Method::Get => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .call(),
            Method::Put | Method::Post => {
                let text = body.map(Json::to_string).unwrap_or_default();
                let req = match method {
                    Method::Put => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                req.header("Authorization", &auth)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .send(text)
            }
        };
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Again(AlmaError::Unanswered {
                    call: name.to_string(),
                    why: transport_words(&e),
                });
            }
        };
        let status = resp.status().as_u16();
        self.watch_remaining(resp.headers().get("x-exl-api-remaining"));
        let text = match resp.body_mut().read_to_string() {
            Ok(t) => t,
            Err(e) => {
                return Attempt::Again(AlmaError::Unanswered {
                    call: name.to_string(),
                    why: transport_words(&e),
                });
            }
        };
        self.judge(status, &text, name)
    }

    fn watch_remaining(&mut self, header: Option<&ureq::http::HeaderValue>) {
        let Some(remaining) = header
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            return;
        };
        let floor = self.settings.stop_below_remaining;
        if remaining < floor && self.stopped.is_none() {
            self.stopped = Some(Stop::RemainingLow { remaining, floor });
        }
    }

    /// What an answer means.
    fn judge(&mut self, status: u16, text: &str, name: &str) -> Attempt {
        if (200..300).contains(&status) {
            return match serde_json::from_str(text) {
                Ok(json) => Attempt::Done(json),
                Err(e) => Attempt::Fail(AlmaError::BadAnswer {
                    call: name.to_string(),
                    why: e.to_string(),
                }),
            };
        }
        if text.trim().eq_ignore_ascii_case("Invalid API Key") {
            self.stopped = Some(Stop::InvalidKey);
            return Attempt::Fail(self.stopped_error(Stop::InvalidKey));
        }
        let errors = parse_errors(text);
        let has = |code: &str| errors.iter().any(|e| e.code == code);
        let (daily, per_second) = (has("DAILY_THRESHOLD"), has("PER_SECOND_THRESHOLD"));
        if daily {
            self.stopped = Some(Stop::DailyThreshold);
            return Attempt::Fail(self.stopped_error(Stop::DailyThreshold));
        }
        let error = AlmaError::Api {
            call: name.to_string(),
            status: if per_second { 429 } else { status },
            errors,
        };
        if status == 429 || per_second {
            return Attempt::Again(error);
        }
        if status >= 500 {
            return Attempt::Again(AlmaError::Unanswered {
                call: name.to_string(),
                why: format!("{error}"),
            });
        }
        Attempt::Fail(error)
    }
}

fn transport_words(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        other => other.to_string(),
    }
}

/// Alma's error list from a JSON body (`errorList.error`, an object or an array) or the XML
/// `web_service_result` form.
pub fn parse_errors(text: &str) -> Vec<ApiError> {
    if let Ok(json) = serde_json::from_str::<Json>(text) {
        let list = &json["errorList"]["error"];
        let items: Vec<&Json> = match list {
            Json::Array(a) => a.iter().collect(),
            Json::Object(_) => vec![list],
            _ => Vec::new(),
        };
        let field = |e: &Json, k: &str| match &e[k] {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        };
        return items
            .into_iter()
            .map(|e| ApiError {
                code: field(e, "errorCode").unwrap_or_default(),
                message: field(e, "errorMessage").unwrap_or_default(),
                tracking_id: field(e, "trackingId"),
            })
            .collect();
    }
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<error>") {
        let end = rest[start..]
            .find("</error>")
            .map_or(rest.len(), |e| start + e);
        let item = &rest[start..end];
        errors.push(ApiError {
            code: xml_text(item, "errorCode").unwrap_or_default(),
            message: xml_text(item, "errorMessage").unwrap_or_default(),
            tracking_id: xml_text(item, "trackingId"),
        });
        rest = &rest[end..];
    }
    if errors.is_empty() && !text.trim().is_empty() {
        errors.push(ApiError {
            code: String::new(),
            message: text.trim().chars().take(300).collect(),
            tracking_id: None,
        });
    }
    errors
}

fn xml_text(item: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = item.find(&open)? + open.len();
    let end = item[start..].find(&format!("</{tag}>"))? + start;
    Some(item[start..end].trim().to_string())
}

/// Percent-encodes an ID for a path segment.
pub fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alma_errors_in_json_and_xml() {
        // The blog's example body, and UIUC's test/daily_threshold.xml shape.
        let json = r#"{"errorsExist": true, "errorList": {"error": [{"errorCode": "401861",
            "errorMessage": "User with identifier fdsa was not found.",
            "trackingId": "E01-1312124118-MORQS-AWAE1344225209"}]}, "result": null}"#;
        assert_eq!(
            parse_errors(json),
            vec![ApiError {
                code: "401861".into(),
                message: "User with identifier fdsa was not found.".into(),
                tracking_id: Some("E01-1312124118-MORQS-AWAE1344225209".into()),
            }]
        );
        let xml = r#"<web_service_result xmlns="http://com/exlibris/urm/general/xmlbeans"><errorsExist>true</errorsExist><errorList><error><errorCode>DAILY_THRESHOLD</errorCode><errorMessage>Daily threshold has been reached</errorMessage></error></errorList></web_service_result>"#;
        assert_eq!(parse_errors(xml)[0].code, "DAILY_THRESHOLD");
        assert_eq!(encode("j doe/1"), "j%20doe%2F1");
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let c = Client::new(Settings {
            institution: "01X_I".into(),
            base_url: "http://127.0.0.1:9".into(),
            key: "l8xx-SECRET".into(),
            max_per_second: 10,
            stop_below_remaining: 0,
            timeout: Duration::from_millis(10),
        });
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
