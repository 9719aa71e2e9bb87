//! Sixteen workers claiming at once from one queue of forty jobs: every
//! job is claimed exactly once, with one attempt. The workers' polling in
//! the process tests rarely collides; this drives the claim itself as
//! hard as it can be driven, against the real PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use classcast::library::jobs::queue::{self, NewJob};
use sqlx::postgres::PgPoolOptions;

const ADMIN_URL: &str = "postgres://classcast:classcast@127.0.0.1:5432/postgres";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_never_overlap() {
    let name = format!("classcast_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPoolOptions::new().connect(ADMIN_URL).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("postgres://classcast:classcast@127.0.0.1:5432/{name}");
    let db = PgPoolOptions::new()
        .max_connections(20)
        .connect(&url)
        .await
        .unwrap();
    sqlx::migrate!("./migrations").run(&db).await.unwrap();
    let mut ids = BTreeSet::new();
    for n in 0..40 {
        let job = queue::enqueue(
            &db,
            NewJob {
                kind: "test",
                payload: serde_json::json!({"n": n}),
                max_attempts: 3,
                created_by: None,
            },
        )
        .await
        .unwrap();
        ids.insert(job.id);
    }
    let kinds = vec!["test".to_string()];
    let claimers: Vec<_> = (0..16)
        .map(|w| {
            let (db, kinds) = (db.clone(), kinds.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(claimed) =
                    queue::claim(&db, &format!("w{w}"), &kinds, Duration::from_secs(60))
                        .await
                        .unwrap()
                {
                    mine.push((claimed.lease.job_id, claimed.lease.attempt));
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    let distinct: BTreeSet<_> = claimed.iter().map(|(id, _)| *id).collect();
    assert_eq!(claimed.len(), 40, "claims made for forty jobs");
    assert_eq!(distinct, ids);
    assert!(claimed.iter().all(|(_, attempt)| *attempt == 1));
    db.close().await;
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
