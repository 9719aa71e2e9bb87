//! A feed's first picture starts the lesson; nothing starts before it.

use super::*;

#[test]
fn a_pushed_feed_starts_the_lesson_at_its_first_picture() {
    let (mut room, source) = Room::pushed(GRACE);
    assert_eq!(room.sup.phase(), Phase::Idle);
    let camera = room.publish(source);
    // Connected, but no keyframe yet: still idle, nothing recorded.
    room.frames(camera, secs(0.5));
    assert_eq!(room.sup.phase(), Phase::Idle);
    assert_eq!(room.actions(), []);
    assert_eq!(room.sup.lesson_of(camera), None);

    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 1 }]);
    assert_eq!(room.sup.phase(), Phase::Live);
    assert_eq!(room.sup.lesson_of(camera), Some(1));
    assert_eq!(room.sup.on_air(), Some(camera));
    assert_eq!(room.sup.problem(), None);

    // A healthy feed stays live for as long as it sends.
    room.frames(camera, secs(120.0));
    assert_eq!(room.actions(), []);
    assert_eq!(room.sup.phase(), Phase::Live);
}

#[test]
fn a_pulled_camera_is_started_at_once_and_its_picture_starts_the_lesson() {
    let (mut room, source) = Room::pulled(GRACE);
    let actions = room.actions();
    let [
        Action::StartPulled {
            incarnation,
            source: s,
        },
    ] = actions.as_slice()
    else {
        panic!("expected the camera to be started: {actions:?}");
    };
    assert_eq!(*s, source);
    room.at(secs(0.8)).input(Input::FirstPicture {
        incarnation: *incarnation,
    });
    assert_eq!(room.actions(), [Action::StartLesson { lesson: 1 }]);
    assert_eq!(room.sup.camera(), Some((*incarnation, source)));
}
