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
