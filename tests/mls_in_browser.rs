//! The meeting's MLS group in real browsers' frame-crypto workers (headless Chromium and Firefox
//! through `wasm-bindgen-test-runner`): two workers, the test carrying their handshake messages
//! as the relay does (key packages to the other, commits to both in one order).
//!
//! - The creator's worker adds the other's key package with the link's PSK; both reach epoch 1
//!   with one safety code, different from the creator's alone.
//! - When the relay says the other left, the creator's worker commits its removal; the removed
//!   worker erases its keys and asks to come back with a fresh key package.
//! - What reaches the page is bytes to send and the epoch's number, code and size: no key.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use veilig::encryption::group::GroupEvent;
use veilig::encryption::{AttachPath, FrameCrypto};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The worker's entry points, exported from this test module for the bootstrap to call.
#[wasm_bindgen]
pub fn frame_crypto_worker_start() {
    veilig::frame_crypto::worker::announce_ready();
}

/// See [`frame_crypto_worker_start`].
#[wasm_bindgen]
pub fn frame_crypto_worker_event(event: web_sys::Event) {
    veilig::frame_crypto::worker::handle_event(event);
}

const WORKER: &str = "/static/frame-crypto-worker.js?glue=/wasm-bindgen-test.js";
const PSK: [u8; 32] = [0x5e; 32];

type Events = Rc<RefCell<Vec<GroupEvent>>>;

async fn worker() -> (FrameCrypto, Events) {
    let crypto = FrameCrypto::start(WORKER, AttachPath::ScriptTransform)
        .await
        .expect("the worker starts");
    let events: Events = Rc::default();
    let sink = events.clone();
    crypto.on_group(Box::new(move |event| sink.borrow_mut().push(event)));
    (crypto, events)
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// Waits for the first event `pick` accepts, removing it (and everything before it).
async fn next<T>(events: &Events, pick: impl Fn(&GroupEvent) -> Option<T>) -> T {
    for _ in 0..200 {
        let found = {
            let mut list = events.borrow_mut();
            list.iter()
                .position(|e| pick(e).is_some())
                .map(|at| pick(&list.drain(..=at).next_back().unwrap()).unwrap())
        };
        if let Some(found) = found {
            return found;
        }
        sleep(50).await;
    }
    panic!("no such group event; saw {:?}", events.borrow());
}

fn epoch(event: &GroupEvent) -> Option<(u64, String, u32)> {
    match event {
        GroupEvent::Epoch {
            epoch,
            code,
            members,
            ..
        } => Some((*epoch, code.clone(), *members)),
        _ => None,
    }
}

fn key_package(event: &GroupEvent) -> Option<Vec<u8>> {
    match event {
        GroupEvent::SendKeyPackage(data) => Some(data.clone()),
        _ => None,
    }
}

type Commit = (Vec<u8>, Option<(Vec<u8>, Vec<u8>)>);

fn commit(event: &GroupEvent) -> Option<Commit> {
    match event {
        GroupEvent::SendCommit { commit, welcome } => Some((commit.clone(), welcome.clone())),
        _ => None,
    }
}

/// The relay's part: a commit to everyone, in one order.
fn deliver(to: &[&FrameCrypto], (commit, welcome): &Commit) {
    for crypto in to {
        crypto.commit_in(
            commit,
            welcome.as_ref().map(|(w, t)| (w.as_slice(), t.as_slice())),
        );
    }
}

#[wasm_bindgen_test]
async fn two_workers_join_one_group_and_a_removal_erases_the_keys() {
    let (anna, anna_events) = worker().await;
    let (bram, bram_events) = worker().await;
    anna.start_group(&PSK, "anna", true, "auto");
    let (first_epoch, alone_code, members) = next(&anna_events, epoch).await;
    assert_eq!((first_epoch, members), (0, 1));
    bram.start_group(&PSK, "bram", false, "auto");
    let package = next(&bram_events, key_package).await;

    anna.key_package_in("bram", &package);
    let add = next(&anna_events, commit).await;
    assert!(add.1.is_some(), "an add carries a Welcome and its link tag");
    deliver(&[&anna, &bram], &add);
    let (anna_epoch, anna_code, anna_members) = next(&anna_events, epoch).await;
    let (bram_epoch, bram_code, bram_members) = next(&bram_events, epoch).await;
    assert_eq!((anna_epoch, anna_members), (1, 2));
    assert_eq!((bram_epoch, bram_members), (1, 2));
    assert_eq!(anna_code, bram_code, "one group state, one code");
    assert_ne!(anna_code, alone_code, "the code changes when someone joins");
    assert_eq!(anna_code.chars().filter(char::is_ascii_digit).count(), 16);

    anna.left_in("bram");
    let remove = next(&anna_events, commit).await;
    assert!(remove.1.is_none());
    deliver(&[&anna, &bram], &remove);
    let (after, after_code, after_members) = next(&anna_events, epoch).await;
    assert_eq!((after, after_members), (2, 1));
    assert_ne!(
        after_code, anna_code,
        "the code changes when someone leaves"
    );
    let why = next(&bram_events, |event| match event {
        GroupEvent::Rejoin(why) => Some(why.clone()),
        _ => None,
    })
    .await;
    assert_eq!(why, "removed");
    let again = next(&bram_events, key_package).await;
    assert_ne!(again, package, "a fresh key package to come back with");
}
