//! Router-level checks (the app called directly with `oneshot`, on a real
//! PostgreSQL) that every failure answers the one JSON error shape with the
//! right status: unknown references and NUL bytes are 422 with the field
//! named, constraint failures map to fields, the identity platform failing
//! is 502, and with the database gone the API and cookie media answer 503
//! fast while token media keeps playing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use classcast::auth::playback::{Grant, PlaybackKey, Revocations, Scope};
use classcast::auth::{Role, RoleGrant};
use classcast::catalog::CatalogError;
use classcast::catalog::accounts::{tokens, users};
use classcast::config::Config;
use classcast::http::{AppState, router};
use classcast::live::{Live, LiveContext};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const ADMIN_URL: &str = "postgres://classcast:classcast@127.0.0.1:5432/postgres";
const BEARER: &str = "cc_router_test_secret";

struct App {
    state: AppState,
    _media: tempfile::TempDir,
    database: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                ADMIN_URL,
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database),
            ])
            .output();
    }
}

/// The app on a fresh database, with a system admin holding `BEARER`.
async fn app(configure: impl FnOnce(&mut Config)) -> App {
    classcast::media::init().unwrap();
    let database = format!("classcast_test_{}", Uuid::new_v4().simple());
    let media = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("postgres://classcast:classcast@127.0.0.1:5432/{database}");
    config.media.dir = media.path().to_path_buf();
    config.demo.enabled = false;
    configure(&mut config);
    let config = Arc::new(config);
    let db = classcast::server::connect(&config).await.unwrap();
    sqlx::migrate!("./migrations").run(&db).await.unwrap();
    let admin = users::create(
        &db,
        &users::NewUser {
            school_id: None,
            username: "root".into(),
            display_name: String::new(),
            password: None,
            roles: vec![RoleGrant {
                role: Role::SystemAdmin,
                review_level: None,
                subject_id: None,
            }],
        },
        None,
    )
    .await
    .unwrap();
    tokens::create_token(
        &db,
        admin.id,
        "router test",
        "cc_router",
        &classcast::http::extract::sha256(BEARER),
        None,
    )
    .await
    .unwrap();
    // Nobody publishes here: the gate's listener side is simply dropped.
    let (gate, publish_requests) = classcast::ingest::gate::channel();
    let live = Live::start(
        LiveContext {
            db: db.clone(),
            config: config.clone(),
            node: "router-test".into(),
            ledger: classcast::catalog::ledger::Ledger::start(db.clone()),
            rtp: None,
        },
        publish_requests,
    )
    .await
    .unwrap();
    let (_, revocations) = tokio::sync::watch::channel(Arc::new(Revocations::default()));
    let state = AppState {
        db,
        config: config.clone(),
        live,
        metrics: metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
        playback: PlaybackKey::new(vec![42; 32]),
        revocations,
        hashing: classcast::auth::password::HashingSlots::new(2, Duration::from_secs(2)),
        webrtc: None,
        ingest: gate,
        storage: classcast::storage::MediaStore::from_config(&config).unwrap(),
    };
    App {
        state,
        _media: media,
        database,
    }
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {BEARER}"))
        .header("content-type", "application/json")
        .header("accept-language", "en")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {BEARER}"))
        .body(Body::empty())
        .unwrap()
}

