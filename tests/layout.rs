//! The meeting's stage at a phone's size and a desktop's, measured in the browser: Chromium
//! (Anna, whose viewport the test sets to 390x844 and 1280x720) and Firefox (Bram, 1280x800)
//! meet through the real relay, then native guests (`common/guests.rs`) join a few at a time
//! so the grid is measured at several head counts.
//!
//! - The lobby on a phone: the language button covers no part of the heading.
//! - Two people on a desktop: the other's tile is the largest 16:9 the stage holds; our own
//!   view floats small in a corner, and a mouse drag (WebDriver's pointer actions) and its
//!   keyboard button move it to another.
//! - Two people on a phone: the other's video fills the screen; the controls are one row at
//!   the bottom; the side panel (safety code, link, people) is a sheet opened from a button,
//!   and the chat opens in it with the cursor in its field; names and mute badges are whole.
//! - At 3, 4, 6 and 9 people: every tile 16:9, as large as the stage allows for that count
//!   (the test's own reckoning over every column count), inside the stage, none overlapping.
//! - The speaker view and a pin: one large tile, the others (our own among them) beside it,
//!   all on screen. A screen share: large on Firefox, every camera in a strip on screen.
//! - What happens is told: the host copies the invite link in the lobby and in the meeting
//!   ("Link copied" goes back after a moment); a join and a leave each show a notice in a
//!   polite live region and play a chime made with Web Audio (its tones counted); a chat
//!   message while the chat is closed shows as a toast that opens the chat, where it has its
//!   time of day.
//! - The keyboard: `?` shows the shortcuts, Escape closes them; `Shift+L` asks before
//!   leaving, and "stay" stays.
//!
//! Screenshots `layout-*` go to `target/test-artifacts/screens/`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::app::*;
use common::guests::{vp8_clips, Guests};
use common::stage::{largest, stage, Stage, Tile};
use common::{netns, HarnessError, Session};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::Locator;
use serde_json::json;

