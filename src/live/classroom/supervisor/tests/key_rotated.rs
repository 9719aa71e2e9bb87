//! Rotating a stream key cuts the publisher off mid-lesson; an encoder with
//! the new key continues the same lesson.

use super::*;

#[test]
fn a_rotated_key_drops_the_feed_and_the_new_key_continues_the_lesson() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(30.0));
    room.actions();

    room.input(Input::Detach { source });
    let actions = room.actions();
    let slate = Room::started_slate(&actions);
    assert_eq!(
        actions[0],
        Action::Retire {
            incarnation: camera
        }
    );
    assert_eq!(room.sup.camera(), None);
    assert_eq!(room.sup.phase(), Phase::SignalLost);
    // The same source publishes again with its new key.
    room.at(secs(34.0));
    let again = room.publish(source);
    room.input(Input::FirstPicture { incarnation: again });
    assert_eq!(room.actions(), [Action::Retire { incarnation: slate }]);
    assert_eq!(room.sup.lesson_of(again), Some(1));
}

#[test]
fn detaching_another_source_leaves_the_camera_alone() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.actions();
    room.input(Input::Detach {
        source: Uuid::new_v4(),
    });
    assert_eq!(room.actions(), []);
    assert_eq!(room.sup.camera(), Some((camera, source)));
}

#[test]
fn a_removed_source_drops_its_feed() {
    let (mut room, source) = Room::pushed(GRACE);
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.actions();
    room.input(Input::Sources {
        pulled: None,
        enabled: vec![],
    });
    assert_eq!(
        room.actions()[0],
        Action::Retire {
            incarnation: camera
        }
    );
    assert_eq!(room.sup.phase(), Phase::SignalLost);
}
