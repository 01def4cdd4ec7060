//! The two browsers Veilig is tested in, and a [`Session`] in one of them: headless, with a
//! fresh profile, a fake camera and microphone that need no permission prompt, and no
//! background traffic of its own (updates, telemetry, safe browsing): the machine has only
//! loopback networking, and a test should only see the requests the page makes.
//!
//! A test may hold several sessions at once (two participants of a call, one per browser).

use std::fs;
use std::path::PathBuf;

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::console::{Console, ConsoleEntry};
use super::driver::Driver;
use super::{artifacts_dir, HarnessError, TIMEOUT};

/// A browser Veilig supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browser {
    /// Debian's Chromium, driven by chromedriver.
    Chromium,
    /// Firefox ESR, driven by geckodriver.
    Firefox,
}

/// What the browser's camera and microphone are like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Media {
    /// A fake camera and microphone, allowed without a prompt.
    #[default]
    Fake,
    /// The same fake devices, but the user (the browser's settings) said no.
    Denied,
    /// No camera or microphone at all (this machine has none).
    Absent,
}

impl Browser {
    /// Every supported browser.
    pub const ALL: [Browser; 2] = [Browser::Chromium, Browser::Firefox];

    /// A short lowercase name, used in artifact file names.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }

    /// The browser binary: `$VEILIG_CHROMIUM` / `$VEILIG_FIREFOX`, else Debian's path.
    fn binary(self) -> PathBuf {
        let (var, default) = match self {
            Browser::Chromium => ("VEILIG_CHROMIUM", "/usr/bin/chromium"),
            Browser::Firefox => ("VEILIG_FIREFOX", "/usr/bin/firefox-esr"),
        };
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    }

    fn capabilities(
        self,
        scratch: &TempDir,
        media: Media,
        extra: &Extra,
    ) -> Result<Capabilities, HarnessError> {
        let binary = self.binary();
        if !binary.is_file() {
            return Err(HarnessError::ToolMissing {
                name: self.name(),
                looked: binary.display().to_string(),
            });
        }
        let caps = match self {
            Browser::Chromium => {
                let profile = scratch.path().join("chromium-profile");
                let media_args: &[&str] = match media {
                    // Two fake cameras (and Chromium's three microphones), so that tests can
                    // switch devices.
                    Media::Fake => &[
                        "--use-fake-device-for-media-stream=device-count=2",
                        "--use-fake-ui-for-media-stream",
                    ],
                    Media::Denied => &[
                        "--use-fake-device-for-media-stream",
                        "--deny-permission-prompts",
                    ],
                    Media::Absent => &[],
                };
                // Blocked, as a user who said no once: the site's camera and mic settings.
                let blocked = if media == Media::Denied { 2 } else { 0 };
                let mut caps = json!({
                    "browserName": "chrome",
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": {
                        "binary": binary,
                        "args": [
                            "--headless=new",
                            // Root in a container: Chromium's sandbox cannot start.
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--disable-quic",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--no-first-run",
                            "--no-default-browser-check",
                            // Screen sharing picks the (virtual) screen without a dialog.
                            "--auto-select-desktop-capture-source=Entire screen",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                });
                let options = &mut caps["goog:chromeOptions"];
                if let Some(args) = options["args"].as_array_mut() {
                    args.extend(media_args.iter().map(|a| json!(a)));
                }
                if blocked != 0 {
                    options["prefs"] = json!({
                        "profile.default_content_setting_values.media_stream_camera": blocked,
                        "profile.default_content_setting_values.media_stream_mic": blocked,
                    });
                }
                caps
            }
            Browser::Firefox => json!({
                "browserName": "firefox",
                // WebDriver BiDi, for the console (see console.rs).
                "webSocketUrl": true,
                "moz:firefoxOptions": {
                    "binary": binary,
                    "args": ["-headless"],
                    "prefs": firefox_prefs(media),
                },
            }),
        };
        let Value::Object(mut caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let options = match self {
            Browser::Chromium => "goog:chromeOptions",
            Browser::Firefox => "moz:firefoxOptions",
        };
        if let Some(args) = caps[options]["args"].as_array_mut() {
            args.extend(extra.args.iter().map(|a| json!(a)));
        }
        caps.extend(extra.capabilities.clone());
        Ok(caps)
    }
}

/// What a test adds to a session's usual settings.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    /// More command-line arguments for the browser.
    pub args: Vec<String>,
    /// More top-level WebDriver capabilities, such as `acceptInsecureCerts`.
    pub capabilities: Capabilities,
}

/// Preferences for a quiet, permission-free Firefox. Geckodriver already applies its own
/// "recommended" set (no updates, no telemetry upload); these add the rest.
fn firefox_prefs(media: Media) -> Value {
    let mut prefs = json!({
        "media.navigator.streams.fake": media != Media::Absent,
        "media.navigator.permission.disabled": media == Media::Fake,
        // Remote audio plays (and can be measured) without a click first.
        "media.autoplay.default": 0,
        "media.autoplay.blocking_policy": 0,
        "media.autoplay.block-webaudio": false,
        "app.normandy.enabled": false,
        "app.update.auto": false,
        "browser.safebrowsing.malware.enabled": false,
        "browser.safebrowsing.phishing.enabled": false,
        "browser.safebrowsing.downloads.enabled": false,
        "browser.shell.checkDefaultBrowser": false,
        "datareporting.healthreport.uploadEnabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "extensions.update.enabled": false,
        "media.gmp-manager.updateEnabled": false,
        "messaging-system.rsexperimentloader.enabled": false,
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        "network.dns.disablePrefetch": true,
        "network.prefetch-next": false,
        "network.trr.mode": 5,
        "toolkit.telemetry.enabled": false,
        "toolkit.telemetry.unified": false,
    });
    if media == Media::Denied {
        // 2: block, as a user who said no once.
        prefs["permissions.default.camera"] = json!(2);
        prefs["permissions.default.microphone"] = json!(2);
    }
    prefs
}

/// One browser, one WebDriver session. Close it with [`Session::finish`] (or
/// [`Session::close`]); dropping it kills the browser without a report.
pub struct Session {
    browser: Browser,
    // Field order is drop order: the client and console go before the driver is killed, and
    // the profile directory is removed last.
    client: Client,
    console: Console,
    driver: Driver,
    scratch: TempDir,
}

impl Session {
    /// Starts `browser` with a fresh profile and begins collecting its console.
    pub async fn start(browser: Browser) -> Result<Session, HarnessError> {
        Session::start_with(browser, Media::Fake).await
    }

