//! WebDriver servers (chromedriver, geckodriver) as child processes of the test: each on a free
//! loopback port, its output kept for the failure report, and killed together with the browser
//! it started when dropped, even if the test panicked before closing its session.
//!
//! This module only starts and stops processes; talking WebDriver is fantoccini's job
//! (see `browser.rs`).

use std::env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Browser, HarnessError, TIMEOUT};

/// A running WebDriver server.
pub struct Driver {
    name: &'static str,
    url: String,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Driver {
    /// Starts the driver for `browser`. Geckodriver creates Firefox's fresh profile under
    /// `scratch`, so it goes away with the test's scratch directory.
    pub fn start(browser: Browser, scratch: &Path) -> Result<Driver, HarnessError> {
        let port = free_port()?;
        let (name, mut command) = match browser {
            Browser::Chromium => {
                let mut c = Command::new(find_program("chromedriver", "CHROMEDRIVER")?);
                c.arg(format!("--port={port}"));
                ("chromedriver", c)
            }
            Browser::Firefox => {
                let mut c = Command::new(find_program("geckodriver", "GECKODRIVER")?);
                // The BiDi WebSocket port defaults to 9222 for every geckodriver: two Firefox
                // sessions at once would collide.
                c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--websocket-port", &free_port()?.to_string()])
                    .arg("--profile-root")
                    .arg(scratch);
                ("geckodriver", c)
            }
        };
        // Its own process group, so that dropping the driver also ends the browser it started.
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take(), &output);
        collect(child.stderr.take(), &output);
        let driver = Driver {
            name,
            url: format!("http://127.0.0.1:{port}"),
            child,
            output,
        };
        driver.wait_until_ready(port)
    }

    /// The base URL to hand to fantoccini.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the driver (and, for geckodriver, Firefox) printed so far.
    pub fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }

    fn wait_until_ready(mut self, port: u16) -> Result<Driver, HarnessError> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(self.not_ready(format!("exited with {status}")));
            }
            if status_is_ready(port) {
                return Ok(self);
            }
            if start.elapsed() > TIMEOUT {
                return Err(self.not_ready(format!("no answer in {}s", TIMEOUT.as_secs())));
            }
            // Polling a local port: the driver offers no readiness signal to wait on.
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn not_ready(&self, reason: String) -> HarnessError {
        HarnessError::DriverNotReady {
            driver: self.name,
            reason,
            output: self.output(),
        }
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The driver is gone; make sure nothing it started lingers.
                self.signal_group("-KILL");
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

/// Asks a WebDriver server for `/status` over plain HTTP; true once it reports ready.
fn status_is_ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.replace(' ', "").contains("\"ready\":true")
}

/// A port that was free a moment ago. Another process could take it before the driver binds
/// it; on a test machine that is rare enough, and the driver then fails loudly.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The program named by `env_var` if set, else the first `name` on `PATH` or in Cargo's bin
/// directory (where `cargo install geckodriver` puts it).
pub fn find_program(name: &'static str, env_var: &str) -> Result<PathBuf, HarnessError> {
    if let Some(path) = env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| HarnessError::ToolMissing {
            name,
            looked: format!("${env_var}, PATH and Cargo's bin directory"),
        })
}

fn collect(pipe: Option<impl Read + Send + 'static>, into: &Arc<Mutex<String>>) {
    let Some(pipe) = pipe else { return };
    let into = Arc::clone(into);
    let _ = thread::Builder::new()
        .name("driver-output".into())
        .spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut out = into.lock().expect("output lock");
                out.push_str(&line);
                out.push('\n');
            }
        });
}
