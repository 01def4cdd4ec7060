//! The relay's HTTP side: the app's files, `/ws` for signaling, `/healthz` for operators,
//! `/.well-known/veilig-dist.txt` (the SHA-256 of every file served, see [`crate::assets`]),
//! and the security headers on every response.
//!
//! Any single-segment path that is a valid room id (`/weekly-sync`) serves the app's page; the
//! secret after `#` never reaches us, browsers keep it. Headers, on every response including
//! errors:
//! - `Content-Security-Policy`: scripts, styles, workers, media and connections from this origin
//!   only (`wasm-unsafe-eval` to instantiate WebAssembly; the loader script Trunk inlines is
//!   allowed by its SHA-256 hash, computed from the page at start-up), `frame-ancestors` only
//!   the configured origins (`'none'` by default). `blob:` scripts and workers: the page starts
//!   the frame-crypto worker from bytes it fetched with their integrity value, and the worker
//!   imports its glue the same way (`src/encryption/integrity.rs`); only a script already
//!   running here can make a `blob:` URL. `frame-src 'self'` only for the embedding
//!   example page (`static/embed-example.html`), which frames a meeting of this relay.
//! - `static/embed.js`, the helper other sites load as a classic script, also gets
//!   `Cross-Origin-Resource-Policy: cross-origin`, so pages that isolate themselves (COEP) can
//!   load it; no other file does. (Classic scripts need no CORS.)
//! - `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`,
//!   `Cross-Origin-Opener-Policy: same-origin`, `Permissions-Policy` allowing camera, microphone
//!   and display capture for this origin (and configured embedders) and nothing else.
//! - `Strict-Transport-Security: max-age=63072000` (two years) when the relay serves HTTPS
//!   itself, so browsers never try plain HTTP again; never over plain HTTP, where it would be
//!   ignored at best and, behind a proxy, not ours to promise. No `includeSubDomains`: the
//!   relay cannot speak for its domain's other hosts.
//! - No cookies are ever set.
//!
//! `/ws` is guarded before it upgrades, cheapest check first:
//! - `Origin`: a browser always sends it on a WebSocket upgrade, and any website could otherwise
//!   make its visitors' browsers connect here. Allowed: the relay's own origin (`http://` or
//!   `https://` and the request's `Host`, so it holds behind a TLS-terminating proxy too), the
//!   `--frame-ancestors` origins and `--allow-origin`. Anything else, `null` included, gets
//!   HTTP 403 with a plain reason. A request *without* `Origin` is let through: only non-browser
//!   clients (the test peers, tools) omit it, and they could send any `Origin` they like anyway;
//!   the check exists to stop a browser being used from another site, and browsers cannot omit
//!   it. (An embedded meeting's iframe has the relay's own origin, so embedders need no entry;
//!   theirs are allowed because the operator already trusts them with the meeting.)
//! - Per-address caps ([`crate::limits`]): signaling connections open, joins per minute. Over
//!   either: HTTP 429.
//!
//! `/metrics` is deliberately a 404 here: operator counts live on their own listener
//! ([`crate::metrics`]), never on the public one.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use axum::Router;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use veilig_protocol::{RoomId, MAX_MESSAGE_BYTES};

use crate::assets::Assets;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::counters::Counters;
use crate::limits::{AddressLimits, Cap};
use crate::rooms::Rooms;
use crate::tls::TlsListener;
use tokio::net::TcpListener;

/// Where the manifest of the served files is published: `.well-known` (RFC 8615), plain text in
/// `sha256sum`'s format, so `diff` against `cargo xtask hashes` is the whole check.
pub const MANIFEST_PATH: &str = "/.well-known/veilig-dist.txt";

/// The embedding helper other sites load (`static/embed.js`), the one file meant for them.
const EMBED_SCRIPT: &str = "static/embed.js";

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The rooms.
    pub rooms: Rooms,
    /// Settings.
    pub config: Arc<Config>,
    /// The app's files.
    pub assets: Assets,
    /// Headers added to every response.
    pub headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    /// Counts for operators.
    pub counters: Arc<Counters>,
    /// Per-address caps.
    pub limits: Arc<AddressLimits>,
    /// Origins other than the relay's own that may open `/ws`, lowercase.
    pub allowed_origins: Arc<Vec<String>>,
    /// This relay as a node of a cluster (`--nats`): signaling then goes through it.
    pub cluster: Option<Cluster>,
}

