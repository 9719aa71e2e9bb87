//! Requests as the matrix makes them: every answer is checked against the
//! OpenAPI document on the way; one-off checks remember what they checked.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{self, TestServer};
use super::rules::PASSWORD;

/// Every answer in this test is also checked against the OpenAPI document.
pub static SPEC: std::sync::OnceLock<common::openapi::Spec> = std::sync::OnceLock::new();

pub async fn request(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = server.client.request(method.clone(), server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    match SPEC.get() {
        Some(spec) => spec.checked(method.as_str(), path, response).await,
        None => response,
    }
}

/// One-off checks of routes with lasting effects; remembers which ran.
pub struct OnceChecks<'a> {
    pub server: &'a TestServer,
    pub tokens: &'a BTreeMap<&'static str, Option<String>>,
    pub checked: std::cell::RefCell<BTreeSet<(String, String)>>,
}

impl OnceChecks<'_> {
    pub async fn status(&self, who: &str, method: Method, path: &str, body: Option<&Value>) -> u16 {
        request(self.server, method, path, self.tokens[who].as_deref(), body)
            .await
            .status()
            .as_u16()
    }

    /// `refused` get 401 (nobody) or 403; then `allowed` gets `expected`.
    #[allow(clippy::too_many_arguments)]
    pub async fn check(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<&Value>,
        refused: &[&str],
        allowed: &str,
        expected: u16,
    ) -> Value {
        for who in refused {
            let want = if *who == "anonymous" { 401 } else { 403 };
            let got = self.status(who, method.clone(), path, body).await;
            assert_eq!(got, want, "{method} {path} as {who}");
        }
        let response = request(
            self.server,
            method.clone(),
            path,
            self.tokens[allowed].as_deref(),
            body,
        )
        .await;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{method} {path} as {allowed}: {value}");
        self.checked
            .borrow_mut()
            .insert((method.to_string(), template.to_string()));
        value
    }
}

/// The system admin's own user id.
pub async fn root_id(server: &TestServer, root: &str) -> String {
    let me: Value = request(server, Method::GET, "/api/session", Some(root), None)
        .await
        .json()
        .await
        .unwrap();
    me["user"]["user_id"].as_str().unwrap().to_string()
}

pub async fn api_token(server: &TestServer, username: &str) -> String {
    let (cookie, csrf) = server.sign_in(username, PASSWORD).await;
    let response = server
        .client
        .post(server.url("/api/tokens"))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "matrix"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["secret"].as_str().unwrap().to_string()
}
