//! The group can never be left without an administrator, nobody locks
//! themselves out, a password reset leaves the old holder nothing (API
//! tokens included), and a school admin always has a school. Every API
//! answer (the 409s and 422s included) is checked against the OpenAPI
//! document.

mod common;

use common::accounts::{PASSWORD, api_token, code, school, user};
use common::openapi::Spec;
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn me(server: &TestServer, spec: &Spec, bearer: &str) -> String {
    let (_, session) = spec
        .call(server, Method::GET, "/api/session", Some(bearer), None)
        .await;
    session["user"]["user_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_stays_and_nobody_locks_themselves_out() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&server).await;
    let root = api_token(&server, "root", PASSWORD).await;
    let root_id = me(&server, &spec, &root).await;
    let patch = |bearer: String, id: String, body: Value| {
        let (server, spec) = (&server, &spec);
        async move {
            spec.call(
                server,
                Method::PATCH,
                &format!("/api/users/{id}"),
                Some(&bearer),
                Some(body),
            )
            .await
        }
    };

    // Alone: cannot disable, demote or delete oneself.
    let (status, body) = patch(root.clone(), root_id.clone(), json!({"disabled": true})).await;
    assert_eq!(
        (status, code(&body)),
        (409, "cannot_disable_self"),
        "{body}"
    );
    let (status, body) = patch(
        root.clone(),
        root_id.clone(),
        json!({"roles": [{"role": "viewer"}]}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "last_system_admin"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("系统管理员"),
        "a message in Chinese by default: {body}"
    );
    let (status, body) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/users/{root_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!((status, code(&body)), (409, "cannot_delete_self"), "{body}");

    // With a second admin, one may demote the other; then the second is
    // the last and stays.
    let second = user(
        &server,
        &root,
        json!({"username": "root2", "password": PASSWORD, "roles": [{"role": "system_admin"}]}),
    )
    .await;
    let second_id = second["id"].as_str().unwrap().to_string();
    let root2 = api_token(&server, "root2", PASSWORD).await;
    let (status, body) = patch(
        root2.clone(),
        root_id.clone(),
        json!({"roles": [{"role": "viewer"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        root2.clone(),
        second_id.clone(),
        json!({"roles": [{"role": "teacher"}]}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "last_system_admin"), "{body}");
    let (status, body) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/users/{second_id}"),
            Some(&root2),
            None,
        )
        .await;
    assert_eq!((status, code(&body)), (409, "cannot_delete_self"), "{body}");
    let (_, session) = spec
        .call(&server, Method::GET, "/api/session", Some(&root2), None)
        .await;
    assert_eq!(session["user"]["roles"], json!([{"role": "system_admin"}]));

    // A school admin always has a school: not made without one, and a
    // school-less user is not made one.
    let (status, body) = spec.call(
        &server,
        Method::POST,
        "/api/users",
        Some(&root2),
        Some(json!({"username": "floating", "password": PASSWORD, "roles": [{"role": "school_admin"}]})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["school_id"].is_string(), "{body}");
    let (status, body) = patch(
        root2.clone(),
        root_id.clone(),
        json!({"roles": [{"role": "school_admin"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["roles"].is_string(), "{body}");
    spec.assert_all_matched();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_reset_ends_sessions_and_api_tokens() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&server).await;
    let root = api_token(&server, "root", PASSWORD).await;
    let main = school(&server, &root, "一中", "campus").await;
    let teacher = user(
        &server,
        &root,
        json!({"username": "zhou", "password": PASSWORD, "school_id": main,
               "roles": [{"role": "teacher"}]}),
    )
    .await;
    let bearer = api_token(&server, "zhou", PASSWORD).await;
    let (cookie, _) = server.sign_in("zhou", PASSWORD).await;
    let works = |auth: (&'static str, String)| {
        let (server, spec) = (&server, &spec);
        async move {
            let response = server
                .client
                .get(server.url("/api/session"))
                .header(auth.0, auth.1)
                .send()
                .await
                .unwrap();
            spec.checked("GET", "/api/session", response)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        works(("authorization", format!("Bearer {bearer}"))).await,
        200
    );
    let (status, _) = spec
        .call(
            &server,
            Method::PATCH,
            &format!("/api/users/{}", teacher["id"].as_str().unwrap()),
            Some(&root),
            Some(json!({"password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(works(("cookie", cookie)).await, 401, "sessions end");
    assert_eq!(
        works(("authorization", format!("Bearer {bearer}"))).await,
        401,
        "API tokens end too"
    );
    server.sign_in("zhou", "a brand new passphrase").await;
    spec.assert_all_matched();
}
