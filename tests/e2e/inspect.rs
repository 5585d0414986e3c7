//! `ocictl inspect` on real runc: a monitored terminal container (process,
//! environment names and values, mounts, resources, the monitor), a stopped
//! one with its exit status, an unmonitored one, an unreadable config and
//! unknown IDs; every document valid against schemas/inspect.schema.json.

use crate::common;
use crate::contract::{assert_valid, checked, checked_exit};

use common::{unique_id, Env};
use serde_json::Value;

/// `inspect` for people (it must succeed).
fn human(env: &Env, words: &[&str]) -> String {
    common::stdout_of({
        let mut cmd = env.cmd();
        cmd.arg("inspect").args(words);
        cmd
    })
}

/// Whether process `pid` exists.
fn alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_monitored_terminal_container_is_inspected_whole() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    Env::edit_config(&bundle, |c| {
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push("SECRET=hunter2".into());
        c["process"]["cwd"] = "/tmp".into();
        c["process"]["user"]["additionalGids"] = serde_json::json!([10]);
        c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 20});
    });
    let id = unique_id("insp-tty");
    let run = env.run_detached(args!["run", "-d", "-t", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");

    let docs = checked(&env, "inspect", &["inspect", &id]);
    assert_eq!(docs.as_array().unwrap().len(), 1, "always an array: {docs}");
    let doc = &docs[0];
    assert_eq!(doc["id"], id.as_str());
    assert_eq!(doc["status"], "running");
    assert_eq!(doc["pid"], env.state(&id)["pid"]);
    // The bundle the user gave; the runtime runs ocictl's terminal copy.
    assert_eq!(doc["bundle"], bundle.to_str().unwrap());
    let copy = doc["runtime_bundle"].as_str().unwrap();
    assert!(copy.ends_with(&format!("{id}/bundle")), "{doc}");
    let process = &doc["process"];
    assert_eq!(process["args"], serde_json::json!(["sleep", "1000"]));
    assert!(process["env"]
        .as_array()
        .unwrap()
        .contains(&"SECRET".into()));
    assert!(
        !docs.to_string().contains("hunter2"),
        "values hidden: {docs}"
    );
    assert_eq!(process["cwd"], "/tmp");
    assert_eq!(process["user"]["uid"], 0);
    assert_eq!(process["user"]["additional_gids"], serde_json::json!([10]));
    assert_eq!(process["terminal"], true, "the copy has the terminal");
    let mounts = doc["mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["destination"] == "/proc" && m["type"] == "proc"),
        "{doc}"
    );
    assert_eq!(doc["resources"]["memory_limit"], 67108864);
    assert_eq!(doc["resources"]["pids_limit"], 20);
    let monitor = &doc["monitor"];
    assert!(alive(monitor["pid"].as_i64().unwrap()), "{doc}");
    assert_eq!(monitor["alive"], true);
    assert_eq!(monitor["attachable"], true, "-t: attach works");
    assert!(monitor["log"].as_str().unwrap().ends_with("console.log"));
    assert!(doc.get("exit").is_none(), "still running: {doc}");
    assert_eq!(doc["overrides"], serde_json::json!([]));

    let shown = checked(&env, "inspect", &["inspect", "--show-env", &id]);
    assert!(
        shown[0]["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&"SECRET=hunter2".into()),
        "{shown}"
    );

    let text = human(&env, &[&id]);
    assert!(!text.contains("hunter2"), "{text}");
    for needle in [
        "Container ",
        "status            running",
        "(ocictl's private copy)",
        "args      sleep 1000",
        "SECRET",
        "(values hidden: --show-env)",
        "cwd       /tmp",
        "uid 0, gid 0, groups 10",
        "/proc",
        "memory  64MiB (67108864 bytes)",
        "pids    20",
        "attachable  yes",
        "status  not yet",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(human(&env, &["--show-env", &id]).contains("SECRET=hunter2"));
}

#[test]
fn a_stopped_container_shows_its_exit_status() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "exit 3"]);
    let id = unique_id("insp-exit");
    let run = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.cmd().args(["wait", &id]).assert().code(3);

    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert_eq!(doc["status"], "stopped");
    assert!(doc.get("pid").is_none(), "no pid once stopped: {doc}");
    assert_eq!(doc["exit"]["code"], 3);
    assert_eq!(doc["exit"]["signal"], Value::Null);
    assert_eq!(doc["monitor"]["alive"], false);
    assert_eq!(doc["monitor"]["attachable"], false);
    assert_eq!(doc["bundle"], bundle.to_str().unwrap());
    assert!(doc.get("runtime_bundle").is_none(), "{doc}");
    let text = human(&env, &[&id]);
    assert!(text.contains("exited with 3 at "), "{text}");
    assert!(text.contains("(ended)"), "{text}");
}

