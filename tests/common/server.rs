//! A static file server for `dist/` on a free loopback port that records every request and the
//! status it answered, so a test can assert that the page fetched nothing that failed
//! (a missing favicon included) and can wait until a given request has been served.
//!
//! It does not do TLS, keep-alive, ranges, compression or single-page-app fallback routes: one
//! request per connection (`Connection: close`), files only, `GET` and `HEAD` only. Each
//! connection gets its own thread; nothing here needs an async runtime.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::sync::watch;

use super::{HarnessError, TIMEOUT};

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target without its query, e.g. `/static/favicon.svg`.
    pub path: String,
    /// The status code sent back.
    pub status: u16,
}

/// A running server; stops accepting when dropped.
pub struct StaticServer {
    addr: SocketAddr,
    log: Arc<watch::Sender<Vec<Exchange>>>,
    stop: Arc<AtomicBool>,
}

impl StaticServer {
    /// Serves the files under `root` on `127.0.0.1` and a free port.
    pub fn serve(root: &Path) -> io::Result<StaticServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let log = Arc::new(watch::Sender::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let (accept_log, accept_stop) = (Arc::clone(&log), Arc::clone(&stop));
        thread::Builder::new()
            .name("static-server".into())
            .spawn(move || accept_loop(listener, root, accept_log, accept_stop))?;
        Ok(StaticServer { addr, log, stop })
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request answered so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.borrow().clone()
    }

    /// The requests that got anything but `200 OK`.
    pub fn failures(&self) -> Vec<Exchange> {
        self.exchanges()
            .into_iter()
            .filter(|e| e.status != 200)
            .collect()
    }

    /// Waits until a request for `path` has been answered: browsers fetch some resources (the
    /// icon) after the page has rendered, so "the page is up" does not mean "all requests made".
    pub async fn wait_for_request(&self, path: &str) -> Result<Exchange, HarnessError> {
        let mut log = self.log.subscribe();
        let seen =
            tokio::time::timeout(TIMEOUT, log.wait_for(|l| l.iter().any(|e| e.path == path)))
                .await
                .map_err(|_| HarnessError::Timeout {
                    what: format!("a request for {path}"),
                    secs: TIMEOUT.as_secs(),
                })?
                .expect("the sender lives as long as the server");
        Ok(seen
            .iter()
            .find(|e| e.path == path)
            .cloned()
            .expect("waited for it"))
    }

    /// The request log as text, for failure reports.
    pub fn report(&self) -> String {
        let mut out = format!("Requests served by {}:\n", self.url("/"));
        for e in self.exchanges() {
            let _ = writeln!(out, "  {} {} {}", e.status, e.method, e.path);
        }
        out
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept_loop(
    listener: TcpListener,
    root: PathBuf,
    log: Arc<watch::Sender<Vec<Exchange>>>,
    stop: Arc<AtomicBool>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (root, log) = (root.clone(), Arc::clone(&log));
        let _ = thread::Builder::new()
            .name("static-server-conn".into())
            .spawn(move || {
                if let Some(exchange) = serve_one(stream, &root) {
                    log.send_modify(|l| l.push(exchange));
                }
            });
    }
}

/// Answers one request; `None` for a connection that never sent one (browsers open spare
/// connections speculatively).
fn serve_one(stream: TcpStream, root: &Path) -> Option<Exchange> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    // The headers tell us nothing we need; read past them.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.trim_end().is_empty() => break,
            Ok(_) => {}
        }
    }

    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();

    let (status, content_type, body) = match method.as_str() {
        "GET" | "HEAD" => {
            match resolve(root, &path).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
                Some((file, bytes)) => (200, content_type(&file), bytes),
                None => (404, "text/plain; charset=utf-8", b"not found\n".to_vec()),
            }
        }
        _ => (
            405,
            "text/plain; charset=utf-8",
            b"method not allowed\n".to_vec(),
        ),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = &stream;
    let _ = out.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = out.write_all(&body);
    }
    let _ = out.flush();
    Some(Exchange {
        method,
        path,
        status,
    })
}

/// The file for a request path, if it is a file under `root`; `/` means `/index.html`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.strip_prefix('/')?;
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if relative
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return None;
    }
    let file = root.join(relative);
    file.is_file().then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        // Browsers compile wasm while it downloads only when it has this type.
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
