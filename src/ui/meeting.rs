//! One meeting page, `/<room>#<secret>`: the link is read from the address once, then the
//! lobby, the call, and the goodbye screen. With `embed=` in the link, the embedding API's
//! bridge (`crate::embed`) lives as long as this page and follows each call.
//!
//! With a passphrase, the lobby stays on screen until the relay has admitted the link and
//! passphrase (their room access value): a refusal (`access_denied`) means the passphrase was
//! mistyped, so the call is abandoned, devices kept, and the lobby asks again. No meeting
//! screen is shown to someone who cannot be in it.
//!
//! The secret is read from `location.hash` here and nowhere else; it stays in this page's
//! memory and in the address bar. What leaves the page is derived from it: the media key to
//! this page's own worker, and notes sealed with the metadata key.

use std::rc::Rc;

use veilig_e2ee::InviteLink;
use yew::prelude::*;

use super::lobby::{Lobby, Ready};
use super::room::{Action, Room, View};
use crate::call::session::{Call, CallConfig, CallEvent, Failure, Status};
use crate::embed::bridge::Bridge;
use crate::encryption::{AttachPath, WarmWorker, WORKER_URL};
use crate::i18n::Lang;
use crate::link_options::LinkOptions;

/// Props of a meeting page.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
    /// The link from the address.
    pub link: Rc<InviteLink>,
    /// How encryption attaches here.
    pub path: AttachPath,
}

#[derive(Clone, PartialEq)]
enum Phase {
    Lobby,
    InCall {
        call: Call,
        safety_code: AttrValue,
        speaker: Option<AttrValue>,
        /// The relay has yet to admit this link and passphrase: the lobby stays.
        checking: bool,
    },
    Left,
}

impl Phase {
    /// The same call, done checking: the meeting screen shows it.
    fn checked(&self) -> Phase {
        match self.clone() {
            Phase::InCall {
                call,
                safety_code,
                speaker,
                ..
            } => Phase::InCall {
                call,
                safety_code,
                speaker,
                checking: false,
            },
            other => other,
        }
    }
}

/// The engine policy from the link's `engine=` option (tests and benchmarks), else automatic.
fn engine(link: &InviteLink) -> String {
    link.options()
        .iter()
        .find(|(key, _)| key == "engine")
        .map(|(_, value)| value.clone())
        .filter(|value| ["auto", "wasm", "webcrypto"].contains(&value.as_str()))
        .unwrap_or_else(|| "auto".into())
}

/// Whether the link's `keys=mls` option asks for keys that move with the meeting (its MLS
/// group) instead of the link's own key. Everyone with the link reads the same option, and the
/// relay never sees the fragment, so it cannot take it away.
fn mls(link: &InviteLink) -> bool {
    link.options()
        .iter()
        .any(|(key, value)| key == "keys" && value == "mls")
}

/// The link to hand out: this page's origin, the room and the fragment with the secret (and
/// `pw=1`, and `keys=mls`: everyone must agree on it), but none of this user's own options
/// (`name=`, `lobby=skip`, ...).
fn invite_link(link: &InviteLink) -> AttrValue {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    AttrValue::from(format!(
        "{origin}{}#{}{}",
        link.path(),
        link.fragment().as_str(),
        if mls(link) { "&keys=mls" } else { "" }
    ))
}

