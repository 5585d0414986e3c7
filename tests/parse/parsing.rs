//! parsing: what real runc 1.1.5 printed (tests/fixtures/runc-1.1.5) through
//! the driver's typed parsers, plus malformed variants that must fail with
//! an error (never a panic) or be kept as they are (unknown statuses).

use crate::common;

use std::collections::BTreeMap;

use common::fixture;
use ocictl::runtime::log::{error_message, parse_log_line};
use ocictl::runtime::types::rfc3339_nano;
use ocictl::runtime::{parse_pids, Container, Status, Version};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("runc-1.1.5/{name}"))).unwrap()
}

fn read_str(name: &str) -> String {
    String::from_utf8(read(name)).unwrap()
}

const BUNDLE: &str = "/tmp/ocictl-fixtures.X3Qiwc/sleep";

#[test]
fn states_parse_into_their_values() {
    for (file, id, pid, status, created, nanos) in [
        (
            "state-created.json",
            "fx-main",
            5658,
            Status::Created,
            "2026-11-28T19:07:42.105587458Z",
            105_587_458,
        ),
        (
            "state-running.json",
            "fx-main",
            5658,
            Status::Running,
            "2026-11-28T19:07:42.105587458Z",
            105_587_458,
        ),
        (
            "state-paused.json",
            "fx-main",
            5658,
            Status::Paused,
            "2026-11-28T19:07:42.105587458Z",
            105_587_458,
        ),
        (
            "state-stopped.json",
            "fx-done",
            0,
            Status::Stopped,
            "2026-11-28T19:07:42.284897164Z",
            284_897_164,
        ),
    ] {
        let c = Container::parse_state(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(c.id, id, "{file}");
        assert_eq!(c.pid, pid, "{file}");
        assert_eq!(c.status, status, "{file}");
        assert_eq!(c.oci_version, "1.0.2-dev", "{file}");
        assert_eq!(c.bundle, BUNDLE, "{file}");
        assert_eq!(c.rootfs, format!("{BUNDLE}/rootfs"), "{file}");
        assert_eq!(c.owner, "", "{file}");
        assert!(c.annotations.is_empty(), "{file}");
        assert_eq!(c.created.timestamp_subsec_nanos(), nanos, "{file}");
        assert_eq!(c.created.timestamp(), 1_795_892_862, "{file}");
        assert_eq!(rfc3339_nano(&c.created), created, "{file}");
    }
}

#[test]
fn states_serialise_back_to_what_runc_printed() {
    // `ocictl state` prints runc's object: same fields, same values.
    for file in [
        "state-created.json",
        "state-running.json",
        "state-paused.json",
        "state-stopped.json",
    ] {
        let raw = read(file);
        let ours = serde_json::to_value(Container::parse_state(&raw).unwrap()).unwrap();
        let runcs: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(ours, runcs, "{file}");
        // Indented as runc indents it (2 spaces), byte for byte.
        let pretty = serde_json::to_string_pretty(&Container::parse_state(&raw).unwrap()).unwrap();
        assert_eq!(pretty.as_bytes(), &raw[..], "{file}");
    }
}

#[test]
fn lists_parse_including_null() {
    assert!(Container::parse_list(&read("list-empty.json"))
        .unwrap()
        .is_empty());

    let one = Container::parse_list(&read("list-one.json")).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0].id.as_str(), one[0].pid, &one[0].status),
        ("fx-main", 5658, &Status::Created)
    );
    assert_eq!(one[0].owner, "root");

    let many = Container::parse_list(&read("list-many.json")).unwrap();
    let got: Vec<(&str, i32, &Status, String)> = many
        .iter()
        .map(|c| (c.id.as_str(), c.pid, &c.status, rfc3339_nano(&c.created)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "fx-busy",
                5830,
                &Status::Running,
                "2026-11-28T19:07:42.333464369Z".to_string()
            ),
            (
                "fx-done",
                0,
                &Status::Stopped,
                "2026-11-28T19:07:42.284897164Z".to_string()
            ),
            (
                "fx-main",
                5658,
                &Status::Paused,
                "2026-11-28T19:07:42.105587458Z".to_string()
            ),
            (
                "fx-new",
                5762,
                &Status::Created,
                "2026-11-28T19:07:42.251816225Z".to_string()
            ),
        ]
    );
    assert!(many.iter().all(|c| c.owner == "root"));
    assert_eq!(many[0].bundle, "/tmp/ocictl-fixtures.X3Qiwc/busy");

    // The ids are what `runc list -q` printed.
    let quiet = read_str("list-quiet.txt");
    let ids: Vec<&str> = many.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, quiet.lines().collect::<Vec<_>>());

    // Serialised back: runc's objects.
    let ours = serde_json::to_value(&many).unwrap();
    let runcs: serde_json::Value = serde_json::from_slice(&read("list-many.json")).unwrap();
    assert_eq!(ours, runcs);
}

