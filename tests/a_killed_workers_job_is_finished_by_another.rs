//! A worker killed with SIGKILL in the middle of a transcode: once its
//! lease runs out another worker takes the job (a second attempt) and
//! finishes it. The output is whole and made once — the killed attempt's
//! staging files are gone, no segment is left over or listed twice.

mod common;

use std::time::Duration;

use common::jobs::{
    Worker, check_ladder, enqueue_ladder, fast_jobs_env, make_clip, names, objects, wait_job,
};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_job_is_finished_by_another() {
    let server = TestServer::start(ServerOptions {
        env: fast_jobs_env(false),
        ..Default::default()
    })
    .await;
    let input = make_clip(&server, "uploads/long.mp4", "1280x720", 30);
    let id = enqueue_ladder(&server, &input, "lessons/long").await;
    let mut first = Worker::start(&server, "worker-first");

    let midway = wait_job(
        &server,
        &id,
        Duration::from_secs(60),
        "the transcode under way",
        |job| job["state"] == "running" && job["progress_percent"].as_f64().unwrap() > 5.0,
    )
    .await;
    assert!(
        midway["progress_percent"].as_f64().unwrap() < 90.0,
        "{midway}"
    );
    let staging: Vec<String> = names(&objects(&server).join("lessons"));
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert!(staging[0].starts_with(".long.partial-"), "{staging:?}");
    first.kill();

    let second = Worker::start(&server, "worker-second");
    let done = wait_job(
        &server,
        &id,
        Duration::from_secs(180),
        "the job finished",
        |job| job["state"] == "succeeded" || job["state"] == "failed",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    let worker = done["worker"].as_str().unwrap();
    assert!(
        worker.starts_with(&format!("worker-second/{}/", second.pid())),
        "finished by {worker}"
    );
    // The killed attempt left nothing behind; the output is whole.
    assert_eq!(names(&objects(&server).join("lessons")), ["long"]);
    check_ladder(&objects(&server).join("lessons/long"), &[720, 360], 30.0);
}
