//! Two `classcast worker` processes on one database share six jobs: each
//! job is run by exactly one of them, once (one attempt, one "job started"
//! in all the logs), both take part, and every output is made.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::jobs::{
    Worker, check_ladder, enqueue_ladder, fast_jobs_env, make_clip, objects, wait_job,
};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_never_take_the_same_job() {
    // The server only answers the API; the two workers do the work.
    let server = TestServer::start(ServerOptions {
        env: fast_jobs_env(false),
        ..Default::default()
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let input = make_clip(
            &server,
            &format!("uploads/clip{n}.mp4"),
            "320x240",
            5 + n % 2,
        );
        ids.push(enqueue_ladder(&server, &input, &format!("lessons/clip{n}")).await);
    }
    let workers = [
        Worker::start(&server, "worker-a"),
        Worker::start(&server, "worker-b"),
    ];

    let mut ran_by = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let job = wait_job(
            &server,
            id,
            Duration::from_secs(180),
            "all jobs done",
            |job| job["state"] == "succeeded" || job["state"] == "failed",
        )
        .await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(
            job["attempts"], 1,
            "job {n} was attempted more than once: {job}"
        );
        let worker = job["worker"].as_str().unwrap().to_string();
        ran_by.push(worker);
        check_ladder(
            &objects(&server).join(format!("lessons/clip{n}")),
            &[240],
            f64::from(5 + n as u32 % 2),
        );
    }
    // Each log names the jobs it started; no job is in both, none twice.
    let mut started = Vec::new();
    for worker in &workers {
        let logs = worker.logs();
        let mine: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| {
                logs.lines()
                    .any(|l| l.contains("job started") && l.contains(id))
            })
            .collect();
        for id in &mine {
            let times = logs
                .lines()
                .filter(|l| l.contains("job started") && l.contains(id))
                .count();
            assert_eq!(
                times,
                1,
                "{id} started {times} times in {}",
                worker.log.display()
            );
        }
        started.push(mine.into_iter().collect::<BTreeSet<_>>());
    }
    assert!(
        started[0].is_disjoint(&started[1]),
        "a job ran on both: {started:?}"
    );
    assert_eq!(started[0].len() + started[1].len(), 6, "{started:?}");
    let nodes: BTreeSet<&str> = ran_by
        .iter()
        .map(|w| w.split('/').next().unwrap())
        .collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["worker-a", "worker-b"]),
        "both workers took jobs"
    );
}
