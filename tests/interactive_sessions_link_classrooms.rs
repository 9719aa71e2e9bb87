//! An interactive session (专递课堂) as the two schools live it: scheduling
//! refuses what cannot be taught (no remote classroom, five, the main one
//! twice, a slot in the past or longer than four hours, a classroom of a
//! school that never invited the main school, too early a start), the
//! remote school can watch the main classroom only while the session is
//! live without that access ever
//! being stored as an audience, its end cuts that access, afterwards the
//! session lists the recordings made during it, and a session nobody ends
//! is ended by the server once its overrun is over.

mod common;

use common::accounts::{PASSWORD, api_token, call, code, psql, school, user, wait_serving, within};
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn a_session_links_two_schools_for_its_time_and_keeps_its_recordings() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let root = api_token(&server, "root", PASSWORD).await;
    let main_school = school(&server, &root, "城关一小", "campus").await;
    let remote_school = school(&server, &root, "石门村小", "partner").await;
    let mut ids = Vec::new();
    for (name, school, role) in [
        ("王老师", &main_school, "teacher"),
        ("村小李老师", &remote_school, "teacher"),
        ("村小教室终端", &remote_school, "classroom_device"),
    ] {
        let made = user(
            &server,
            &root,
            json!({"username": name, "password": PASSWORD, "school_id": school, "roles": [{"role": role}]}),
        )
        .await;
        ids.push(made["id"].as_str().unwrap().to_string());
    }
    let teacher = api_token(&server, "王老师", PASSWORD).await;
    let remote_teacher = api_token(&server, "村小李老师", PASSWORD).await;
    // A classroom on air with its test pattern, and its teacher (whose
    // recordings they are) set before its first lesson starts.
    let taught_by = |name: &'static str, school: String, teacher: Option<String>| {
        let (server, root) = (&server, root.clone());
        async move {
            let (status, room) = call(
                server,
                Method::POST,
                "/api/classrooms",
                Some(&root),
                Some(json!({"name": name, "school_id": school, "ladder_heights": []})),
            )
            .await;
            assert_eq!(status, 201, "{room}");
            let id = room["id"].as_str().unwrap().to_string();
            if let Some(teacher) = teacher {
                let (status, answer) = call(
                    server,
                    Method::PATCH,
                    &format!("/api/classrooms/{id}"),
                    Some(&root),
                    Some(json!({"teacher_id": teacher})),
                )
                .await;
                assert_eq!(status, 200, "{answer}");
            }
            let path = format!("/api/classrooms/{id}/sources");
            let (status, _) = call(
                server,
                Method::POST,
                &path,
                Some(&root),
                Some(json!({"kind": "test"})),
            )
            .await;
            assert_eq!(status, 201);
            id
        }
    };
    let classroom = |name, school| taught_by(name, school, None);
    let main = taught_by("录播教室 301", main_school.clone(), Some(ids[0].clone())).await;
    let remote = taught_by("村小 三年级", remote_school.clone(), Some(ids[1].clone())).await;
    let other = classroom("村小 四年级", remote_school.clone()).await;
    // The village school invites the town school to its classrooms' lessons:
    // that is its agreement to be linked into the town school's sessions.
    for room in [&remote, &other] {
        let (status, _) = call(
            &server,
            Method::PUT,
            &format!("/api/classrooms/{room}/audiences"),
            Some(&root),
            Some(json!([main_school])),
        )
        .await;
        assert_eq!(status, 200);
    }
    let stranger_school = school(&server, &root, "河口镇中心小学", "partner").await;
    let stranger = classroom("河口 五年级", stranger_school.clone()).await;
    let now = chrono::Utc::now();
    let slot = |start: chrono::Duration, minutes: i64| {
        let start = now + start;
        (
            start.to_rfc3339(),
            (start + chrono::Duration::minutes(minutes)).to_rfc3339(),
        )
    };
    let (start, end) = slot(chrono::Duration::zero(), 45);
    let schedule = |remotes: Value, start: &str, end: &str| {
        json!({"title": "三年级数学：分数的初步认识", "main_classroom_id": main,
               "remote_classroom_ids": remotes, "scheduled_start": start, "scheduled_end": end})
    };

    // What cannot be taught is refused, field by field.
    let (long_start, long_end) = slot(chrono::Duration::zero(), 4 * 60 + 1);
    let five: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (past_start, past_end) = slot(chrono::Duration::hours(-3), 45);
    for (body, field, why) in [
        (
            schedule(json!([]), &start, &end),
            "remote_classroom_ids",
            "at_least_one",
        ),
        (
            schedule(json!(five), &start, &end),
            "remote_classroom_ids",
            "too_many",
        ),
        (
            schedule(json!([remote, remote]), &start, &end),
            "remote_classroom_ids",
            "duplicate",
        ),
        (
            schedule(json!([main]), &start, &end),
            "remote_classroom_ids",
            "main_is_remote",
        ),
        (
            schedule(json!([uuid::Uuid::new_v4()]), &start, &end),
            "remote_classroom_ids",
            "unknown_classroom",
        ),
        (
            schedule(json!([remote]), &end, &start),
            "scheduled_end",
            "before_start",
        ),
        (
            schedule(json!([remote]), &past_start, &past_end),
            "scheduled_end",
            "in_the_past",
        ),
        (
            schedule(json!([remote]), &long_start, &long_end),
            "scheduled_end",
            "slot_too_long",
        ),
        (
            schedule(json!([remote, stranger]), &start, &end),
            "remote_classroom_ids",
            "not_a_partner",
        ),
    ] {
        let (status, answer) = call(
            &server,
            Method::POST,
            "/api/interactive",
            Some(&teacher),
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        let said = answer["error"]["fields"][field].as_str().unwrap_or("");
        assert!(
            !said.is_empty() && !said.starts_with("field."),
            "{why}: a message for {field}: {answer}"
        );
        assert_eq!(
            said,
            answer["error"]["fields"][field].as_str().unwrap(),
            "{why}"
        );
    }
    let (status, answer) = call(
        &server,
        Method::POST,
        "/api/interactive",
        Some(&remote_teacher),
        Some(schedule(json!([remote]), &start, &end)),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (403, "forbidden"),
        "only the main school schedules: {answer}"
    );
    let bad_json = server
        .client
        .post(server.url("/api/interactive"))
        .bearer_auth(&teacher)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);

    // Tomorrow's session cannot start now.
    let (tomorrow_start, tomorrow_end) = slot(chrono::Duration::days(1), 45);
    let (status, later) = call(
        &server,
        Method::POST,
        "/api/interactive",
        Some(&teacher),
        Some(schedule(json!([other]), &tomorrow_start, &tomorrow_end)),
    )
    .await;
    assert_eq!(status, 201, "{later}");
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{}/start", later["id"].as_str().unwrap()),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!((status, code(&answer)), (409, "too_early"), "{answer}");

    let (status, session) = call(
        &server,
        Method::POST,
        "/api/interactive",
        Some(&teacher),
        Some(schedule(json!([remote]), &start, &end)),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["state"], "scheduled");
    assert_eq!(session["participants"][0]["classroom_id"], main.as_str());
    assert_eq!(session["participants"][1]["position"], 1);
    let id = session["id"].as_str().unwrap().to_string();

    // Both classrooms are on air (their test patterns).
    wait_serving(&server, &root, &main).await;
    wait_serving(&server, &root, &remote).await;
    let playback = |bearer: String, room: String| {
        let server = &server;
        async move {
            call(
                server,
                Method::GET,
                &format!("/api/classrooms/{room}/playback"),
                Some(&bearer),
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(
        playback(remote_teacher.clone(), main.clone()).await,
        403,
        "not before the session"
    );
    // The village school invited the town school, so its teacher may
    // look in any time; the other way round only the session opens it.
    assert_eq!(playback(teacher.clone(), remote.clone()).await, 200);

    let (status, live) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{id}/start"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["state"], "live");
    assert_eq!(live["can_run"], true);
    assert_eq!(
        playback(remote_teacher.clone(), main.clone()).await,
        200,
        "the remote school watches the teacher"
    );
    assert_eq!(
        playback(teacher.clone(), remote.clone()).await,
        200,
        "the teacher sees the remote class"
    );
    let stranger_school_teacher = {
        user(
            &server,
            &root,
            json!({"username": "河口张老师", "password": PASSWORD, "school_id": stranger_school, "roles": [{"role": "teacher"}]}),
        )
        .await;
        api_token(&server, "河口张老师", PASSWORD).await
    };
    assert_eq!(
        playback(stranger_school_teacher.clone(), main.clone()).await,
        403,
        "a school outside the session does not"
    );
    // The guests are not the main classroom's audiences: the admin's
    // classroom dialog reads (and saves back) only what the school chose.
    let audiences_of = |room: String| {
        let (server, root) = (&server, root.clone());
        async move {
            call(
                server,
                Method::GET,
                &format!("/api/classrooms/{room}/audiences"),
                Some(&root),
                None,
            )
            .await
            .1
        }
    };
    assert_eq!(audiences_of(main.clone()).await, json!([]));
    assert_eq!(audiences_of(remote.clone()).await, json!([main_school]));
    // The remote classroom's people see the session and may send for their room only.
    let (status, seen) = call(
        &server,
        Method::GET,
        &format!("/api/interactive/{id}"),
        Some(&remote_teacher),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(seen["can_run"], false);
    assert_eq!(seen["can_send_for"], json!([remote]));
    let live_states: Vec<&str> = seen["live"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(live_states, vec!["live", "live"], "{seen}");

    // The teacher's controls: a speaking classroom must take part; mute holds.
    let (status, answer) = call(
        &server,
        Method::PATCH,
        &format!("/api/interactive/{id}"),
        Some(&teacher),
        Some(json!({"speaking_classroom_id": other})),
    )
    .await;
    assert_eq!(
        (
            status,
            answer["error"]["fields"]["speaking_classroom_id"].clone()
        ),
        (422, json!("这间教室不在本次互动课堂中"))
    );
    let (status, answer) = call(
        &server,
        Method::PATCH,
        &format!("/api/interactive/{id}"),
        Some(&teacher),
        Some(json!({"speaking_classroom_id": remote})),
    )
    .await;
    assert_eq!(
        (status, answer["speaking_classroom_id"].clone()),
        (200, json!(remote))
    );
    let (status, answer) = call(
        &server,
        Method::PATCH,
        &format!("/api/interactive/{id}/classrooms/{remote}"),
        Some(&teacher),
        Some(json!({"muted": true})),
    )
    .await;
    assert_eq!(
        (status, answer["participants"][1]["muted"].clone()),
        (200, json!(true))
    );
    let (status, _) = call(
        &server,
        Method::PATCH,
        &format!("/api/interactive/{id}/classrooms/{remote}"),
        Some(&remote_teacher),
        Some(json!({"muted": false})),
    )
    .await;
    assert_eq!(status, 403, "a remote classroom cannot unmute itself");
    // A classroom follows one teacher at a time.
    let (status, clash) = call(
        &server,
        Method::POST,
        "/api/interactive",
        Some(&teacher),
        Some(schedule(json!([remote]), &start, &end)),
    )
    .await;
    assert_eq!(status, 201);
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{}/start", clash["id"].as_str().unwrap()),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (409, "classroom_in_another_session"),
        "{answer}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await; // a few segments to record

    let (status, ended) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{id}/end"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["state"], "ended");
    assert_eq!(
        playback(remote_teacher.clone(), main.clone()).await,
        403,
        "access ends with the session"
    );
    assert_eq!(playback(teacher.clone(), remote.clone()).await, 200);
    // The session lists each classroom's recording to those who may play
    // it: the group's admin both, each classroom's own teacher their own.
    let recorded = |bearer: String| {
        let (server, id) = (&server, id.clone());
        async move {
            let (status, seen) = call(
                server,
                Method::GET,
                &format!("/api/interactive/{id}"),
                Some(&bearer),
                None,
            )
            .await;
            assert_eq!(status, 200, "{seen}");
            let mut rooms: Vec<String> = seen["recordings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["classroom_id"].as_str().unwrap().to_string())
                .collect();
            rooms.dedup();
            rooms
        }
    };
    let mut both = recorded(root.clone()).await;
    both.sort();
    let mut expected = vec![main.clone(), remote.clone()];
    expected.sort();
    assert_eq!(both, expected, "both classrooms' recordings are linked");
    assert_eq!(recorded(teacher.clone()).await, vec![main.clone()]);
    assert_eq!(recorded(remote_teacher.clone()).await, vec![remote.clone()]);
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{id}/start"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!((status, code(&answer)), (409, "over"));
    assert_eq!(
        audiences_of(main.clone()).await,
        json!([]),
        "nothing of the session stayed"
    );

    // The clashing session runs now, and nobody ends it: once its slot and
    // the hour of overrun are over (moved into the past here, as a
    // forgotten session's would be by the evening), the server ends it and
    // the guests' access with it.
    let clash = clash["id"].as_str().unwrap().to_string();
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/api/interactive/{clash}/start"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(playback(remote_teacher.clone(), main.clone()).await, 200);
    let (status, answer) = call(
        &server,
        Method::DELETE,
        &format!("/api/interactive/{clash}"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (409, "session_live"),
        "a running session is ended before it is deleted"
    );
    psql(
        &server,
        &format!(
            "UPDATE interactive_sessions SET scheduled_start = now() - interval '3 hours',
                    scheduled_end = now() - interval '61 minutes' WHERE id = '{clash}'"
        ),
    );
    within(
        std::time::Duration::from_secs(15),
        "the forgotten session is ended",
        || async {
            let (_, seen) = call(
                &server,
                Method::GET,
                &format!("/api/interactive/{clash}"),
                Some(&teacher),
                None,
            )
            .await;
            !seen["ended_at"].is_null()
        },
    )
    .await;
    assert_eq!(
        playback(remote_teacher.clone(), main.clone()).await,
        403,
        "the guests' access ended with it"
    );
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/interactive/{clash}"),
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(status, 204, "an ended session can be deleted");
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/interactive",
        Some(&remote_teacher),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, list) = call(
        &server,
        Method::GET,
        "/api/interactive",
        Some(&remote_teacher),
        None,
    )
    .await;
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert!(
        ids.contains(&&json!(id)),
        "the remote school finds the session afterwards"
    );
}
