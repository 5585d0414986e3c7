//! End to end on real runc: the container lifecycle through ocictl.

use crate::common;

use common::{unique_id, Env};
use predicates::prelude::*;

#[test]
fn create_start_pause_resume_kill_delete() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("life");
    let created = env.run_detached(args!["create", "-b", bundle, id]);
    assert_eq!(created.code, Some(0), "{created:?}");
    assert_eq!(created.stdout, "");
    assert_eq!(env.state(&id)["status"], "created");
    env.cmd().args(["start", &id]).assert().success();
    assert_eq!(env.state(&id)["status"], "running");
    let pid = env.state(&id)["pid"].as_i64().unwrap();

    let ps = env.cmd().args(["ps", "-f", "json", &id]).output().unwrap();
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids, vec![pid]);

    env.cmd().args(["pause", &id]).assert().success();
    env.cmd()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains(&id).and(predicate::str::contains("paused")));
    env.cmd().args(["resume", &id]).assert().success();
    assert_eq!(env.state(&id)["status"], "running");
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.wait_status(&id, "stopped");
    env.cmd().args(["delete", &id]).assert().success();
    assert!(env.runc_ids().is_empty());
}

#[test]
fn foreground_run_exits_with_the_container_status() {
    let env = Env::new();
    for (script, code) in [("exit 0", 0), ("exit 3", 3)] {
        let bundle = env.bundle(&["sh", "-c", script]);
        env.cmd()
            .args(["run", "-b"])
            .arg(&bundle)
            .arg(unique_id("run"))
            .assert()
            .code(code);
    }
    assert!(env.runc_ids().is_empty(), "run deletes its container");
}

#[test]
fn foreground_run_killed_by_sigkill_exits_137() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("killed");
    let mut child = env
        .std_cmd()
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    env.wait_status(&id, "running");
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
}
