//! A camera that drops mid-lesson: the slate stands in, the lesson goes on
//! if it returns within the grace period, and ends (after the last pictures
//! have flushed) if it does not; a camera back after that starts the next
//! lesson.

use super::*;

fn live_lesson() -> (Room, Uuid, IncarnationId) {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(10.0));
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 1 }]);
    (room, source, camera)
}

#[test]
fn a_camera_back_within_the_grace_period_continues_the_lesson() {
    let (mut room, source, camera) = live_lesson();
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Closed,
    });
    let actions = room.actions();
    let slate = Room::started_slate(&actions);
    assert_eq!(
        actions,
        [
            Action::Retire {
                incarnation: camera
            },
            Action::StartSlate { incarnation: slate }
        ]
    );
    assert_eq!(room.sup.phase(), Phase::SignalLost);
    // The slate belongs to the lesson, and so do the camera's last pictures.
    assert_eq!(room.sup.lesson_of(slate), Some(1));
    assert_eq!(room.sup.lesson_of(camera), Some(1));
    room.input(Input::FirstPicture { incarnation: slate });
    assert_eq!(room.sup.on_air(), Some(slate));
    room.at(secs(10.3)).input(Input::Flushed {
        incarnation: camera,
    });
    assert_eq!(room.actions(), []);

    // Back 20 s later, inside the 30 s grace period.
    let ticks = room.ticks(secs(30.0));
    assert_eq!(ticks, []);
    let back = room.publish(source);
    room.input(Input::FirstPicture { incarnation: back });
    assert_eq!(room.actions(), [Action::Retire { incarnation: slate }]);
    assert_eq!(room.sup.phase(), Phase::Live);
    assert_eq!(room.sup.lesson_of(back), Some(1), "same lesson");
    assert_eq!(room.sup.on_air(), Some(back));
    room.input(Input::Flushed { incarnation: slate });
    room.frames(back, secs(100.0));
    assert_eq!(room.actions(), [], "the lesson never ended");
}

#[test]
fn a_camera_gone_past_the_grace_period_ends_the_lesson_after_the_flush() {
    let (mut room, _source, camera) = live_lesson();
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Closed,
    });
    let slate = Room::started_slate(&room.actions());
    room.input(Input::Flushed {
        incarnation: camera,
    });
    // 30 s of grace from the drop at 10 s: nothing happens until 40 s.
    assert_eq!(room.ticks(secs(40.0)), []);
    let actions = room.ticks(secs(40.25));
    assert_eq!(actions, [Action::Retire { incarnation: slate }]);
    assert_eq!(room.sup.phase(), Phase::Idle);
    // The lesson's end waits for the slate's last fragment.
    room.at(secs(40.6))
        .input(Input::Flushed { incarnation: slate });
    assert_eq!(
        room.actions(),
        [Action::EndLesson {
            lesson: 1,
            reason: EndReason::SourceStopped
        }]
    );
}

#[test]
fn a_ladder_that_never_flushes_is_abandoned_and_the_lesson_still_ends() {
    let (mut room, _source, camera) = live_lesson();
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Error("connection reset".into()),
    });
    let slate = Room::started_slate(&room.actions());
    assert!(room.sup.problem().unwrap().starts_with("source_failed"));
    // Neither ladder ever reports back.
    let actions = room.ticks(secs(41.0));
    assert_eq!(
        actions,
        [
            Action::Abandon {
                incarnation: camera
            },
            Action::Retire { incarnation: slate }
        ]
    );
    let actions = room.ticks(secs(46.0));
    assert_eq!(
        actions,
        [
            Action::Abandon { incarnation: slate },
            Action::EndLesson {
                lesson: 1,
                reason: EndReason::SourceStopped
            }
        ]
    );
}

#[test]
fn a_camera_that_stops_sending_is_lost_after_the_signal_timeout() {
    let (mut room, _source, camera) = live_lesson();
    // Frames stop at 10 s; the connection stays open.
    assert_eq!(room.ticks(secs(13.0)), []);
    let actions = room.ticks(secs(13.25));
    let slate = Room::started_slate(&actions);
    assert_eq!(
        actions,
        [
            Action::Retire {
                incarnation: camera
            },
            Action::StartSlate { incarnation: slate }
        ]
    );
    assert_eq!(room.sup.phase(), Phase::SignalLost);
}

#[test]
fn a_camera_back_after_the_default_grace_period_starts_a_new_lesson() {
    // The grace period a school gets without configuring one.
    let grace = Duration::from_secs(crate::config::DEFAULT_GRACE_SECONDS);
    let (mut room, source) = Room::pushed(grace);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(10.0));
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 1 }]);
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Closed,
    });
    let slate = Room::started_slate(&room.actions());
    room.at(secs(10.3)).input(Input::Flushed {
        incarnation: camera,
    });

    // Dropped at 10 s: the lesson holds for the whole grace period...
    let expiry = secs(10.0) + grace;
    assert_eq!(room.ticks(expiry), []);
    assert_eq!(room.sup.phase(), Phase::SignalLost);
    // ...and ends on the first tick after it, once the slate has flushed.
    assert_eq!(
        room.ticks(expiry + secs(0.25)),
        [Action::Retire { incarnation: slate }]
    );
    assert_eq!(room.sup.phase(), Phase::Idle);
    room.at(expiry + secs(0.6))
        .input(Input::Flushed { incarnation: slate });
    assert_eq!(
        room.actions(),
        [Action::EndLesson {
            lesson: 1,
            reason: EndReason::SourceStopped
        }]
    );

    // The camera is back a minute later: accepted, and its first picture
    // starts lesson 2 (a lesson row of its own), not lesson 1 again.
    room.at(expiry + secs(60.0));
    let back = room.publish(source);
    assert_eq!(room.sup.phase(), Phase::Idle, "no picture yet");
    room.input(Input::FirstPicture { incarnation: back });
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 2 }]);
    assert_eq!(room.sup.phase(), Phase::Live);
    assert_eq!(room.sup.current_lesson(), Some(2));
    assert_eq!(room.sup.lesson_of(back), Some(2));
    assert_eq!(room.sup.on_air(), Some(back));
    room.frames(back, expiry + secs(120.0));
    assert_eq!(room.actions(), [], "the new lesson runs on");
}
