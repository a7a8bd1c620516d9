//! A real SMTP server on 127.0.0.1 for the tests: mailin's protocol state machine over a
//! TcpListener, recording what it receives. Shared by the `deliver`, `cli` and `inbox` test modules.
#![allow(dead_code)]

use mailin::{Action, Handler, Response, SessionBuilder};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
pub struct Received {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, in order.
    pub rcpt: Vec<String>,
    /// The message as sent after DATA.
    pub data: Vec<u8>,
}

#[derive(Clone)]
struct Recorder {
    /// When set, every RCPT gets this reply.
    rcpt_reply: Option<(u16, &'static str)>,
    /// When set, RCPT of this one address gets `550 5.1.1` (a dead mailbox among live ones).
    refuse: Option<&'static str>,
    /// When set, the end of DATA gets this reply and the message is not kept (a server
    /// that fails for a while); the test can change it while the server runs.
    data_reply: Arc<Mutex<Option<(u16, &'static str)>>>,
    current: Received,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.current = Received {
            from: from.to_string(),
            ..Received::default()
        };
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if let Some((code, text)) = self.rcpt_reply {
            return Response::custom(code, text.to_string());
        }
        if self.refuse.is_some_and(|r| r.eq_ignore_ascii_case(to)) {
            return Response::custom(550, "5.1.1 No such user here".to_string());
        }
        self.current.rcpt.push(to.to_string());
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some((code, text)) = *self.data_reply.lock().unwrap() {
            return Response::custom(code, text.to_string());
        }
        self.inbox.lock().unwrap().push(self.current.clone());
        Response::custom(250, "OK queued as TEST1".to_string())
    }
}

/// Starts a server on a free port; returns its port and what it receives.
pub fn smtp_server(rcpt_reply: Option<(u16, &'static str)>) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    serve(
        listener,
        (rcpt_reply, None),
        Arc::new(Mutex::new(None)),
        Arc::clone(&inbox),
    );
    (port, inbox)
}

/// Starts a server that refuses RCPT of `address` with a 550 and accepts every other.
pub fn smtp_server_refusing(address: &'static str) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    serve(
        listener,
        (None, Some(address)),
        Arc::new(Mutex::new(None)),
        Arc::clone(&inbox),
    );
    (port, inbox)
}

/// A running server whose answers the test can change.
pub struct Server {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Messages accepted.
    pub inbox: Arc<Mutex<Vec<Received>>>,
    /// When set, the end of DATA gets this reply and the message is not kept.
    pub data_reply: Arc<Mutex<Option<(u16, &'static str)>>>,
}

/// A port that was free a moment ago: for a server that is "down" until the test starts it
/// with [`start_server_on`].
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a server on `port`.
pub fn start_server_on(port: u16) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let data_reply = Arc::new(Mutex::new(None));
    serve(
        listener,
        (None, None),
        Arc::clone(&data_reply),
        Arc::clone(&inbox),
    );
    Server {
        port,
        inbox,
        data_reply,
    }
}

fn serve(
    listener: TcpListener,
    (rcpt_reply, refuse): (Option<(u16, &'static str)>, Option<&'static str>),
    data_reply: Arc<Mutex<Option<(u16, &'static str)>>>,
    inbox: Arc<Mutex<Vec<Received>>>,
) {
    let handler = Recorder {
        rcpt_reply,
        refuse,
        data_reply,
        current: Received::default(),
        inbox,
    };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // One thread per connection: a client that is killed mid-session must not
            // block the next one.
            let handler = handler.clone();
            std::thread::spawn(move || session(stream, handler));
        }
    });
}

fn session(stream: TcpStream, handler: Recorder) -> std::io::Result<()> {
    let ip = stream.peer_addr()?.ip();
    // Replies go out at once (no Nagle delay against the client's delayed ACKs).
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut session = SessionBuilder::new("mx.test.invalid").build(ip, handler);
    session.greeting().write_to(&mut writer)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            Action::Reply => response.write_to(&mut writer)?,
            Action::Close => {
                response.write_to(&mut writer)?;
                return writer.flush();
            }
            Action::UpgradeTls => return Ok(()),
            Action::NoReply => {}
        }
        writer.flush()?;
    }
}

/// How a TLS server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain at first; TLS after the client's STARTTLS (port 587 style).
    Starttls,
    /// TLS from the first byte (port 465 style).
    Wrapper,
}

/// Starts a TLS server with the test certificate for localhost / 127.0.0.1, signed by
/// `tests/fixtures/tls/ca.pem` (made by `tests/fixtures/tls/make.sh`).
pub fn smtp_tls_server(mode: TlsMode) -> (u16, Arc<Mutex<Vec<Received>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let handler = Recorder {
        rcpt_reply: None,
        refuse: None,
        data_reply: Arc::new(Mutex::new(None)),
        current: Received::default(),
        inbox: Arc::clone(&inbox),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, config) = (handler.clone(), Arc::clone(&config));
            std::thread::spawn(move || tls_session(stream, handler, mode, config));
        }
    });
    (port, inbox)
}

fn tls_session(
    stream: TcpStream,
    handler: Recorder,
    mode: TlsMode,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let ip = stream.peer_addr()?.ip();
    stream.set_nodelay(true)?;
    let mut builder = SessionBuilder::new("mx.test.invalid");
    if mode == TlsMode::Starttls {
        builder.enable_start_tls();
    }
    let mut session = builder.build(ip, handler);
    let wrap = |stream: TcpStream| -> std::io::Result<_> {
        let conn =
            rustls::ServerConnection::new(Arc::clone(&config)).map_err(std::io::Error::other)?;
        Ok(rustls::StreamOwned::new(conn, stream))
    };
    match mode {
        TlsMode::Wrapper => {
            session.tls_active();
            converse(wrap(stream)?, &mut session, true).map(|_| ())
        }
        TlsMode::Starttls => {
            if let Some(stream) = converse(stream, &mut session, true)? {
                session.tls_active();
                converse(wrap(stream)?, &mut session, false)?;
            }
            Ok(())
        }
    }
}

/// Speaks SMTP over `stream` until the client quits; returns the stream when the client
/// asked for STARTTLS (after the 220 that accepts it).
fn converse<S: std::io::Read + Write>(
    stream: S,
    session: &mut mailin::Session<Recorder>,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut reader = BufReader::new(stream);
    if greet {
        session.greeting().write_to(reader.get_mut())?;
        reader.get_mut().flush()?;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let response = session.process(&line);
        match response.action {
            Action::Reply => response.write_to(reader.get_mut())?,
            Action::Close => {
                response.write_to(reader.get_mut())?;
                reader.get_mut().flush()?;
                return Ok(None);
            }
            Action::UpgradeTls => {
                response.write_to(reader.get_mut())?;
                reader.get_mut().flush()?;
                // The client sends nothing more until the handshake: the buffer is empty.
                return Ok(Some(reader.into_inner()));
            }
            Action::NoReply => {}
        }
        reader.get_mut().flush()?;
    }
}
