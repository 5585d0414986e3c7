//! The published JSON contract (schemas/, generated from src/contract.rs)
//! holds for what ocictl really prints: every command's `--format json`
//! output from real runc runs on a busybox bundle, and the error object on
//! stderr, validated against its schema. Plus the contract's own rules:
//! `"id"` and `"action"` first, signals by name, no null hints.

use crate::common;

use std::path::Path;
use std::process::Stdio;

use common::{unique_id, Env};
use serde_json::Value;

fn schema(command: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{command}.schema.json"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_slice(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// `value` is valid against `schemas/<command>.schema.json`.
pub(crate) fn assert_valid(command: &str, value: &Value) {
    let validator = schema(command);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{command}: {value}\n{errors:#?}");
}

/// The keys of an object, in the order they were printed.
fn keys_in_order(text: &str) -> Vec<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let map: indexmap_free::Ordered = serde::Deserialize::deserialize(&mut de).unwrap();
    map.0
}

/// Key order without a preserve_order serde_json: a visitor that records keys.
mod indexmap_free {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    pub struct Ordered(pub Vec<String>);

    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Ordered(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// Run `ocictl --format json WORDS` under env's root with stdio on files
/// (a container may inherit them); returns (exit code, stdout, stderr).
fn run(env: &Env, words: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(words);
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let out = env.run_detached(&os);
    (out.code, out.stdout, out.stderr)
}

/// Run, require success, validate the one JSON value on stdout against the
/// command's schema, and return it.
pub(crate) fn checked(env: &Env, command: &str, words: &[&str]) -> Value {
    checked_exit(env, command, words, 0)
}

/// [`checked`] for a command that exits with `expected` (wait, run, exec).
pub(crate) fn checked_exit(env: &Env, command: &str, words: &[&str], expected: i32) -> Value {
    let (code, stdout, stderr) = run(env, words);
    assert_eq!(code, Some(expected), "ocictl {words:?}: {stderr}");
    // A foreground run's summary follows the container's own output (or
    // goes to stderr): it is the last line.
    let text = [&stdout, &stderr]
        .into_iter()
        .filter_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()))
        .find(|l| serde_json::from_str::<Value>(l).is_ok())
        .unwrap_or_else(|| panic!("ocictl {words:?} printed no JSON: {stdout}"))
        .to_string();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_valid(command, &value);
    if value.get("action").is_some() {
        assert_eq!(
            keys_in_order(&text)[..2],
            ["id".to_string(), "action".to_string()],
            "{stdout}"
        );
        assert_eq!(value["action"], command, "{stdout}");
    }
    value
}

#[test]
fn every_commands_json_from_real_runc_matches_its_schema() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let b = bundle.to_str().unwrap();
    let id = unique_id("contract");
    let created = checked(&env, "create", &["create", "-b", b, &id]);
    assert!(created["monitor_pid"].as_i64().unwrap() > 0, "{created}");
    checked(&env, "start", &["start", &id]);
    let state = checked(&env, "state", &["state", &id]);
    assert_eq!(state["status"], "running");
    let listed = checked(&env, "list", &["list"]);
    assert_eq!(listed[0]["id"], id.as_str());
    let quiet = checked(&env, "list", &["list", "-q"]);
    assert_eq!(quiet, serde_json::json!([id]));
    let pids = checked(&env, "ps", &["ps", &id]);
    assert_eq!(pids.as_array().unwrap().len(), 1);
    checked(&env, "top", &["top", &id]);
    let stats = checked(&env, "stats", &["stats", &id]);
    assert_eq!(stats[0]["id"], id.as_str());
    let event = checked(&env, "events", &["events", "--stats", &id]);
    assert_eq!(event["type"], "stats");
    checked(
        &env,
        "update",
        &["update", "--memory", "64M", "--pids-limit", "20", &id],
    );
    let ran = checked_exit(&env, "exec", &["exec", &id, "sh", "-c", "exit 3"], 3);
    assert_eq!(ran["exit_code"], 3);
    assert!(ran.get("signal").is_none(), "{ran}");
    checked(&env, "pause", &["pause", &id]);
    checked(&env, "resume", &["resume", &id]);
    let zero = checked(&env, "kill", &["kill", &id, "0"]);
    assert_eq!(zero["signal"], "SIG0", "signal 0 has a name too");
    let killed = checked(&env, "kill", &["kill", &id, "9"]);
    assert_eq!(killed["signal"], "SIGKILL");
    let waited = checked_exit(&env, "wait", &["wait", &id], 137);
    assert_eq!(waited["exit_code"], 137);
    assert_eq!(waited["exit"]["signal"], "SIGKILL");
    let stopped = checked(&env, "state", &["state", &id]);
    assert_eq!(stopped["exit"]["signal"], "SIGKILL");
    checked(&env, "delete", &["delete", &id]);

    let job = unique_id("contract-run");
    let quiet = env.bundle(&["sh", "-c", "exit 4"]);
    let ran = checked_exit(
        &env,
        "run",
        &["run", "-b", quiet.to_str().unwrap(), &job],
        4,
    );
    assert_eq!(
        (ran["exit_code"].as_i64(), ran["detached"].as_bool()),
        (Some(4), Some(false))
    );

    let hello = env.bundle(&["sh", "-c", "echo hi; exit 4"]);
    let web = unique_id("contract-d");
    let out = env.dir.path().join("web.log");
    let ran = checked(
        &env,
        "run",
        &[
            "run",
            "-d",
            "--log-output",
            out.to_str().unwrap(),
            "-b",
            hello.to_str().unwrap(),
            &web,
        ],
    );
    assert_eq!(ran["detached"], true);
    checked_exit(&env, "wait", &["wait", &web], 4);
    let chunk = checked(&env, "logs", &["logs", &web]);
    assert!(chunk["output"].as_str().unwrap().contains("hi"), "{chunk}");
    checked(&env, "delete", &["delete", &web]);
    // ocictl's own log: each record with its time and stream.
    let said = env.bundle(&["sh", "-c", "echo hi >&2"]);
    let cap = unique_id("contract-cap");
    checked(
        &env,
        "run",
        &["run", "-d", "--capture", "-b", said.to_str().unwrap(), &cap],
    );
    checked_exit(&env, "wait", &["wait", &cap], 0);
    let record = checked(&env, "logs", &["logs", &cap]);
    assert_eq!(
        (&record["output"], &record["stream"]),
        (&"hi\n".into(), &"stderr".into()),
        "{record}"
    );
    assert!(record["timestamp"].is_string(), "{record}");
    checked(&env, "delete", &["delete", &cap]);

    checked(&env, "version", &["version"]);
    checked(&env, "features", &["features"]);
    let spec_dir = env.dir.path().join("spec");
    std::fs::create_dir(&spec_dir).unwrap();
    checked(&env, "spec", &["spec", "-b", spec_dir.to_str().unwrap()]);
    let demo = env.dir.path().join("demo");
    checked(
        &env,
        "bundle",
        &["bundle", demo.to_str().unwrap(), "--", "echo", "hi"],
    );
}