#[test]
fn an_unmonitored_container_has_no_monitor_and_an_unknown_exit() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("insp-bare");
    let run = env.run_detached(args!["run", "-d", "--no-monitor", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert_eq!(doc["status"], "running");
    assert!(doc.get("monitor").is_none(), "{doc}");
    assert!(doc.get("exit").is_none(), "{doc}");
    env.cmd().args(["kill", &id, "KILL"]).assert().success();
    env.wait_status(&id, "stopped");
    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert!(doc.get("exit").is_none(), "never invented: {doc}");
    let text = human(&env, &[&id]);
    assert!(text.contains("Monitor\n  none"), "{text}");
    assert!(text.contains("unknown  no monitor keeps it"), "{text}");
}

#[test]
fn an_unreadable_config_leaves_its_sections_out_and_says_why() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("insp-noconf");
    let run = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    std::fs::write(bundle.join("config.json"), "{ not json").unwrap();
    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert_eq!(doc["status"], "running");
    assert!(
        doc.get("process").is_none() && doc.get("mounts").is_none(),
        "{doc}"
    );
    let why = doc["unavailable"][0].as_str().unwrap();
    assert!(why.contains("config.json"), "{why}");
    assert!(
        doc["monitor"]["alive"] == true,
        "the rest is still shown: {doc}"
    );
    std::fs::remove_file(bundle.join("config.json")).unwrap();
    let text = human(&env, &[&id]);
    assert!(text.contains("Unavailable\n"), "{text}");
}

#[test]
fn unknown_ids_are_errors_and_the_others_are_still_shown() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "insp-some");
    let nosuch = unique_id("insp-nosuch");
    let out = env.cmd().args(["inspect", &nosuch]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot inspect container {nosuch}")),
        "{err}"
    );
    assert!(err.contains("container does not exist"), "{err}");

    let out = env
        .cmd()
        .args(["--format", "json", "inspect", &id, &nosuch])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let docs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid("inspect", &docs);
    assert_eq!(docs.as_array().unwrap().len(), 1);
    assert_eq!(docs[0]["id"], id.as_str());
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_valid("error", &error);
    assert!(
        error["error"].as_str().unwrap().contains(&nosuch),
        "{error}"
    );

    // Two found: two entries, in the order asked.
    let other = env.started(&["sleep", "1000"], "insp-other");
    let both = checked_exit(&env, "inspect", &["inspect", &other, &id], 0);
    assert_eq!(both[0]["id"], other.as_str());
    assert_eq!(both[1]["id"], id.as_str());
}

#[test]
fn a_new_container_with_the_same_id_never_shows_the_old_exit_or_monitor() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "exit 3"]);
    let id = unique_id("insp-reuse");
    let run = env.run_detached(args!["run", "-d", "-b", bundle, id]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.cmd().args(["wait", &id]).assert().code(3);
    // Bare runc deletes it and makes a new one with the same ID; ocictl's
    // records of the old one are still there.
    assert!(env.bare_runc(&["delete", &id]).success());
    let sleeper = env.bundle(&["sleep", "1000"]);
    assert!(env
        .bare_runc(&["run", "-d", "-b", sleeper.to_str().unwrap(), &id])
        .success());
    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert_eq!(doc["status"], "running");
    assert_eq!(doc["bundle"], sleeper.to_str().unwrap());
    assert!(doc.get("exit").is_none(), "another container's exit: {doc}");
    assert!(
        doc.get("monitor").is_none(),
        "another container's monitor: {doc}"
    );
}

#[test]
fn a_state_directory_ocictl_will_not_read_is_said_so() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "insp-owned");
    let dir = env.root.with_file_name("root.ocictl").join(&id);
    // Another user's directory: ocictl reads nothing from it.
    std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
    let doc = &checked(&env, "inspect", &["inspect", &id])[0];
    assert_eq!(doc["status"], "running");
    assert!(
        doc.get("monitor").is_none() && doc.get("exit").is_none(),
        "{doc}"
    );
    let why = doc["unavailable"][0].as_str().unwrap();
    assert!(why.contains("will not read its state directory"), "{why}");
    assert!(why.contains("65534"), "names the owner: {why}");
    std::os::unix::fs::chown(&dir, Some(0), None).unwrap();
}
