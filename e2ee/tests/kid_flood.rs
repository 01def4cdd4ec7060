#![cfg(not(target_arch = "wasm32"))]
//! A link holder flooding the decryptor with fresh KIDs (issue 17, finding 5): it must not
//! retire anyone else's KID, must never make a retired KID acceptable again, and must not grow
//! the decryptor's memory past its limits. Before the per-source rules, 256 fresh KIDs on one
//! line retired an idle participant's KID for good, and 4,096 more made it acceptable again.

mod common;

use common::frames::{opus, vp8_delta};
use veilig_e2ee::receiver::{DecryptorLimits, KidLimit};
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, DecryptError, DropReason, FrameDecryptor, FrameEncryptor, Kid,
    SourceId,
};

const ALICE: SourceId = SourceId(1);
const BOB: SourceId = SourceId(2);
const MALLORY: SourceId = SourceId(666);
const FLOOD: u64 = 10_000;

/// The default limits as the README states them ("a source holds at most 4 live KIDs ... 64 KIDs
/// per source over its life, 128 sources, 16,384 KIDs in all"): written out, not read from
/// `DecryptorLimits::default()`, so that changing a default without the README fails here.
const README: DecryptorLimits = DecryptorLimits {
    live_per_source: 4,
    kids_per_source: 64,
    max_sources: 128,
    max_kids: 16_384,
};

fn base() -> BaseKey {
    BaseKey::new(b"veilig test base key, 32 bytes!!")
}

fn sender(kid: u64) -> FrameEncryptor {
    FrameEncryptor::new(CipherSuite::default(), &base(), Kid(kid))
}

/// Alice's next audio frame, through `receiver` from her own source.
fn alice_speaks(
    alice: &mut FrameEncryptor,
    receiver: &mut FrameDecryptor,
) -> Result<(), DecryptError> {
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    alice.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    receiver
        .decrypt(ALICE, Codec::Opus, &wire, &mut plain)
        .map(|_| ())
}

/// One frame under each of `count` fresh KIDs from `from`, as a flooding link holder sends
/// them; returns every frame sent, with its KID.
fn flood(
    receiver: &mut FrameDecryptor,
    from: SourceId,
    first_kid: u64,
    count: u64,
) -> Vec<(Kid, Vec<u8>)> {
    let mut plain = Vec::new();
    (first_kid..first_kid + count)
        .map(|kid| {
            let mut wire = Vec::new();
            sender(kid)
                .encrypt(Codec::Vp8, &vp8_delta(40), &mut wire)
                .unwrap();
            let _ = receiver.decrypt(from, Codec::Vp8, &wire, &mut plain);
            (Kid(kid), wire)
        })
        .collect()
}

#[test]
fn a_flood_on_one_source_leaves_an_idle_source_alone_and_stays_bounded() {
    let limits = README;
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut alice = sender(0xa11ce);
    for _ in 0..3 {
        alice_speaks(&mut alice, &mut receiver).unwrap();
    }
    // Alice turns her camera off: her KID sits idle while Mallory floods.
    let sent = flood(&mut receiver, MALLORY, 1_000_000, FLOOD);

    alice_speaks(&mut alice, &mut receiver).expect("Alice's idle KID is still live");
    let stats = receiver.stats(ALICE);
    assert_eq!((stats.decrypted, stats.replay, stats.retired), (4, 0, 0));

    let admitted = limits.kids_per_source as u64;
    let mallory = receiver.stats(MALLORY);
    assert_eq!(mallory.decrypted, admitted);
    assert_eq!(mallory.over_limit, FLOOD - admitted);
    let stored = receiver.stored();
    assert_eq!(stored.live, 1 + limits.live_per_source, "{stored:?}");
    assert_eq!(stored.live + stored.retired, 1 + limits.kids_per_source);
    assert_eq!(stored.sources, 2);

    // Nothing accepted from Mallory is accepted again, from any source, however fresh its
    // counter; what was refused stays refused.
    let (accepted, refused) = sent.split_at(limits.kids_per_source);
    let mut plain = Vec::new();
    for (kid, wire) in accepted {
        for source in [MALLORY, ALICE, BOB] {
            let replayed = receiver.decrypt(source, Codec::Vp8, wire, &mut plain);
            assert!(replayed.is_err(), "{kid:?} from {source:?}: {replayed:?}");
        }
    }
    for (kid, wire) in refused {
        let again = receiver.decrypt(MALLORY, Codec::Vp8, wire, &mut plain);
        assert_eq!(
            again.unwrap_err().reason(),
            DropReason::OverLimit,
            "{kid:?}"
        );
    }
    for (kid, _) in accepted {
        let mut later = sender(kid.0);
        later.advance_counter_to(1_000);
        let mut wire = Vec::new();
        later
            .encrypt(Codec::Vp8, &vp8_delta(40), &mut wire)
            .unwrap();
        let result = receiver.decrypt(MALLORY, Codec::Vp8, &wire, &mut plain);
        let live = matches!(result, Ok(Some(_)));
        assert!(
            live || result == Err(DecryptError::RetiredKid(*kid)),
            "{kid:?}: {result:?}"
        );
    }
    assert_eq!(receiver.stored(), stored, "refusals store nothing");
    alice_speaks(&mut alice, &mut receiver).unwrap();
}

