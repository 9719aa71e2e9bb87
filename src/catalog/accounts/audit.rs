//! The audit log: who did what to which, from where. Read back with the
//! target's current name (or the name it had, from the entry's detail, once
//! it is gone), so the log reads without looking up ids.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::CatalogError;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    /// Client address, as text.
    pub address: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// The target's name now, or as recorded when it was deleted.
    pub target_name: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which entries to read: every filter optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries whose actor belongs to this school (a school's admin).
    pub school: Option<Uuid>,
    /// Part of the actor's name, or of the username tried in a failed sign-in.
    pub who: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

pub struct NewAuditEntry<'a> {
    pub actor: Option<(&'a Uuid, &'a str)>,
    pub address: Option<std::net::IpAddr>,
    pub action: &'a str,
    pub target: Option<(&'a str, String)>,
    pub detail: serde_json::Value,
}

pub async fn audit(db: &PgPool, entry: NewAuditEntry<'_>) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_name, address, action, target_kind, target_id, detail)
         VALUES ($1, $2, $3::inet, $4, $5, $6, $7)",
    )
    .bind(entry.actor.map(|a| *a.0))
    .bind(entry.actor.map(|a| a.1))
    .bind(entry.address.map(|a| a.to_string()))
    .bind(entry.action)
    .bind(entry.target.as_ref().map(|t| t.0))
    .bind(entry.target.as_ref().map(|t| t.1.clone()))
    .bind(entry.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Every action the server writes, in one place. Each has a message
/// `audit.<action>` in both catalogues (`web/i18n`) and a place in the audit
/// page's filter (`web/src/pages/AuditPage.vue`); the tests below read the
/// source and fail when a call site writes an action missing here, or when
/// a message or the filter entry is missing.
pub const ACTIONS: &[&str] = &[
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "first_admin_created",
    "user_created",
    "user_deleted",
    "user_disabled",
    "user_enabled",
    "roles_changed",
    "password_changed",
    "password_check_failed",
    "token_created",
    "token_revoked",
    "school_created",
    "school_changed",
    "school_deleted",
    "classroom_created",
    "classroom_changed",
    "classroom_deleted",
    "source_created",
    "source_changed",
    "source_deleted",
    "stream_key_rotated",
    "audiences_changed",
    "recording_renamed",
    "recording_shared",
    "recording_deleted",
    "interactive_session_created",
    "interactive_session_started",
    "interactive_session_ended",
    "interactive_session_deleted",
    "lesson_created",
    "lesson_deleted",
    "lesson_media_attached",
    "lesson_clipped",
    "lesson_attachment_added",
    "lesson_attachment_removed",
    // `lesson_{decision}`: one per review decision (library::review::Decision).
    "lesson_submit",
    "lesson_approve",
    "lesson_reject",
    "lesson_unpublish",
    "lesson_feature",
    "lesson_unfeature",
    "upload_created",
    "upload_deleted",
    "job_enqueued",
    "library_term_created",
    "library_term_renamed",
    "knowledge_points_imported",
];

/// What an entry can be about: each has a message `audit.kind.<kind>` and
/// its name looked up in [`AUDIT_LOG`].
pub const TARGET_KINDS: &[&str] = &[
    "user",
    "school",
    "classroom",
    "source",
    "recording",
    "token",
    "interactive_session",
    "micro_lesson",
    "upload",
    "job",
    "library_term",
    "subject",
];

/// The log with each target's name now, or (once it is gone) as the entry's
/// detail recorded it. A library term is a subject, a grade or an edition.
const AUDIT_LOG: &str = "SELECT a.id, a.at, a.actor_id, a.actor_name, host(a.address) AS address, a.action,
        a.target_kind, a.target_id, a.detail,
        COALESCE(CASE a.target_kind
            WHEN 'user' THEN (SELECT COALESCE(NULLIF(u.display_name, ''), u.username)
                              FROM users u WHERE u.id::text = a.target_id)
            WHEN 'school' THEN (SELECT name FROM schools WHERE id::text = a.target_id)
            WHEN 'classroom' THEN (SELECT name FROM classrooms WHERE id::text = a.target_id)
            WHEN 'source' THEN (SELECT COALESCE(NULLIF(s.name, ''), upper(s.kind::text)) || ' · ' || c.name
                                FROM sources s JOIN classrooms c ON c.id = s.classroom_id
                                WHERE s.id::text = a.target_id)
            WHEN 'recording' THEN (SELECT title FROM recordings WHERE id::text = a.target_id)
            WHEN 'token' THEN (SELECT name FROM api_tokens WHERE id::text = a.target_id)
            WHEN 'interactive_session' THEN (SELECT title FROM interactive_sessions WHERE id::text = a.target_id)
            WHEN 'micro_lesson' THEN (SELECT title FROM micro_lessons WHERE id::text = a.target_id)
            WHEN 'upload' THEN (SELECT metadata->>'filename' FROM uploads WHERE id::text = a.target_id)
            WHEN 'job' THEN (SELECT kind FROM jobs WHERE id::text = a.target_id)
            WHEN 'library_term' THEN (SELECT name FROM subjects WHERE id::text = a.target_id
                                      UNION ALL SELECT name FROM grades WHERE id::text = a.target_id
                                      UNION ALL SELECT name FROM editions WHERE id::text = a.target_id
                                      LIMIT 1)
            WHEN 'subject' THEN (SELECT name FROM subjects WHERE id::text = a.target_id)
         END, a.detail->>'name', a.detail->>'title', a.detail->>'username', a.detail->>'filename') AS target_name
 FROM audit_log a
 WHERE ($1::uuid IS NULL OR a.actor_id IN (SELECT id FROM users WHERE school_id = $1))
   AND ($2::text IS NULL OR a.actor_name ILIKE $2 OR a.detail->>'username' ILIKE $2)
   AND ($3::text IS NULL OR a.action = $3)
   AND ($4::timestamptz IS NULL OR a.at >= $4)
   AND ($5::timestamptz IS NULL OR a.at < $5)
 ORDER BY a.at DESC, a.id DESC LIMIT $6 OFFSET $7";

/// The newest entries `filter` selects.
pub async fn audit_log(db: &PgPool, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CatalogError> {
    let who = filter
        .who
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    Ok(sqlx::query_as(AUDIT_LOG)
        .bind(filter.school)
        .bind(who)
        .bind(filter.action.as_deref().filter(|a| !a.is_empty()))
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    //! The source, the catalogues and the audit page held to `ACTIONS` and
    //! `TARGET_KINDS`. The source is read when the test runs, not compiled
    //! in, so a module added later is covered without being listed here.

    use std::collections::{BTreeSet, HashMap};
    use std::path::{Path, PathBuf};

    use super::{ACTIONS, AUDIT_LOG, TARGET_KINDS};
    use crate::library::review::Decision;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    /// The values `format!("{prefix}{}", …)` actions can take.
    fn dynamic(prefix: &str) -> Option<Vec<String>> {
        match prefix {
            "lesson_" => {
                // A new decision fails to compile here until it is listed.
                let all = |d: Decision| match d {
                    Decision::Submit
                    | Decision::Approve
                    | Decision::Reject
                    | Decision::Unpublish
                    | Decision::Feature
                    | Decision::Unfeature => d,
                };
                Some(
                    [
                        Decision::Submit,
                        Decision::Approve,
                        Decision::Reject,
                        Decision::Unpublish,
                        Decision::Feature,
                        Decision::Unfeature,
                    ]
                    .map(|d| format!("lesson_{}", all(d).as_str()))
                    .to_vec(),
                )
            }
            _ => None,
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// A file's code: no comment lines, no test module.
    fn code(text: &str) -> String {
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        text.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// From just after an opening bracket: the text up to its closing one,
    /// split at the top-level commas.
    fn arguments(text: &str) -> Vec<String> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let mut args = vec![String::new()];
        for c in text.chars() {
            if in_string {
                in_string = c != '"' || escaped;
                escaped = c == '\\' && !escaped;
            } else {
                match c {
                    '"' => in_string = true,
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' if depth == 0 => break,
                    ')' | ']' | '}' => depth -= 1,
                    ',' if depth == 0 => {
                        args.push(String::new());
                        continue;
                    }
                    _ => {}
                }
            }
            args.last_mut().expect("never empty").push(c);
        }
        args.into_iter().map(|a| a.trim().to_string()).collect()
    }

    fn literals(expr: &str) -> Vec<String> {
        expr.split('"')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect()
    }

    /// Every (action expression, target expression) written: the action
    /// and target of `caller.audit(state, action, target, detail)`,
    /// `audit_anonymous(state, address, action, detail)` and
    /// `NewAuditEntry { action, target, .. }`, with where they are.
    fn call_sites() -> Vec<(String, String, Option<String>)> {
        let mut files = Vec::new();
        rust_files(&Path::new(ROOT).join("src"), &mut files);
        let mut sites = Vec::new();
        for file in files {
            let text = code(&std::fs::read_to_string(&file).expect("a source file"));
            let name = file
                .strip_prefix(ROOT)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (at, _) in text.match_indices(".audit(") {
                let args = arguments(&text[at + ".audit(".len()..]);
                sites.push((name.clone(), args[1].clone(), Some(args[2].clone())));
            }
            for (at, _) in text.match_indices("audit_anonymous(") {
                if text[..at].trim_end().ends_with("fn") {
                    continue;
                }
                let args = arguments(&text[at + "audit_anonymous(".len()..]);
                sites.push((name.clone(), args[2].clone(), None));
            }
            for (at, _) in text.match_indices("NewAuditEntry {") {
                let fields: HashMap<String, String> =
                    arguments(&text[at + "NewAuditEntry {".len()..])
                        .into_iter()
                        .map(|f| match f.split_once(':') {
                            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                            None => (f.clone(), f),
                        })
                        .collect();
                sites.push((
                    name.clone(),
                    fields["action"].clone(),
                    Some(fields["target"].clone()),
                ));
            }
        }
        sites
    }

    /// The actions and target kinds the source writes. A wrapper passing
    /// its own `action` or `target` on is not a call site of its own.
    fn written() -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut actions, mut kinds) = (BTreeSet::new(), BTreeSet::new());
        let sites = call_sites();
        assert!(sites.len() > 30, "the scan found only {sites:?}");
        for (file, action, target) in sites {
            let found = literals(&action);
            match found.as_slice() {
                [] if action == "action" => {}
                [] => panic!("{file}: cannot tell which action `{action}` writes: use a literal"),
                [pattern] if pattern.contains('{') => {
                    let prefix = pattern.split('{').next().unwrap_or_default();
                    let values = dynamic(prefix).unwrap_or_else(|| {
                        panic!("{file}: `{action}`: list its values in dynamic()")
                    });
                    actions.extend(values);
                }
                _ => actions.extend(found),
            }
            let Some(target) = target else { continue };
            match literals(&target).first() {
                Some(kind) => {
                    kinds.insert(kind.clone());
                }
                None if target == "None" || target == "target" => {}
                None => panic!("{file}: cannot tell which kind `{target}` is: use a literal"),
            }
        }
        (actions, kinds)
    }

    fn catalogue(name: &str) -> HashMap<String, String> {
        let path = Path::new(ROOT).join("web/i18n").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).expect("a catalogue"))
            .expect("a catalogue is JSON")
    }

    #[test]
    fn every_action_written_is_listed_and_every_listed_one_written() {
        let (actions, kinds) = written();
        let listed: BTreeSet<String> = ACTIONS.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            actions, listed,
            "actions written (left) and ACTIONS (right)"
        );
        let listed: BTreeSet<String> = TARGET_KINDS.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            kinds, listed,
            "target kinds written (left) and TARGET_KINDS (right)"
        );
    }

    #[test]
    fn every_action_and_target_kind_has_its_words_in_both_languages() {
        for name in ["zh-CN.json", "en.json"] {
            let messages = catalogue(name);
            let missing: Vec<String> = ACTIONS
                .iter()
                .map(|a| format!("audit.{a}"))
                .chain(TARGET_KINDS.iter().map(|k| format!("audit.kind.{k}")))
                .filter(|key| messages.get(key).is_none_or(|m| m.trim().is_empty()))
                .collect();
            assert!(missing.is_empty(), "{name} lacks {missing:?}");
        }
    }

    #[test]
    fn every_target_kind_is_named_in_the_log() {
        for kind in TARGET_KINDS {
            assert!(
                AUDIT_LOG.contains(&format!("WHEN '{kind}' THEN")),
                "audit_log() does not look up the name of a {kind}"
            );
        }
    }

    #[test]
    fn the_audit_page_offers_every_action_as_a_filter() {
        let page = std::fs::read_to_string(Path::new(ROOT).join("web/src/pages/AuditPage.vue"))
            .expect("the audit page");
        let list = page
            .split("const ACTIONS = [")
            .nth(1)
            .and_then(|rest| rest.split("];").next())
            .expect("AuditPage.vue has `const ACTIONS = [...];`");
        let offered: BTreeSet<&str> = list.split('\'').skip(1).step_by(2).collect();
        let listed: BTreeSet<&str> = ACTIONS.iter().copied().collect();
        assert_eq!(
            offered, listed,
            "the page's filter (left) and ACTIONS (right)"
        );
    }
}
