//! The HTTP side over a real socket: security headers on every response (including errors), any
//! room path serves the app, the health check tells counts only, nothing sets a cookie, and the
//! published manifest lists every served file with the hash of the bytes served.

mod common;

use sha2::{Digest, Sha256};

async fn get(relay: &veilig_relay::Relay, path: &str) -> common::HttpResponse {
    common::get(relay.http_addr, path).await
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let relay = common::relay(|_| {}).await;
    for (path, status) in [
        ("/", 200),
        ("/weekly-sync", 200),
        ("/healthz", 200),
        ("/no/such/file.js", 404),
        ("/ws", 400),
        ("/metrics", 404),
    ] {
        let response = get(&relay, path).await;
        assert_eq!(response.status, status, "{path}");
        let csp = response
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        for directive in [
            "default-src 'none'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self' 'wasm-unsafe-eval'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP lacks {directive}: {csp}"
            );
        }
        assert!(
            !csp.contains("http:") && !csp.contains("https:") && !csp.contains('*'),
            "{path}: CSP names other origins: {csp}"
        );
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        let permissions = response.header("permissions-policy").unwrap();
        assert!(
            permissions.contains("camera=(self)") && permissions.contains("display-capture=(self)"),
            "{permissions}"
        );
        assert!(
            response.header("set-cookie").is_none(),
            "{path}: sets a cookie"
        );
        assert!(
            response.header("strict-transport-security").is_none(),
            "{path}: HSTS over plain HTTP"
        );
    }
    relay.shut_down().await;
}

#[tokio::test]
async fn room_paths_serve_the_app_and_its_inline_loader_is_allowed_by_hash() {
    let relay = common::relay(|_| {}).await;
    let page = get(&relay, "/weekly-sync").await;
    assert!(page.body.contains("<title>Veilig</title>"));
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(b"boot()"),
    );
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains(&format!("'sha256-{hash}'")));
    assert_eq!(get(&relay, "/").await.body, page.body);
    assert_eq!(get(&relay, "/index.html").await.body, page.body);
    assert_eq!(get(&relay, "/../../etc/passwd").await.status, 404);
    relay.shut_down().await;
}

#[tokio::test]
async fn embedding_is_allowed_only_for_configured_origins() {
    let relay =
        common::relay(|config| config.frame_ancestors = vec!["https://portal.example".into()])
            .await;
    let page = get(&relay, "/room").await;
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .ends_with("frame-ancestors https://portal.example"));
    assert!(page.header("x-frame-options").is_none());
    let permissions = page.header("permissions-policy").unwrap();
    for feature in ["camera", "microphone", "display-capture", "fullscreen"] {
        assert!(
            permissions.contains(&format!("{feature}=(self \"https://portal.example\")")),
            "{permissions}"
        );
    }
    relay.shut_down().await;
}

#[tokio::test]
async fn other_sites_may_load_the_embed_helper_and_nothing_else() {
    let relay = common::relay(|_| {}).await;
    let helper = get(&relay, "/static/embed.js").await;
    assert_eq!(helper.status, 200);
    assert!(
        helper
            .header("content-type")
            .unwrap()
            .contains("javascript"),
        "nosniff needs a script type"
    );
    assert_eq!(
        helper.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    for other in ["/static/veilig.css", "/weekly-sync"] {
        assert_eq!(
            get(&relay, other)
                .await
                .header("cross-origin-resource-policy"),
            None,
            "{other}"
        );
    }
    relay.shut_down().await;
}

#[tokio::test]
async fn health_tells_counts_only() {
    let relay = common::relay(|_| {}).await;
    let _someone = common::Participant::join(&relay, "private-room-name").await;
    let health = get(&relay, "/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"rooms":1,"status":"ok"}"#);
    relay.shut_down().await;
}

/// The status of a `/ws` upgrade sent with these headers (`Host` is the relay's address unless
/// given).
async fn upgrade_status(relay: &veilig_relay::Relay, headers: &[(&str, &str)]) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    let mut request = common::ws_url(relay).into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test]
async fn signaling_refuses_pages_of_other_sites() {
    let relay = common::relay(|config| {
        config.frame_ancestors = vec!["https://portal.example".into()];
        config.allow_origin = vec!["https://app.example".into()];
    })
    .await;
    let own = format!("http://{}", relay.http_addr);
    let own_https = format!("https://{}", relay.http_addr);
    for (origin, status) in [
        (own.as_str(), 101),
        (own_https.as_str(), 101),
        ("https://portal.example", 101),
        ("https://app.example", 101),
        ("https://evil.example", 403),
        ("http://127.0.0.1:1", 403),
        ("null", 403),
    ] {
        assert_eq!(
            upgrade_status(&relay, &[("origin", origin)]).await,
            status,
            "{origin}"
        );
    }
    // No Origin: not a browser (see http.rs), let through.
    assert_eq!(upgrade_status(&relay, &[]).await, 101);
    // The body says why.
    let mut raw = tokio::net::TcpStream::connect(relay.http_addr)
        .await
        .unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nConnection: Upgrade, close\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        relay.http_addr
    );
    let response = common::http_get_raw(&mut raw, &request).await;
    assert_eq!(response.status, 403);
    assert!(response.body.contains("Origin"), "{}", response.body);
    relay.shut_down().await;
}

#[tokio::test]
async fn the_manifest_lists_every_served_file_with_its_hash() {
    let relay = common::relay(|_| {}).await;
    let manifest = get(&relay, "/.well-known/veilig-dist.txt").await;
    assert_eq!(manifest.status, 200);
    assert!(manifest
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let mut paths = Vec::new();
    for line in manifest.body.lines() {
        // `sha256sum`'s format: 64 hex digits, two spaces, the path.
        let (hex, path) = line.split_once("  ").unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(hex.len(), 64, "{line}");
        let served = get(&relay, &format!("/{path}")).await;
        assert_eq!(served.status, 200, "{path}");
        let digest: String = Sha256::digest(served.body.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex, digest,
            "{path}: the manifest's hash is not the served bytes'"
        );
        paths.push(path.to_owned());
    }
    // Every file the relay serves (those common::relay wrote), sorted as `sha256sum` would be
    // by `cargo xtask hashes`.
    assert_eq!(
        paths,
        ["index.html", "static/embed.js", "static/veilig.css"]
    );
    relay.shut_down().await;
}
