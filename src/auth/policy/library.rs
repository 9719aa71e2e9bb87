//! The micro-lesson library's rules: who sees a lesson, who describes it,
//! who decides at each review level, who curates the library's terms.
//! Pure, like the rest of `policy`; the SQL behind lists and queues
//! (`catalog::library`) follows `visible_published` and `ReviewScope`.

use uuid::Uuid;

use super::super::{Principal, ReviewLevel, Role};
use crate::library::Visibility;
use crate::library::review::LessonState;

/// What decides who may see and act on a lesson.
#[derive(Debug, Clone)]
pub struct LessonFacts {
    pub school_id: Uuid,
    pub subject_id: Uuid,
    pub author_id: Option<Uuid>,
    pub state: LessonState,
    pub visibility: Visibility,
}

/// The caller's own school, as far as lessons care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerSchool {
    /// A partner school (山区小学 …), not one of the group's own.
    pub is_partner: bool,
}

/// The resource center and the group's operators: they run the library.
pub fn is_library_staff(who: &Principal) -> bool {
    who.has(Role::SystemAdmin) || who.has(Role::ResourceStaff)
}

fn in_school(who: &Principal, school: Uuid) -> bool {
    who.school_id == Some(school)
}

/// A published lesson, by its visibility.
pub fn visible_published(
    who: &Principal,
    viewer: ViewerSchool,
    school_id: Uuid,
    visibility: Visibility,
) -> bool {
    match visibility {
        Visibility::Partners => true,
        Visibility::Group => !viewer.is_partner || in_school(who, school_id),
        Visibility::School => in_school(who, school_id),
    }
}

/// Drafting a lesson for `school`: its teachers, and library staff.
pub fn can_create_lesson(who: &Principal, school: Uuid) -> bool {
    is_library_staff(who) || (who.has(Role::Teacher) && in_school(who, school))
}

fn is_author(who: &Principal, lesson: &LessonFacts) -> bool {
    lesson.author_id == Some(who.user_id)
}

/// A lesson's own people: its author and library staff.
pub fn owns_lesson(who: &Principal, lesson: &LessonFacts) -> bool {
    is_author(who, lesson) || is_library_staff(who)
}

/// Changing the description: its own people, while the lesson is not in
/// review or published.
pub fn can_edit_lesson(who: &Principal, lesson: &LessonFacts) -> bool {
    lesson.state.editable() && owns_lesson(who, lesson)
}

/// Sending it (again) for review: its own people (whether its state
/// allows it now is the review workflow's answer, a conflict, not a refusal).
pub fn can_submit_lesson(who: &Principal, lesson: &LessonFacts) -> bool {
    owns_lesson(who, lesson)
}

/// What deleting a lesson for good comes to for someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LessonDeletion {
    Allowed,
    /// Theirs, but not now: in review or once in the library (409).
    NotNow,
    /// Not theirs to delete, or not theirs to see (403, as the lesson's
    /// other routes answer).
    Refused,
}

/// Deleting a lesson, its files and its history: library staff, any
/// lesson of the group (published ones included: taking one out of the
/// library for good is the resource center's call); its author only
/// while it is a draft or sent back. Not in review (a reviewer is deciding
/// on it), nor published or unpublished (it was in the library: its views
/// and review history are the library's, and staff decide).
pub fn lesson_deletion(who: &Principal, lesson: &LessonFacts) -> LessonDeletion {
    if is_library_staff(who) {
        return LessonDeletion::Allowed;
    }
    if !is_author(who, lesson) {
        return LessonDeletion::Refused;
    }
    match lesson.state {
        LessonState::Draft | LessonState::Rejected => LessonDeletion::Allowed,
        LessonState::Submitted(_) | LessonState::Published | LessonState::Unpublished => {
            LessonDeletion::NotNow
        }
    }
}

