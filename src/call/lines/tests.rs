//! The offer rules, against honest offers shaped like the relay's (str0m's) and against every
//! relabelling a hostile relay could try; then random sequences of both.

use proptest::prelude::*;
use veilig_protocol::{MediaLine, ParticipantId, Source};

use super::*;

fn id(name: &str) -> ParticipantId {
    ParticipantId::new(name).unwrap()
}

/// One m-section of a test offer.
#[derive(Clone, Debug)]
struct M {
    mid: String,
    source: Source,
    from: Option<ParticipantId>,
    /// The relay's direction as written in the SDP.
    direction: &'static str,
    stopped: bool,
    /// Overrides the m-line's kind.
    kind: Option<&'static str>,
    /// Overrides the codecs: (payload type, rtpmap or none).
    codecs: Option<Vec<(&'static str, Option<&'static str>)>>,
}

fn slot(mid: &str, source: Source) -> M {
    M {
        mid: mid.into(),
        source,
        from: None,
        direction: "recvonly",
        stopped: false,
        kind: None,
        codecs: None,
    }
}

fn remote(mid: &str, from: &str, source: Source) -> M {
    M {
        from: Some(id(from)),
        direction: "sendonly",
        ..slot(mid, source)
    }
}

/// Our three slots, as the relay's first offer has them.
fn slots() -> Vec<M> {
    vec![
        slot("0", Source::Microphone),
        slot("1", Source::Camera),
        slot("2", Source::Screen),
    ]
}

/// An offer the way str0m writes one (session part, then each m-section), and its labels.
fn offer(ms: &[M]) -> (String, Vec<MediaLine>) {
    let mut sdp = String::from(
        "v=0\r\no=str0m-1 123 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
         a=ice-lite\r\na=fingerprint:sha-256 00:11\r\na=ice-ufrag:abcd\r\na=ice-pwd:efgh\r\n",
    );
    let mut labels = Vec::new();
    for m in ms {
        let video = !matches!(m.source, Source::Microphone);
        let kind = m.kind.unwrap_or(if video { "video" } else { "audio" });
        let codecs = m.codecs.clone().unwrap_or(if video {
            vec![("96", Some("VP8/90000")), ("97", Some("rtx/90000"))]
        } else {
            vec![("111", Some("opus/48000/2"))]
        });
        let formats: Vec<&str> = codecs.iter().map(|(pt, _)| *pt).collect();
        let port = if m.stopped { "0" } else { "9" };
        sdp += &format!(
            "m={kind} {port} UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
             a=setup:actpass\r\na=mid:{}\r\na=rtcp-mux\r\na={}\r\n",
            formats.join(" "),
            m.mid,
            m.direction
        );
        for (pt, map) in &codecs {
            if let Some(map) = map {
                sdp += &format!("a=rtpmap:{pt} {map}\r\na=rtcp-fb:{pt} nack\r\n");
            }
        }
        sdp += "a=candidate:1 1 udp 2130706175 10.0.0.1 10000 typ host\r\n";
        if !m.stopped {
            labels.push(MediaLine {
                mid: m.mid.clone(),
                source: m.source,
                from: m.from.clone(),
            });
        }
    }
    (sdp, labels)
}

fn admit(book: &mut LineBook, ms: &[M]) -> Result<Verdict, Refusal> {
    let (sdp, labels) = offer(ms);
    book.admit(&sdp, &labels)
}

/// A book that has seen our slots and B's microphone and camera.
fn book_with_b() -> (LineBook, Vec<M>) {
    let mut book = LineBook::new();
    book.set_you(id("me"));
    admit(&mut book, &slots()).unwrap();
    let mut ms = slots();
    ms.push(remote("3", "b", Source::Microphone));
    ms.push(remote("4", "b", Source::Camera));
    let verdict = admit(&mut book, &ms).unwrap();
    assert_eq!(
        verdict.lines.iter().map(|l| l.new).collect::<Vec<_>>(),
        [false, false, false, true, true]
    );
    (book, ms)
}

