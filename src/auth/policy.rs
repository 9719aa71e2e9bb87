//! Who may do what: pure decisions from a principal and the facts about the
//! thing asked for. Handlers load the facts, call one function here, and
//! answer 403 when it says no. Keeping every rule in one file is what lets
//! the authorization-matrix test and a reader check them.

mod library;

use uuid::Uuid;

pub use library::*;

use super::{Principal, Role};

/// What decides who sees a classroom's live lesson.
#[derive(Debug, Clone, Default)]
pub struct ClassroomFacts {
    pub school_id: Uuid,
    /// Partner schools invited to its lessons (专递课堂), as stored.
    pub audiences: Vec<Uuid>,
    /// Schools linked with it by an interactive session live now: invited
    /// for as long as the session lasts, never stored as audiences.
    pub guests: Vec<Uuid>,
}

/// What decides who sees a recording.
#[derive(Debug, Clone, Default)]
pub struct RecordingFacts {
    pub school_id: Uuid,
    pub teacher_id: Option<Uuid>,
    pub shared_with_users: Vec<Uuid>,
    pub shared_with_schools: Vec<Uuid>,
}

impl Principal {
    fn is_system_admin(&self) -> bool {
        self.has(Role::SystemAdmin)
    }

    fn in_school(&self, school: Uuid) -> bool {
        self.school_id == Some(school)
    }

    /// Administers this school: its classrooms, users and stream keys.
    pub fn administers(&self, school: Uuid) -> bool {
        self.is_system_admin() || (self.has(Role::SchoolAdmin) && self.in_school(school))
    }
}

/// A live lesson: its own school (a classroom device only where invited),
/// the partner schools invited to it, and system admins.
pub fn can_watch_live(who: &Principal, classroom: &ClassroomFacts) -> bool {
    if who.is_system_admin() {
        return true;
    }
    let invited = who
        .school_id
        .is_some_and(|s| classroom.audiences.contains(&s) || classroom.guests.contains(&s));
    if who.roles_are_only(Role::ClassroomDevice) {
        return invited;
    }
    who.in_school(classroom.school_id) || invited
}

/// Seeing a classroom at all (in lists, its page, its live sessions):
/// those who may watch it and those who administer it.
pub fn can_see_classroom(who: &Principal, classroom: &ClassroomFacts) -> bool {
    can_watch_live(who, classroom) || can_manage_classroom(who, classroom)
}

/// Classroom settings, sources and stream keys.
pub fn can_manage_classroom(who: &Principal, classroom: &ClassroomFacts) -> bool {
    who.administers(classroom.school_id)
}

/// Creating a classroom in a school.
pub fn can_create_classroom(who: &Principal, school: Uuid) -> bool {
    who.administers(school)
}

/// A recording: its teacher, the school's reviewers and admins, and whoever
/// it was shared with (a person, or everyone at a school).
pub fn can_view_recording(who: &Principal, recording: &RecordingFacts) -> bool {
    if who.administers(recording.school_id) {
        return true;
    }
    if recording.teacher_id == Some(who.user_id) {
        return true;
    }
    if who.has(Role::Reviewer) && who.in_school(recording.school_id) {
        return true;
    }
    recording.shared_with_users.contains(&who.user_id)
        || who
            .school_id
            .is_some_and(|s| recording.shared_with_schools.contains(&s))
}

/// Sharing or deleting a recording: its teacher and the school's admins.
pub fn can_manage_recording(who: &Principal, recording: &RecordingFacts) -> bool {
    who.administers(recording.school_id) || recording.teacher_id == Some(who.user_id)
}

/// Scheduling, starting and ending an interactive session from a main
/// classroom, and the teacher's controls in it (mute, speaking): the main
/// classroom's school's teachers and administrators.
pub fn can_run_interactive(who: &Principal, main: &ClassroomFacts) -> bool {
    who.administers(main.school_id) || (who.has(Role::Teacher) && who.in_school(main.school_id))
}

/// Linking `remote` into a session taught from `main`: a classroom of the
/// main school, or one whose school invited the main school to its lessons
/// (its camera then reaches the main school's teacher: that school agreed).
/// System admins link any classroom of the group.
pub fn can_link_remote(who: &Principal, main: &ClassroomFacts, remote: &ClassroomFacts) -> bool {
    who.is_system_admin()
        || remote.school_id == main.school_id
        || remote.audiences.contains(&main.school_id)
}