/// Deciding at `level`: a reviewer of that level; for 教研组 of the
/// lesson's school and subject, for 学校 of its school, for 资源中心
/// anywhere in the group. Nobody decides on a lesson they wrote.
pub fn can_review_at(who: &Principal, lesson: &LessonFacts, level: ReviewLevel) -> bool {
    if is_author(who, lesson) {
        return false;
    }
    who.roles.iter().any(|g| {
        g.role == Role::Reviewer
            && g.review_level == Some(level)
            && match level {
                ReviewLevel::TeachingGroup => {
                    in_school(who, lesson.school_id) && g.subject_id == Some(lesson.subject_id)
                }
                ReviewLevel::School => in_school(who, lesson.school_id),
                ReviewLevel::ResourceCenter => true,
            }
    })
}

/// Approving or rejecting the lesson where it waits now.
pub fn can_decide(who: &Principal, lesson: &LessonFacts) -> bool {
    lesson
        .state
        .waiting_at()
        .is_some_and(|level| can_review_at(who, lesson, level))
}

/// Unpublishing and marking 精品课: library staff and resource-center reviewers.
pub fn can_curate_library(who: &Principal) -> bool {
    is_library_staff(who)
        || who.roles.iter().any(|g| {
            g.role == Role::Reviewer && g.review_level == Some(ReviewLevel::ResourceCenter)
        })
}

/// A lesson: published ones by visibility; the author's own work at any
/// stage; a reviewer's when it waits for them; staff see everything.
pub fn can_view_lesson(who: &Principal, viewer: ViewerSchool, lesson: &LessonFacts) -> bool {
    is_library_staff(who)
        || is_author(who, lesson)
        || can_decide(who, lesson)
        || (lesson.state == LessonState::Published
            && visible_published(who, viewer, lesson.school_id, lesson.visibility))
}

/// Subjects, grades and textbook editions: library staff.
pub fn can_edit_library_terms(who: &Principal) -> bool {
    is_library_staff(who)
}

/// A subject's knowledge-point tree: that subject's teaching-research
/// group (教研组) reviewers, at any school, and library staff.
pub fn can_edit_knowledge_points(who: &Principal, subject: Uuid) -> bool {
    is_library_staff(who)
        || who.roles.iter().any(|g| {
            g.role == Role::Reviewer
                && g.review_level == Some(ReviewLevel::TeachingGroup)
                && g.subject_id == Some(subject)
        })
}

/// What a reviewer's queue holds, as the catalogue's query needs it: the
/// same rule as `can_review_at`, for every lesson at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewScope {
    pub user_id: Uuid,
    pub school_id: Option<Uuid>,
    /// 教研组: these subjects, at `school_id`.
    pub teaching_group_subjects: Vec<Uuid>,
    /// 学校: everything at `school_id`.
    pub school: bool,
    /// 资源中心: everything.
    pub resource_center: bool,
}

impl ReviewScope {
    pub fn is_empty(&self) -> bool {
        self.teaching_group_subjects.is_empty() && !self.school && !self.resource_center
    }
}