#[test]
fn the_first_offer_plans_our_three_slots() {
    let mut book = LineBook::new();
    let verdict = admit(&mut book, &slots()).unwrap();
    assert_eq!(verdict.lines.len(), 3);
    assert!(verdict.lines.iter().all(|l| l.new));
    assert_eq!(verdict.get("1").unwrap().role, Role::Slot(Source::Camera));
    assert_eq!(book.slot_mid(Source::Camera), Some("1"));
    assert_eq!(book.slot_mid(Source::Screen), Some("2"));
}

#[test]
fn honest_renegotiations_keep_roles_and_stopped_lines_are_skipped() {
    let (mut book, mut ms) = book_with_b();
    ms[4].stopped = true;
    ms[3].stopped = true;
    ms.push(remote("5", "c", Source::Screen));
    let verdict = admit(&mut book, &ms).unwrap();
    assert_eq!(verdict.lines.len(), 4);
    assert!(verdict.get("4").is_none());
    assert!(verdict.get("5").unwrap().new);
    assert_eq!(
        book.role("4"),
        Some(&Role::Remote {
            from: id("b"),
            source: Source::Camera
        })
    );
}

#[test]
fn an_inactive_line_is_allowed_either_way() {
    let (mut book, mut ms) = book_with_b();
    ms[1].direction = "inactive";
    ms[4].direction = "inactive";
    admit(&mut book, &ms).unwrap();
}

/// Finding 1 of the hostile-relay review: B's camera line relabelled as our camera slot.
#[test]
fn a_remote_line_relabelled_as_our_slot_is_refused() {
    let (mut book, mut ms) = book_with_b();
    ms[4] = slot("4", Source::Camera);
    assert!(matches!(
        admit(&mut book, &ms),
        Err(Refusal::RoleChanged(mid)) if mid == "4"
    ));
    // Even with our real camera slot gone from the offer.
    let (mut book, mut ms) = book_with_b();
    ms.remove(1);
    ms[3] = slot("4", Source::Camera);
    assert_eq!(admit(&mut book, &ms), Err(Refusal::RoleChanged("4".into())));
}

/// Finding 2: our camera slot relabelled as B's line.
#[test]
fn our_slot_relabelled_as_a_remote_line_is_refused() {
    let (mut book, mut ms) = book_with_b();
    ms[1] = remote("1", "b", Source::Screen);
    assert_eq!(admit(&mut book, &ms), Err(Refusal::RoleChanged("1".into())));
}

#[test]
fn a_remote_line_may_not_change_owner_or_source() {
    let (mut book, mut ms) = book_with_b();
    ms[4] = remote("4", "c", Source::Camera);
    assert_eq!(admit(&mut book, &ms), Err(Refusal::RoleChanged("4".into())));
    let (mut book, mut ms) = book_with_b();
    ms[4] = remote("4", "b", Source::Screen);
    assert_eq!(admit(&mut book, &ms), Err(Refusal::RoleChanged("4".into())));
}

#[test]
fn a_refused_offer_changes_nothing() {
    let (mut book, ms) = book_with_b();
    let mut hostile = ms.clone();
    hostile.push(remote("9", "c", Source::Camera));
    hostile[1] = remote("1", "b", Source::Screen);
    assert!(admit(&mut book, &hostile).is_err());
    assert_eq!(book.role("9"), None);
    let verdict = admit(&mut book, &ms).unwrap();
    assert!(verdict.lines.iter().all(|l| !l.new));
}

#[test]
fn slots_never_multiply_or_move() {
    let mut book = LineBook::new();
    let mut ms = slots();
    ms.push(slot("3", Source::Camera));
    assert_eq!(
        admit(&mut book, &ms),
        Err(Refusal::ExtraSlot(Source::Camera))
    );
    let mut book = LineBook::new();
    admit(&mut book, &slots()).unwrap();
    let mut ms = slots();
    ms[1].stopped = true;
    ms.push(slot("7", Source::Camera));
    assert_eq!(
        admit(&mut book, &ms),
        Err(Refusal::ExtraSlot(Source::Camera))
    );
}

