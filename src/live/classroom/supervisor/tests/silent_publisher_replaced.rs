//! An encoder that reconnects while its old connection hangs silent (a
//! network drop the server has not noticed yet) takes over at once.

use super::*;

#[test]
fn a_silent_connection_gives_way_to_the_reconnecting_encoder() {
    let (mut room, source) = Room::pushed(GRACE);
    let old = room.publish(source);
    room.input(Input::FirstPicture { incarnation: old });
    room.frames(old, secs(10.0));
    room.actions();
    // Silent for 3.1 s, before the next tick noticed: the new connection
    // replaces it rather than being refused as "busy".
    room.at(secs(13.1)).input(Input::Publish { source });
    let actions = room.actions();
    let slate = Room::started_slate(&actions);
    let [
        Action::Retire {
            incarnation: retired,
        },
        Action::StartSlate { .. },
        Action::AcceptPublish {
            incarnation: new, ..
        },
    ] = actions.as_slice()
    else {
        panic!("unexpected {actions:?}");
    };
    assert_eq!(*retired, old);
    room.input(Input::FirstPicture { incarnation: *new });
    assert_eq!(room.actions(), [Action::Retire { incarnation: slate }]);
    assert_eq!(room.sup.lesson_of(*new), Some(1), "the lesson continues");
}

#[test]
fn a_connection_that_never_showed_a_picture_gives_way_at_once() {
    let (mut room, source) = Room::pushed(GRACE);
    let stuck = room.publish(source);
    room.frames(stuck, secs(2.0)); // bytes, but no keyframe
    room.input(Input::Publish { source });
    let actions = room.actions();
    assert_eq!(actions[0], Action::Retire { incarnation: stuck });
    assert!(matches!(actions[1], Action::AcceptPublish { .. }));
    assert_eq!(actions.len(), 2, "no lesson, so no slate: {actions:?}");
}