pub fn review_scope(who: &Principal) -> ReviewScope {
    let mut scope = ReviewScope {
        user_id: who.user_id,
        school_id: who.school_id,
        ..Default::default()
    };
    for g in who.roles.iter().filter(|g| g.role == Role::Reviewer) {
        match g.review_level {
            Some(ReviewLevel::TeachingGroup) => {
                if let (Some(subject), Some(_)) = (g.subject_id, who.school_id) {
                    scope.teaching_group_subjects.push(subject);
                }
            }
            Some(ReviewLevel::School) => scope.school = who.school_id.is_some(),
            Some(ReviewLevel::ResourceCenter) => scope.resource_center = true,
            None => {}
        }
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::super::super::RoleGrant;
    use super::*;

    fn person(school: Option<Uuid>, grants: &[RoleGrant]) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: "someone".into(),
            school_id: school,
            roles: grants.to_vec(),
        }
    }

    fn reviewer(level: ReviewLevel, subject: Option<Uuid>) -> RoleGrant {
        RoleGrant {
            role: Role::Reviewer,
            review_level: Some(level),
            subject_id: subject,
        }
    }

    fn lesson(school: Uuid, subject: Uuid, state: LessonState) -> LessonFacts {
        LessonFacts {
            school_id: school,
            subject_id: subject,
            author_id: None,
            state,
            visibility: Visibility::School,
        }
    }

    fn ids<const N: usize>() -> [Uuid; N] {
        std::array::from_fn(|_| Uuid::new_v4())
    }

    #[test]
    fn each_level_is_decided_by_its_own_reviewers_only() {
        let [school, elsewhere, math, chinese] = ids();
        let group = |s, subject| person(Some(s), &[reviewer(ReviewLevel::TeachingGroup, subject)]);
        let math_group = group(school, Some(math));
        let chinese_group = group(school, Some(chinese));
        let math_group_elsewhere = group(elsewhere, Some(math));
        let school_reviewer = person(Some(school), &[reviewer(ReviewLevel::School, None)]);
        let center = person(
            Some(elsewhere),
            &[reviewer(ReviewLevel::ResourceCenter, None)],
        );
        let admin = person(None, &[RoleGrant::plain(Role::SystemAdmin)]);

        let at_group = lesson(
            school,
            math,
            LessonState::Submitted(ReviewLevel::TeachingGroup),
        );
        assert!(can_decide(&math_group, &at_group));
        assert!(!can_decide(&chinese_group, &at_group), "another subject");
        assert!(
            !can_decide(&math_group_elsewhere, &at_group),
            "another school"
        );
        assert!(!can_decide(&school_reviewer, &at_group), "the next level");
        assert!(!can_decide(&admin, &at_group), "admins do not review");

        let at_school = LessonFacts {
            state: LessonState::Submitted(ReviewLevel::School),
            ..at_group.clone()
        };
        assert!(can_decide(&school_reviewer, &at_school));
        assert!(!can_decide(&math_group, &at_school));
        let at_center = LessonFacts {
            state: LessonState::Submitted(ReviewLevel::ResourceCenter),
            ..at_group.clone()
        };
        assert!(can_decide(&center, &at_center), "group-wide");
        assert!(!can_decide(&school_reviewer, &at_center));
        // Nobody decides on their own lesson.
        let own = LessonFacts {
            author_id: Some(school_reviewer.user_id),
            ..at_school.clone()
        };
        assert!(!can_decide(&school_reviewer, &own));
        assert!(!can_decide(
            &center,
            &lesson(school, math, LessonState::Draft)
        ));
    }

    #[test]
    fn the_queue_scope_says_what_can_review_at_says() {
        let [school, math] = ids();
        let who = person(
            Some(school),
            &[
                reviewer(ReviewLevel::TeachingGroup, Some(math)),
                reviewer(ReviewLevel::School, None),
                RoleGrant::plain(Role::Teacher),
            ],
        );
        let scope = review_scope(&who);
        assert_eq!(scope.teaching_group_subjects, vec![math]);
        assert!(scope.school && !scope.resource_center);
        let teacher = person(Some(school), &[RoleGrant::plain(Role::Teacher)]);
        assert!(review_scope(&teacher).is_empty());
        // A teaching-group grant without a subject reviews nothing.
        let unset = person(Some(school), &[reviewer(ReviewLevel::TeachingGroup, None)]);
        assert!(review_scope(&unset).is_empty());
        let waiting = lesson(
            school,
            math,
            LessonState::Submitted(ReviewLevel::TeachingGroup),
        );
        assert!(!can_decide(&unset, &waiting));
    }

    #[test]
    fn published_lessons_reach_whom_their_visibility_says_and_drafts_only_their_author() {
        let [school, partner_school, sister_school, math] = ids();
        let viewer = |s| person(Some(s), &[RoleGrant::plain(Role::Viewer)]);
        let (ours, partner, sister) = (
            viewer(school),
            viewer(partner_school),
            viewer(sister_school),
        );
        let campus = ViewerSchool { is_partner: false };
        let remote = ViewerSchool { is_partner: true };
        let mut published = lesson(school, math, LessonState::Published);
        assert!(can_view_lesson(&ours, campus, &published));
        assert!(!can_view_lesson(&sister, campus, &published));
        assert!(!can_view_lesson(&partner, remote, &published));
        published.visibility = Visibility::Group;
        assert!(can_view_lesson(&sister, campus, &published));
        assert!(!can_view_lesson(&partner, remote, &published));
        published.visibility = Visibility::Partners;
        assert!(can_view_lesson(&partner, remote, &published));

        let teacher = person(Some(school), &[RoleGrant::plain(Role::Teacher)]);
        let draft = LessonFacts {
            author_id: Some(teacher.user_id),
            visibility: Visibility::Partners,
            ..lesson(school, math, LessonState::Draft)
        };
        assert!(can_view_lesson(&teacher, campus, &draft));
        assert!(can_edit_lesson(&teacher, &draft));
        assert!(!can_view_lesson(&ours, campus, &draft));
        let staff = person(None, &[RoleGrant::plain(Role::ResourceStaff)]);
        assert!(can_view_lesson(&staff, campus, &draft));
        let in_review = LessonFacts {
            state: LessonState::Submitted(ReviewLevel::School),
            ..draft.clone()
        };
        assert!(!can_edit_lesson(&teacher, &in_review), "frozen in review");
    }

    #[test]
    fn teachers_draft_for_their_school_and_groups_keep_their_subjects_points() {
        let [school, other, math, chinese] = ids();
        let teacher = person(Some(school), &[RoleGrant::plain(Role::Teacher)]);
        assert!(can_create_lesson(&teacher, school));
        assert!(!can_create_lesson(&teacher, other));
        let viewer = person(Some(school), &[RoleGrant::plain(Role::Viewer)]);
        assert!(!can_create_lesson(&viewer, school));
        let group = person(
            Some(other),
            &[reviewer(ReviewLevel::TeachingGroup, Some(math))],
        );
        assert!(can_edit_knowledge_points(&group, math));
        assert!(!can_edit_knowledge_points(&group, chinese));
        assert!(!can_edit_library_terms(&group));
        let staff = person(None, &[RoleGrant::plain(Role::ResourceStaff)]);
        assert!(can_edit_library_terms(&staff) && can_curate_library(&staff));
        let center = person(None, &[reviewer(ReviewLevel::ResourceCenter, None)]);
        assert!(can_curate_library(&center));
        assert!(!can_curate_library(&teacher));
    }

    #[test]
    fn authors_delete_drafts_and_returned_lessons_and_staff_delete_any() {
        let [school, math] = ids();
        let author = person(Some(school), &[RoleGrant::plain(Role::Teacher)]);
        let colleague = person(Some(school), &[RoleGrant::plain(Role::Teacher)]);
        let admin = person(Some(school), &[RoleGrant::plain(Role::SchoolAdmin)]);
        let center = person(None, &[reviewer(ReviewLevel::ResourceCenter, None)]);
        let staff = person(None, &[RoleGrant::plain(Role::ResourceStaff)]);
        let operator = person(None, &[RoleGrant::plain(Role::SystemAdmin)]);
        let theirs = |state| LessonFacts {
            author_id: Some(author.user_id),
            visibility: Visibility::Partners,
            ..lesson(school, math, state)
        };
        use LessonDeletion::*;
        for (state, by_author) in [
            (LessonState::Draft, Allowed),
            (LessonState::Rejected, Allowed),
            (LessonState::Submitted(ReviewLevel::TeachingGroup), NotNow),
            (LessonState::Submitted(ReviewLevel::ResourceCenter), NotNow),
            (LessonState::Published, NotNow),
            (LessonState::Unpublished, NotNow),
        ] {
            let facts = theirs(state);
            assert_eq!(lesson_deletion(&author, &facts), by_author, "{state:?}");
            assert_eq!(lesson_deletion(&staff, &facts), Allowed, "{state:?}");
            assert_eq!(lesson_deletion(&operator, &facts), Allowed, "{state:?}");
            // Seeing it (a published one reaches them all) is not owning it;
            // curating the library is not deleting from it.
            for other in [&colleague, &admin, &center] {
                assert_eq!(lesson_deletion(other, &facts), Refused, "{state:?}");
            }
        }
    }
}
