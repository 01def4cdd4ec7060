//! The meeting's MLS group, in the frame-crypto worker: the page carries handshake bytes between
//! here and the relay; the epochs' frame keys go straight into the [`Keyring`], and only the
//! epoch number, the safety code and the roster size go back to the page.
//!
//! ```text
//!  page                               worker (this module)
//!  group {psk, label, alone} ───────► Driver::start ─► create, or key package
//!  handshake {kind, ...} ───────────► Driver::{key_package, commit, left}
//!  ◄── send-key-package {data}        ◄── Action::SendKeyPackage
//!  ◄── send-commit {commit, welcome?, linkTag?}
//!  ◄── epoch {epoch, code, members, leaf}   Action::Epoch ─► Keyring::install_epoch (keys stay here)
//!  ◄── rejoin {why}                   Action::Rejoin ─► every MLS key erased
//!  (timer, 250 ms) ─────────────────► Driver::tick, Keyring::tick (the previous epoch erased)
//! ```
//! The rules (who commits, takeover, lost Welcome, rejoin) are `veilig_mls::driver`'s; this is
//! only its glue. Not here: the relay's signaling (the page's), the frames (the pipeline's).

use std::cell::RefCell;

use js_sys::{Object, Reflect, Uint8Array};
use veilig_e2ee::MlsPsk;
use veilig_mls::driver::{Action, Driver, Rejoin};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::engine::EnginePolicy;
use super::keyring::{Keyring, SharedKeyring};
use super::messages::{field, message, Malformed};

/// How long the previous epoch's keys stay after a new epoch, in milliseconds. Frames sealed
/// under it are still arriving: those each sender sent before it processed the commit, held
/// by the relay's retransmissions (NACK) and the receiver's jitter buffer, which together stay
/// well under a second on the paths the relay serves. Two seconds covers that with margin; the
/// cost is that a member who just left can read two more seconds of whatever is still sent
/// under the old epoch by members slow to process the commit (none, once they have).
pub const OVERLAP_MS: u64 = 2_000;

/// How often the driver's and the keyring's timers run.
pub const TICK_MS: i32 = 250;

struct Group {
    driver: Driver,
    keyring: SharedKeyring,
    _timer: Option<Closure<dyn FnMut()>>,
}

thread_local! {
    static GROUP: RefCell<Option<Group>> = const { RefCell::new(None) };
}

fn now_ms() -> u64 {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    global
        .performance()
        .map(|performance| performance.now() as u64)
        .unwrap_or(0)
}

fn bytes(value: &JsValue, name: &'static str) -> Result<Vec<u8>, Malformed> {
    field(value, name)
        .dyn_into::<Uint8Array>()
        .map(|array| array.to_vec())
        .map_err(|_| Malformed(name))
}

fn set(object: &Object, name: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &name.into(), &value.into());
}

/// Starts the group from a `group` message: `{psk, label, alone, engine?}`. From now on the
/// worker is in an MLS meeting (see [`Keyring::start_group`]). Returns the engine policy.
pub fn start(
    data: &JsValue,
    keyring: &SharedKeyring,
    post: fn(&JsValue),
) -> Result<EnginePolicy, Malformed> {
    let psk: [u8; 32] = bytes(data, "psk")?
        .try_into()
        .map_err(|_| Malformed("psk length"))?;
    let psk = MlsPsk::from_bytes(psk);
    let label = field(data, "label").as_string().ok_or(Malformed("label"))?;
    let alone = field(data, "alone").as_bool().ok_or(Malformed("alone"))?;
    let policy = match field(data, "engine").as_string() {
        None => EnginePolicy::default(),
        Some(name) => EnginePolicy::parse(&name).ok_or(Malformed("engine"))?,
    };
    keyring.borrow_mut().start_group(OVERLAP_MS, policy);
    let (driver, actions) =
        Driver::start(&psk, &label, alone, now_ms()).map_err(|_| Malformed("group start"))?;
    let timer = Closure::<dyn FnMut()>::new(move || tick(post));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let registered = global
        .set_interval_with_callback_and_timeout_and_arguments_0(
            timer.as_ref().unchecked_ref(),
            TICK_MS,
        )
        .is_ok();
    GROUP.with(|cell| {
        *cell.borrow_mut() = Some(Group {
            driver,
            keyring: keyring.clone(),
            _timer: registered.then_some(timer),
        })
    });
    perform(actions, post);
    Ok(policy)
}