/// The meeting page.
#[function_component]
pub fn Meeting(props: &Props) -> Html {
    let phase = use_state(|| Phase::Lobby);
    let refusals = use_state(|| 0u32);
    let new_meeting = use_memo(props.link.clone(), |link| {
        super::new_meeting::is_new(link.room())
    });
    // The first call's worker starts now, while the lobby opens the devices.
    let warm = {
        let path = props.path;
        use_mut_ref(move || Some(WarmWorker::start(WORKER_URL, path)))
    };
    let view = use_reducer(View::default);
    let options = use_memo(props.link.clone(), |link| {
        LinkOptions::parse(link.options())
    });
    // The embedding API, only with `embed=` (and only in a frame): installed once per page.
    let bridge = {
        let left = phase.setter();
        use_memo(options.embed.clone(), move |embed| {
            let on_left = Callback::from(move |()| left.set(Phase::Left));
            embed
                .clone()
                .and_then(|origin| Bridge::install(origin, on_left))
        })
    };

    let start = {
        let phase = phase.clone();
        let view = view.clone();
        let link = props.link.clone();
        let path = props.path;
        let bridge = bridge.clone();
        let warm = warm.clone();
        Callback::from(move |ready: Ready| {
            let dispatcher = view.dispatcher();
            let observer = (*bridge).clone();
            let on_event = Rc::new(move |event: CallEvent| {
                if let Some(bridge) = &observer {
                    bridge.observe(&event);
                }
                dispatcher.dispatch(Action::Event(event))
            });
            let safety_code = AttrValue::from(ready.keys.safety_code.to_string());
            let speaker = ready.speaker.map(AttrValue::from);
            let (microphone, camera) = ready.devices;
            let config = CallConfig {
                room: link.room().to_owned(),
                keys: ready.keys,
                name: ready.name,
                path,
                engine: engine(&link),
                microphone,
                camera,
                mls: mls(&link),
            };
            view.dispatch(Action::NewCall);
            let call = Call::start(config, ready.media, warm.borrow_mut().take(), on_event);
            if let Some(bridge) = &*bridge {
                bridge.attach(call.clone());
            }
            phase.set(Phase::InCall {
                call,
                safety_code,
                speaker,
                checking: link.passphrase_required(),
            });
        })
    };

    {
        // While checking: admitted means into the meeting; refused means a mistyped
        // passphrase, back to the lobby with the devices still open.
        let phase = phase.clone();
        let refusals = refusals.clone();
        let admitted = view.admitted();
        use_effect_with(
            (admitted, view.status().clone()),
            move |(admitted, status)| {
                let Phase::InCall {
                    call,
                    checking: true,
                    ..
                } = &*phase
                else {
                    return;
                };
                match status {
                    Status::Failed(Failure::AccessDenied) => {
                        call.abandon();
                        refusals.set(*refusals + 1);
                        phase.set(Phase::Lobby);
                    }
                    // Any other failure is told on the meeting screen, with its retry button,
                    // and so is a relay that cannot be reached (reconnecting).
                    Status::Failed(_) | Status::Reconnecting { .. } => phase.set(phase.checked()),
                    _ if *admitted => {
                        super::new_meeting::joined();
                        phase.set(phase.checked());
                    }
                    _ => {}
                }
            },
        );
    }

    let lobby = |checking: bool| {
        html! {
            <Lobby lang={props.lang} link={props.link.clone()} on_join={start.clone()}
                embedded={bridge.is_some()} new_meeting={*new_meeting} {checking}
                refusals={*refusals} invite={invite_link(&props.link)} />
        }
    };
    match &*phase {
        Phase::Lobby => lobby(false),
        Phase::InCall { checking: true, .. } => lobby(true),
        Phase::InCall {
            call,
            safety_code,
            speaker,
            ..
        } => {
            let on_leave = {
                let call = call.clone();
                let phase = phase.clone();
                Callback::from(move |_| {
                    call.leave();
                    phase.set(Phase::Left);
                })
            };
            let on_retry = {
                let call = call.clone();
                let phase = phase.clone();
                Callback::from(move |_| {
                    call.leave();
                    phase.set(Phase::Lobby);
                })
            };
            html! {
                <Room lang={props.lang} call={call.clone()} view={view.clone()}
                    chat={options.chat} toolbar={options.toolbar} speaker={speaker.clone()}
                    safety_code={safety_code.clone()} mls={mls(&props.link)} invite={invite_link(&props.link)}
                    {on_leave} {on_retry} />
            }
        }
        Phase::Left => {
            let text = props.lang.text();
            let again = {
                let phase = phase.clone();
                Callback::from(move |_: MouseEvent| phase.set(Phase::Lobby))
            };
            html! {
                <main class="left" data-testid="left">
                    <h1>{ "Veilig" }</h1>
                    <p>{ text.left }</p>
                    <button class="primary" onclick={again} data-testid="rejoin">{ text.rejoin }</button>
                </main>
            }
        }
    }
}
