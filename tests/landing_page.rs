//! The release build loads cleanly in every supported browser: the landing screen appears,
//! every request the page makes is answered `200 OK` (the icon included, so no stray
//! `/favicon.ico`), and nothing is logged as an error.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{Browser, HarnessError, Session, StaticServer};

#[tokio::test]
#[ignore = "needs the release build and the browsers: run `cargo xtask test`"]
async fn landing_page_loads_cleanly_in_chromium() {
    loads_cleanly(Browser::Chromium).await;
}

#[tokio::test]
#[ignore = "needs the release build and the browsers: run `cargo xtask test`"]
async fn landing_page_loads_cleanly_in_firefox() {
    loads_cleanly(Browser::Firefox).await;
}

/// A link may ask for Chromium's `createEncodedStreams` path (`#transform=streams`): Chromium
/// takes it, Firefox, which never had it, shows the unsupported screen and offers no way in.
#[tokio::test]
#[ignore = "needs the release build and the browsers: run `cargo xtask test`"]
async fn a_missing_encryption_path_is_refused_in_plain_words() {
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let server = StaticServer::serve(&dist).expect("starting the static server");
    for (browser, expected) in [
        (Browser::Chromium, "landing"),
        (Browser::Firefox, "unsupported"),
    ] {
        let session = Session::start(browser)
            .await
            .unwrap_or_else(|e| panic!("starting {}: {e}", browser.name()));
        let outcome: Result<(), HarnessError> = async {
            session.goto(&server.url("/#transform=streams")).await?;
            let screen = session.wait_for_test_id(expected).await?;
            if expected == "unsupported" {
                let text = screen.text().await?;
                ensure!(
                    text.contains("transform=streams") && text.contains("Firefox"),
                    "the unsupported screen says why and what works: {text:?}"
                );
                ensure!(
                    session
                        .client()
                        .find_all(fantoccini::Locator::Css(
                            r#"[data-testid="unsupported"] :is(button, input, video), [data-testid="join"], [data-testid="new-meeting"]"#
                        ))
                        .await?
                        .is_empty(),
                    "the unsupported screen offers nothing to join with"
                );
            }
            Ok(())
        }
        .await;
        session
            .finish("unsupported_path", outcome, &server.report())
            .await;
    }
}

async fn loads_cleanly(browser: Browser) {
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let server = StaticServer::serve(&dist).expect("starting the static server");
    let session = Session::start(browser)
        .await
        .unwrap_or_else(|e| panic!("starting {}: {e}", browser.name()));
    let outcome = check(&session, &server).await;
    session
        .finish("landing_page", outcome, &server.report())
        .await;
}

async fn check(session: &Session, server: &StaticServer) -> Result<(), HarnessError> {
    session.goto(&server.url("/")).await?;
    let landing = session.wait_for_test_id("landing").await?;
    let text = landing.text().await?;
    ensure!(text.contains("Veilig"), "landing screen shows {text:?}");

    // The language switch changes every word on the page, and back.
    let before = landing.text().await?;
    session.wait_for_test_id("language").await?.click().await?;
    let switched = session.wait_for_test_id("landing").await?.text().await?;
    ensure!(
        switched != before
            && (switched.contains("Nieuwe vergadering") || switched.contains("New meeting")),
        "the language switch changed nothing: {before:?} / {switched:?}"
    );
    // The document says which language it is in, and the choice is remembered: a reload
    // keeps it (and so would the lobby, the same page's other screen).
    let switched_tag = if switched.contains("New meeting") {
        "en"
    } else {
        "nl"
    };
    ensure!(
        document_lang(session).await? == switched_tag,
        "<html lang> after switching to {switched_tag}"
    );
    session.client().refresh().await?;
    let reloaded = session.wait_for_test_id("landing").await?.text().await?;
    ensure!(
        reloaded == switched && document_lang(session).await? == switched_tag,
        "the language chosen is forgotten on reload: {reloaded:?}"
    );
    session.wait_for_test_id("language").await?.click().await?;
    let back = session.wait_for_test_id("landing").await?.text().await?;
    ensure!(back == before, "switching back restores the page: {back:?}");
    ensure!(
        document_lang(session).await? != switched_tag,
        "<html lang> after switching back"
    );

    if session.browser() == Browser::Chromium {
        readable_in_both_schemes(session).await?;
    }

    // The icon is fetched after the page renders; once it is in, the page has asked for
    // everything it will.
    server.wait_for_request("/static/favicon.svg").await?;
    let failed = server.failures();
    ensure!(
        failed.is_empty(),
        "requests that did not get 200: {failed:?}"
    );
    ensure!(
        server.exchanges().iter().any(|e| e.path.ends_with(".wasm")),
        "the page never fetched the app's wasm"
    );

    let errors = session.console_errors().await?;
    ensure!(errors.is_empty(), "console errors: {errors:#?}");
    Ok(())
}