/// The one error shape, with this code; returns its fields.
fn error_shape(status: StatusCode, body: &Value, want: StatusCode, code: &str) -> Value {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["fields"].is_object(), "{body}");
    body["error"]["fields"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_references_and_nul_bytes_are_field_errors() {
    let app = app(|_| {}).await;
    let s = &app.state;
    let (status, school) = send(s, post("/api/schools", json!({"name": "一中"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{school}");

    // Unknown references: 422 naming the field (409 was a lie: nothing conflicts).
    let (status, body) = send(
        s,
        post(
            "/api/users",
            json!({"username": "li", "school_id": Uuid::new_v4(), "roles": [{"role": "teacher"}]}),
        ),
    )
    .await;
    let fields = error_shape(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(
        fields["school_id"],
        "Refers to something that does not exist"
    );
    let (status, body) = send(
        s,
        post(
            "/api/schools",
            json!({"name": "分校", "parent_id": Uuid::new_v4()}),
        ),
    )
    .await;
    let fields = error_shape(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert!(fields["parent_id"].is_string(), "{body}");

    // NUL bytes, which PostgreSQL cannot even store: 422 with the field.
    let nul = "教室\u{0}1";
    let (status, room) = send(s, post("/api/classrooms", json!({"name": "初一"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    let room = room["id"].as_str().unwrap();
    for (path, body, field) in [
        ("/api/schools".to_string(), json!({"name": nul}), "name"),
        (
            "/api/schools".to_string(),
            json!({"name": "x", "external_id": nul}),
            "external_id",
        ),
        ("/api/classrooms".to_string(), json!({"name": nul}), "name"),
        ("/api/tokens".to_string(), json!({"name": nul}), "name"),
        (
            "/api/users".to_string(),
            json!({"username": nul, "school_id": school["id"], "roles": [{"role": "viewer"}]}),
            "username",
        ),
        (
            "/api/users".to_string(),
            json!({"username": "zhao", "display_name": nul, "school_id": school["id"],
                   "roles": [{"role": "viewer"}]}),
            "display_name",
        ),
        (
            format!("/api/classrooms/{room}/sources"),
            json!({"kind": "rtsp", "url": "rtsp://cam/1", "password": nul}),
            "password",
        ),
        (
            format!("/api/classrooms/{room}/sources"),
            json!({"kind": "rtmp", "name": nul}),
            "name",
        ),
        (
            "/api/session".to_string(),
            json!({"username": nul, "password": "x"}),
            "username",
        ),
    ] {
        let (status, reply) = send(s, post(&path, body.clone())).await;
        let fields = error_shape(
            status,
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
        assert!(fields[field].is_string(), "{path} {body}: {reply}");
    }
    // Over-long free text: 422 with the field, not a megabyte in a column.
    let long = "长".repeat(100_000);
    for (path, body, field) in [
        (
            "/api/schools".to_string(),
            json!({"name": "y", "external_id": long}),
            "external_id",
        ),
        (
            format!("/api/classrooms/{room}/sources"),
            json!({"kind": "rtsp", "url": "rtsp://cam/1", "username": long}),
            "username",
        ),
    ] {
        let (status, reply) = send(s, post(&path, body)).await;
        let fields = error_shape(
            status,
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
        assert_eq!(fields[field], "Too long", "{path}: {reply}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn constraint_failures_name_their_column() {
    let app = app(|_| {}).await;
    let db = &app.state.db;
    // What PostgreSQL itself refuses, as the catalogue reports it.
    let check = sqlx::query("INSERT INTO schools (id, name) VALUES ($1, '   ')")
        .bind(Uuid::new_v4())
        .execute(db)
        .await
        .unwrap_err();
    match CatalogError::from(check) {
        CatalogError::Invalid(fields) => assert_eq!(fields.get("name"), Some(&"invalid_value")),
        other => panic!("{other:?}"),
    }
    let foreign = sqlx::query("INSERT INTO classrooms (id, school_id, name) VALUES ($1, $2, 'x')")
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4())
        .execute(db)
        .await
        .unwrap_err();
    match CatalogError::from(foreign) {
        CatalogError::Invalid(fields) => {
            assert_eq!(fields.get("school_id"), Some(&"unknown_reference"))
        }
        other => panic!("{other:?}"),
    }
    let nul = sqlx::query("INSERT INTO schools (id, name) VALUES ($1, $2)")
        .bind(Uuid::new_v4())
        .bind("a\u{0}b")
        .execute(db)
        .await
        .unwrap_err();
    assert!(
        matches!(CatalogError::from(nul), CatalogError::Invalid(_)),
        "a NUL that slipped past validation is still no 500"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_name_or_code_is_a_conflict_on_its_field() {
    let app = app(|_| {}).await;
    let s = &app.state;
    let (status, school) = send(
        s,
        post(
            "/api/schools",
            json!({"name": "一中", "external_id": "S001"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{school}");
    // Each conflict names the one field to change, as a 422 would.
    for (path, body, code, field, words) in [
        (
            "/api/schools",
            json!({"name": "一中"}),
            "name_taken",
            "name",
            "Another school under the same parent has this name",
        ),
        (
            "/api/schools",
            json!({"name": "二中", "external_id": "S001"}),
            "external_id_taken",
            "external_id",
            "Another school already has this code",
        ),
        (
            "/api/users",
            json!({"username": "ROOT", "school_id": school["id"], "roles": [{"role": "viewer"}]}),
            "username_taken",
            "username",
            "This username is taken: choose another",
        ),
    ] {
        let (status, reply) = send(s, post(path, body)).await;
        let fields = error_shape(status, &reply, StatusCode::CONFLICT, code);
        assert_eq!(fields[field], words, "{path}: {reply}");
        assert_eq!(fields.as_object().unwrap().len(), 1, "{reply}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_platform_failing_is_a_bad_gateway() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = app(|c| {
        c.sso.enabled = true;
        c.sso.issuer = format!("http://127.0.0.1:{port}");
        c.sso.client_id = "classcast".into();
    })
    .await;
    let (status, body) = send(&app.state, get("/api/sso/login")).await;
    error_shape(status, &body, StatusCode::BAD_GATEWAY, "upstream_failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_gone_the_api_fails_fast_and_token_media_plays_on() {
    let mut app = app(|_| {}).await;
    // A recording on disk, and a token for it, made while all was well.
    let recording = Uuid::new_v4();
    let dir = app
        .state
        .config
        .recordings_dir()
        .join(recording.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n",
    )
    .unwrap();
    let token = app.state.playback.sign(&Grant {
        scope: Scope::Recording(recording),
        lesson: None,
        viewer: Uuid::new_v4(),
        viewer_epoch: 0,
        scope_epoch: 0,
        expires: chrono::Utc::now().timestamp() + 300,
    });

    // Now the database is unreachable: a pool pointed at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    app.state.db = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&format!(
            "postgres://classcast:classcast@127.0.0.1:{port}/gone"
        ))
        .unwrap();
    let s = &app.state;
    let room = Uuid::new_v4();
    let cookie = |path: &str| {
        Request::get(path)
            .header("cookie", "classcast_session=whatever")
            .body(Body::empty())
            .unwrap()
    };
    for request in [
        get("/api/classrooms"),
        cookie(&format!("/live/{room}/index.m3u8")),
        cookie(&format!("/vod/{recording}/index.m3u8")),
        post(
            "/api/session",
            json!({"username": "root", "password": "whatever it is"}),
        ),
    ] {
        let what = request.uri().to_string();
        let started = Instant::now();
        let (status, body) = send(s, request).await;
        error_shape(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    let response = router(s.clone())
        .oneshot(
            Request::get(format!("/vod/{recording}/index.m3u8?token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "token media plays on");
}
