//! Accounts and access control: who is asking (`Principal`, from a session
//! cookie or an API token), what they may do (`policy`, pure), passwords
//! (`password`) and the signed playback tokens that open media to players
//! (`playback`). HTTP wiring lives in `http`; rows in `catalog::accounts`.

pub mod password;
pub mod playback;
pub mod policy;
pub mod sso;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "role_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    SchoolAdmin,
    ResourceStaff,
    Reviewer,
    Teacher,
    ClassroomDevice,
    Viewer,
}

/// The three review levels a micro-lesson passes: 教研组 → 学校 → 资源中心.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "review_level", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReviewLevel {
    TeachingGroup,
    School,
    ResourceCenter,
}

/// One role a user holds, with its review level for reviewers, and for a
/// teaching-research group (教研组) reviewer the subject the group reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct RoleGrant {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_level: Option<ReviewLevel>,
    /// Only with `review_level: teaching_group` (a `subjects` id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<Uuid>,
}

impl RoleGrant {
    /// A role with no review level and no subject.
    pub fn plain(role: Role) -> Self {
        Self {
            role,
            review_level: None,
            subject_id: None,
        }
    }
}

/// Someone signed in, with what they are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub school_id: Option<Uuid>,
    pub roles: Vec<RoleGrant>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.iter().any(|g| g.role == role)
    }

    /// True when every role held is `role` (and there is at least one).
    pub fn roles_are_only(&self, role: Role) -> bool {
        !self.roles.is_empty() && self.roles.iter().all(|g| g.role == role)
    }
}
