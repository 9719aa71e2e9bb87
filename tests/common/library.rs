//! Helpers for the micro-lesson library tests: a server with a group of
//! schools and the people of the review (teachers, each level's
//! reviewers), lessons drafted and taken through review by the real API.

use reqwest::Method;
use serde_json::{Value, json};

use super::accounts::{PASSWORD, api_token, call, school, user};
use super::{ServerOptions, TestServer};

pub struct Group {
    pub server: TestServer,
    pub root: String,
    /// School name → id: `main`, `sister` (campuses), `partner`.
    pub main: String,
    pub sister: String,
    pub partner: String,
}

impl Group {
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// With other settings, as CLASSCAST_* environment variables.
    pub async fn start_with(env: Vec<(&'static str, String)>) -> Self {
        let server = TestServer::start(ServerOptions {
            auth: true,
            env,
            ..Default::default()
        })
        .await;
        server.create_admin("root", PASSWORD);
        let root = api_token(&server, "root", PASSWORD).await;
        let main = school(&server, &root, "实验小学", "campus").await;
        let sister = school(&server, &root, "实验小学 东校区", "campus").await;
        let partner = school(&server, &root, "山区小学", "partner").await;
        Group {
            server,
            root,
            main,
            sister,
            partner,
        }
    }

    /// The id of a seeded subject, grade or edition by its code.
    pub async fn term(&self, kind: &str, code: &str) -> String {
        let (status, list) = call(
            &self.server,
            Method::GET,
            &format!("/api/library/{kind}"),
            Some(&self.root),
            None,
        )
        .await;
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == code)
            .unwrap_or_else(|| panic!("no {kind} {code}: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Makes a user with these role grants at `school`; returns a token.
    pub async fn person(&self, username: &str, school: &str, roles: Value) -> String {
        user(
            &self.server,
            &self.root,
            json!({"username": username, "password": PASSWORD, "school_id": school,
                   "roles": roles}),
        )
        .await;
        api_token(&self.server, username, PASSWORD).await
    }

    pub async fn call(
        &self,
        bearer: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        call(&self.server, method, path, Some(bearer), body).await
    }

    /// Drafts a lesson as `bearer`; returns its id.
    pub async fn draft(&self, bearer: &str, body: Value) -> String {
        let (status, lesson) = self
            .call(bearer, Method::POST, "/api/library/lessons", Some(body))
            .await;
        assert_eq!(status, 201, "{lesson}");
        assert_eq!(lesson["state"], "draft");
        lesson["id"].as_str().unwrap().to_string()
    }

    /// A review action on a lesson: (status, the lesson or the error).
    pub async fn act(&self, bearer: &str, id: &str, action: &str, body: Value) -> (u16, Value) {
        let method = if action == "featured" {
            Method::PUT
        } else {
            Method::POST
        };
        self.call(
            bearer,
            method,
            &format!("/api/library/lessons/{id}/{action}"),
            Some(body),
        )
        .await
    }

    /// Takes a lesson from draft to published: its author submits, then
    /// each level's reviewer approves.
    pub async fn publish(&self, author: &str, reviewers: [&str; 3], id: &str) {
        let (status, body) = self.act(author, id, "submit", json!({})).await;
        assert_eq!(status, 200, "submit: {body}");
        for reviewer in reviewers {
            let (status, body) = self.act(reviewer, id, "approve", json!({})).await;
            assert_eq!(status, 200, "approve: {body}");
        }
        let (_, lesson) = self
            .call(
                &self.root,
                Method::GET,
                &format!("/api/library/lessons/{id}"),
                None,
            )
            .await;
        assert_eq!(lesson["state"], "published", "{lesson}");
    }
}

/// Grants: a teacher; a 教研组 reviewer of some subjects; a school or
/// resource-center reviewer.
pub fn teacher() -> Value {
    json!([{"role": "teacher"}])
}

pub fn teaching_group(subjects: &[&str]) -> Value {
    Value::Array(
        subjects
            .iter()
            .map(|s| json!({"role": "reviewer", "review_level": "teaching_group", "subject_id": s}))
            .collect(),
    )
}

pub fn reviewer(level: &str) -> Value {
    json!([{"role": "reviewer", "review_level": level}])
}

/// The ids in a page of lessons, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}
