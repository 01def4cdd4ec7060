//! The lobby as a Yew component, in real browsers (headless Chromium and Firefox through
//! `wasm-bindgen-test-runner`, with their fake camera and microphone): mounted on its own with
//! an invite link, clicked like a user would, and judged by what it hands to the meeting.
//!
//! - Link options (`name=`, `mic=off`, `camera=off`) preset the form, and joining then sends
//!   no track of either kind, with the keys of that link.
//! - A passphrase link asks for the passphrase: joining without one says so and does not join;
//!   with one, the keys are the passphrase's (the safety code says which).
//! - The name is kept in this browser only when the user ticks "remember", and forgotten
//!   when they untick it.
//! - `lobby=skip` joins by itself only with camera and microphone off: any website could send
//!   a visitor to such a link, and must not get their camera without a click.
//! - Unticking the camera or microphone stops its track at once (the camera light goes out,
//!   the meter stands still), and the other keeps running; ticking it opens it again.
//! - The pickers show the device whose track is live, and picking another one opens it and
//!   stops the one before.
//! - Whoever created a passphrase meeting chooses the passphrase, typed twice: two that differ
//!   do not join.
//!
//! Which tracks the lobby holds is read from the browser itself: a wrapper around
//! `getUserMedia` (installed by the test, [`watch_tracks`]) keeps every track the browser hands
//! out, so a track the lobby forgot to stop still counts.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use veilig::i18n::Lang;
use veilig::ui::lobby::{Lobby, Props, Ready};
use veilig_e2ee::{InviteLink, RoomKeys};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement, HtmlInputElement};
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODw";

/// The lobby for `link`, in a fresh element of this page; what it hands over lands in the
/// returned cell.
fn mount(link: &str) -> (Element, Rc<RefCell<Option<Ready>>>) {
    mount_as(link, false)
}

/// [`mount`], as the browser that created the meeting (`new_meeting`) or as a guest.
fn mount_as(link: &str, new_meeting: bool) -> (Element, Rc<RefCell<Option<Ready>>>) {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let joined = Rc::new(RefCell::new(None));
    let on_join = {
        let joined = joined.clone();
        Callback::from(move |ready: Ready| *joined.borrow_mut() = Some(ready))
    };
    let props = Props {
        lang: Lang::En,
        link: Rc::new(InviteLink::parse(link).expect("a valid link")),
        on_join,
        embedded: false,
        new_meeting,
        checking: false,
        refusals: 0,
        invite: link.to_owned().into(),
    };
    yew::Renderer::<Lobby>::with_root_and_props(root.clone(), props).render();
    (root, joined)
}