/// Waits until the stage shows `count` tiles in a grid that fills it: each 16:9 and within 3 %
/// of the largest such tile, all inside the stage, none overlapping, nothing to scroll.
async fn fills_the_stage(session: &Session, count: usize) -> Result<(), HarnessError> {
    let mut last = None;
    for _ in 0..40 {
        let now = stage(session).await?;
        let tiles: Vec<&Tile> = now.tiles.iter().collect();
        let best = largest(now.size(), count);
        let good = now.arrangement == "grid"
            && tiles.len() == count
            && tiles.iter().all(|t| {
                (t.width / t.height - 16.0 / 9.0).abs() < 0.02
                    && t.width >= 0.97 * best
                    && t.inside(now.size().0, now.size().1)
            })
            && now.overlaps(&tiles) == 0
            && !now.scrolls;
        if good {
            return Ok(());
        }
        last = Some((best, now));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(
        false,
        "{count} tiles do not fill the stage (largest 16:9 tile {:.0} wide): {:#?}",
        last.as_ref().map_or(0.0, |l| l.0),
        last.map(|l| l.1)
    );
    Ok(())
}

/// Two people: Bram's tile the largest 16:9 the stage holds, ours small in `corner`
/// (`(left?, top?)`) and inside the stage.
async fn solo(anna: &Session, corner: (bool, bool)) -> Result<(), HarnessError> {
    let mut last = None;
    for _ in 0..40 {
        let now = stage(anna).await?;
        let size = now.size();
        let own = now.tiles.iter().find(|t| t.kind == "own");
        let bram = now.tiles.iter().find(|t| t.kind == "remote");
        if let (Some(own), Some(bram)) = (own, bram) {
            let (x, y) = own.centre();
            let good = now.arrangement == "solo"
                && bram.width >= 0.97 * largest(size, 1)
                && own.floating
                && own.width < size.0 / 3.0
                && own.inside(size.0, size.1)
                && (x < size.0 / 2.0, y < size.1 / 2.0) == corner;
            if good {
                return Ok(());
            }
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(
        false,
        "two on a desktop: Bram's tile filling the stage, ours small in {corner:?} (left, top): {last:#?}"
    );
    Ok(())
}

/// The lobby on a phone: the language button covers no part of the heading.
async fn lobby_on_a_phone(anna: &Session) -> Result<(), HarnessError> {
    anna.set_viewport(390, 844).await?;
    let covered = eval(
        anna,
        r#"const h = document.querySelector('.lobby h1').getBoundingClientRect();
           const b = document.querySelector('[data-testid="language"]').getBoundingClientRect();
           return Math.min(h.right, b.right) > Math.max(h.left, b.left)
               && Math.min(h.bottom, b.bottom) > Math.max(h.top, b.top);"#,
    )
    .await?;
    screenshot(anna, "layout-lobby-phone").await?;
    ensure!(
        covered == json!(false),
        "the language button covers the lobby's heading on a phone"
    );
    anna.set_viewport(1280, 720).await
}

/// Drags our own floating tile with the mouse (WebDriver pointer actions) by `by`.
async fn drag_own(anna: &Session, by: (f64, f64)) -> Result<(), HarnessError> {
    let own = anna
        .client()
        .find(Locator::Css(r#"[data-testid="tile-self"]"#))
        .await?;
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: own,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(300)),
            x: by.0,
            y: by.1,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    anna.client().perform_actions(mouse).await?;
    anna.client().release_actions().await?;
    Ok(())
}

/// Two people on a phone (390x844): Bram's video fills the screen, the controls are one row
/// within thumb reach, the side panel is a sheet, names and mute badges are whole.
async fn two_on_a_phone(anna: &Session, bram: &Session) -> Result<(), HarnessError> {
    anna.set_viewport(390, 844).await?;
    let mut last = None;
    for _ in 0..40 {
        let now = stage(anna).await?;
        let (width, height) = now.size();
        let fills = now
            .tiles
            .iter()
            .find(|t| t.kind == "remote")
            .is_some_and(|b| {
                b.width * b.height >= 0.85 * width * height && height >= 0.8 * 844.0 - 80.0
            });
        if fills {
            last = None;
            break;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(
        last.is_none(),
        "on a phone, Bram's video does not fill the screen: {last:#?}"
    );
    let controls = eval(
        anna,
        r#"const buttons = [...document.querySelectorAll('.controls button')]
             .filter(b => b.getBoundingClientRect().width > 0);
           const boxes = buttons.map(b => b.getBoundingClientRect());
           return buttons.length >= 6
             && boxes.every(b => Math.abs(b.top - boxes[0].top) < 2 && b.left >= 0
                 && b.right <= innerWidth && b.bottom <= innerHeight && b.top >= innerHeight - 110);"#,
    )
    .await?;
    ensure!(
        controls == json!(true),
        "on a phone the controls are one row at the bottom"
    );
    // The panel is a sheet: hidden, then opened from its button, then closed.
    let panel_shown = r#"const p = document.querySelector('[data-testid="side-panel"]');
        const r = p.getBoundingClientRect();
        const code = document.querySelector('[data-testid="safety-code"]').getBoundingClientRect();
        return r.height > 0 && code.height > 0 && code.bottom <= innerHeight && code.top >= 0;"#;
    ensure!(
        eval(anna, panel_shown).await? == json!(false),
        "on a phone the side panel is not on screen until asked for"
    );
    screenshot(anna, "layout-two-phone").await?;
    click(anna, "toggle-panel").await?;
    wait_until(anna, "the sheet with the safety code", panel_shown).await?;
    let whole = eval(
        anna,
        r#"return ['invite-link', 'copy-link', 'participants'].every(id => {
             const r = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
             return r.height > 0 && r.top >= 0 && r.left >= 0 && r.right <= innerWidth;
           });"#,
    )
    .await?;
    screenshot(anna, "layout-sheet-phone").await?;
    ensure!(
        whole == json!(true),
        "the sheet shows the link, its button and the people"
    );
    click(anna, "close-panel").await?;
    wait_until(
        anna,
        "the sheet closed",
        r#"return document.querySelector('[data-testid="side-panel"]').getBoundingClientRect().height === 0;"#,
    )
    .await?;
    // The chat opens in the sheet, with the cursor in its field.
    click(anna, "toggle-chat").await?;
    wait_until(
        anna,
        "the chat field, focused, in the sheet",
        r#"const input = document.querySelector('[data-testid="chat-input"]');
           if (!input) return false;
           const r = input.getBoundingClientRect();
           return document.activeElement === input && r.bottom <= innerHeight && r.top >= 0;"#,
    )
    .await?;
    click(anna, "close-panel").await?;

    // Both muted: Bram's name and badge whole on his tile, ours on our small one.
    click(anna, "toggle-mic").await?;
    click(bram, "toggle-mic").await?;
    wait_until(
        anna,
        "names and mute badges whole",
        r#"const tiles = [...document.querySelectorAll('figure.tile')];
           return tiles.length === 2 && tiles.every(t => {
             const badge = t.querySelector('[data-testid="tile-muted"]');
             const name = t.querySelector('figcaption .name');
             if (!badge || !name) return false;
             const b = badge.getBoundingClientRect(), r = t.getBoundingClientRect();
             const text = document.createRange();
             text.selectNode(name.firstChild);
             const shown = [...text.getClientRects()].reduce((w, r) => w + r.width, 0);
             return shown <= name.getBoundingClientRect().width + 0.5 && b.width > 0
               && b.left >= r.left && b.right <= r.right && b.bottom <= r.bottom;
           });"#,
    )
    .await?;
    screenshot(anna, "layout-two-phone-muted").await?;
    click(anna, "toggle-mic").await?;
    click(bram, "toggle-mic").await?;
    anna.set_viewport(1280, 720).await
}

/// The speaker view, a pin and a screen share: one large tile and everyone else on screen.
async fn focus(anna: &Session, bram: &Session, count: usize) -> Result<(), HarnessError> {
    let focused = |main_kind: &'static str, main_name: Option<String>| {
        move |now: &Stage| {
            let main: Vec<&Tile> = now.tiles.iter().filter(|t| t.main).collect();
            now.arrangement == "focus"
                && now.tiles.len() >= count
                && main.len() == 1
                && main[0].kind == main_kind
                && main_name
                    .as_ref()
                    .is_none_or(|n| main[0].name.starts_with(n.as_str()))
                && main[0].width >= 0.6 * now.size().0
                && now.tiles.iter().all(|t| now.on_screen(t))
                && now.overlaps(&now.tiles.iter().collect::<Vec<_>>()) == 0
        }
    };
    // The speaker view: Bram (his fake microphone beeps) large.
    click(anna, "toggle-layout").await?;
    wait_for_stage(
        anna,
        "the speaker view with Bram large",
        focused("remote", Some("Bram".into())),
    )
    .await?;
    screenshot(anna, "layout-speaker-view").await?;
    click(anna, "toggle-layout").await?;
    // A guest pinned: large, and our own view still on screen.
    eval(
        anna,
        r#"[...document.querySelectorAll('[data-testid="tile-remote"]')]
             .find(t => t.querySelector('[data-testid="tile-name"]').textContent === "Gast 1")
             .querySelector('[data-testid="pin"]').click(); return true;"#,
    )
    .await?;
    wait_for_stage(
        anna,
        "Gast 1 pinned, ours on screen",
        focused("remote", Some("Gast 1".into())),
    )
    .await?;
    screenshot(anna, "layout-pinned").await?;
    click_pinned(anna).await?;
    // Anna shares her screen: on Firefox, the share large and every camera on screen.
    click(anna, "toggle-screen").await?;
    wait_for_stage(
        bram,
        "the screen share large, cameras on screen",
        focused("screen", None),
    )
    .await?;
    screenshot(bram, "layout-screen-share").await?;
    click(anna, "toggle-screen").await?;
    wait_until(
        bram,
        "the share gone",
        r#"return !document.querySelector('[data-testid="tile-screen"]');"#,
    )
    .await
}

async fn click_pinned(anna: &Session) -> Result<(), HarnessError> {
    eval(
        anna,
        r#"document.querySelector('[data-pinned="true"] [data-testid="pin"]').click(); return true;"#,
    )
    .await?;
    Ok(())
}

async fn wait_for_stage(
    session: &Session,
    what: &str,
    good: impl Fn(&Stage) -> bool,
) -> Result<(), HarnessError> {
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        let now = stage(session).await?;
        if good(&now) {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{}: timed out waiting for {what}: {now:#?}",
            session.browser().name()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn stage_test(
    anna: &Session,
    bram: &Session,
    relay: &veilig_relay::Relay,
    base: &str,
) -> Result<(), HarnessError> {
    anna.goto(base).await?;
    anna.wait_for_test_id("new-meeting").await?;
    let clips = vp8_clips(anna, 2, 20).await?;
    anna.set_viewport(1280, 720).await?;
    anna.add_init_script(COUNT_TONES).await?;
    let link = new_meeting(anna, base, false).await?;
    lobby_on_a_phone(anna).await?;
    copies_the_link(anna, "lobby-invite-link", "lobby-copy-link", &link).await?;
    join_as(anna, "Anna").await?;
    fills_the_stage(anna, 1).await?;

    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    told(anna, "Bram", 2).await?;
    copies_the_link(anna, "invite-link", "copy-link", &link).await?;
    chat_toast(anna, bram).await?;
    solo(anna, (false, false)).await?;
    screenshot(anna, "layout-two").await?;
    // Dragged to the top left with the mouse; then its button moves it on, clockwise.
    let (width, height) = stage(anna).await?.size();
    drag_own(anna, (-(width * 0.7), -(height * 0.6))).await?;
    solo(anna, (true, true)).await?;
    click(anna, "move-own").await?;
    solo(anna, (false, true)).await?;
    keeps_playing(anna, Some("Bram")).await?;

    two_on_a_phone(anna, bram).await?;

    // Guests join, a few at a time; the grid fills the stage at every count.
    let mut groups = Vec::new();
    let mut names = 0;
    for joining in [1, 1, 2, 3] {
        let group: Vec<String> = (names + 1..=names + joining)
            .map(|n| format!("Gast {n}"))
            .collect();
        names += joining;
        groups.push(
            Guests::join(relay, &link, &group, &clips)
                .await
                .map_err(|e| HarnessError::Check(format!("the guests: {e}")))?,
        );
        let count = 2 + names;
        wait_until(
            anna,
            &format!("{count} tiles"),
            &format!("return document.querySelectorAll('figure.tile').length === {count};"),
        )
        .await?;
        fills_the_stage(anna, count).await?;
        screenshot(anna, &format!("layout-{count}")).await?;
        if count == 4 {
            focus(anna, bram, count).await?;
        }
    }
    // And as they leave again.
    groups.truncate(2);
    fills_the_stage(anna, 4).await?;
    // `?` lists the shortcuts (its close button focused); Escape closes it.
    press(anna, &['?']).await?;
    wait_until(
        anna,
        "the shortcuts, their close button focused",
        r#"const d = document.querySelector('[data-testid="help-dialog"]');
           return !!d && d.textContent.includes("Shift+L")
             && document.activeElement === document.querySelector('[data-testid="close-help"]');"#,
    )
    .await?;
    screenshot(anna, "layout-shortcuts").await?;
    press(anna, &[ESCAPE]).await?;
    wait_until(
        anna,
        "the shortcuts closed",
        r#"return !document.querySelector('[data-testid="help-dialog"]');"#,
    )
    .await?;
    // Bram's Shift+L asks first: "stay" keeps him in; asked again, he leaves.
    let tones = eval(anna, "return window.__tones;")
        .await?
        .as_u64()
        .unwrap_or(0);
    press(bram, &[SHIFT, 'L']).await?;
    bram.wait_for_test_id("leave-dialog").await?;
    click(bram, "stay").await?;
    ensure!(
        eval(bram, r#"return !!document.querySelector('[data-testid="room"]') && !document.querySelector('[data-testid="leave-dialog"]');"#).await? == json!(true),
        "staying keeps Bram in the meeting"
    );
    press(bram, &[SHIFT, 'L']).await?;
    click(bram, "confirm-leave").await?;
    bram.wait_for_test_id("left").await?;
    told(anna, "Bram", tones + 2).await?;
    screenshot(anna, "layout-left-notice").await?;
    Ok(())
}

const SHIFT: char = '\u{E008}';
const ESCAPE: char = '\u{E00C}';

/// Presses `keys` together (held in order, let go in reverse) on the page, nothing focused.
async fn press(session: &Session, keys: &[char]) -> Result<(), HarnessError> {
    eval(session, "document.activeElement?.blur(); return true;").await?;
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys {
        actions = actions.then(KeyAction::Down { value: *key });
    }
    for key in keys.iter().rev() {
        actions = actions.then(KeyAction::Up { value: *key });
    }
    session.client().perform_actions(actions).await?;
    session.client().release_actions().await?;
    Ok(())
}

/// Counts the tones the page makes with Web Audio (`window.__tones`): the chimes.
const COUNT_TONES: &str = r#"
    window.__tones = 0;
    const make = BaseAudioContext.prototype.createOscillator;
    BaseAudioContext.prototype.createOscillator = function (...args) {
        window.__tones += 1;
        return make.apply(this, args);
    };
"#;

/// Waits for a notice naming `name` in the notices' live region, and for the page to have
/// made at least `tones` tones (a chime is two).
async fn told(session: &Session, name: &str, tones: u64) -> Result<(), HarnessError> {
    wait_until(
        session,
        &format!("a notice about {name} and its chime"),
        &format!(
            r#"const region = document.querySelector('[data-testid="notices"]');
               return !!region && region.getAttribute('aria-live') === 'polite'
                 && [...region.querySelectorAll('[data-testid="notice"]')]
                      .some(n => n.textContent.startsWith({name:?} + ' '))
                 && window.__tones >= {tones};"#
        ),
    )
    .await
}

/// The invite link `field` holds the meeting's link; its `button` says the link was copied,
/// and then, within a few seconds, what it said before.
async fn copies_the_link(
    session: &Session,
    field: &str,
    button: &str,
    link: &str,
) -> Result<(), HarnessError> {
    let offered = eval(
        session,
        &format!(r#"return document.querySelector('[data-testid="{field}"]').value;"#),
    )
    .await?;
    ensure!(
        offered == json!(link),
        "{field} offers {offered}, not {link}"
    );
    let before = text_of(session, button).await?;
    click(session, button).await?;
    let label = format!(r#"return document.querySelector('[data-testid="{button}"]').textContent"#);
    wait_until(
        session,
        "the link copied",
        &format!("{label} !== {before:?};"),
    )
    .await?;
    wait_until_within(
        session,
        "the copy button as before",
        &format!("{label} === {before:?};"),
        Duration::from_secs(6),
    )
    .await
}

/// A chat message while Anna's chat is closed: a toast names Bram and shows it; clicking it
/// opens the chat, the cursor in its field, the message there with its time of day.
async fn chat_toast(anna: &Session, bram: &Session) -> Result<(), HarnessError> {
    send_chat(bram, "Hoor je mij?").await?;
    wait_until(
        anna,
        "the chat toast",
        r#"const t = document.querySelector('[data-testid="chat-toast"]');
           return !!t && t.textContent === "Bram: Hoor je mij?";"#,
    )
    .await?;
    screenshot(anna, "layout-chat-toast").await?;
    click(anna, "chat-toast").await?;
    wait_until(
        anna,
        "the chat open, focused, with the message and its time",
        r#"const input = document.querySelector('[data-testid="chat-input"]');
           const line = document.querySelector('[data-testid="chat-messages"] li');
           return !!input && document.activeElement === input && !!line
             && /^\d\d:\d\d$/.test(line.querySelector('time')?.textContent ?? '')
             && line.textContent.endsWith("Bram: Hoor je mij?")
             && !document.querySelector('[data-testid="chat-toast"]');"#,
    )
    .await?;
    click(anna, "toggle-chat").await?;
    click(bram, "toggle-chat").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn the_stage_fits_a_phone_and_fills_a_desktop() {
    if !netns::isolated("the_stage_fits_a_phone_and_fills_a_desktop") {
        return;
    }
    let relay = start_relay(None).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = stage_test(&anna, &bram, &relay, &base).await;
    finish_pair("layout", anna, bram, outcome, &format!("relay at {base}")).await;
    relay.shut_down().await;
}