#[test]
fn directions_must_fit_roles() {
    for direction in ["sendonly", "sendrecv"] {
        let mut book = LineBook::new();
        let mut ms = slots();
        ms[1].direction = direction;
        assert_eq!(
            admit(&mut book, &ms),
            Err(Refusal::WrongDirection("1".into()))
        );
    }
    for direction in ["recvonly", "sendrecv"] {
        let (mut book, mut ms) = book_with_b();
        ms[4].direction = direction;
        assert_eq!(
            admit(&mut book, &ms),
            Err(Refusal::WrongDirection("4".into()))
        );
    }
    // No direction attribute means sendrecv.
    let mut book = LineBook::new();
    let (sdp, labels) = offer(&slots());
    let sdp = sdp.replacen("a=recvonly\r\n", "", 1);
    assert_eq!(
        book.admit(&sdp, &labels),
        Err(Refusal::WrongDirection("0".into()))
    );
}

#[test]
fn every_line_is_labelled_and_every_label_names_a_line() {
    let mut book = LineBook::new();
    let (sdp, mut labels) = offer(&slots());
    labels.pop();
    assert_eq!(
        book.admit(&sdp, &labels),
        Err(Refusal::Unlabelled("2".into()))
    );
    let (sdp, mut labels) = offer(&slots());
    labels.push(MediaLine {
        mid: "8".into(),
        source: Source::Camera,
        from: Some(id("b")),
    });
    assert_eq!(
        book.admit(&sdp, &labels),
        Err(Refusal::NoSuchLine("8".into()))
    );
    let (sdp, mut labels) = offer(&slots());
    labels.push(labels[0].clone());
    assert_eq!(
        book.admit(&sdp, &labels),
        Err(Refusal::DuplicateMid("0".into()))
    );
    let mut ms = slots();
    ms.push(remote("1", "b", Source::Camera));
    let (sdp, _) = offer(&ms);
    let (_, labels) = offer(&slots());
    assert_eq!(
        book.admit(&sdp, &labels),
        Err(Refusal::DuplicateMid("1".into()))
    );
}

#[test]
fn kinds_must_fit_sources() {
    let mut book = LineBook::new();
    let mut ms = slots();
    ms[0].kind = Some("video");
    ms[0].codecs = Some(vec![("96", Some("VP8/90000"))]);
    assert_eq!(admit(&mut book, &ms), Err(Refusal::WrongKind("0".into())));
    let mut ms = slots();
    ms[2].kind = Some("application");
    assert_eq!(
        admit(&mut book, &ms),
        Err(Refusal::OtherKind("application".into()))
    );
}

#[test]
fn only_codecs_the_worker_frames_are_accepted() {
    for (mid, codecs) in [
        (1, vec![("102", Some("H264/90000"))]),
        (
            1,
            vec![("96", Some("VP8/90000")), ("98", Some("VP9/90000"))],
        ),
        (0, vec![("0", None)]),
        (
            0,
            vec![("111", Some("opus/48000/2")), ("9", Some("G722/8000"))],
        ),
    ] {
        let mut book = LineBook::new();
        let mut ms = slots();
        ms[mid].codecs = Some(codecs);
        assert!(
            matches!(admit(&mut book, &ms), Err(Refusal::ForeignCodec { .. })),
            "{:?}",
            ms[mid].codecs
        );
    }
}

#[test]
fn no_line_is_from_us_and_no_track_is_claimed_twice() {
    let (mut book, mut ms) = book_with_b();
    ms.push(remote("5", "me", Source::Camera));
    assert_eq!(admit(&mut book, &ms), Err(Refusal::FromUs("5".into())));
    let (mut book, mut ms) = book_with_b();
    ms.push(remote("5", "b", Source::Camera));
    assert_eq!(admit(&mut book, &ms), Err(Refusal::DuplicateTrack(id("b"))));
}

#[test]
fn malformed_offers_are_refused() {
    let mut book = LineBook::new();
    assert!(book.admit("m=audio\r\n", &[]).is_err());
    assert!(book
        .admit("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", &[])
        .is_err());
    assert_eq!(
        book.admit("m=audio 9 X 1\r\na=mid:0\r\na=mid:1\r\n", &[]),
        Err(Refusal::Malformed("an m-line with two mids"))
    );
    assert_eq!(book.admit("", &[]), Ok(Verdict::default()));
}