/// Sending a classroom's camera and microphone into an interactive
/// session: that classroom's own school (its teachers, its classroom
/// device account, its administrators).
pub fn can_take_part(who: &Principal, classroom: &ClassroomFacts) -> bool {
    who.administers(classroom.school_id)
        || (who.in_school(classroom.school_id)
            && (who.has(Role::Teacher) || who.has(Role::ClassroomDevice)))
}

/// Creating schools and campuses is the group's business.
pub fn can_manage_schools(who: &Principal) -> bool {
    who.is_system_admin()
}

/// Managing a user of `school` (None: a group-wide account) and granting
/// `roles`. School admins manage their own school's users and cannot make
/// anyone a system admin.
pub fn can_manage_user(who: &Principal, school: Option<Uuid>, roles: &[Role]) -> bool {
    if who.is_system_admin() {
        return true;
    }
    match school {
        Some(school) => who.administers(school) && !roles.contains(&Role::SystemAdmin),
        None => false,
    }
}

/// Uploading lesson videos to the library: teachers, resource-center
/// staff and administrators; not viewers, reviewers or classroom devices.
pub fn can_upload(who: &Principal) -> bool {
    [
        Role::Teacher,
        Role::ResourceStaff,
        Role::SchoolAdmin,
        Role::SystemAdmin,
    ]
    .iter()
    .any(|r| who.has(*r))
}

/// An upload, unfinished or finished, is its uploader's alone (until a
/// micro-lesson is made of it, which has its own rules).
pub fn can_use_upload(who: &Principal, owner: Uuid) -> bool {
    who.user_id == owner
}

/// Scraping /metrics: the group's operators.
pub fn can_read_metrics(who: &Principal) -> bool {
    who.is_system_admin()
}

/// A background job (a transcode): whoever asked for it, and system admins.
pub fn can_view_job(who: &Principal, created_by: Option<Uuid>) -> bool {
    who.is_system_admin() || created_by == Some(who.user_id)
}

/// Listing every job; everyone else lists the ones they asked for.
pub fn can_list_all_jobs(who: &Principal) -> bool {
    who.is_system_admin()
}

/// Asking for a job by hand, naming files in the media directory: system
/// admins only. (Uploads will enqueue their own jobs.)
pub fn can_enqueue_job(who: &Principal) -> bool {
    who.is_system_admin()
}

