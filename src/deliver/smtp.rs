//! Sending by SMTP (lettre's blocking transport, TLS by rustls).
//!
//! The password never sits in the config file: [`SmtpConfig::password_env`] names the
//! environment variable that holds it. Failures are sorted into transient (a 4xx reply, a
//! server that cannot be reached, a timeout: try again later) and permanent (a 5xx reply, a
//! TLS or configuration problem: someone has to act).

use super::{DeliverError, Delivery, Mail, Transport};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The environment variable read for the password when `password_env` is not set.
pub const DEFAULT_PASSWORD_ENV: &str = "ROLECALL_SMTP_PASSWORD";

/// How long to wait for the server when `timeout_secs` is not set.
const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain text, no TLS at all (a relay on the same host or a test server). Port 25.
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed. Port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS"). Port 465.
    Tls,
}

impl Security {
    /// The usual port for this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::Starttls => 587,
            Security::Tls => 465,
        }
    }
}

/// The `[smtp]` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Port; by default the usual one for `security` (25, 587 or 465).
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    #[serde(default)]
    pub security: Security,
    /// User name to log in with; no login when absent.
    pub username: Option<String>,
    /// Name of the environment variable holding the password (default
    /// `ROLECALL_SMTP_PASSWORD`).
    pub password_env: Option<String>,
    /// Seconds to wait for the server (default 30).
    pub timeout_secs: Option<u64>,
    /// A CA certificate (PEM) to trust besides the system's, for a server whose certificate
    /// comes from the consortium's own certificate authority.
    pub ca_file: Option<std::path::PathBuf>,
}

impl SmtpConfig {
    /// The port, with the default for the security mode applied.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    /// The environment variable that holds the password.
    pub fn password_env(&self) -> &str {
        self.password_env.as_deref().unwrap_or(DEFAULT_PASSWORD_ENV)
    }

    /// The timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }
}

/// Sends messages to one mail server.
#[derive(Clone)]
pub struct Smtp {
    transport: SmtpTransport,
    server: String,
}

impl std::fmt::Debug for Smtp {
    // The transport holds the credentials: keep them out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// Checks the settings and reads the password; connects only when sending.
    pub fn new(config: &SmtpConfig) -> Result<Self, DeliverError> {
        let host = config.host.trim();
        if host.is_empty() {
            return Err(DeliverError::Config("the SMTP host is empty".into()));
        }
        let port = config.port();
        let tls = match config.security {
            Security::None => Tls::None,
            Security::Starttls | Security::Tls => {
                let mut params = TlsParameters::builder(host.to_string());
                if let Some(path) = &config.ca_file {
                    let pem = std::fs::read(path).map_err(|e| {
                        DeliverError::Config(format!("cannot read ca_file {}: {e}", path.display()))
                    })?;
                    // lettre's rustls parser takes any text as "no certificates": check for
                    // one, or a typo'd path to a key would fail later as a TLS error.
                    let not_a_certificate = |why: String| {
                        DeliverError::Config(format!(
                            "ca_file {} is not a PEM certificate{why}",
                            path.display()
                        ))
                    };
                    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
                    if !pem.windows(BEGIN.len()).any(|w| w == BEGIN) {
                        return Err(not_a_certificate(String::new()));
                    }
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| not_a_certificate(format!(": {e}")))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params.build().map_err(|e| {
                    DeliverError::Config(format!("cannot set up TLS for {host}: {e}"))
                })?;
                if config.security == Security::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(config.timeout()));
        if let Some(user) = config.username.as_deref().filter(|u| !u.is_empty()) {
            let var = config.password_env();
            let password = std::env::var(var).map_err(|e| {
                let why = match e {
                    std::env::VarError::NotPresent => "is not set",
                    std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                };
                DeliverError::Config(format!(
                    "the SMTP password for {user} is read from the environment variable \
                     {var}, which {why}"
                ))
            })?;
            builder = builder.credentials(Credentials::new(user.to_string(), password));
        }
        Ok(Smtp {
            transport: builder.build(),
            server: format!("{host}:{port}"),
        })
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends a finished message as stored in the outbox (the queue sends files, not
    /// [`Mail`] values, so that what was queued is exactly what travels).
    pub fn send_bytes(
        &self,
        from: &str,
        to: &[String],
        eml: &[u8],
    ) -> Result<Delivery, DeliverError> {
        let parse = |s: &str| {
            s.parse::<lettre::Address>()
                .map_err(|e| DeliverError::Address {
                    address: s.to_string(),
                    reason: e.to_string(),
                })
        };
        let from = if from.is_empty() {
            None
        } else {
            Some(parse(from)?)
        };
        let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
        let envelope = lettre::address::Envelope::new(from, to)
            .map_err(|e| DeliverError::Build(e.to_string()))?;
        match self.transport.send_raw(&envelope, eml) {
            Ok(response) => Ok(Delivery::Sent {
                server_reply: server_reply(&response),
            }),
            Err(e) => Err(smtp_error(&self.server, &e)),
        }
    }
}

fn server_reply(response: &lettre::transport::smtp::response::Response) -> String {
    let code: u16 = response.code().into();
    let text: Vec<&str> = response.message().collect();
    format!("{code} {}", text.join(" ")).trim().to_string()
}

impl Transport for Smtp {
    /// Sends in one transaction; when the server refuses that for good and there are several
    /// recipients (SMTP fails the whole transaction on one refused `RCPT`), sends to each on
    /// its own, so that one dead address does not cost the others their copy. The server's
    /// reply then names the refused addresses.
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError> {
        let first = match self.transport.send(mail.message()) {
            Ok(response) => {
                return Ok(Delivery::Sent {
                    server_reply: server_reply(&response),
                });
            }
            Err(e) => smtp_error(&self.server, &e),
        };
        let recipients = mail.recipients();
        if first.is_transient() || recipients.len() < 2 {
            return Err(first);
        }
        let from = mail
            .message()
            .envelope()
            .from()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let eml = mail.to_eml();
        let mut accepted = None;
        let mut refused = Vec::new();
        for to in &recipients {
            match self.send_bytes(&from, std::slice::from_ref(to), &eml) {
                Ok(Delivery::Sent { server_reply }) => accepted = Some(server_reply),
                Ok(Delivery::Written(_)) => {}
                Err(e) => refused.push(format!("{to} ({e})")),
            }
        }
        match accepted {
            Some(reply) => Ok(Delivery::Sent {
                server_reply: format!("{reply}; refused: {}", refused.join("; ")),
            }),
            None => Err(first),
        }
    }
}

/// Sorts a lettre error into transient or permanent, keeping the server's words.
fn smtp_error(server: &str, e: &lettre::transport::smtp::Error) -> DeliverError {
    let code = e.status().map(u16::from);
    let transient = if e.is_transient() || e.is_timeout() {
        true
    } else {
        // lettre does not name its connection and network kinds; everything that is not
        // a 5xx reply, a TLS failure or a client/protocol mistake is the network: transient.
        !(e.is_permanent()
            || e.is_tls()
            || e.is_client()
            || e.is_response()
            || e.is_transport_shutdown())
    };
    DeliverError::Smtp {
        server: server.to_string(),
        code,
        transient,
        message: error_chain(e),
    }
}

/// The error and its sources in one line: lettre's own message is terse ("Connection
/// error"); the cause ("Connection refused") is what a person needs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}