/// Feeds a `handshake` message from the relay (through the page) to the driver.
pub fn handshake(data: &JsValue, post: fn(&JsValue)) -> Result<(), Malformed> {
    let now = now_ms();
    let kind = field(data, "kind").as_string().ok_or(Malformed("kind"))?;
    let actions = with_driver(|driver| -> Result<Vec<Action>, Malformed> {
        Ok(match kind.as_str() {
            "key_package" => {
                let from = field(data, "from").as_string().ok_or(Malformed("from"))?;
                driver.key_package(&from, bytes(data, "data")?, now)
            }
            "commit" => {
                let commit = bytes(data, "commit")?;
                let welcome = bytes(data, "welcome").ok();
                let tag = bytes(data, "linkTag").ok();
                let welcome = welcome.as_deref().zip(tag.as_deref());
                driver.commit(&commit, welcome, now)
            }
            "left" => {
                let who = field(data, "who").as_string().ok_or(Malformed("who"))?;
                driver.left(&who, now)
            }
            _ => return Err(Malformed("handshake kind")),
        })
    })
    .ok_or(Malformed("no group yet"))??;
    perform(actions, post);
    Ok(())
}

fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    GROUP.with(|cell| cell.borrow_mut().as_mut().map(|group| f(&mut group.driver)))
}

fn tick(post: fn(&JsValue)) {
    let now = now_ms();
    let actions = GROUP.with(|cell| {
        let mut slot = cell.borrow_mut();
        let group = slot.as_mut()?;
        group.keyring.borrow_mut().tick(now);
        Some(group.driver.tick(now))
    });
    perform(actions.unwrap_or_default(), post);
}

/// Carries out the driver's actions: keys into the keyring, messages to the page.
fn perform(actions: Vec<Action>, post: fn(&JsValue)) {
    let Some(keyring) = GROUP.with(|cell| cell.borrow().as_ref().map(|g| g.keyring.clone())) else {
        return;
    };
    for action in actions {
        match action {
            Action::SendKeyPackage(data) => {
                let out = message("send-key-package");
                set(&out, "data", Uint8Array::from(data.as_slice()));
                post(&JsValue::from(out));
            }
            Action::SendCommit { commit, welcome } => {
                let out = message("send-commit");
                set(&out, "commit", Uint8Array::from(commit.as_slice()));
                if let Some((welcome, tag)) = welcome {
                    set(&out, "welcome", Uint8Array::from(welcome.as_slice()));
                    set(&out, "linkTag", Uint8Array::from(tag.as_slice()));
                }
                post(&JsValue::from(out));
            }
            Action::Epoch(keys) => {
                let out = message("epoch");
                set(&out, "epoch", keys.epoch() as f64);
                set(&out, "code", keys.safety_code().to_string());
                set(&out, "members", keys.members().len() as u32);
                set(&out, "leaf", keys.own_leaf());
                Keyring::install_epoch(&keyring, keys, now_ms(), OVERLAP_MS);
                post(&JsValue::from(out));
            }
            Action::Rejoin(why) => {
                keyring.borrow_mut().clear_epochs();
                let out = message("rejoin");
                let why = match why {
                    Rejoin::Removed => "removed",
                    Rejoin::MissedCommit => "missed-commit",
                };
                set(&out, "why", why);
                post(&JsValue::from(out));
            }
        }
    }
}
