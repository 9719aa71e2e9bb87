//! What a single-sign-on identity means here: from the verified ID token's
//! claims to a username, a school code and roles, as the configuration maps
//! them. Pure; the OpenID Connect exchange itself lives in `http::sso`.

use serde_json::Value;

use super::{ReviewLevel, Role};
use crate::auth::RoleGrant;
use crate::config::SsoConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct SsoIdentity {
    pub issuer: String,
    pub subject: String,
    pub username: String,
    pub display_name: String,
    pub school_code: Option<String>,
    pub roles: Vec<RoleGrant>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SsoError {
    #[error("the identity platform sent no subject")]
    NoSubject,
    #[error("role mapping {0:?} is not a classcast role")]
    BadRoleMapping(String),
}

/// `teacher`, `school_admin`, `reviewer:school`, …; never `system_admin`:
/// the whole group is not handed out by an outside platform.
pub fn parse_role(text: &str) -> Option<RoleGrant> {
    let (role, level) = match text.split_once(':') {
        Some((role, level)) => (role, Some(level)),
        None => (text, None),
    };
    let role: Role = serde_json::from_value(Value::String(role.into())).ok()?;
    let review_level: Option<ReviewLevel> = match level {
        Some(level) => Some(serde_json::from_value(Value::String(level.into())).ok()?),
        None => None,
    };
    let valid = role != Role::SystemAdmin && ((role == Role::Reviewer) == review_level.is_some());
    valid.then_some(RoleGrant {
        role,
        review_level,
        subject_id: None,
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Maps verified claims to who the user is here.
pub fn identity(claims: &Value, config: &SsoConfig) -> Result<SsoIdentity, SsoError> {
    let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::to_string);
    let subject = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or(SsoError::NoSubject)?;
    let username = text("preferred_username").unwrap_or_else(|| subject.clone());
    let mut roles = Vec::new();
    for claimed in strings(claims.get(&config.roles_claim)) {
        if let Some(mapped) = config.role_map.get(&claimed) {
            let grant =
                parse_role(mapped).ok_or_else(|| SsoError::BadRoleMapping(mapped.clone()))?;
            if !roles.contains(&grant) {
                roles.push(grant);
            }
        }
    }
    if roles.is_empty() {
        for fallback in &config.default_roles {
            roles.push(
                parse_role(fallback).ok_or_else(|| SsoError::BadRoleMapping(fallback.clone()))?,
            );
        }
    }
    Ok(SsoIdentity {
        issuer: text("iss").unwrap_or_default(),
        subject,
        username,
        display_name: text("name").unwrap_or_default(),
        school_code: strings(claims.get(&config.school_claim)).into_iter().next(),
        roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_map_to_school_and_roles() {
        let mut config = SsoConfig::default();
        config
            .role_map
            .insert("jiaoyanzu".into(), "reviewer:teaching_group".into());
        let claims = json!({
            "iss": "https://idp.example.edu.cn", "sub": "T2024001",
            "preferred_username": "zhang.san", "name": "张三",
            "school": "SCH-001", "roles": ["teacher", "jiaoyanzu", "unknown"]
        });
        let who = identity(&claims, &config).unwrap();
        assert_eq!(who.username, "zhang.san");
        assert_eq!(who.school_code.as_deref(), Some("SCH-001"));
        assert_eq!(
            who.roles,
            vec![
                RoleGrant {
                    role: Role::Teacher,
                    review_level: None,
                    subject_id: None
                },
                RoleGrant {
                    role: Role::Reviewer,
                    review_level: Some(ReviewLevel::TeachingGroup),
                    subject_id: None
                },
            ]
        );
    }

    #[test]
    fn no_mapped_role_gets_the_default_and_nobody_becomes_system_admin() {
        let mut config = SsoConfig::default();
        let who = identity(&json!({"sub": "p1", "roles": "guardian"}), &config).unwrap();
        assert_eq!(who.roles[0].role, Role::Viewer);
        assert_eq!(who.username, "p1");
        config.role_map.insert("boss".into(), "system_admin".into());
        assert_eq!(
            identity(&json!({"sub": "x", "roles": "boss"}), &config),
            Err(SsoError::BadRoleMapping("system_admin".into()))
        );
        assert_eq!(identity(&json!({}), &config), Err(SsoError::NoSubject));
        assert!(parse_role("reviewer").is_none(), "reviewers need a level");
        assert!(parse_role("teacher:school").is_none());
    }
}
