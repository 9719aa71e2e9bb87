//! An encoder that reconnects while the lesson is being torn down either
//! continues the lesson or starts the next one cleanly; it is never
//! accepted and then cut off (the hardening issue's item 6: with
//! `grace_seconds = 0`, one in five quick reconnects was cut).

use super::*;

#[test]
fn with_no_grace_a_quick_reconnect_starts_the_next_lesson_and_is_kept() {
    let (mut room, source) = Room::pushed(Duration::ZERO);
    let first = room.publish(source);
    room.input(Input::FirstPicture { incarnation: first });
    room.frames(first, secs(10.0));
    room.input(Input::IngestEnded {
        incarnation: first,
        cause: EndCause::Closed,
    });
    let slate = Room::started_slate(&room.actions());
    // The encoder is back 170 ms later, before its first keyframe arrives
    // the grace period (none) has run out.
    room.at(secs(10.17));
    let second = room.publish(source);
    let actions = room.ticks(secs(10.5));
    assert_eq!(actions, [Action::Retire { incarnation: slate }]);
    assert_eq!(room.sup.camera(), Some((second, source)), "still connected");
    room.input(Input::Flushed { incarnation: first });
    room.input(Input::Flushed { incarnation: slate });
    assert_eq!(
        room.actions(),
        [Action::EndLesson {
            lesson: 1,
            reason: EndReason::SourceStopped
        }]
    );
    room.at(secs(10.6)).input(Input::FirstPicture {
        incarnation: second,
    });
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 2 }]);
    room.frames(second, secs(30.0));
    assert_eq!(room.actions(), [], "never retired");
}

#[test]
fn a_reconnect_whose_picture_comes_while_the_old_lesson_flushes_starts_a_new_one() {
    let (mut room, source) = Room::pushed(Duration::ZERO);
    let first = room.publish(source);
    room.input(Input::FirstPicture { incarnation: first });
    room.frames(first, secs(5.0));
    room.input(Input::IngestEnded {
        incarnation: first,
        cause: EndCause::Closed,
    });
    room.actions();
    room.ticks(secs(5.25)); // the lesson ends; its ladders still flush
    let second = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: second,
    });
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 2 }]);
    assert_eq!(
        room.sup.lesson_of(first),
        Some(1),
        "old pictures, old lesson"
    );
    assert_eq!(room.sup.lesson_of(second), Some(2));
    // The task closes lesson 1's row now, with this reason, so the
    // catalogue never holds two open lessons for one classroom.
    assert_eq!(room.sup.ending_reason(1), Some(EndReason::SourceStopped));
    assert_eq!(room.sup.ending_reason(2), None);
    room.input(Input::Flushed { incarnation: first });
    assert_eq!(
        room.actions(),
        [],
        "the slate of lesson 1 is still flushing"
    );
}

#[test]
fn a_reconnect_within_the_grace_period_continues_the_lesson() {
    let (mut room, source) = Room::pushed(secs(5.0));
    for round in 0..100u32 {
        let camera = room.publish(source);
        room.input(Input::FirstPicture {
            incarnation: camera,
        });
        let until = room.now - room.t0 + secs(1.0);
        room.frames(camera, until);
        room.input(Input::IngestEnded {
            incarnation: camera,
            cause: EndCause::Closed,
        });
        let next = room.now - room.t0 + secs(0.2);
        room.at(next);
        let actions = room.actions();
        assert!(
            !actions.iter().any(|a| matches!(
                a,
                Action::EndLesson { .. } | Action::StartLesson { lesson: 2.. }
            )),
            "round {round}: {actions:?}"
        );
    }
    assert_eq!(room.sup.current_lesson(), Some(1));
}