#[test]
fn answers_lose_every_address_of_ours() {
    let answer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 53127 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.168.1.20\r\n\
        a=rtcp:9 IN IP4 0.0.0.0\r\n\
        a=candidate:1 1 udp 2122260223 192.168.1.20 53127 typ host generation 0\r\n\
        a=candidate:2 1 udp 2122194687 2001:db8::5 53128 typ host generation 0\r\n\
        a=end-of-candidates\r\na=mid:0\r\na=sendonly\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP6 2001:db8::5\r\na=rtcp:53129\r\na=mid:1\r\n";
    let scrubbed = scrub_answer(answer);
    assert!(!scrubbed.contains("192.168"), "{scrubbed}");
    assert!(!scrubbed.contains("2001:db8"), "{scrubbed}");
    assert!(!scrubbed.contains("5312"), "{scrubbed}");
    assert!(!scrubbed.contains("candidate"), "{scrubbed}");
    assert!(scrubbed.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert!(scrubbed.contains("m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"));
    assert!(scrubbed.contains("a=mid:0\r\na=sendonly\r\n"));
    // The session's origin line is left alone: browsers write a fixed 127.0.0.1 there.
    assert!(scrubbed.contains("o=- 1 2 IN IP4 127.0.0.1\r\n"));
}

/// One step of a random session: what the relay does next, honest or not.
#[derive(Clone, Debug)]
enum Step {
    /// Someone joins with these sources.
    Join(u8),
    /// A remote line stops.
    Stop(usize),
    /// A known line gets another label.
    Relabel(usize, Option<u8>, u8),
    /// A known line's direction is flipped.
    Flip(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..8).prop_map(Step::Join),
        (0usize..32).prop_map(Step::Stop),
        (0usize..32, proptest::option::of(0u8..4), 0u8..3)
            .prop_map(|(i, from, source)| Step::Relabel(i, from, source)),
        (0usize..32).prop_map(Step::Flip),
    ]
}

fn source(n: u8) -> Source {
    [Source::Microphone, Source::Camera, Source::Screen][n as usize % 3]
}

proptest! {
    /// Whatever sequence of offers arrives, an admitted offer never gives a known mid another
    /// role, never has two slots for a source, and never has a slot the relay sends on or a
    /// remote line the relay receives on; honest offers are always admitted.
    #[test]
    fn no_sequence_of_offers_changes_a_role(steps in proptest::collection::vec(step(), 1..24)) {
        let mut book = LineBook::new();
        book.set_you(id("me"));
        let mut ms = slots();
        admit(&mut book, &ms).unwrap();
        let mut first_roles: std::collections::HashMap<String, Role> =
            book.roles.clone();
        let mut next_mid = 3;
        for step in steps {
            let mut candidate = ms.clone();
            let honest = match step {
                Step::Join(n) => {
                    let who = format!("p{n}");
                    if candidate.iter().any(|m| m.from.as_ref().is_some_and(|f| f.as_str() == who)) {
                        continue;
                    }
                    for s in 0..3 {
                        candidate.push(remote(&next_mid.to_string(), &who, source(s)));
                        next_mid += 1;
                    }
                    true
                }
                Step::Stop(i) => {
                    let i = i % candidate.len();
                    if candidate[i].from.is_none() {
                        continue;
                    }
                    candidate[i].stopped = true;
                    true
                }
                Step::Relabel(i, from, s) => {
                    let i = i % candidate.len();
                    candidate[i].from = from.map(|n| id(&format!("p{n}")));
                    candidate[i].source = source(s);
                    candidate[i].direction = if from.is_some() { "sendonly" } else { "recvonly" };
                    false
                }
                Step::Flip(i) => {
                    let i = i % candidate.len();
                    candidate[i].direction = if candidate[i].from.is_some() { "recvonly" } else { "sendonly" };
                    false
                }
            };
            match admit(&mut book, &candidate) {
                Ok(verdict) => {
                    let mut slots_seen = Vec::new();
                    for line in &verdict.lines {
                        let first = first_roles.entry(line.mid.clone()).or_insert(line.role.clone());
                        prop_assert_eq!(&*first, &line.role);
                        if let Role::Slot(s) = line.role {
                            prop_assert!(!slots_seen.contains(&s));
                            slots_seen.push(s);
                        }
                    }
                    ms = candidate;
                }
                Err(refusal) => prop_assert!(!honest, "an honest offer was refused: {refusal}"),
            }
        }
        first_roles.clear();
    }
}