    /// [`Session::start`] with other camera and microphone settings.
    pub async fn start_with(browser: Browser, media: Media) -> Result<Session, HarnessError> {
        Session::start_extra(browser, media, &Extra::default()).await
    }

    /// [`Session::start_with`], with `extra` settings added.
    pub async fn start_extra(
        browser: Browser,
        media: Media,
        extra: &Extra,
    ) -> Result<Session, HarnessError> {
        let scratch = tempfile::Builder::new()
            .prefix(&format!("veilig-{}-", browser.name()))
            .tempdir()?;
        let caps = browser.capabilities(&scratch, media, extra)?;
        let driver = Driver::start(browser, scratch.path())?;
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(driver.url())
            .await?;
        // The same window size everywhere, so screenshots compare.
        let ready = async {
            client.set_window_size(1280, 800).await?;
            Console::attach(browser, &client).await
        };
        let console = match ready.await {
            Ok(console) => console,
            Err(e) => {
                let _ = client.close().await;
                return Err(e);
            }
        };
        Ok(Session {
            browser,
            client,
            console,
            driver,
            scratch,
        })
    }

    /// Which browser this is.
    pub fn browser(&self) -> Browser {
        self.browser
    }

    /// The WebDriver client, for anything the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `source` in every page before the page's own scripts, from the next navigation on
    /// (Chromium only: DevTools' `Page.addScriptToEvaluateOnNewDocument`).
    pub async fn add_init_script(&self, source: &str) -> Result<(), HarnessError> {
        self.devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await
    }

    /// Makes the page's viewport exactly `width` x `height` CSS pixels (Chromium only:
    /// DevTools' `Emulation.setDeviceMetricsOverride`). A window size would leave the viewport
    /// to the browser's own chrome; layout tests need the exact size.
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<(), HarnessError> {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await
    }