#[test]
fn annotations_are_read_and_null_is_empty() {
    let mut v: serde_json::Value = serde_json::from_slice(&read("state-running.json")).unwrap();
    v["annotations"] = serde_json::json!({"org.example/team": "infra", "b": ""});
    let c = Container::parse_state(&serde_json::to_vec(&v).unwrap()).unwrap();
    let want: BTreeMap<String, String> = [("org.example/team", "infra"), ("b", "")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(c.annotations, want);
    assert_eq!(serde_json::to_value(&c).unwrap(), v);

    v["annotations"] = serde_json::Value::Null;
    let c = Container::parse_state(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(c.annotations.is_empty());
}

#[test]
fn timestamps_round_trip_as_rfc3339_nano() {
    for s in [
        "2026-11-28T19:07:42.105587458Z",
        "2026-11-28T19:07:42.1Z",
        "2026-11-28T19:07:42.00000001Z",
        "2026-11-28T19:07:42Z",
        "1970-01-01T00:00:00.000000001Z",
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&read("state-running.json")).unwrap();
        v["created"] = s.into();
        let c = Container::parse_state(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(rfc3339_nano(&c.created), s);
        assert_eq!(serde_json::to_value(&c).unwrap()["created"], s);
    }
    // Another offset is the same instant, written in UTC as runc writes it.
    let mut v: serde_json::Value = serde_json::from_slice(&read("state-running.json")).unwrap();
    v["created"] = "2026-11-28T20:07:42.5+01:00".into();
    let c = Container::parse_state(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(rfc3339_nano(&c.created), "2026-11-28T19:07:42.5Z");
}

#[test]
fn every_status_runc_writes_and_unknown_ones() {
    for (s, status) in [
        ("creating", Status::Creating),
        ("created", Status::Created),
        ("running", Status::Running),
        ("pausing", Status::Pausing),
        ("paused", Status::Paused),
        ("stopped", Status::Stopped),
        ("Running", Status::Running),
        ("hibernating", Status::Unknown("hibernating".into())),
        ("", Status::Unknown(String::new())),
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&read("state-running.json")).unwrap();
        v["status"] = s.into();
        let c = Container::parse_state(&serde_json::to_vec(&v).unwrap())
            .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(c.status, status, "{s:?}");
    }
    let unknown = Status::parse("hibernating");
    assert_eq!(unknown.to_string(), "hibernating");
    assert_eq!(
        serde_json::to_value(&unknown).unwrap(),
        serde_json::json!("hibernating")
    );
}

#[test]
fn malformed_states_are_errors() {
    let good = read_str("state-running.json");
    let truncations = [
        good[..good.len() / 2].to_string(),
        good[..good.len() - 1].to_string(),
        String::new(),
        "   ".to_string(),
    ];
    for bad in truncations.iter() {
        assert!(Container::parse_state(bad.as_bytes()).is_err(), "{bad:?}");
    }
    let edits: &[(&str, serde_json::Value)] = &[
        ("pid", serde_json::json!("5658")),
        ("pid", serde_json::json!(1.5)),
        ("pid", serde_json::json!(99_999_999_999i64)),
        ("id", serde_json::json!(7)),
        ("id", serde_json::Value::Null),
        ("status", serde_json::json!(5)),
        ("status", serde_json::Value::Null),
        ("created", serde_json::json!(1_795_892_862)),
        ("created", serde_json::json!("yesterday")),
        ("created", serde_json::json!("2026-11-28 19:07:42")),
        ("annotations", serde_json::json!(["a"])),
        ("annotations", serde_json::json!({"a": 1})),
        ("bundle", serde_json::json!({})),
    ];
    for (field, value) in edits {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        v[*field] = value.clone();
        let result = Container::parse_state(&serde_json::to_vec(&v).unwrap());
        assert!(result.is_err(), "{field} = {value}: {result:?}");
    }
    for missing in ["id", "status", "created"] {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        v.as_object_mut().unwrap().remove(missing);
        let result = Container::parse_state(&serde_json::to_vec(&v).unwrap());
        assert!(result.is_err(), "without {missing}: {result:?}");
    }
    for not_a_state in ["null", "[]", "\"running\"", "42", "{}", "not json"] {
        assert!(
            Container::parse_state(not_a_state.as_bytes()).is_err(),
            "{not_a_state}"
        );
    }
}

#[test]
fn malformed_lists_are_errors() {
    let good = read_str("list-many.json");
    for bad in [
        &good[..good.len() / 3],
        &good[..good.len() - 2],
        "",
        "{}",
        "[null]",
        "[1]",
        "[{\"id\":\"x\"}]",
        "\"null\"",
        "[] []",
    ] {
        assert!(Container::parse_list(bad.as_bytes()).is_err(), "{bad:?}");
    }
    // One broken entry spoils the list: no silent partial answers.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v[2]["pid"] = "oops".into();
    assert!(Container::parse_list(&serde_json::to_vec(&v).unwrap()).is_err());
}

#[test]
fn ps_pids() {
    assert_eq!(parse_pids(&read("ps.json")).unwrap(), vec![5658]);
    assert!(parse_pids(b"null").unwrap().is_empty());
    assert!(parse_pids(b"[]\n").unwrap().is_empty());
    assert_eq!(parse_pids(b"[1, 22, 333]").unwrap(), vec![1, 22, 333]);
    for bad in [
        &b""[..],
        b"[5658",
        b"[\"5658\"]",
        b"[1.5]",
        b"{\"pids\":[1]}",
        b"5658",
        b"[99999999999]",
    ] {
        assert!(
            parse_pids(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn runc_version() {
    let v = Version::parse(&read_str("version.txt")).unwrap();
    assert_eq!(v.runtime, "runc");
    assert_eq!(v.version, "1.1.5+ds1");
    assert_eq!(v.commit.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
    assert_eq!(v.spec.as_deref(), Some("1.0.2-dev"));
    assert_eq!(v.extra.get("go").map(String::as_str), Some("go1.19.8"));
    assert_eq!(v.extra.get("libseccomp").map(String::as_str), Some("2.5.4"));
    assert_eq!(v.extra.len(), 2);
}

#[test]
fn crun_and_youki_versions() {
    // Debian bookworm's crun 1.8.1, as `crun --version` prints it.
    let crun = "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nrundir: /run/user/0/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +CRIU +YAJL\n";
    let v = Version::parse(crun).unwrap();
    assert_eq!((v.runtime.as_str(), v.version.as_str()), ("crun", "1.8.1"));
    assert_eq!(
        v.commit.as_deref(),
        Some("f8a096be060b22ccd3d5f3ebe44108517fbf6c30")
    );
    assert_eq!(v.spec.as_deref(), Some("1.0.0"));
    assert_eq!(v.extra["rundir"], "/run/user/0/crun");
    assert!(v.extra["features"].starts_with("+SYSTEMD +SELINUX"));

    // youki 0.3 and newer youki spellings of the first line.
    for (text, version) in [
        ("youki version 0.3.0\ncommit: 0.3.0-0-7a7a5a1\n", "0.3.0"),
        (
            "youki version: 0.4.1\ncommit: 0.4.1-0-e9a2d1b\nlibcgroups: 0.4.1\n",
            "0.4.1",
        ),
    ] {
        let v = Version::parse(text).unwrap();
        assert_eq!((v.runtime.as_str(), v.version.as_str()), ("youki", version));
        assert!(v.commit.is_some());
    }
}

#[test]
fn malformed_versions_are_errors() {
    for bad in [
        "",
        "\n\n",
        "runc\n",
        "runc version\n",
        "version 1.1.5\n",
        "runc 1.1.5\n",
        "{\"version\":\"1.1.5\"}",
        "Usage: runc [OPTIONS]\n",
    ] {
        assert!(Version::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn error_messages_from_runcs_stderr() {
    for (file, message) in [
        ("state-unknown.stderr", "container does not exist"),
        ("state-unknown-logjson.stderr", "container does not exist"),
        ("state-unknown-logtext.stderr", "container does not exist"),
        (
            "start-running.stderr",
            "cannot start an already running container",
        ),
        ("resume-running.stderr", "container not paused"),
        ("pause-stopped.stderr", "container not running"),
        (
            "delete-running.stderr",
            "cannot delete container fx-main that is not stopped: running",
        ),
        ("kill-bogus-signal.stderr", "unknown signal \"BOGUS\""),
        (
            "create-bad-json.stderr",
            "runc create failed: invalid character 't' looking for beginning of object key string",
        ),
        (
            "create-invalid-id.stderr",
            "runc create failed: invalid container ID format",
        ),
        (
            "create-missing-bundle.stderr",
            "runc create failed: chdir /tmp/ocictl-fixtures.X3Qiwc/no-such-bundle: no such file or directory",
        ),
        (
            "create-missing-rootfs.stderr",
            "runc create failed: invalid rootfs: stat /tmp/ocictl-fixtures.X3Qiwc/norootfs/no-such-rootfs: no such file or directory",
        ),
    ] {
        assert_eq!(error_message(&read_str(file)), message, "{file}");
        // Every one of these failed with status 1.
        let status = file.replace(".stderr", ".status");
        assert_eq!(read_str(&status).trim(), "1", "{status}");
    }
    // Escaped newlines in msg="…" come back as newlines.
    let ps = error_message(&read_str("ps-dashdash.stderr"));
    assert!(
        ps.starts_with("exit status 1: error: garbage option\n\nUsage:\n ps [options]\n"),
        "{ps:?}"
    );
    assert!(ps.ends_with("For more details see ps(1).\n"), "{ps:?}");
}

#[test]
fn error_messages_from_runcs_log_files() {
    assert_eq!(
        error_message(&read_str("error-log.json")),
        "container does not exist"
    );
    assert_eq!(
        error_message(&read_str("error-log.txt")),
        "container does not exist"
    );
    let json = parse_log_line(read_str("error-log.json").trim()).unwrap();
    assert_eq!(
        (json.level.as_str(), json.msg.as_str()),
        ("error", "container does not exist")
    );
    let text = parse_log_line(read_str("error-log.txt").trim()).unwrap();
    assert_eq!(
        (text.level.as_str(), text.msg.as_str()),
        ("error", "container does not exist")
    );
}

#[test]
fn error_messages_from_mixed_and_broken_logs() {
    // The last error record wins over info/warning noise and earlier errors.
    let log = concat!(
        "{\"level\":\"info\",\"msg\":\"starting\",\"time\":\"t\"}\n",
        "{\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n",
        "{\"level\":\"warning\",\"msg\":\"later noise\",\"time\":\"t\"}\n",
        "{\"level\":\"error\",\"msg\":\"the real one\",\"time\":\"t\"}\n",
        "{\"level\":\"debug\",\"msg\":\"bye\",\"time\":\"t\"}\n",
    );
    assert_eq!(error_message(log), "the real one");
    assert_eq!(
        error_message("time=\"t\" level=fatal msg=\"boom \\\"x\\\"\"\n"),
        "boom \"x\""
    );
    // Not a log at all: the last meaningful line, as it is.
    assert_eq!(error_message("panic: oops\n\ngoroutine 1\n"), "goroutine 1");
    // Broken lines never panic.
    for broken in [
        "{\"level\":",
        "{\"level\":5,\"msg\":\"x\"}",
        "level=\"error msg=unterminated",
        "time=",
        "=",
        "\u{0}\u{1}\u{2}",
        "level=error msg=\"trailing backslash \\",
    ] {
        let _ = error_message(broken);
        let _ = parse_log_line(broken);
    }
    assert_eq!(error_message(""), "");
    assert_eq!(error_message("\n \n"), "");
}