/// Whether the relay's own listener speaks HTTPS (it decides HSTS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: loopback development, or behind a reverse proxy.
    Http,
    /// HTTPS with the relay's own certificate.
    Https,
}

impl AppState {
    /// State for `config`, with the security headers worked out from the app's page and
    /// whether the listener speaks HTTPS.
    pub fn new(
        rooms: Rooms,
        config: Arc<Config>,
        assets: Assets,
        scheme: Scheme,
        counters: Arc<Counters>,
        limits: Arc<AddressLimits>,
    ) -> Self {
        let headers = security_headers(&config, &assets.index(), scheme);
        let allowed_origins = config
            .allow_origin
            .iter()
            .chain(&config.frame_ancestors)
            .filter_map(|origin| as_origin(origin))
            .collect();
        AppState {
            rooms,
            config,
            assets,
            headers: Arc::new(headers),
            counters,
            limits,
            allowed_origins: Arc::new(allowed_origins),
            cluster: None,
        }
    }
}

/// The relay's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(health))
        .route("/ws", get(websocket))
        .route("/metrics", get(not_here))
        .route(MANIFEST_PATH, get(manifest))
        .route("/{*path}", get(file))
        .layer(middleware::from_fn_with_state(state.clone(), add_headers))
        .with_state(state)
}

async fn add_headers(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in state.headers.iter() {
        headers.insert(name.clone(), value.clone());
    }
    headers.remove(header::SET_COOKIE);
    response
}

async fn page(State(state): State<AppState>) -> Response {
    html(state.assets.index().into_owned())
}

async fn file(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    if let Some(bytes) = state.assets.get(&path) {
        let mime = mime_guess::from_path(&path).first_or_octet_stream();
        let cache = if path.ends_with(".html") {
            "no-store"
        } else {
            "public, max-age=3600"
        };
        let mut response = (
            [
                (header::CONTENT_TYPE, mime.as_ref()),
                (header::CACHE_CONTROL, cache),
            ],
            bytes.into_owned(),
        )
            .into_response();
        if path == EMBED_SCRIPT {
            // Loaded by other sites' pages as a classic script; some of them isolate themselves
            // (COEP) and then load only what says it may be used cross-origin.
            response.headers_mut().insert(
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            );
        }
        return response;
    }
    if RoomId::new(&path).is_ok() {
        return html(state.assets.index().into_owned());
    }
    not_here().await
}

/// Computed on each request from the files as they are now, so it cannot drift from what is
/// served (with `--static-dir` the files are read on each request too). A few megabytes of
/// hashing, like sending the wasm once.
async fn manifest(State(state): State<AppState>) -> Response {
    let assets = state.assets.clone();
    match tokio::task::spawn_blocking(move || assets.manifest()).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn not_here() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn html(body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Counts only: never ids, rooms or addresses.
async fn health(State(state): State<AppState>) -> Response {
    let body = serde_json::json!({ "status": "ok", "rooms": state.rooms.count() });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A connection's remote address, as the server hands it to handlers (`ConnectInfo`), for any
/// listener of socket addresses (plain TCP or [`crate::tls::TlsListener`]).
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for RemoteAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        RemoteAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for RemoteAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        RemoteAddr(*stream.remote_addr())
    }
}

/// The address a request came from, when the server knows it (it does on real sockets; tests
/// that drive the router directly have none, and no caps apply to them).
pub struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<RemoteAddr>>()
            .map(|ConnectInfo(RemoteAddr(addr))| addr.ip());
        Ok(ClientAddr(addr))
    }
}

async fn websocket(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.allowed_origins) {
        return (
            StatusCode::FORBIDDEN,
            "signaling is only for pages of this server: the Origin is not allowed",
        )
            .into_response();
    }
    let permit = match client {
        Some(ip) => match state.limits.hold(Cap::WebSockets, ip) {
            Some(permit) => Some(permit),
            None => return too_many("too many open connections from this address"),
        },
        None => None,
    };
    if client.is_some_and(|ip| !state.limits.allow_join(ip, Instant::now())) {
        return too_many("too many joins from this address; wait a minute");
    }
    // The protocol's own limit is checked per message (with a clear error); the transport's is a
    // backstop twice as large.
    upgrade
        .max_message_size(2 * MAX_MESSAGE_BYTES)
        .max_frame_size(2 * MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            match &state.cluster {
                Some(cluster) => cluster.serve(socket).await,
                None => {
                    crate::signaling::serve(
                        socket,
                        state.rooms.clone(),
                        &state.config,
                        &state.counters,
                    )
                    .await
                }
            }
        })
}

