//! One tile of the stage, as HTML: our own view, another participant (video or a placeholder,
//! their audio, name, mute badge, pin button and reception details), or a screen share. Each
//! is placed by the `data-place` style the stage's plan gives it (`crate::stage_layout`, applied
//! by `stage::use_places`); nothing here
//! decides where a tile goes.

use veilig_protocol::ParticipantId;
use web_sys::MediaStreamTrack;
use yew::prelude::*;

use super::super::icons::{icon, Icon};
use super::super::media_element::MediaElement;
use crate::call::route::Route;
use crate::call::session::{Decryption, Reception};
use crate::i18n::Text;
use crate::stage_layout::Rect;

/// The style that puts a tile at `rect`, moved by `offset` while it is dragged.
pub(super) fn place(rect: &Rect, offset: (f64, f64)) -> String {
    let mut style = format!(
        "left:{:.1}px;top:{:.1}px;width:{:.1}px;height:{:.1}px;",
        rect.x, rect.y, rect.width, rect.height
    );
    if offset != (0.0, 0.0) {
        style += &format!("transform:translate({:.1}px,{:.1}px);", offset.0, offset.1);
    }
    style
}

/// The mute badge: an icon that names itself, so it fits the smallest tile.
fn muted_badge(text: &'static Text) -> Html {
    html! {
        <span class="muted" role="img" aria-label={text.muted} title={text.muted} data-testid="tile-muted">
            { icon(Icon::MicOff) }
        </span>
    }
}

/// Our own tile.
pub(super) struct Own<'a> {
    pub text: &'static Text,
    pub name: &'a str,
    pub video: Option<MediaStreamTrack>,
    pub mic_on: bool,
    pub style: String,
    /// Floating small over the other's tile, movable.
    pub floating: bool,
    pub on_pointer_down: Callback<PointerEvent>,
    pub on_move: Callback<MouseEvent>,
}

pub(super) fn own(tile: Own<'_>) -> Html {
    let text = tile.text;
    let name = if tile.name.is_empty() {
        text.anonymous
    } else {
        tile.name
    };
    html! {
        <figure key="self" class={classes!("tile", "own", tile.floating.then_some("floating"))}
            data-place={tile.style} data-testid="tile-self"
            onpointerdown={tile.floating.then_some(tile.on_pointer_down)}>
            if let Some(track) = tile.video {
                <MediaElement track={track} local=true />
            } else {
                <div class="no-video" />
            }
            <figcaption>
                // A small floating tile is plainly ours: "(you)" is said to screen readers only.
                <span class="name">{ name }<span class={classes!(tile.floating.then_some("visually-hidden"))}>{ format!(" ({})", text.you) }</span></span>
                if !tile.mic_on { { muted_badge(text) } }
            </figcaption>
            if tile.floating {
                <button class="move" onclick={tile.on_move} aria-label={text.move_own}
                    title={text.move_own} data-testid="move-own">
                    { icon(Icon::Move) }
                </button>
            }
        </figure>
    }
}

/// Another participant's tile.
pub(super) struct Remote<'a> {
    pub text: &'static Text,
    pub who: &'a ParticipantId,
    pub name: String,
    pub decryption: Option<Decryption>,
    pub camera: Option<MediaStreamTrack>,
    pub camera_off: bool,
    pub audio: Option<MediaStreamTrack>,
    pub sink: Option<AttrValue>,
    pub muted: bool,
    pub reception: Reception,
    pub speaking: bool,
    pub pinned: bool,
    pub main: bool,
    pub style: String,
    pub on_pin: Callback<MouseEvent>,
}

pub(super) fn remote(tile: Remote<'_>) -> Html {
    let text = tile.text;
    let reception = tile.reception;
    let failing = matches!(
        tile.decryption,
        Some(Decryption::Failing | Decryption::Refusing)
    );
    let pin_label = format!(
        "{} {}",
        if tile.pinned { text.unpin } else { text.pin },
        tile.name
    );
    html! {
        // Keyed by participant: when someone joins or leaves, the others' tiles (and their
        // playing media elements) stay as they are instead of shifting to another person.
        <figure key={tile.who.to_string()} data-place={tile.style}
            class={classes!("tile", tile.speaking.then_some("speaking"), tile.pinned.then_some("pinned"), tile.main.then_some("main"))}
            data-testid="tile-remote" data-participant={tile.who.to_string()}
            data-speaking={tile.speaking.to_string()} data-pinned={tile.pinned.to_string()}
            data-state={match tile.decryption {
                Some(Decryption::Failing) => "cannot-decrypt",
                Some(Decryption::Refusing) => "refusing",
                Some(Decryption::OutOfStep) => "out-of-step",
                _ => "ok",
            }}
            data-frames-decoded={reception.frames_decoded.map(|n| n.to_string())}
            data-video-packets={reception.video_packets.to_string()}
            data-audio-energy={reception.audio_energy.to_string()}
            data-packets-lost={reception.packets_lost.to_string()}
            data-nacks-sent={reception.nacks_sent.to_string()}
            data-route={reception.route.as_str()}>
            if failing {
                <div class="cannot-decrypt" role="status">{
                    if tile.decryption == Some(Decryption::Refusing) {
                        text.refusing_frames
                    } else {
                        text.cannot_decrypt
                    }
                }</div>
            } else if tile.camera_off {
                <div class="no-video" data-testid="camera-off">{ text.camera_off }</div>
            } else if let Some(track) = tile.camera {
                <MediaElement track={track} testid="remote-video" />
            } else {
                <div class="no-video">{ text.waiting_for_video }</div>
            }
            // Out of step: the last picture stays (nothing new decrypts), with what it means.
            if tile.decryption == Some(Decryption::OutOfStep) {
                <div class="cannot-decrypt" role="status">{ text.out_of_step }</div>
            }
            if let Some(track) = tile.audio {
                <MediaElement track={track} testid="remote-audio" sink={tile.sink} />
            }
            <figcaption>
                <span class="name" data-testid="tile-name">{ tile.name.clone() }</span>
                if tile.muted { { muted_badge(text) } }
            </figcaption>
            <button class="pin" onclick={tile.on_pin} aria-pressed={tile.pinned.to_string()}
                aria-label={pin_label} data-testid="pin">
                { if tile.pinned { text.unpin } else { text.pin } }
            </button>
            <details class="reception">
                <summary aria-label={format!("{} {}", text.reception, tile.name)}>{ text.reception }</summary>
                <dl>
                    <dt>{ text.frames_per_second }</dt>
                    <dd>{ format!("{:.0}", reception.frames_per_second) }</dd>
                    <dt>{ text.packets_lost }</dt>
                    <dd>{ reception.packets_lost }</dd>
                    <dt>{ text.route }</dt>
                    <dd>{ match reception.route {
                        Route::Unknown => text.route_unknown,
                        Route::Direct => text.route_direct,
                        Route::Turn => text.route_turn,
                    } }</dd>
                </dl>
            </details>
        </figure>
    }
}

/// A participant's shared screen.
pub(super) fn screen(
    who: &ParticipantId,
    name: &str,
    track: MediaStreamTrack,
    style: String,
    main: bool,
) -> Html {
    html! {
        <figure key={format!("screen-{who}")} class={classes!("tile", "screen", main.then_some("main"))} data-place={style}
            data-testid="tile-screen">
            <MediaElement track={track} />
            <figcaption><span class="name">{ name.to_owned() }</span></figcaption>
        </figure>
    }
}