#[test]
fn retired_kids_never_come_back_however_many_kids_follow() {
    // Far past the old 4,096 retired KIDs, and past the default store of 16,384: sources that
    // flood and leave, one after another, as a link holder rejoining over and over.
    let limits = README;
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut alice = sender(0xa11ce);
    alice_speaks(&mut alice, &mut receiver).unwrap();
    let per_source = limits.kids_per_source as u64;
    let sources = limits.max_kids as u64 / per_source + 2;
    let mut first = Vec::new();
    for n in 0..sources {
        let source = SourceId(1_000 + n);
        let sent = flood(
            &mut receiver,
            source,
            10_000_000 + n * per_source,
            per_source,
        );
        if receiver.stats(source).decrypted > 0 {
            first.extend(sent.into_iter().take(1));
        }
        receiver.forget_source(source);
        let stored = receiver.stored();
        assert!(
            stored.live + stored.retired <= limits.max_kids,
            "{stored:?}"
        );
    }
    // The store is full at exactly its default size: new KIDs are refused, and say why.
    let full = receiver.stored();
    assert_eq!(full.live + full.retired, 16_384, "{full:?}");
    let mut plain = Vec::new();
    let mut wire = Vec::new();
    sender(42)
        .encrypt(Codec::Vp8, &vp8_delta(40), &mut wire)
        .unwrap();
    assert_eq!(
        receiver.decrypt(BOB, Codec::Vp8, &wire, &mut plain),
        Err(DecryptError::KidLimit {
            kid: Kid(42),
            limit: KidLimit::Kids
        })
    );
    assert_eq!(receiver.stats(BOB).over_limit, 1);
    // What was live stays live, and what was retired stays retired.
    alice_speaks(&mut alice, &mut receiver).unwrap();
    assert_eq!(
        first.len() as u64,
        sources - 2,
        "every source but the last two got in"
    );
    for (kid, wire) in &first {
        assert_eq!(
            receiver.decrypt(BOB, Codec::Vp8, wire, &mut plain),
            Err(DecryptError::RetiredKid(*kid))
        );
    }
}

#[test]
fn the_default_decryptor_holds_the_readme_number_of_sources() {
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    for n in 0..README.max_sources as u64 {
        flood(&mut receiver, SourceId(100 + n), 5_000 + n, 1);
        assert_eq!(receiver.stats(SourceId(100 + n)).decrypted, 1, "source {n}");
    }
    let sent = flood(&mut receiver, MALLORY, 9_999, 1);
    let mut plain = Vec::new();
    assert_eq!(
        receiver.decrypt(MALLORY, Codec::Vp8, &sent[0].1, &mut plain),
        Err(DecryptError::KidLimit {
            kid: Kid(9_999),
            limit: KidLimit::Sources
        })
    );
}

#[test]
fn the_source_cap_refuses_a_new_source_and_evicts_nobody() {
    let limits = DecryptorLimits {
        max_sources: 2,
        ..DecryptorLimits::default()
    };
    let mut receiver = FrameDecryptor::with_limits(CipherSuite::default(), &base(), limits);
    let mut alice = sender(1);
    alice_speaks(&mut alice, &mut receiver).unwrap();
    flood(&mut receiver, BOB, 2, 1);
    let sent = flood(&mut receiver, MALLORY, 3, 1);
    assert_eq!(receiver.stats(MALLORY).over_limit, 1);
    let mut plain = Vec::new();
    assert_eq!(
        receiver.decrypt(MALLORY, Codec::Vp8, &sent[0].1, &mut plain),
        Err(DecryptError::KidLimit {
            kid: Kid(3),
            limit: KidLimit::Sources
        })
    );
    alice_speaks(&mut alice, &mut receiver).unwrap();
    receiver.forget_source(BOB);
    assert!(receiver
        .decrypt(MALLORY, Codec::Vp8, &sent[0].1, &mut plain)
        .is_ok());
}

#[test]
fn drop_reasons_are_counted_apart() {
    let limits = DecryptorLimits {
        live_per_source: 1,
        kids_per_source: 2,
        ..DecryptorLimits::default()
    };
    let mut receiver = FrameDecryptor::with_limits(CipherSuite::default(), &base(), limits);
    let mut plain = Vec::new();
    let first = flood(&mut receiver, MALLORY, 10, 1);
    let mut replay = |receiver: &mut FrameDecryptor, source, wire: &[u8]| {
        let result = receiver.decrypt(source, Codec::Vp8, wire, &mut plain);
        result.unwrap_err().reason()
    };
    assert_eq!(
        replay(&mut receiver, MALLORY, &first[0].1),
        DropReason::Replay
    );
    assert_eq!(
        replay(&mut receiver, BOB, &first[0].1),
        DropReason::KidCollision
    );
    flood(&mut receiver, MALLORY, 11, 1); // retires KID 10, the source's only live one
    assert_eq!(
        replay(&mut receiver, MALLORY, &first[0].1),
        DropReason::Retired
    );
    let third = flood(&mut receiver, MALLORY, 12, 1);
    assert_eq!(
        replay(&mut receiver, MALLORY, &third[0].1),
        DropReason::OverLimit
    );
    let mallory = receiver.stats(MALLORY);
    assert_eq!(
        (
            mallory.decrypted,
            mallory.replay,
            mallory.retired,
            mallory.over_limit,
            mallory.kid_collision
        ),
        (2, 1, 1, 2, 0)
    );
    assert_eq!(receiver.stats(BOB).kid_collision, 1);
}
