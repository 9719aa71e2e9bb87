//! WHEP in the matrix: an offer is answered for exactly the people who may
//! watch the classroom live, by the same rules as its HLS; the session URL
//! then trickles and ends that session (it is the capability), and a
//! made-up one is a 404 whoever asks.

use reqwest::Method;

use super::requests::OnceChecks;
use super::rules::{Fixture, PEOPLE, SEE};

const OFFER: &str = include_str!("../fixtures/whep-offer.sdp");

pub async fn check(once: &OnceChecks<'_>, fixture: &Fixture) {
    let server = once.server;
    let offer_path = format!("/whep/{}", fixture.classroom);
    let mut sessions = Vec::new();
    for person in PEOPLE {
        let mut post = server
            .client
            .post(server.url(&offer_path))
            .header("content-type", "application/sdp")
            .body(OFFER);
        if let Some(token) = once.tokens[person].as_deref() {
            post = post.bearer_auth(token);
        }
        let response = post.send().await.unwrap();
        let status = response.status().as_u16();
        let expected = if SEE.contains(person) {
            201
        } else if *person == "anonymous" {
            401
        } else {
            403
        };
        assert_eq!(status, expected, "POST {offer_path} as {person}");
        if status == 201 {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            assert!(location.starts_with(&offer_path), "{location}");
            sessions.push(location);
        }
    }
    record(once, "POST", "/whep/{id}");
    let made_up = format!("{offer_path}/{}", uuid::Uuid::new_v4());
    for location in &sessions {
        let fragment = "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n";
        let trickle = |path: &str| {
            server
                .client
                .patch(server.url(path))
                .header("content-type", "application/trickle-ice-sdpfrag")
                .body(fragment)
                .send()
        };
        assert_eq!(
            trickle(location).await.unwrap().status(),
            204,
            "PATCH {location}"
        );
        assert_eq!(trickle(&made_up).await.unwrap().status(), 404);
        let end = |path: &str| {
            server
                .client
                .request(Method::DELETE, server.url(path))
                .send()
        };
        assert_eq!(
            end(location).await.unwrap().status(),
            200,
            "DELETE {location}"
        );
        assert_eq!(end(location).await.unwrap().status(), 404, "ended twice");
    }
    record(once, "PATCH", "/whep/{id}/{session}");
    record(once, "DELETE", "/whep/{id}/{session}");
}

fn record(once: &OnceChecks<'_>, method: &str, template: &str) {
    once.checked
        .borrow_mut()
        .insert((method.to_string(), template.to_string()));
}
