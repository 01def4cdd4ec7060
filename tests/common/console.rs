//! The page's console errors and uncaught exceptions, read the way each browser allows.
//!
//! - Chromium: the `goog:loggingPrefs` browser log, fetched through chromedriver's `/se/log`
//!   endpoint. It has console calls, uncaught exceptions and unhandled rejections, and also
//!   resources that failed to load.
//! - Firefox: geckodriver has no such log, so we subscribe to WebDriver BiDi `log.entryAdded`
//!   events on the session's WebSocket: console calls, uncaught exceptions and unhandled
//!   rejections, each tied to the page that made it. (Scanning Firefox's stdout with
//!   `devtools.console.stdout.content` was tried and dropped: Firefox's own privileged code
//!   prints `console.error:` lines there too, and they cannot be told apart from the page's.)
//!
//! Both start listening before the first navigation, so nothing the page logs is missed.

use std::sync::{Arc, Mutex};

use fantoccini::Client;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::browser::SessionCommand;
use super::{Browser, HarnessError};

/// One console message or uncaught error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// Chromium: `SEVERE`, `WARNING`, `INFO`, ...; Firefox: `error`, `warn`, `info`, `debug`.
    pub level: String,
    /// Chromium: `console-api`, `javascript`, `network`, ...; Firefox: `console` or `javascript`.
    pub source: String,
    /// The message, with the page URL and position where the browser gives them.
    pub text: String,
}

impl ConsoleEntry {
    /// Whether this is an error: a `console.error`, an uncaught exception, a failed load.
    pub fn is_error(&self) -> bool {
        matches!(self.level.as_str(), "SEVERE" | "error")
    }
}

/// A browser session's console, collected since the session started.
pub enum Console {
    /// Chromium's log, drained by each fetch, so kept here as it is read.
    ChromiumLog(Mutex<Vec<ConsoleEntry>>),
    /// Firefox's BiDi events, pushed by a task reading the WebSocket.
    Bidi {
        /// Everything received so far.
        entries: Arc<Mutex<Vec<ConsoleEntry>>>,
        /// The reader; it ends when the session closes the socket.
        reader: JoinHandle<()>,
    },
}

impl Console {
    /// Starts collecting for a fresh session, before it has navigated anywhere.
    pub async fn attach(browser: Browser, client: &Client) -> Result<Console, HarnessError> {
        match browser {
            Browser::Chromium => Ok(Console::ChromiumLog(Mutex::new(Vec::new()))),
            Browser::Firefox => attach_bidi(client).await,
        }
    }

    /// Every entry so far.
    pub async fn entries(&self, client: &Client) -> Result<Vec<ConsoleEntry>, HarnessError> {
        match self {
            Console::ChromiumLog(seen) => {
                let fresh = client
                    .issue_cmd(SessionCommand {
                        // chromedriver's (non-W3C, still supported) "get log" command.
                        path: "se/log",
                        body: json!({"type": "browser"}),
                    })
                    .await?;
                let mut seen = seen.lock().expect("console lock");
                seen.extend(
                    fresh
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|entry| ConsoleEntry {
                            level: string_at(entry, "/level"),
                            source: string_at(entry, "/source"),
                            text: string_at(entry, "/message"),
                        }),
                );
                Ok(seen.clone())
            }
            Console::Bidi { entries, .. } => Ok(entries.lock().expect("console lock").clone()),
        }
    }

    /// The errors so far.
    pub async fn errors(&self, client: &Client) -> Result<Vec<ConsoleEntry>, HarnessError> {
        let mut entries = self.entries(client).await?;
        entries.retain(ConsoleEntry::is_error);
        Ok(entries)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Console::Bidi { reader, .. } = self {
            reader.abort();
        }
    }
}

async fn attach_bidi(client: &Client) -> Result<Console, HarnessError> {
    let ws_url = client
        .capabilities()
        .and_then(|caps| caps.get("webSocketUrl"))
        .and_then(Value::as_str)
        .ok_or_else(|| HarnessError::Bidi("the session has no webSocketUrl".into()))?
        .to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .map_err(|e| HarnessError::Bidi(format!("connecting to {ws_url}: {e}")))?;

    let subscribe = json!({
        "id": 1,
        "method": "session.subscribe",
        "params": { "events": ["log.entryAdded"] },
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| HarnessError::Bidi(format!("subscribing: {e}")))?;

    let entries = Arc::new(Mutex::new(Vec::new()));
    // Wait for the subscription to be confirmed, so the first navigation's messages are caught.
    loop {
        let message = socket
            .next()
            .await
            .ok_or_else(|| HarnessError::Bidi("closed before subscribing".into()))?
            .map_err(|e| HarnessError::Bidi(format!("subscribing: {e}")))?;
        let Some(value) = parse(&message) else {
            continue;
        };
        if value.get("id") == Some(&json!(1)) {
            if value.get("type").and_then(Value::as_str) != Some("success") {
                return Err(HarnessError::Bidi(format!("subscribing: {value}")));
            }
            break;
        }
        record(&value, &entries);
    }

    let sink = Arc::clone(&entries);
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Some(value) = parse(&message) {
                record(&value, &sink);
            }
        }
    });
    Ok(Console::Bidi { entries, reader })
}

fn parse(message: &Message) -> Option<Value> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
}

/// Keeps a `log.entryAdded` event; ignores everything else.
fn record(event: &Value, entries: &Mutex<Vec<ConsoleEntry>>) {
    if event.get("method").and_then(Value::as_str) != Some("log.entryAdded") {
        return;
    }
    let params = &event["params"];
    let mut text = string_at(params, "/text");
    let frame = &params["stackTrace"]["callFrames"][0];
    if let Some(url) = frame.get("url").and_then(Value::as_str) {
        text = format!(
            "{url} {}:{} {text}",
            frame["lineNumber"].as_u64().unwrap_or_default(),
            frame["columnNumber"].as_u64().unwrap_or_default()
        );
    }
    entries.lock().expect("console lock").push(ConsoleEntry {
        level: string_at(params, "/level"),
        source: string_at(params, "/type"),
        text,
    });
}

fn string_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
