//! Who may do what, as the matrix states it: the people, the rows, the
//! routes checked elsewhere, and the routes the router really has.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

/// Who asks. Each gets an API token (bearer) made by signing in.
pub const PEOPLE: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "staff_main",
    "teacher_main",
    "viewer_main",
    "device_main",
    "viewer_partner",
    "device_partner",
    "admin_other",
    "viewer_other",
    "anonymous",
];

/// Who may see the classroom (watch it live, read it in the API).
pub const SEE: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "staff_main",
    "teacher_main",
    "viewer_main",
    "viewer_partner",
    "device_partner",
];
/// Who administers the main school's classroom.
pub const MANAGE: &[&str] = &["system_admin", "admin_main"];
/// Who may view the main school's recording: its teacher, the school's
/// reviewers (at any level) and admins (no shares yet); not its resource
/// staff, who see what is shared with them.
pub const RECORDING: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "teacher_main",
];
pub const ADMINS: &[&str] = &["system_admin", "admin_main", "admin_other"];
pub const SIGNED_IN: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "staff_main",
    "teacher_main",
    "viewer_main",
    "device_main",
    "viewer_partner",
    "device_partner",
    "admin_other",
    "viewer_other",
];

pub struct Fixture {
    pub classroom: String,
    pub source: String,
    pub recording: String,
    pub main_school: String,
    pub user: String,
    /// An unfinished upload of teacher_main's.
    pub upload: String,
}

pub struct Row {
    pub method: Method,
    /// Path template as in the OpenAPI document, or a media path.
    pub template: &'static str,
    pub allowed: &'static [&'static str],
    pub body: Option<Value>,
}

pub fn row(method: Method, template: &'static str, allowed: &'static [&'static str]) -> Row {
    Row {
        method,
        template,
        allowed,
        body: None,
    }
}

pub fn matrix() -> Vec<Row> {
    use Method as M;
    let mut rows = vec![
        row(M::GET, "/api/session", SIGNED_IN),
        row(M::GET, "/api/schools", SIGNED_IN),
        row(M::GET, "/api/classrooms", SIGNED_IN),
        row(M::GET, "/api/classrooms/{id}", SEE),
        row(M::GET, "/api/classrooms/{id}/playback", SEE),
        row(M::GET, "/api/classrooms/{id}/sources", MANAGE),
        row(M::GET, "/api/classrooms/{id}/sources/{source_id}", MANAGE),
        row(M::GET, "/api/classrooms/{id}/audiences", MANAGE),
        row(M::GET, "/api/recordings", SIGNED_IN),
        row(M::GET, "/api/recordings/{id}", RECORDING),
        row(M::GET, "/api/recordings/{id}/playback", RECORDING),
        row(M::GET, "/api/sessions", SIGNED_IN),
        row(M::GET, "/api/users", ADMINS),
        row(M::GET, "/api/tokens", SIGNED_IN),
        row(M::GET, "/api/audit", ADMINS),
        row(M::GET, "/live/{id}/index.m3u8", SEE),
        row(M::GET, "/live/{id}/thumbnail.jpg", SEE),
        row(M::GET, "/live/{id}/source/index.m3u8", SEE),
        row(M::GET, "/vod/{id}/source/index.m3u8", RECORDING),
        row(M::GET, "/vod/{id}/index.m3u8", RECORDING),
        row(M::GET, "/api/openapi.json", &[]),
        row(M::GET, "/metrics", &["system_admin"]),
        row(M::GET, "/api/sso", &[]),
        row(M::GET, "/api/uploads/{id}/info", &["teacher_main"]),
        // The library's lists: everyone signed in (which lessons each
        // person gets is checked in library.rs).
        row(M::GET, "/api/library/lessons", SIGNED_IN),
        row(M::GET, "/api/library/queue", SIGNED_IN),
        row(M::GET, "/api/library/subjects", SIGNED_IN),
        row(M::GET, "/api/library/grades", SIGNED_IN),
        row(M::GET, "/api/library/editions", SIGNED_IN),
    ];
    // Writes that change nothing when allowed (same values back), so every
    // person can try them in turn.
    rows.push(Row {
        body: Some(json!({})),
        ..row(M::PATCH, "/api/classrooms/{id}", MANAGE)
    });
    rows.push(Row {
        body: Some(json!({})),
        ..row(M::PATCH, "/api/classrooms/{id}/sources/{source_id}", MANAGE)
    });
    rows.push(Row {
        body: Some(json!({})),
        ..row(M::PATCH, "/api/users/{id}", USER_OR_ADMINS)
    });
    rows.push(Row {
        body: Some(json!({})),
        ..row(M::PATCH, "/api/schools/{id}", &["system_admin"])
    });
    rows.push(Row {
        body: Some(json!({})),
        ..row(M::PATCH, "/api/recordings/{id}", RECORDING_OWNERS)
    });
    rows
}

/// Who may rename, share or delete the main school's recording: its
/// teacher and the school's admins.
pub const RECORDING_OWNERS: &[&str] = &["system_admin", "admin_main", "teacher_main"];

/// A main-school user is managed by the group and the school, and may
/// change their own password.
pub const USER_OR_ADMINS: &[&str] = &["system_admin", "admin_main", "viewer_main"];

/// Sign-in routes, public by nature, whose behaviour their own tests check.
pub const OTHER_TESTS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/api/session",
        "tests/playback_tokens_and_revocation.rs, web/tests/sign_in.test.mjs",
    ),
    ("DELETE", "/api/session", "web/tests/sign_in.test.mjs"),
    (
        "POST",
        "/api/setup",
        "tests/first_admin_is_made_once.rs, web/tests/setup.test.mjs",
    ),
    (
        "GET",
        "/api/sso/login",
        "web/tests/sign_in.test.mjs (OpenID Connect)",
    ),
    (
        "GET",
        "/api/sso/callback",
        "web/tests/sign_in.test.mjs (OpenID Connect)",
    ),
    // WHIP's credential is the source's stream key, not a role.
    ("POST", "/whip", "tests/whip_publishes_a_lesson.rs"),
    (
        "POST",
        "/whip/{stream_key}",
        "tests/whip_publishes_a_lesson.rs",
    ),
    (
        "PATCH",
        "/whip/sessions/{session}",
        "tests/whip_publishes_a_lesson.rs",
    ),
    (
        "DELETE",
        "/whip/sessions/{session}",
        "tests/whip_publishes_a_lesson.rs",
    ),
];

