//! Notices over the stage: who joined or left, and a chat message that arrived while the chat
//! was closed (a toast that opens the chat). The list is a polite live region, so a screen
//! reader says each one. A join or leave also plays a short chime, generated here with Web
//! Audio (two sine tones, rising for a join, falling for a leave): no sound file is fetched.
//! Each notice goes after [`SHOWN_MS`]; the reducer (`view`) decides what is announced.

use std::cell::RefCell;

use web_sys::{AudioContext, OscillatorType};
use yew::prelude::*;

use super::super::timer::Timeout;
use super::view::{Action, Notice, NoticeKind, View};
use crate::i18n::Lang;

/// How long a notice stays.
const SHOWN_MS: u32 = 5_000;

thread_local! {
    /// One audio context for every chime, made at the first (after the click that joined).
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Plays the chime: two short tones, rising when someone joins, falling when someone leaves.
fn chime(rising: bool) {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if audio.is_none() {
            *audio = AudioContext::new().ok();
        }
        let Some(context) = audio.as_ref() else {
            return;
        };
        let _ = context.resume();
        let (first, second) = if rising {
            (660.0, 880.0)
        } else {
            (880.0, 660.0)
        };
        let start = context.current_time();
        for (index, frequency) in [first, second].into_iter().enumerate() {
            let at = start + 0.12 * index as f64;
            let (Ok(tone), Ok(gain)) = (context.create_oscillator(), context.create_gain()) else {
                return;
            };
            tone.set_type(OscillatorType::Sine);
            tone.frequency().set_value(frequency);
            // A soft attack and decay: no click.
            let level = gain.gain();
            let _ = level.set_value_at_time(0.0, at);
            let _ = level.linear_ramp_to_value_at_time(0.12, at + 0.02);
            let _ = level.linear_ramp_to_value_at_time(0.0, at + 0.11);
            let _ = tone
                .connect_with_audio_node(&gain)
                .and_then(|_| gain.connect_with_audio_node(&context.destination()));
            let _ = tone.start_with_when(at);
            let _ = tone.stop_with_when(at + 0.12);
        }
    });
}

/// Props of the notices.
#[derive(Properties, PartialEq)]
pub(super) struct Props {
    pub lang: Lang,
    pub view: UseReducerHandle<View>,
}

/// The notices, newest last.
#[function_component]
pub(super) fn Notices(props: &Props) -> Html {
    let text = props.lang.text();
    let notices = &props.view.notices;
    // The oldest goes after its time; then the next.
    {
        let view = props.view.clone();
        let oldest = notices.first().map(|n| n.id);
        use_effect_with(oldest, move |oldest| {
            let timer =
                oldest.map(|id| Timeout::new(SHOWN_MS, move || view.dispatch(Action::Expire(id))));
            move || drop(timer)
        });
    }
    // The chime, once per join or leave.
    {
        let newest = notices
            .iter()
            .rev()
            .find(|n| n.kind != NoticeKind::Chat)
            .map(|n| (n.id, n.kind));
        use_effect_with(newest, |newest| {
            if let Some((_, kind)) = newest {
                chime(*kind == NoticeKind::Joined);
            }
        });
    }
    let line = |notice: &Notice| {
        let name = if notice.name.is_empty() {
            text.anonymous
        } else {
            notice.name.as_str()
        };
        match notice.kind {
            NoticeKind::Joined => html! {
                <p key={notice.id} class="notice" data-testid="notice">{ format!("{name} {}", text.joined) }</p>
            },
            NoticeKind::Left => html! {
                <p key={notice.id} class="notice" data-testid="notice">{ format!("{name} {}", text.left_meeting) }</p>
            },
            NoticeKind::Chat => {
                let view = props.view.clone();
                let id = notice.id;
                let open = Callback::from(move |_: MouseEvent| {
                    view.dispatch(Action::Expire(id));
                    view.dispatch(Action::ToggleChat);
                });
                html! {
                    <button key={notice.id} class="notice chat-toast" onclick={open} data-testid="chat-toast">
                        <b>{ format!("{name}: ") }</b>{ notice.text.clone() }
                    </button>
                }
            }
        }
    };
    html! {
        <div class="notices" aria-live="polite" data-testid="notices">
            { for notices.iter().map(line) }
        </div>
    }
}
