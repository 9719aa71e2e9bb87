//! One camera at a time: a second publisher is refused while the first is
//! live and healthy, and that refusal costs the first nothing.

use super::*;

#[test]
fn a_second_publisher_is_refused_while_the_first_is_live() {
    let (mut room, source) = Room::pushed(GRACE);
    let other = Uuid::new_v4();
    room.input(Input::Sources {
        pulled: None,
        enabled: vec![source, other],
    });
    let camera = room.publish(source);
    room.input(Input::FirstPicture {
        incarnation: camera,
    });
    room.frames(camera, secs(5.0));
    room.actions();

    room.input(Input::Publish { source: other });
    assert_eq!(
        room.actions(),
        [Action::RefusePublish {
            source: other,
            why: Refused::Busy
        }]
    );
    // The same key a second time (a duplicate encoder) is refused too.
    room.input(Input::Publish { source });
    assert_eq!(
        room.actions(),
        [Action::RefusePublish {
            source,
            why: Refused::Busy
        }]
    );
    assert_eq!(room.sup.camera(), Some((camera, source)));
    room.frames(camera, secs(20.0));
    assert_eq!(room.actions(), []);
    assert_eq!(room.sup.phase(), Phase::Live);
}