/// Routes whose effect cannot be repeated per person (creating, deleting,
/// rotating, signing in): checked once each, below, refused for the wrong
/// people and then allowed, or in the tests `OTHER_TESTS` names.
pub const CHECKED_SEPARATELY: &[(&str, &str)] = &[
    ("POST", "/api/session"),
    ("GET", "/api/sso/login"),
    ("GET", "/api/sso/callback"),
    ("DELETE", "/api/session"),
    ("POST", "/api/setup"),
    ("POST", "/api/schools"),
    ("DELETE", "/api/schools/{id}"),
    ("POST", "/api/classrooms"),
    ("DELETE", "/api/classrooms/{id}"),
    ("POST", "/api/classrooms/{id}/sources"),
    ("DELETE", "/api/classrooms/{id}/sources/{source_id}"),
    (
        "POST",
        "/api/classrooms/{id}/sources/{source_id}/rotate-key",
    ),
    ("PUT", "/api/classrooms/{id}/audiences"),
    ("DELETE", "/api/recordings/{id}"),
    ("POST", "/api/recordings/{id}/shares"),
    // Needs the recording's files and a lesson's terms:
    // tests/access_matrix/clips.rs.
    ("POST", "/api/recordings/{id}/clips"),
    ("POST", "/api/users"),
    ("DELETE", "/api/users/{id}"),
    ("POST", "/api/tokens"),
    ("DELETE", "/api/tokens/{id}"),
    // WHEP takes an SDP body, not JSON: tests/access_matrix/whep.rs.
    ("POST", "/whep/{id}"),
    ("PATCH", "/whep/{id}/{session}"),
    ("DELETE", "/whep/{id}/{session}"),
    ("POST", "/whip"),
    ("POST", "/whip/{stream_key}"),
    ("PATCH", "/whip/sessions/{session}"),
    ("DELETE", "/whip/sessions/{session}"),
    // tus requests carry their own headers and bodies:
    // tests/access_matrix/uploads.rs.
    ("POST", "/api/uploads"),
    ("HEAD", "/api/uploads/{id}"),
    ("PATCH", "/api/uploads/{id}"),
    ("DELETE", "/api/uploads/{id}"),
    // Interactive sessions have an order (schedule, start, end):
    // tests/access_matrix/interactive.rs.
    ("GET", "/api/interactive"),
    ("POST", "/api/interactive"),
    ("GET", "/api/interactive/{id}"),
    ("PATCH", "/api/interactive/{id}"),
    ("DELETE", "/api/interactive/{id}"),
    ("POST", "/api/interactive/{id}/start"),
    ("POST", "/api/interactive/{id}/end"),
    ("PATCH", "/api/interactive/{id}/classrooms/{participant}"),
    (
        "POST",
        "/api/interactive/{id}/classrooms/{participant}/whip",
    ),
    // A job is its creator's, and only system admins create them (by
    // hand, until uploads do): tests/access_matrix/jobs.rs.
    ("POST", "/api/jobs"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
    // The library: terms, knowledge points and a lesson's review have an
    // order: tests/access_matrix/library.rs.
    ("POST", "/api/library/subjects"),
    ("PATCH", "/api/library/subjects/{id}"),
    ("POST", "/api/library/grades"),
    ("PATCH", "/api/library/grades/{id}"),
    ("POST", "/api/library/editions"),
    ("PATCH", "/api/library/editions/{id}"),
    ("GET", "/api/library/knowledge-points"),
    ("POST", "/api/library/knowledge-points"),
    ("PATCH", "/api/library/knowledge-points/{id}"),
    ("DELETE", "/api/library/knowledge-points/{id}"),
    ("POST", "/api/library/knowledge-point-imports"),
    ("POST", "/api/library/lessons"),
    ("GET", "/api/library/lessons/{id}"),
    ("PATCH", "/api/library/lessons/{id}"),
    ("DELETE", "/api/library/lessons/{id}"),
    ("PUT", "/api/library/lessons/{id}/media"),
    ("GET", "/api/library/lessons/{id}/hls/{file}"),
    ("POST", "/api/library/lessons/{id}/attachments"),
    ("GET", "/api/library/lessons/{id}/attachments"),
    ("GET", "/api/library/lessons/{id}/attachments/{attachment}"),
    (
        "DELETE",
        "/api/library/lessons/{id}/attachments/{attachment}",
    ),
    ("GET", "/api/library/lessons/{id}/chapters.vtt"),
    ("POST", "/api/library/lessons/{id}/submit"),
    ("POST", "/api/library/lessons/{id}/approve"),
    ("POST", "/api/library/lessons/{id}/reject"),
    ("POST", "/api/library/lessons/{id}/unpublish"),
    ("PUT", "/api/library/lessons/{id}/featured"),
    ("POST", "/api/library/lessons/{id}/views"),
    ("GET", "/api/library/stats"),
];

/// Routes open to everyone by design, each for its own reason.
pub const UNGUARDED: &[&str] = &[
    // Load balancers' liveness probe; says "ok" and nothing else.
    "/healthz",
    // The JSON 404 for unknown API paths.
    "/api/{*rest}",
];

/// (METHOD, path) of every `.route(...)` in `src/http`, read from the
/// source: axum cannot list a router's routes, and the OpenAPI document
/// leaves out media, metrics and probes.
pub fn router_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in source.split(".route(").skip(1) {
            let Some(path) = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            // The handlers: up to the call's closing parenthesis.
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(call.len(), |(i, _)| i);
            let handlers = &call[..end];
            for method in ["get", "post", "patch", "put", "delete", "any"] {
                let called = handlers
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
                if called {
                    routes.insert((method.to_uppercase(), path.to_string()));
                }
            }
        }
    }
    routes
}

pub fn fill(template: &str, f: &Fixture) -> String {
    let id = if template.starts_with("/api/recordings") || template.starts_with("/vod") {
        &f.recording
    } else if template.starts_with("/api/users") {
        &f.user
    } else if template.starts_with("/api/uploads") {
        &f.upload
    } else if template.starts_with("/api/schools") {
        &f.main_school
    } else {
        &f.classroom
    };
    template
        .replace("{id}", id)
        .replace("{source_id}", &f.source)
}
