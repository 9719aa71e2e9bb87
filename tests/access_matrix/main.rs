//! Classroom video shows children: every API route and every media route,
//! asked by every role at the classroom's own school, at an invited partner
//! school and at an unrelated school, and by nobody, answers exactly as the
//! access rules say. A route missing from the matrix fails the test, so new
//! routes must be added here.
//!
//! List routes are checked by the ids each person gets, not by a 2xx; every
//! answer is checked against the OpenAPI document; and the routes are
//! enumerated from the router's source, so media routes cannot escape.

mod chapters;
mod clips;
#[path = "../common/mod.rs"]
mod common;
mod interactive;
mod jobs;
mod lesson_deletion;
mod library;
mod requests;
mod rules;
mod uploads;
mod whep;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{ServerOptions, TestServer};
use requests::{OnceChecks, SPEC, api_token, request, root_id};
use reqwest::Method;
use rules::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_every_role_as_the_rules_say() {
    use Method as M;
    let server = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let _ = SPEC.set(common::openapi::Spec::fetch(&server).await);
    // Nobody exists yet: everything is closed.
    assert_eq!(server.get("/api/classrooms").await.status(), 401);
    server.create_admin("system_admin", PASSWORD);
    let root = api_token(&server, "system_admin").await;
    let post = |path: &'static str, body: Value| {
        let root = root.clone();
        let server = &server;
        async move {
            let response = request(server, Method::POST, path, Some(&root), Some(&body)).await;
            let status = response.status().as_u16();
            let value: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status == 201 || status == 200, "{path}: {status} {value}");
            value
        }
    };
    let main = post(
        "/api/schools",
        json!({"name": "实验中学 本部", "kind": "campus"}),
    )
    .await;
    let partner = post(
        "/api/schools",
        json!({"name": "山区小学", "kind": "partner"}),
    )
    .await;
    let other = post(
        "/api/schools",
        json!({"name": "另一所学校", "kind": "campus"}),
    )
    .await;
    let school_of = |name: &str| match name.rsplit('_').next().unwrap() {
        "main" => Some(main["id"].clone()),
        "partner" => Some(partner["id"].clone()),
        "other" => Some(other["id"].clone()),
        _ => None,
    };
    let mut users = BTreeMap::new();
    for person in PEOPLE {
        if matches!(*person, "system_admin" | "anonymous") {
            continue;
        }
        let role = match person.split('_').next().unwrap() {
            "admin" => json!({"role": "school_admin"}),
            "staff" => json!({"role": "resource_staff"}),
            "reviewer" if person.contains("_tg_") => {
                json!({"role": "reviewer", "review_level": "teaching_group"})
            }
            "reviewer" => json!({"role": "reviewer", "review_level": "school"}),
            "device" => json!({"role": "classroom_device"}),
            other => json!({"role": other}),
        };
        let user = post(
            "/api/users",
            json!({"username": person, "password": PASSWORD, "school_id": school_of(person),
                   "roles": [role]}),
        )
        .await;
        users.insert(*person, user);
    }
    let classroom = post(
        "/api/classrooms",
        json!({"name": "初二(3)班", "school_id": main["id"]}),
    )
    .await;
    let id = classroom["id"].as_str().unwrap().to_string();
    let response = request(
        &server,
        Method::PATCH,
        &format!("/api/classrooms/{id}"),
        Some(&root),
        Some(&json!({"teacher_id": users["teacher_main"]["id"]})),
    )
    .await;
    assert_eq!(response.status(), 200);
    // Another school's user would see every recording made here: refused.
    for outsider in ["viewer_other", "viewer_main"] {
        let response = request(
            &server,
            Method::PATCH,
            &format!("/api/classrooms/{id}"),
            Some(&root),
            Some(&json!({"teacher_id": users[outsider]["id"]})),
        )
        .await;
        assert_eq!(response.status(), 422, "{outsider} as the teacher");
    }
    let source = request(
        &server,
        Method::POST,
        &format!("/api/classrooms/{id}/sources"),
        Some(&root),
        Some(&json!({"kind": "test"})),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let response = request(
        &server,
        Method::PUT,
        &format!("/api/classrooms/{id}/audiences"),
        Some(&root),
        Some(&json!([partner["id"]])),
    )
    .await;
    assert_eq!(response.status(), 200);
    let unknown = request(
        &server,
        Method::PUT,
        &format!("/api/classrooms/{id}/audiences"),
        Some(&root),
        Some(&json!([uuid::Uuid::new_v4()])),
    )
    .await;
    assert_eq!(unknown.status(), 422, "an unknown school is a field error");
    // The test pattern goes live and records: a live stream and a recording to guard.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let recording = loop {
        let c: Value = request(
            &server,
            Method::GET,
            &format!("/api/classrooms/{id}"),
            Some(&root),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if c["live"]["renditions"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break c["live"]["recording_id"].as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "not live: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut tokens = BTreeMap::new();
    tokens.insert("system_admin", Some(root.clone()));
    tokens.insert("anonymous", None);
    for person in users.keys() {
        tokens.insert(*person, Some(api_token(&server, person).await));
    }
    let upload = server
        .client
        .post(server.url("/api/uploads"))
        .bearer_auth(tokens["teacher_main"].as_deref().unwrap())
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let upload = upload.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let fixture = Fixture {
        classroom: id.clone(),
        source: source["id"].as_str().unwrap().to_string(),
        recording,
        main_school: main["id"].as_str().unwrap().to_string(),
        user: users["viewer_main"]["id"].as_str().unwrap().to_string(),
        upload,
    };

    // Every route the router has, and every documented one, is in the
    // matrix or checked separately below.
    let openapi: Value = server.get("/api/openapi.json").await.json().await.unwrap();
    let rows = matrix();
    let mut covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    covered.extend(
        CHECKED_SEPARATELY
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let key = (method.to_uppercase(), path.clone());
            assert!(
                covered.contains(&key),
                "{} {} is not in the authorization matrix",
                key.0,
                key.1
            );
        }
    }
    let routes = router_routes();
    assert!(routes.len() > 30, "router parse found only {routes:?}");
    for (method, path) in &routes {
        // Media file routes are in the matrix by a concrete file name.
        let concrete = path
            .replace("{rendition}/{file}", "source/index.m3u8")
            .replace("{classroom}", "{id}")
            .replace("{recording}", "{id}")
            // A wildcard's name, as the spec writes it.
            .replace("{*file}", "{file}");
        assert!(
            covered.contains(&(method.clone(), concrete.clone()))
                || UNGUARDED.contains(&path.as_str()),
            "{method} {path} (the router's) is not in the authorization matrix"
        );
    }

    let mut failures = Vec::new();
    for row in &rows {
        let path = fill(row.template, &fixture);
        for person in PEOPLE {
            let token = tokens[person].as_deref();
            let status = request(&server, row.method.clone(), &path, token, row.body.as_ref())
                .await
                .status()
                .as_u16();
            let public = matches!(row.template, "/api/openapi.json" | "/api/sso");
            let expected_ok = public || row.allowed.contains(person);
            let ok = if expected_ok {
                (200..300).contains(&status)
            } else if *person == "anonymous" {
                status == 401
            } else {
                status == 403
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {person}: {status} (expected {})",
                    row.method,
                    row.template,
                    if expected_ok {
                        "2xx"
                    } else if *person == "anonymous" {
                        "401"
                    } else {
                        "403"
                    }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix failures:\n{}",
        failures.join("\n")
    );

    // List routes: a 2xx proves nothing (every school's rows would pass);
    // the ids each person gets must be exactly those they may see.
    let lesson = {
        let c: Value = request(
            &server,
            M::GET,
            &format!("/api/classrooms/{id}"),
            Some(&root),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        c["live"]["session_id"].as_str().unwrap().to_string()
    };
    let ids = |list: &Value, key: &str| -> BTreeSet<String> {
        list.as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .map(|item| item[key].as_str().unwrap().to_string())
            .collect()
    };
    let school_users = |school: &str| -> BTreeSet<String> {
        users
            .values()
            .filter(|u| u["school_id"] == school)
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let everyone: BTreeSet<String> = users
        .values()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .chain(std::iter::once(root_id(&server, &root).await))
        .collect();
    let one = |id: &str| BTreeSet::from([id.to_string()]);
    for person in PEOPLE.iter().filter(|p| **p != "anonymous") {
        let token = tokens[person].as_deref();
        let get = |path: &'static str| {
            let server = &server;
            async move {
                let response = request(server, M::GET, path, token, None).await;
                assert_eq!(response.status(), 200, "{path} as {person}");
                response.json::<Value>().await.unwrap()
            }
        };
        let sees = SEE.contains(person);
        let want = |yes: bool, id: &str| if yes { one(id) } else { BTreeSet::new() };
        assert_eq!(
            ids(&get("/api/classrooms").await, "id"),
            want(sees, &id),
            "classrooms of {person}"
        );
        assert_eq!(
            ids(&get("/api/sessions").await, "id"),
            want(sees, &lesson),
            "lessons of {person}"
        );
        assert_eq!(
            ids(&get("/api/recordings").await, "id"),
            want(RECORDING.contains(person), &fixture.recording),
            "recordings of {person}"
        );
        let own_tokens = get("/api/tokens").await;
        let owners = ids(&own_tokens, "user_id");
        let me = if *person == "system_admin" {
            root_id(&server, &root).await
        } else {
            users[person]["id"].as_str().unwrap().to_string()
        };
        assert_eq!(owners, one(&me), "tokens listed to {person}");
        if ADMINS.contains(person) {
            let listed = ids(&get("/api/users").await, "id");
            let expected = match *person {
                "system_admin" => everyone.clone(),
                "admin_main" => school_users(main["id"].as_str().unwrap()),
                _ => school_users(other["id"].as_str().unwrap()),
            };
            assert_eq!(listed, expected, "users listed to {person}");
        }
    }

    // Routes with lasting effects: refused for the wrong people, then
    // allowed once. Each call records its route, so the list above cannot
    // claim a check that is not made.
    let once = OnceChecks {
        server: &server,
        tokens: &tokens,
        checked: std::cell::RefCell::new(BTreeSet::new()),
    };
    let main_school = &fixture.main_school;
    let school_of_main = json!({"name": "新校区"});
    let new_school = once
        .check(
            M::POST,
            "/api/schools",
            "/api/schools",
            Some(&school_of_main),
            &["admin_main", "anonymous"],
            "system_admin",
            201,
        )
        .await;
    // A school with classrooms and people stays; an unused one goes.
    assert_eq!(
        once.status(
            "system_admin",
            M::DELETE,
            &format!("/api/schools/{main_school}"),
            None
        )
        .await,
        409,
        "a school in use is not deleted"
    );
    once.check(
        M::DELETE,
        "/api/schools/{id}",
        &format!("/api/schools/{}", new_school["id"].as_str().unwrap()),
        None,
        &["admin_main", "viewer_main", "anonymous"],
        "system_admin",
        204,
    )
    .await;
    let room = once
        .check(
            M::POST,
            "/api/classrooms",
            "/api/classrooms",
            Some(&json!({"name": "新教室", "school_id": main_school})),
            &["admin_other", "teacher_main"],
            "admin_main",
            201,
        )
        .await;
    let room = room["id"].as_str().unwrap();
    let rtmp = once
        .check(
            M::POST,
            "/api/classrooms/{id}/sources",
            &format!("/api/classrooms/{id}/sources"),
            Some(&json!({"kind": "rtmp"})),
            &["viewer_main", "admin_other"],
            "admin_main",
            201,
        )
        .await;
    let rtmp = rtmp["id"].as_str().unwrap();
    once.check(
        M::PUT,
        "/api/classrooms/{id}/audiences",
        &format!("/api/classrooms/{id}/audiences"),
        Some(&json!([partner["id"]])),
        &["admin_other", "device_partner"],
        "admin_main",
        200,
    )
    .await;
    once.check(
        M::POST,
        "/api/classrooms/{id}/sources/{source_id}/rotate-key",
        &format!("/api/classrooms/{id}/sources/{rtmp}/rotate-key"),
        None,
        &["viewer_main", "admin_other"],
        "admin_main",
        200,
    )
    .await;
    let teacher = once
        .check(M::POST, "/api/users", "/api/users",
            Some(&json!({"username": "new_teacher", "password": PASSWORD, "school_id": main_school, "roles": [{"role": "teacher"}]})),
            &["teacher_main", "admin_other"], "admin_main", 201)
        .await;
    // A school admin cannot mint a system admin; the group can.
    once.check(M::POST, "/api/users", "/api/users",
        Some(&json!({"username": "sneaky", "password": PASSWORD, "school_id": main_school, "roles": [{"role": "system_admin"}]})),
        &["admin_main"], "system_admin", 201).await;
    let token = once
        .check(
            M::POST,
            "/api/tokens",
            "/api/tokens",
            Some(&json!({"name": "课表系统"})),
            &["anonymous"],
            "viewer_main",
            201,
        )
        .await;
    once.check(
        M::DELETE,
        "/api/tokens/{id}",
        &format!("/api/tokens/{}", token["id"].as_str().unwrap()),
        None,
        &["teacher_main", "admin_other"],
        "admin_main",
        204,
    )
    .await;
    once.check(
        M::DELETE,
        "/api/users/{id}",
        &format!("/api/users/{}", teacher["id"].as_str().unwrap()),
        None,
        &["admin_other", "teacher_main"],
        "admin_main",
        204,
    )
    .await;
    once.check(
        M::DELETE,
        "/api/classrooms/{id}/sources/{source_id}",
        &format!("/api/classrooms/{id}/sources/{rtmp}"),
        None,
        &["viewer_main", "admin_other"],
        "admin_main",
        204,
    )
    .await;
    // Sharing: not by a colleague, yes by the teacher; then the other
    // school's viewers see it.
    let recording_path = format!("/api/recordings/{}", fixture.recording);
    clips::check(&once, &recording_path).await;
    assert_eq!(
        once.status("viewer_other", M::GET, &recording_path, None)
            .await,
        403
    );
    once.check(
        M::POST,
        "/api/recordings/{id}/shares",
        &format!("{recording_path}/shares"),
        Some(&json!({"school_id": other["id"]})),
        &["reviewer_main", "viewer_other"],
        "teacher_main",
        204,
    )
    .await;
    assert_eq!(
        once.status("viewer_other", M::GET, &recording_path, None)
            .await,
        200
    );
    // A person, by username: the teacher may name a colleague without
    // being able to list users. Those who may not share learn nothing of
    // which names exist; an unknown name is refused on its field.
    let shares = format!("{recording_path}/shares");
    assert_eq!(
        once.status("staff_main", M::GET, &recording_path, None)
            .await,
        403
    );
    let nobody = json!({"username": "nobody_here"});
    assert_eq!(
        once.status("reviewer_main", M::POST, &shares, Some(&nobody))
            .await,
        403
    );
    let response = request(
        &server,
        M::POST,
        &shares,
        tokens["teacher_main"].as_deref(),
        Some(&nobody),
    )
    .await;
    assert_eq!(response.status(), 422);
    let refused: Value = response.json().await.unwrap();
    assert!(
        refused["error"]["fields"]["username"].is_string(),
        "{refused}"
    );
    assert_eq!(
        once.status(
            "teacher_main",
            M::POST,
            &shares,
            Some(&json!({"username": "STAFF_main"}))
        )
        .await,
        204
    );
    assert_eq!(
        once.status("staff_main", M::GET, &recording_path, None)
            .await,
        200
    );
    // Allowed to delete, but it is still being recorded: 409, not 403.
    once.check(
        M::DELETE,
        "/api/recordings/{id}",
        &recording_path,
        None,
        &["viewer_partner", "reviewer_main"],
        "teacher_main",
        409,
    )
    .await;
    once.check(
        M::DELETE,
        "/api/classrooms/{id}",
        &format!("/api/classrooms/{room}"),
        None,
        &["admin_other", "viewer_main"],
        "admin_main",
        204,
    )
    .await;
    whep::check(&once, &fixture).await;
    interactive::check(&once, &fixture).await;
    jobs::check(&once).await;
    uploads::check(&once, &fixture).await;
    library::check(&once, &fixture.main_school).await;
    lesson_deletion::check(&once, &fixture.main_school).await;
    let checked = once.checked.into_inner();
    for (method, path) in CHECKED_SEPARATELY {
        let elsewhere = OTHER_TESTS.iter().any(|(m, p, _)| m == method && p == path);
        assert!(
            elsewhere || checked.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is listed as checked separately but is not"
        );
    }

    // Cookie sessions need the CSRF token on writes.
    let (cookie, csrf) = server.sign_in("admin_main", PASSWORD).await;
    let patch = |with_csrf: bool| {
        let mut r = server
            .client
            .patch(server.url(&format!("/api/classrooms/{id}")))
            .header("cookie", &cookie)
            .json(&json!({}));
        if with_csrf {
            r = r.header("x-csrf-token", &csrf);
        }
        r.send()
    };
    assert_eq!(patch(false).await.unwrap().status(), 403);
    assert_eq!(patch(true).await.unwrap().status(), 200);

    // The audit log saw the sign-ins and the refused and allowed changes.
    let audit: Value = request(&server, Method::GET, "/api/audit", Some(&root), None)
        .await
        .json()
        .await
        .unwrap();
    let actions: BTreeSet<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "sign_in",
        "user_created",
        "token_created",
        "audiences_changed",
        "recording_shared",
        "school_created",
        "school_deleted",
        "classroom_created",
        "classroom_changed",
        "source_created",
    ] {
        assert!(
            actions.contains(action),
            "{action} not audited: {actions:?}"
        );
    }
    // Another school's admin reads only what their own people did.
    let theirs: Value = request(
        &server,
        Method::GET,
        "/api/audit",
        tokens["admin_other"].as_deref(),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let names: BTreeSet<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor_name"].as_str())
        .collect();
    assert!(
        names.iter().all(|n| n.ends_with("_other")),
        "admin_other sees other schools' entries: {names:?}"
    );
    assert!(names.contains("admin_other"), "{names:?}");
    SPEC.get().unwrap().assert_all_matched();
}