fn find(root: &Element, test_id: &str) -> Option<Element> {
    root.query_selector(&format!(r#"[data-testid="{test_id}"]"#))
        .unwrap()
}

fn input(root: &Element, selector: &str) -> HtmlInputElement {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
        .unchecked_into()
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits (up to 30 s) until `condition` holds.
async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..600 {
        if condition() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

/// Clicks join once the devices have answered (the button is enabled then).
async fn join(root: &Element) {
    until("the join button", || {
        find(root, "join").is_some_and(|b| !b.has_attribute("disabled"))
    })
    .await;
    find(root, "join")
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .click();
}

fn storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

#[wasm_bindgen_test]
async fn link_options_preset_the_form_and_join_without_tracks() {
    let link = format!(
        "https://veilig.example/team-sync#{SECRET}&name=Anna%20de%20Vries&mic=off&camera=off"
    );
    let (root, joined) = mount(&link);
    until("the lobby", || find(&root, "name").is_some()).await;
    let name: HtmlInputElement = find(&root, "name").unwrap().unchecked_into();
    assert_eq!(name.value(), "Anna de Vries");
    assert!(!input(&root, r#"[data-testid="lobby-mic"]"#).checked());
    assert!(!input(&root, r#"[data-testid="lobby-camera"]"#).checked());
    assert!(find(&root, "passphrase").is_none(), "no passphrase asked");

    join(&root).await;
    until("the lobby to hand over", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    assert_eq!(ready.name, "Anna de Vries");
    assert!(ready.media.audio.is_none() && ready.media.video.is_none());
    let expected = RoomKeys::derive(&InviteLink::parse(&link).unwrap(), None).unwrap();
    assert_eq!(ready.keys.safety_code, expected.safety_code);
    root.remove();
}

#[wasm_bindgen_test]
async fn a_passphrase_link_will_not_join_without_the_passphrase() {
    let link = format!("https://veilig.example/board#{SECRET}&pw=1");
    let (root, joined) = mount(&link);
    until("the passphrase field", || {
        find(&root, "passphrase").is_some()
    })
    .await;
    join(&root).await;
    until("the missing-passphrase notice", || {
        find(&root, "passphrase-missing").is_some()
    })
    .await;
    sleep(300).await;
    assert!(joined.borrow().is_none(), "joined without a passphrase");

    input(&root, r#"[data-testid="passphrase"]"#).set_value("correct horse");
    join(&root).await;
    until("the lobby to hand over", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    let parsed = InviteLink::parse(&link).unwrap();
    let right = RoomKeys::derive(&parsed, Some("correct horse")).unwrap();
    let wrong = RoomKeys::derive(&parsed, Some("correct horse!")).unwrap();
    assert_eq!(ready.keys.safety_code, right.safety_code);
    assert_ne!(ready.keys.safety_code, wrong.safety_code);
    ready.media.stop();
    root.remove();
}

#[wasm_bindgen_test]
async fn the_name_is_remembered_only_when_asked() {
    let link = format!("https://veilig.example/standup#{SECRET}&mic=off&camera=off");
    storage().remove_item("veilig.name").unwrap();
    for (remember, stored) in [(true, Some("Bram")), (false, None)] {
        let (root, joined) = mount(&link);
        until("the lobby", || find(&root, "name").is_some()).await;
        input(&root, r#"[data-testid="name"]"#).set_value("Bram");
        let tick = input(&root, r#"[data-testid="remember-name"]"#);
        tick.set_checked(remember);
        join(&root).await;
        until("the lobby to hand over", || joined.borrow().is_some()).await;
        assert_eq!(
            storage().get_item("veilig.name").unwrap().as_deref(),
            stored,
            "remember = {remember}"
        );
        root.remove();
    }
}

/// `lobby=skip` with the devices on waits for a click; with both off it joins by itself, with
/// no track.
#[wasm_bindgen_test]
async fn lobby_skip_never_joins_with_the_camera_on_by_itself() {
    let (root, joined) = mount(&format!(
        "https://veilig.example/team-sync#{SECRET}&lobby=skip"
    ));
    until("the join button", || {
        find(&root, "join").is_some_and(|b| !b.has_attribute("disabled"))
    })
    .await;
    // Long enough for a join that was going to happen by itself (it would follow at once).
    sleep(1500).await;
    assert!(joined.borrow().is_none(), "joined without a click");
    join(&root).await;
    until("the join", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    assert!(
        ready.media.video.is_some(),
        "the camera went in after the click"
    );
    ready.media.stop();

    let (_root, joined) = mount(&format!(
        "https://veilig.example/team-sync#{SECRET}&lobby=skip&mic=off&camera=off"
    ));
    until("the join by itself", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    assert!(ready.media.video.is_none() && ready.media.audio.is_none());
}

/// Keeps every track `getUserMedia` hands out in `window.__tracks` (once per page).
fn watch_tracks() {
    js_sys::Function::new_no_args(
        "if (!window.__tracks) {
            window.__tracks = [];
            const media = navigator.mediaDevices;
            const real = media.getUserMedia.bind(media);
            media.getUserMedia = async (constraints) => {
                const stream = await real(constraints);
                window.__tracks.push(...stream.getTracks());
                return stream;
            };
        }",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
}

/// The device ids of the live tracks of `kind` that the browser handed out.
fn live(kind: &str) -> Vec<String> {
    let ids = js_sys::Function::new_with_args(
        "kind",
        "return window.__tracks.filter(t => t.kind === kind && t.readyState === 'live')
            .map(t => t.getSettings().deviceId || '?');",
    )
    .call1(&wasm_bindgen::JsValue::NULL, &kind.into())
    .unwrap();
    js_sys::Array::from(&ids)
        .iter()
        .filter_map(|id| id.as_string())
        .collect()
}

/// Clicks the element with `test_id` (a checkbox ticks or unticks and says so).
fn click(root: &Element, test_id: &str) {
    find(root, test_id)
        .unwrap_or_else(|| panic!("no {test_id}"))
        .unchecked_into::<HtmlElement>()
        .click();
}

/// Waits up to `ms` for `condition`: what the user must see promptly.
async fn within(ms: i32, what: &str, condition: impl Fn() -> bool) {
    for _ in 0..(ms / 10).max(1) {
        if condition() {
            return;
        }
        sleep(10).await;
    }
    panic!("not within {ms} ms: {what}");
}

fn meter(root: &Element) -> f64 {
    find(root, "mic-level")
        .unwrap()
        .get_attribute("value")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

#[wasm_bindgen_test]
async fn unticking_a_device_stops_it_at_once() {
    watch_tracks();
    let link = format!("https://veilig.example/privacy#{SECRET}");
    let (root, joined) = mount(&link);
    until("the camera and microphone", || {
        live("video").len() == 1 && live("audio").len() == 1
    })
    .await;
    until("the preview", || find(&root, "preview").is_some()).await;

    click(&root, "lobby-camera");
    within(500, "the camera released", || live("video").is_empty()).await;
    assert!(
        find(&root, "preview").is_none(),
        "no preview without a camera"
    );
    assert_eq!(live("audio").len(), 1, "the microphone keeps running");

    click(&root, "lobby-mic");
    within(500, "the microphone released", || live("audio").is_empty()).await;
    within(500, "the meter at zero", || meter(&root) == 0.0).await;
    sleep(400).await;
    assert_eq!(meter(&root), 0.0, "the meter stands still");

    // Ticked again: the camera opens again, alone.
    click(&root, "lobby-camera");
    until("the camera again", || live("video").len() == 1).await;
    assert!(live("audio").is_empty(), "the microphone stays off");
    join(&root).await;
    until("the lobby to hand over", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    assert!(ready.media.audio.is_none(), "no microphone went in");
    let video = ready.media.video.as_ref().expect("the camera went in");
    assert_eq!(video.ready_state(), web_sys::MediaStreamTrackState::Live);
    ready.media.stop();
    root.remove();
}

fn select(root: &Element, test_id: &str) -> web_sys::HtmlSelectElement {
    find(root, test_id)
        .unwrap_or_else(|| panic!("no {test_id}"))
        .unchecked_into()
}

fn options(select: &web_sys::HtmlSelectElement) -> Vec<String> {
    (0..select.length())
        .filter_map(|i| select.item(i))
        .map(|o| o.unchecked_into::<web_sys::HtmlOptionElement>().value())
        .collect()
}

#[wasm_bindgen_test]
async fn the_pickers_show_the_device_in_use() {
    watch_tracks();
    let link = format!("https://veilig.example/pickers#{SECRET}");
    let (root, joined) = mount(&link);
    for (kind, picker) in [("audio", "mic-select"), ("video", "camera-select")] {
        until(&format!("the {kind} track and its picker"), || {
            live(kind).len() == 1
                && find(&root, picker).is_some()
                && !options(&select(&root, picker)).is_empty()
        })
        .await;
        let in_use = live(kind).remove(0);
        let listed = options(&select(&root, picker));
        web_sys::console::log_1(&format!("{picker}: {listed:?}, in use {in_use}").into());
        within(500, &format!("{picker} showing the device in use"), || {
            select(&root, picker).value() == in_use
        })
        .await;

        // Another device, where the browser has one: it opens, the one before stops.
        let Some(other) = listed.iter().find(|id| **id != in_use).cloned() else {
            continue;
        };
        let chooser = select(&root, picker);
        chooser.set_value(&other);
        chooser
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
        until(&format!("{picker}: the other device"), || {
            live(kind) == [other.clone()]
        })
        .await;
        within(500, &format!("{picker} showing the new device"), || {
            select(&root, picker).value() == other
        })
        .await;
    }
    join(&root).await;
    until("the lobby to hand over", || joined.borrow().is_some()).await;
    joined.borrow_mut().take().unwrap().media.stop();
    root.remove();
}

#[wasm_bindgen_test]
async fn the_creator_chooses_the_passphrase_twice() {
    let link = format!("https://veilig.example/board#{SECRET}&pw=1&mic=off&camera=off");
    let (root, joined) = mount_as(&link, true);
    until("the two passphrase fields", || {
        find(&root, "passphrase").is_some() && find(&root, "passphrase-repeat").is_some()
    })
    .await;
    input(&root, r#"[data-testid="passphrase"]"#).set_value("lange zin van woorden");
    input(&root, r#"[data-testid="passphrase-repeat"]"#).set_value("lange zin van woorden!");
    join(&root).await;
    until("the mismatch notice", || {
        find(&root, "passphrase-mismatch").is_some()
    })
    .await;
    sleep(300).await;
    assert!(joined.borrow().is_none(), "joined with two passphrases");

    input(&root, r#"[data-testid="passphrase-repeat"]"#).set_value("lange zin van woorden");
    join(&root).await;
    until("the lobby to hand over", || joined.borrow().is_some()).await;
    let ready = joined.borrow_mut().take().unwrap();
    let parsed = InviteLink::parse(&link).unwrap();
    let chosen = RoomKeys::derive(&parsed, Some("lange zin van woorden")).unwrap();
    assert_eq!(ready.keys.safety_code, chosen.safety_code);
    assert!(
        find(&root, "passphrase-mismatch").is_none(),
        "the notice went"
    );
    root.remove();

    // A guest types it once.
    let (root, _joined) = mount(&link);
    until("the passphrase field", || {
        find(&root, "passphrase").is_some()
    })
    .await;
    assert!(
        find(&root, "passphrase-repeat").is_none(),
        "a guest types it once"
    );
    root.remove();
}