#[test]
fn a_checkpoint_and_its_restore_match_their_schemas() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let id = unique_id("contract-cr");
    // CRIU restores only stdio it can reopen: /dev/null.
    let started = env
        .std_cmd()
        .args(["run", "-d", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(started.success());
    let images = env.dir.path().join("images");
    let images = images.to_str().unwrap();
    let saved = checked(
        &env,
        "checkpoint",
        &["checkpoint", "--image-root", images, &id],
    );
    assert_eq!(saved["id"], id.as_str());
    let restored = env
        .std_cmd()
        .args([
            "--format",
            "json",
            "restore",
            "-d",
            "--latest",
            "--image-root",
            images,
            "-b",
        ])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(restored.status.success());
    let value: Value = serde_json::from_slice(&restored.stdout).unwrap();
    assert_valid("restore", &value);
    assert_eq!(value["detached"], true);
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
}

#[test]
fn errors_on_stderr_match_the_error_schema_and_have_no_null_hint() {
    let env = Env::new();
    for words in [
        &["state", "nosuch"][..],
        &["kill", "nosuch", "BOGUS"][..],
        &["--no-such-flag"][..],
        &["bundle", "/proc/no/such/dir"][..],
    ] {
        let (code, _, stderr) = run(&env, words);
        assert_ne!(code, Some(0), "{words:?}");
        let value: Value = serde_json::from_str(stderr.trim())
            .unwrap_or_else(|e| panic!("{words:?}: stderr is not one JSON object ({e}): {stderr}"));
        assert_valid("error", &value);
        assert!(!value.get("hint").is_some_and(Value::is_null), "{stderr}");
    }
}

/// A youki stats sample has youki's sections only; null stands for the
/// others, so its JSON has runc's keys (checked on the captured fixture).
#[test]
fn stats_have_the_same_keys_whichever_runtime_answered() {
    let youki = std::fs::read(common::fixture("youki-0.7.0/events-stats.json")).unwrap();
    let stats = ocictl::runtime::flavor::Flavor::Youki
        .parse_stats(&youki)
        .expect("youki's stats parse");
    let value = serde_json::to_value(&stats).unwrap();
    let runc = std::fs::read(common::fixture("runc-1.1.5/events-stats.json")).unwrap();
    let runc: Value = serde_json::from_slice(&runc).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&value), keys(&runc["data"]));
    assert!(value["cpuset"].is_null());
}