    /// Gives the viewport back to the window (undoes [`Session::set_viewport`]).
    pub async fn clear_viewport(&self) -> Result<(), HarnessError> {
        self.devtools("Emulation.clearDeviceMetricsOverride", json!({}))
            .await
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light) (Chromium only: DevTools'
    /// `Emulation.setEmulatedMedia`).
    pub async fn prefer_dark(&self, dark: bool) -> Result<(), HarnessError> {
        let scheme = if dark { "dark" } else { "light" };
        self.devtools(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await
    }

    /// A DevTools command, through chromedriver.
    async fn devtools(&self, cmd: &str, params: Value) -> Result<(), HarnessError> {
        assert_eq!(
            self.browser,
            Browser::Chromium,
            "DevTools commands: Chromium only"
        );
        self.client
            .issue_cmd(SessionCommand {
                path: "goog/cdp/execute",
                body: json!({ "cmd": cmd, "params": params }),
            })
            .await?;
        Ok(())
    }

    /// Navigates and waits for the document to load.
    pub async fn goto(&self, url: &str) -> Result<(), HarnessError> {
        Ok(self.client.goto(url).await?)
    }

    /// Waits (up to [`TIMEOUT`]) for the element with `data-testid="{test_id}"`.
    pub async fn wait_for_test_id(&self, test_id: &str) -> Result<Element, HarnessError> {
        let selector = format!(r#"[data-testid="{test_id}"]"#);
        Ok(self
            .client
            .wait()
            .at_most(TIMEOUT)
            .for_element(Locator::Css(&selector))
            .await?)
    }

    /// The page's console errors and uncaught exceptions so far.
    pub async fn console_errors(&self) -> Result<Vec<ConsoleEntry>, HarnessError> {
        self.console.errors(&self.client).await
    }

    /// Ends the session. On failure, first saves a screenshot and a report (the error, the
    /// console, `context` such as the server's request log, and the driver's output) under
    /// `target/test-artifacts/{test}-{browser}.*`, then panics with the report.
    pub async fn finish(self, test: &str, outcome: Result<(), HarnessError>, context: &str) {
        let Err(error) = outcome else {
            self.close().await.expect("closing the browser");
            return;
        };
        let report = self.save_artifacts(test, &error, context).await;
        let _ = self.close().await;
        panic!("{report}");
    }

    /// Closes the browser.
    pub async fn close(self) -> Result<(), HarnessError> {
        let Session { client, .. } = self;
        Ok(client.close().await?)
    }

    async fn save_artifacts(&self, test: &str, error: &HarnessError, context: &str) -> String {
        let dir = artifacts_dir();
        let stem = format!("{test}-{}", self.browser.name());
        let mut report = format!("{test} in {}: {error}\n\n", self.browser.name());
        let _ = fs::create_dir_all(&dir);

        match self.client.screenshot().await {
            Ok(png) => {
                let path = dir.join(format!("{stem}.png"));
                match fs::write(&path, png) {
                    Ok(()) => report += &format!("Screenshot: {}\n", path.display()),
                    Err(e) => report += &format!("Screenshot not saved: {e}\n"),
                }
            }
            Err(e) => report += &format!("No screenshot: {e}\n"),
        }
        report += "\nConsole:\n";
        match self.console.entries(&self.client).await {
            Ok(entries) if entries.is_empty() => report += "  (empty)\n",
            Ok(entries) => {
                for e in entries {
                    report += &format!("  [{} {}] {}\n", e.level, e.source, e.text);
                }
            }
            Err(e) => report += &format!("  (could not read: {e})\n"),
        }
        report += &format!(
            "\n{context}\n{} output:\n{}",
            self.browser.name(),
            self.driver.output()
        );

        let log = dir.join(format!("{stem}.log"));
        match fs::write(&log, &report) {
            Ok(()) => format!("{report}\nReport saved to {}", log.display()),
            Err(e) => format!("{report}\nReport not saved: {e}"),
        }
    }
}

/// A driver-specific command of this session: `POST session/{id}/{path}` with `body`.
#[derive(Debug)]
pub struct SessionCommand {
    /// Below the session, e.g. `goog/cdp/execute`.
    pub path: &'static str,
    /// The JSON body.
    pub body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}