/// Reading the audit log: administrators.
pub fn can_read_audit(who: &Principal) -> bool {
    who.is_system_admin() || who.has(Role::SchoolAdmin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(school: Option<Uuid>, roles: &[Role]) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: "someone".into(),
            school_id: school,
            roles: roles
                .iter()
                .map(|r| super::super::RoleGrant {
                    role: *r,
                    review_level: None,
                    subject_id: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_live_lesson_reaches_its_school_and_invited_partners_only() {
        let (main, partner, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let room = ClassroomFacts {
            school_id: main,
            audiences: vec![partner],
            guests: Vec::new(),
        };
        assert!(can_watch_live(&person(Some(main), &[Role::Viewer]), &room));
        assert!(can_watch_live(
            &person(Some(partner), &[Role::Viewer]),
            &room
        ));
        assert!(!can_watch_live(
            &person(Some(other), &[Role::Viewer]),
            &room
        ));
        assert!(!can_watch_live(
            &person(Some(other), &[Role::SchoolAdmin]),
            &room
        ));
        assert!(can_watch_live(&person(None, &[Role::SystemAdmin]), &room));
        // A partner classroom's screen sees what it is invited to, and a
        // device of the teaching school is no viewer of everything there.
        assert!(can_watch_live(
            &person(Some(partner), &[Role::ClassroomDevice]),
            &room
        ));
        assert!(!can_watch_live(
            &person(Some(main), &[Role::ClassroomDevice]),
            &room
        ));
    }

    #[test]
    fn a_session_guest_watches_while_linked_and_a_remote_needs_its_schools_invitation() {
        let (main, partner, stranger) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let teaching = ClassroomFacts {
            school_id: main,
            audiences: Vec::new(),
            guests: vec![partner],
        };
        assert!(can_watch_live(
            &person(Some(partner), &[Role::ClassroomDevice]),
            &teaching
        ));
        assert!(!can_watch_live(
            &person(Some(stranger), &[Role::Teacher]),
            &teaching
        ));
        let teacher = person(Some(main), &[Role::Teacher]);
        let invited_us = ClassroomFacts {
            school_id: partner,
            audiences: vec![main],
            guests: Vec::new(),
        };
        let never_asked = ClassroomFacts {
            school_id: stranger,
            audiences: Vec::new(),
            guests: Vec::new(),
        };
        let ours = ClassroomFacts {
            school_id: main,
            ..Default::default()
        };
        assert!(can_link_remote(&teacher, &teaching, &invited_us));
        assert!(can_link_remote(&teacher, &teaching, &ours));
        assert!(!can_link_remote(&teacher, &teaching, &never_asked));
        assert!(can_link_remote(
            &person(None, &[Role::SystemAdmin]),
            &teaching,
            &never_asked
        ));
    }

    #[test]
    fn only_the_schools_admins_manage_its_classrooms() {
        let (main, partner) = (Uuid::new_v4(), Uuid::new_v4());
        let room = ClassroomFacts {
            school_id: main,
            audiences: vec![partner],
            guests: Vec::new(),
        };
        assert!(can_manage_classroom(
            &person(Some(main), &[Role::SchoolAdmin]),
            &room
        ));
        assert!(!can_manage_classroom(
            &person(Some(main), &[Role::Teacher]),
            &room
        ));
        assert!(!can_manage_classroom(
            &person(Some(partner), &[Role::SchoolAdmin]),
            &room
        ));
        assert!(can_manage_classroom(
            &person(None, &[Role::SystemAdmin]),
            &room
        ));
    }

    #[test]
    fn a_recording_reaches_its_teacher_reviewers_admins_and_shares() {
        let (main, other) = (Uuid::new_v4(), Uuid::new_v4());
        let teacher = person(Some(main), &[Role::Teacher]);
        let colleague = person(Some(main), &[Role::Teacher]);
        let guest = person(Some(other), &[Role::Teacher]);
        let mut recording = RecordingFacts {
            school_id: main,
            teacher_id: Some(teacher.user_id),
            ..Default::default()
        };
        assert!(can_view_recording(&teacher, &recording));
        assert!(can_manage_recording(&teacher, &recording));
        assert!(!can_view_recording(&colleague, &recording));
        assert!(can_view_recording(
            &person(Some(main), &[Role::Reviewer]),
            &recording
        ));
        assert!(can_view_recording(
            &person(Some(main), &[Role::SchoolAdmin]),
            &recording
        ));
        assert!(!can_view_recording(&guest, &recording));
        recording.shared_with_users.push(guest.user_id);
        assert!(can_view_recording(&guest, &recording));
        assert!(!can_manage_recording(&guest, &recording));
        recording.shared_with_schools.push(main);
        assert!(can_view_recording(&colleague, &recording));
    }

    #[test]
    fn teachers_staff_and_admins_upload_and_only_the_uploader_continues() {
        let school = Some(Uuid::new_v4());
        let teacher = person(school, &[Role::Teacher]);
        assert!(can_upload(&teacher));
        assert!(can_upload(&person(school, &[Role::ResourceStaff])));
        assert!(can_upload(&person(school, &[Role::SchoolAdmin])));
        assert!(can_upload(&person(None, &[Role::SystemAdmin])));
        assert!(!can_upload(&person(school, &[Role::Viewer])));
        assert!(!can_upload(&person(school, &[Role::Reviewer])));
        assert!(!can_upload(&person(school, &[Role::ClassroomDevice])));
        assert!(can_use_upload(&teacher, teacher.user_id));
        assert!(!can_use_upload(
            &person(None, &[Role::SystemAdmin]),
            teacher.user_id
        ));
    }

    #[test]
    fn school_admins_cannot_mint_system_admins_or_touch_other_schools() {
        let (main, other) = (Uuid::new_v4(), Uuid::new_v4());
        let admin = person(Some(main), &[Role::SchoolAdmin]);
        assert!(can_manage_user(&admin, Some(main), &[Role::Teacher]));
        assert!(!can_manage_user(&admin, Some(main), &[Role::SystemAdmin]));
        assert!(!can_manage_user(&admin, Some(other), &[Role::Teacher]));
        assert!(!can_manage_user(&admin, None, &[Role::Viewer]));
        assert!(can_manage_user(
            &person(None, &[Role::SystemAdmin]),
            None,
            &[Role::SystemAdmin]
        ));
    }
}