/// The same command on runc and on youki (which has no cpuset) prints the
/// same keys, each valid against the one schema.
#[test]
fn stats_from_runc_and_youki_have_the_same_keys() {
    let env = Env::new();
    let bundle = env.bundle(&["sleep", "1000"]);
    let b = bundle.to_str().unwrap();
    let mut keys = Vec::new();
    for runtime in ["runc", "youki"] {
        let id = unique_id(&format!("contract-{runtime}"));
        let value = checked(
            &env,
            "run",
            &["--runtime", runtime, "run", "-d", "-b", b, &id],
        );
        assert_eq!(value["detached"], true);
        let stats = checked(&env, "stats", &["--runtime", runtime, "stats", &id]);
        let section = stats[0]["stats"].as_object().unwrap();
        keys.push((runtime, section.keys().cloned().collect::<Vec<_>>()));
        if runtime == "youki" {
            assert!(section["cpuset"].is_null(), "{stats}");
        }
        env.cmd()
            .args(["--runtime", runtime, "delete", "--force", &id])
            .assert()
            .success();
    }
    assert_eq!(keys[0].1, keys[1].1, "{keys:?}");
}

/// `console --mode log --output FILE` receives a real container's pty and
/// reports it in the console schema.
#[test]
fn a_console_receiving_a_real_pty_matches_its_schema() {
    let env = Env::new();
    let socket = env.dir.path().join("c.sock");
    let log = env.dir.path().join("out.log");
    let bundle = env.bundle_with(&["sh", "-c", "echo on-the-pty; sleep 0.2"], true);
    let mut console = env
        .std_cmd()
        .args(["--format", "json", "console", "--mode", "log", "--output"])
        .arg(&log)
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no socket");
        assert!(
            console.try_wait().unwrap().is_none(),
            "console exited early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let id = unique_id("contract-console");
    let (code, _, stderr) = run(
        &env,
        &[
            "run",
            "-d",
            "--console-socket",
            socket.to_str().unwrap(),
            "-b",
            bundle.to_str().unwrap(),
            &id,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let out = console.wait_with_output().unwrap();
    assert!(out.status.success());
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid("console", &value);
    assert_eq!(value["mode"], "log");
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("on-the-pty"));
    env.cmd()
        .args(["delete", "--force", &id])
        .assert()
        .success();
}

/// `stop`'s JSON lines, and the error objects of a command given several
/// containers (each with its `"id"`), match their schemas.
#[test]
fn stop_results_and_the_errors_of_several_ids_match_their_schemas() {
    let env = Env::new();
    let monitored = env.started(&["sleep", "1000"], "contract-stop");
    let bundle = env.bundle(&["sleep", "1000"]);
    let bare = unique_id("contract-stop");
    let ran = env.run_detached(args!["run", "-d", "--no-monitor", "-b", bundle, bare]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let (code, stdout, stderr) = run(&env, &["stop", "-t", "0", &monitored, "nosuch", &bare]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in &lines {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_valid("stop", &value);
        assert_eq!(
            keys_in_order(line)[..2],
            ["id".to_string(), "action".to_string()]
        );
    }
    let error: Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_valid("error", &error);
    assert_eq!(error["id"], "nosuch");
    let (_, _, stderr) = run(&env, &["delete", "nosuch", "nosuch2"]);
    for line in stderr.lines() {
        assert_valid("error", &serde_json::from_str(line).unwrap());
    }
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}