/// `<html lang>` as the page has it now.
async fn document_lang(session: &Session) -> Result<String, HarnessError> {
    let lang = session
        .client()
        .execute("return document.documentElement.lang;", vec![])
        .await?;
    Ok(lang.as_str().unwrap_or_default().to_owned())
}

/// The contrast of the primary button's text and of error text on the start page, light and
/// dark, measured from the colours the browser computed: at least 4.5:1 (WCAG AA for text).
async fn readable_in_both_schemes(session: &Session) -> Result<(), HarnessError> {
    // An error to measure: a pasted text that is not a link.
    session
        .client()
        .find(fantoccini::Locator::Css("#link"))
        .await?
        .send_keys("not a meeting link\u{E007}")
        .await?;
    session
        .client()
        .find(fantoccini::Locator::Css(".start .error"))
        .await?;
    const CONTRAST: &str = r#"
        const rgb = (css) => css.match(/[\d.]+/g).slice(0, 3).map(Number);
        const lum = (css) => {
            const [r, g, b] = rgb(css).map(v => v / 255)
                .map(c => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const ratio = (a, b) => {
            const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
            return (x + 0.05) / (y + 0.05);
        };
        const button = getComputedStyle(document.querySelector('[data-testid="new-meeting"]'));
        const page = getComputedStyle(document.documentElement).backgroundColor;
        const error = getComputedStyle(document.querySelector('.start .error')).color;
        return [ratio(button.color, button.backgroundColor), ratio(error, page)];"#;
    for dark in [false, true] {
        session.prefer_dark(dark).await?;
        let ratios = session.client().execute(CONTRAST, vec![]).await?;
        let ratios: Vec<f64> = serde_json::from_value(ratios).unwrap_or_default();
        let scheme = if dark { "dark" } else { "light" };
        ensure!(
            ratios.len() == 2 && ratios.iter().all(|r| *r >= 4.5),
            "contrast in the {scheme} scheme, primary button and error text: {ratios:?}"
        );
        common::app::screenshot(session, &format!("start-{scheme}")).await?;
    }
    session.prefer_dark(false).await?;
    Ok(())
}

/// Chromium with both encoded-transform APIs removed from the page before its scripts run (as
/// in a browser that never had them): a meeting link gets the unsupported screen, which says
/// why, offers no way to join, and the page never opens signaling or asks for the camera.
/// (This static server has no meeting paths; the check comes before the address is read.)
#[tokio::test]
#[ignore = "needs the release build and the browsers: run `cargo xtask test`"]
async fn a_browser_without_encoded_transforms_refuses_to_join() {
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let server = StaticServer::serve(&dist).expect("starting the static server");
    let session = Session::start(Browser::Chromium)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
    let outcome: Result<(), HarnessError> = async {
        session
            .add_init_script(
                "delete window.RTCRtpScriptTransform;
                 delete RTCRtpSender.prototype.createEncodedStreams;
                 delete RTCRtpReceiver.prototype.createEncodedStreams;
                 window.__cameraAsked = false;
                 const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
                 navigator.mediaDevices.getUserMedia = (c) => { window.__cameraAsked = true; return gum(c); };",
            )
            .await?;
        session
            .goto(&server.url("/#AAECAwQFBgcICQoLDA0ODw"))
            .await?;
        let text = session.wait_for_test_id("unsupported").await?.text().await?;
        ensure!(
            text.contains("Firefox") && text.contains("Chromium"),
            "the unsupported screen names the browsers that work: {text:?}"
        );
        let ways_in = session
            .client()
            .find_all(fantoccini::Locator::Css(
                r#"[data-testid="lobby"], [data-testid="join"], [data-testid="room"]"#,
            ))
            .await?;
        ensure!(ways_in.is_empty(), "no lobby, no join button, no meeting");
        let asked = session
            .client()
            .execute("return window.__cameraAsked;", vec![])
            .await?;
        ensure!(asked == serde_json::json!(false), "the camera was never asked for");
        let requested_ws = server.exchanges().iter().any(|e| e.path == "/ws");
        ensure!(!requested_ws, "no signaling was opened");
        Ok(())
    }
    .await;
    session
        .finish(
            "no_encoded_transforms",
            outcome,
            "init script removed the APIs",
        )
        .await;
}