fn too_many(reason: &'static str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "60")],
        reason,
    )
        .into_response()
}

/// `origin` as the browser would send it in an `Origin` header (`scheme://host[:port]`,
/// lowercase, no path), if it is one; CSP-only forms such as `'self'` or wildcards are not.
fn as_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, host) = origin.split_once("://")?;
    let valid = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(['/', '*', '?', '#', '@', ' ']);
    valid.then_some(origin)
}

/// Whether a `/ws` request's `Origin` may connect (see the module docs): none at all, the
/// relay's own (its `Host`, over http or https), or one of `allowed`.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_ascii_lowercase)
        .is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host.as_str())
        });
    own || allowed.contains(&origin)
}

/// The headers of the module docs.
fn security_headers(
    config: &Config,
    index: &[u8],
    scheme: Scheme,
) -> Vec<(HeaderName, HeaderValue)> {
    let script_hashes: String = inline_scripts(&String::from_utf8_lossy(index))
        .map(|script| {
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()))
            )
        })
        .collect();
    let ancestors = if config.frame_ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        config.frame_ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' blob:{script_hashes}; style-src 'self'; \
         img-src 'self' data: blob:; media-src 'self' blob: mediastream:; font-src 'self'; connect-src 'self'; \
         worker-src 'self' blob:; manifest-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {ancestors}"
    );
    let embedders: String = config
        .frame_ancestors
        .iter()
        .map(|origin| format!(" \"{origin}\""))
        .collect();
    let permissions = format!(
        "camera=(self{embedders}), microphone=(self{embedders}), display-capture=(self{embedders}), fullscreen=(self{embedders}), \
         geolocation=(), payment=(), usb=(), interest-cohort=()"
    );
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (HeaderName::from_static("permissions-policy"), permissions),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin".to_owned(),
        ),
    ];
    if config.frame_ancestors.is_empty() {
        headers.push((header::X_FRAME_OPTIONS, "DENY".to_owned()));
    }
    if scheme == Scheme::Https {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000".to_owned(),
        ));
    }
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            HeaderValue::from_str(&value)
                .ok()
                .map(|value| (name, value))
        })
        .collect()
}

/// The bodies of `<script>` elements without `src`, as the browser hashes them.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, after) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        after.split_once("</script>").map(|(body, _)| body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_and_external_ones_skipped() {
        let html = r#"<script src="/a.js"></script><script type="module">import x;
</script><p><script>1</script>"#;
        assert_eq!(
            inline_scripts(html).collect::<Vec<_>>(),
            ["import x;\n", "1"]
        );
    }

    #[test]
    fn frame_ancestors_default_to_none() {
        let headers = security_headers(&Config::defaults(), b"", Scheme::Http);
        let csp = &headers
            .iter()
            .find(|(name, _)| name == header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .1;
        assert!(csp.to_str().unwrap().ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn only_own_and_configured_origins_may_open_signaling() {
        let allowed: Vec<String> = ["https://app.example/", "'self'", "https://*.example"]
            .iter()
            .filter_map(|origin| as_origin(origin))
            .collect();
        assert_eq!(allowed, ["https://app.example"]);
        let headers = |host: &str, origin: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            }
            headers
        };
        for (host, origin, ok) in [
            ("meet.example:8443", Some("https://meet.example:8443"), true),
            ("meet.example", Some("http://meet.example"), true),
            ("Meet.Example", Some("https://meet.example"), true),
            ("meet.example", None, true),
            ("meet.example", Some("https://app.example"), true),
            ("meet.example", Some("https://evil.example"), false),
            (
                "meet.example",
                Some("https://meet.example.evil.example"),
                false,
            ),
            ("meet.example:8443", Some("https://meet.example"), false),
            ("meet.example", Some("null"), false),
            ("meet.example", Some("ws://meet.example"), false),
        ] {
            assert_eq!(
                origin_allowed(&headers(host, origin), &allowed),
                ok,
                "{host} {origin:?}"
            );
        }
    }

    #[test]
    fn hsts_only_over_https() {
        let hsts = |scheme| {
            security_headers(&Config::defaults(), b"", scheme)
                .into_iter()
                .find(|(name, _)| name == header::STRICT_TRANSPORT_SECURITY)
                .map(|(_, value)| value)
        };
        assert_eq!(hsts(Scheme::Http), None);
        assert_eq!(hsts(Scheme::Https).unwrap(), "max-age=63072000");
    }
}
