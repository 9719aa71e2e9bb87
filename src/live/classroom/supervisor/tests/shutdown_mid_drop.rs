//! Stopping the server (or removing the classroom) while the camera is
//! gone: the slate's last fragment is kept, the lesson ends as "shutdown",
//! and the supervisor says when everything is done.

use super::*;

#[test]
fn shutdown_during_a_drop_ends_the_lesson_then_stops() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(10.0));
    room.input(Input::IngestEnded {
        incarnation: camera,
        cause: EndCause::Closed,
    });
    let slate = Room::started_slate(&room.actions());
    room.at(secs(15.0)).input(Input::Shutdown);
    assert_eq!(room.actions(), [Action::Retire { incarnation: slate }]);
    // Nothing may start while stopping.
    room.input(Input::Publish { source });
    assert_eq!(
        room.actions(),
        [Action::RefusePublish {
            source,
            why: Refused::ShuttingDown
        }]
    );
    room.input(Input::Flushed {
        incarnation: camera,
    });
    assert_eq!(room.actions(), [], "the slate is still flushing");
    room.input(Input::Flushed { incarnation: slate });
    assert_eq!(
        room.actions(),
        [
            Action::EndLesson {
                lesson: 1,
                reason: EndReason::Shutdown
            },
            Action::Stopped
        ]
    );
}

#[test]
fn shutdown_of_an_idle_classroom_stops_at_once() {
    let (mut room, _source) = Room::pulled(GRACE);
    let actions = room.actions();
    let Action::StartPulled { incarnation, .. } = actions[0] else {
        panic!("{actions:?}");
    };
    room.input(Input::Shutdown);
    assert_eq!(
        room.actions(),
        [Action::Retire { incarnation }, Action::Stopped]
    );
    assert_eq!(room.ticks(secs(30.0)), [], "and never retries");
}

#[test]
fn shutdown_while_live_flushes_the_camera_into_the_lesson() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(10.0));
    room.actions();
    room.input(Input::Shutdown);
    assert_eq!(
        room.actions(),
        [Action::Retire {
            incarnation: camera
        }]
    );
    room.input(Input::Flushed {
        incarnation: camera,
    });
    assert_eq!(
        room.actions(),
        [
            Action::EndLesson {
                lesson: 1,
                reason: EndReason::Shutdown
            },
            Action::Stopped
        ]
    );
}
