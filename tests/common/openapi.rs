//! Checks real responses against the OpenAPI document the server serves:
//! the route and method are documented, the status is listed, and a JSON
//! body matches the listed schema. A small validator for the subset of
//! JSON Schema that utoipa writes (`$ref`, `type` and type lists, `enum`,
//! `properties`/`required`, `items`, `oneOf`/`anyOf`/`allOf`).

use std::sync::Mutex;

use serde_json::Value;

pub struct Spec {
    doc: Value,
    problems: Mutex<Vec<String>>,
    checked: Mutex<usize>,
}

impl Spec {
    pub async fn fetch(server: &super::TestServer) -> Self {
        // A client of its own, dropped with its connection: a test that then
        // fills the server's connection cap must not find the server's
        // client holding a kept-alive connection the cap has closed.
        let doc = reqwest::get(server.url("/api/openapi.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self::new(doc)
    }

    pub fn new(doc: Value) -> Self {
        Self {
            doc,
            problems: Mutex::new(Vec::new()),
            checked: Mutex::new(0),
        }
    }

    /// Notes whether one real answer matches the document; paths outside
    /// `/api` (media, metrics) are not documented there and are skipped.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let path = path.split('?').next().unwrap_or(path);
        if !path.starts_with("/api/") || path == "/api/openapi.json" {
            return;
        }
        *self.checked.lock().unwrap() += 1;
        if let Err(problem) = self.matches(&method.to_lowercase(), path, status, body) {
            self.problems
                .lock()
                .unwrap()
                .push(format!("{method} {path} → {status}: {problem}"));
        }
    }

    fn matches(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let paths = self.doc["paths"].as_object().ok_or("no paths")?;
        let (_, operations) = paths
            .iter()
            .find(|(template, _)| template_matches(template, path))
            .ok_or("route not in the document")?;
        let operation = &operations[method];
        if operation.is_null() {
            return Err("method not in the document".into());
        }
        let response = &operation["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!(
                "status not listed (listed: {:?})",
                operation["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<Vec<_>>())
            ));
        }
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() || body.is_null() {
            return Ok(());
        }
        self.validate(schema, body, "body")
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                self.resolve(&self.doc["components"]["schemas"][name])
            }
            None => schema,
        }
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            for s in all {
                self.validate(s, value, at)?;
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(any) = schema[key].as_array() {
                let errors: Vec<String> = any
                    .iter()
                    .filter_map(|s| self.validate(s, value, at).err())
                    .collect();
                if errors.len() == any.len() {
                    return Err(format!("{at}: matches none of {key}: {errors:?}"));
                }
            }
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
        if let Some(options) = schema["enum"].as_array()
            && !options.contains(value)
        {
            return Err(format!("{at}: {value} not in {options:?}"));
        }
        if let Value::Object(object) = value {
            if let Some(required) = schema["required"].as_array() {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        return Err(format!("{at}: missing {name}"));
                    }
                }
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (name, field) in object {
                    match properties.get(name) {
                        Some(s) => self.validate(s, field, &format!("{at}.{name}"))?,
                        None if schema["additionalProperties"] == Value::Bool(false) => {
                            return Err(format!("{at}: {name} is not documented"));
                        }
                        None => {}
                    }
                }
            }
        }
        if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
            for (i, v) in items.iter().enumerate() {
                self.validate(item, v, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    /// `accounts::call` with its answer checked: (status, JSON body or Null).
    pub async fn call(
        &self,
        server: &super::TestServer,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, value) =
            super::accounts::call(server, method.clone(), path, bearer, body).await;
        self.check(method.as_str(), path, status, &value);
        (status, value)
    }

    /// Reads a response, checks it, and hands back an equal one.
    pub async fn checked(
        &self,
        method: &str,
        path: &str,
        response: reqwest::Response,
    ) -> reqwest::Response {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.check(method, path, status.as_u16(), &body);
        let mut rebuilt = axum::http::Response::builder().status(status.as_u16());
        for (name, value) in &headers {
            rebuilt = rebuilt.header(name.as_str(), value.as_bytes());
        }
        reqwest::Response::from(rebuilt.body(bytes.to_vec()).unwrap())
    }

    /// Fails the test with every mismatch seen.
    pub fn assert_all_matched(&self) {
        let problems = self.problems.lock().unwrap();
        assert!(
            problems.is_empty(),
            "{} of {} answers do not match the OpenAPI document:\n{}",
            problems.len(),
            self.checked.lock().unwrap(),
            problems.join("\n")
        );
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

fn is_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}
