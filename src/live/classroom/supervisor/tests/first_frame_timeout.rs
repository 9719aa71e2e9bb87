//! A camera that connects but never shows a picture has failed: it is
//! dropped after the first-picture timeout, with a reason in words, and a
//! pulled camera is retried with doubling backoff.

use super::*;

fn started(actions: &[Action]) -> Option<IncarnationId> {
    actions.iter().find_map(|a| match a {
        Action::StartPulled { incarnation, .. } => Some(*incarnation),
        _ => None,
    })
}

#[test]
fn a_pulled_camera_without_pictures_is_retried_with_backoff() {
    let (mut room, _source) = Room::pulled(GRACE);
    assert!(started(&room.actions()).is_some(), "started at once");
    // Two minutes of a camera that accepts the connection and says nothing.
    let mut timeline = vec![(Duration::ZERO, "start")];
    while room.now - room.t0 < secs(120.0) {
        room.now += Duration::from_millis(250);
        room.sup.handle(Input::Tick, room.now);
        for action in room.actions() {
            let at = room.now - room.t0;
            match action {
                Action::StartPulled { .. } => timeline.push((at, "start")),
                Action::Retire { .. } => timeline.push((at, "retire")),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(room.sup.phase(), Phase::Idle, "no lesson without a picture");
    }
    assert_eq!(room.sup.problem(), Some("no_video: no_first_frame"));
    let mut tries = Vec::new();
    let mut waits = Vec::new();
    for pair in timeline.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let gap = (to.0 - from.0).as_secs_f64();
        match (from.1, to.1) {
            ("start", "retire") => tries.push(gap),
            ("retire", "start") => waits.push(gap),
            other => panic!("out of order: {other:?} in {timeline:?}"),
        }
    }
    // Each attempt is given the whole timeout...
    for t in &tries {
        assert!((t - 10.0).abs() <= 0.5, "attempts {tries:?}");
    }
    // ...and the waits between them double from 1 s up to the 10 s cap.
    let expected = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0];
    assert!(waits.len() >= expected.len(), "waits {waits:?}");
    for (wait, want) in waits.iter().zip(expected) {
        assert!((wait - want).abs() <= 0.5, "waits {waits:?}");
    }
}

#[test]
fn a_picture_resets_the_backoff() {
    let (mut room, _source) = Room::pulled(GRACE);
    let first = started(&room.actions()).unwrap();
    room.input(Input::StartFailed {
        incarnation: first,
        error: "connection refused".into(),
    });
    assert_eq!(
        room.sup.problem(),
        Some("source_failed: connection refused")
    );
    let second = started(&room.ticks(secs(1.0))).expect("retried after 1 s");
    room.input(Input::FirstPicture {
        incarnation: second,
    });
    assert_eq!(room.sup.problem(), None);
    room.frames(second, secs(5.0));
    room.input(Input::IngestEnded {
        incarnation: second,
        cause: EndCause::Closed,
    });
    room.actions();
    let third = started(&room.ticks(secs(6.0)));
    assert!(
        third.is_some(),
        "back to a 1 s wait after a good connection"
    );
}

#[test]
fn an_audio_only_feed_says_so() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::AudioSeen {
        incarnation: camera,
    });
    room.ticks(secs(10.5));
    assert_eq!(room.sup.problem(), Some("audio_only"));
    let camera = room.publish(source);
    room.input(Input::Unsupported {
        incarnation: camera,
        caps: "video/x-vp8".into(),
    });
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Closed,
    });
    assert_eq!(room.sup.problem(), Some("unsupported_video: video/x-vp8"));
}
