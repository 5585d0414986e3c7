//! `stop`, and `delete`/`kill` given several containers, on the fake
//! runtime: the exact sequence of runtime calls (signal, state polls,
//! SIGKILL, resume), every container attempted when one fails, and the
//! exit code of the first failure. The fake plays a set of containers
//! whose status lives in files (see `SCRIPT`).

use crate::common;

use std::path::PathBuf;

use common::{fixture, FakeRuntime};

/// The fake's behaviour: `ids/ID` holds a container's status; `ID.dies-on`
/// the signal numbers it ends on (9 always, unless `ID.immortal`, as a
/// process stuck in the kernel); `ID.ended` makes it end just before its
/// kill, which then fails as runc's does; `ID.fails` an exit code its
/// kill and delete fail with. A signal to a paused container takes effect
/// on resume, as under the cgroup freezer.
const SCRIPT: &str = r#"
while [ "$1" = --root ]; do shift 2; done
sub=$1; shift
[ "$1" = --all ] && shift
[ "$1" = --force ] && shift
f="$FAKE_RUNTIME_DIR/ids/$1"
if [ ! -f "$f" ]; then echo "container does not exist" >&2; exit 1; fi
if [ -f "$f.ended" ] && [ "$sub" = kill ]; then echo stopped >"$f"; echo "container not running" >&2; exit 1; fi
if [ -f "$f.fails" ] && [ "$sub" != state ]; then echo "$sub failed on purpose" >&2; exit "$(cat "$f.fails")"; fi
s=$(cat "$f")
case $sub in
state) cat "$FAKE_RUNTIME_DIR/$s.json" ;;
kill)
  if [ -f "$f.immortal" ]; then :
  elif [ "$2" = 9 ] || grep -qx "$2" "$f.dies-on" 2>/dev/null; then
    if [ "$s" = paused ]; then touch "$f.pending"; else echo stopped >"$f"; fi
  fi ;;
resume) if [ -f "$f.pending" ]; then echo stopped >"$f"; else echo running >"$f"; fi ;;
delete) rm "$f" ;;
esac
"#;

struct Containers {
    fake: FakeRuntime,
    root: PathBuf,
}

impl Containers {
    fn new() -> Containers {
        let fake = FakeRuntime::new();
        fake.set("script", SCRIPT);
        std::fs::create_dir(fake.dir.path().join("ids")).unwrap();
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixture("runc-1.1.5/state-running.json")).unwrap(),
        )
        .unwrap();
        for status in ["created", "running", "paused", "stopped"] {
            let mut s = state.clone();
            s["status"] = status.into();
            fake.set(&format!("{status}.json"), serde_json::to_vec(&s).unwrap());
        }
        let root = fake.dir.path().join("root");
        Containers { fake, root }
    }

    /// A container in `status` that ends on the signals `dies_on`.
    fn add(&self, id: &str, status: &str, dies_on: &[i32]) -> &Self {
        self.fake.set(&format!("ids/{id}"), format!("{status}\n"));
        let lines: String = dies_on.iter().map(|n| format!("{n}\n")).collect();
        self.fake.set(&format!("ids/{id}.dies-on"), lines);
        self
    }

    /// Its kill and delete fail with exit `code`.
    fn failing(&self, id: &str, code: i32) -> &Self {
        self.add(id, "running", &[]);
        self.fake.set(&format!("ids/{id}.fails"), code.to_string());
        self
    }

    fn run(&self, words: &[&str]) -> std::process::Output {
        let _ = std::fs::remove_file(self.fake.dir.path().join("argv.log"));
        self.fake
            .cmd()
            .arg("--root")
            .arg(&self.root)
            .args(words)
            .output()
            .unwrap()
    }

    /// Every runtime call of the last `run`, without the global flags.
    fn calls(&self) -> Vec<String> {
        let log =
            std::fs::read_to_string(self.fake.dir.path().join("argv.log")).unwrap_or_default();
        log.split("\n--\n")
            .filter(|call| !call.trim().is_empty())
            .map(|call| {
                let words: Vec<&str> = call.lines().collect();
                let words = match words.as_slice() {
                    ["--root", _, rest @ ..] => rest,
                    all => all,
                };
                words.join(" ")
            })
            .collect()
    }
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `calls` with runs of identical state polls folded into one.
fn folded(calls: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for call in calls {
        if out.last() != Some(call) || !call.starts_with("state ") {
            out.push(call.clone());
        }
    }
    out
}

#[test]
fn stop_sends_term_and_polls_state_until_stopped() {
    let c = Containers::new();
    c.add("web", "running", &[15]);
    let out = c.run(&["--format", "json", "stop", "web"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        folded(&c.calls()),
        ["state web", "kill web 15", "state web"]
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], "web");
    assert_eq!(lines[0]["action"], "stop");
    assert_eq!(lines[0]["signal"], "SIGTERM");
    assert_eq!(lines[0]["escalated"], false);
    assert_eq!(lines[0]["already_stopped"], false);
    // No monitor: the exit status is not known, and not made up.
    assert_eq!(lines[0]["exit"]["code"], serde_json::Value::Null);
    assert!(lines[0]["exit"]["unknown"]
        .as_str()
        .unwrap()
        .contains("no monitor"));
    assert!(lines[0].get("exit_code").is_none());
}

#[test]
fn stop_escalates_to_kill_after_the_grace_period() {
    let c = Containers::new();
    c.add("stubborn", "running", &[]);
    let out = c.run(&["--format", "json", "stop", "--time", "300ms", "stubborn"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let calls = c.calls();
    assert_eq!(
        folded(&calls),
        [
            "state stubborn",
            "kill stubborn 15",
            "state stubborn",
            "kill stubborn 9",
            "state stubborn"
        ]
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["escalated"], true);
    assert_eq!(lines[0]["signal"], "SIGTERM");
}

#[test]
fn stop_fails_for_a_container_that_survives_kill_and_still_reports_the_others() {
    let c = Containers::new();
    c.add("stuck", "running", &[]).add("ok", "running", &[15]);
    c.fake.set("ids/stuck.immortal", "");
    let out = c.run(&["--format", "json", "stop", "-t", "0", "stuck", "ok"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Its calls (the two containers' interleave): SIGKILL once, then
    // state polls until the bounded wait ends.
    let calls: Vec<String> = c
        .calls()
        .into_iter()
        .filter(|c| c.contains(" stuck"))
        .collect();
    assert_eq!(
        folded(&calls),
        [
            "state stuck",
            "kill stuck 15",
            "state stuck",
            "kill stuck 9",
            "state stuck"
        ]
    );
    let done = json_lines(&out.stdout);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["id"], "ok");
    let errors = json_lines(&out.stderr);
    assert_eq!(errors[0]["id"], "stuck");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("container stuck did not stop"),
        "{}",
        errors[0]
    );
}

#[test]
fn stop_of_a_container_that_ended_before_the_signal_reports_it_already_stopped() {
    let c = Containers::new();
    c.add("quick", "running", &[]);
    c.fake.set("ids/quick.ended", "");
    let out = c.run(&["--format", "json", "stop", "quick"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(c.calls(), ["state quick", "kill quick 15"]);
    let line = &json_lines(&out.stdout)[0];
    assert_eq!(line["already_stopped"], true, "{line}");
    assert!(line.get("signal").is_none(), "no signal reached it: {line}");
}

#[test]
fn stop_time_zero_kills_right_after_the_signal_and_durations_are_loose() {
    let c = Containers::new();
    for time in ["0", "0s"] {
        c.add("x", "running", &[]);
        let out = c.run(&["stop", "-t", time, "x"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(
            folded(&c.calls()),
            ["state x", "kill x 15", "state x", "kill x 9", "state x"]
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("x: stopped after SIGKILL"), "{text}");
    }
    for bad in ["soon", "-1", "10q"] {
        let out = c.run(&["stop", "-t", bad, "x"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(c.calls().is_empty(), "{bad}: nothing runs");
    }
}

#[test]
fn stop_signal_is_loose_and_a_bad_one_runs_nothing() {
    let c = Containers::new();
    for spelling in ["INT", "SIGINT", "int", "2"] {
        c.add("web", "running", &[2]);
        let out = c.run(&["stop", "-s", spelling, "web"]);
        assert_eq!(out.status.code(), Some(0), "{spelling}: {out:?}");
        assert_eq!(folded(&c.calls()), ["state web", "kill web 2", "state web"]);
    }
    let out = c.run(&["stop", "--signal", "TREM", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TREM"));
    assert!(c.calls().is_empty());
}

#[test]
fn stop_resumes_a_paused_container_after_the_signal() {
    let c = Containers::new();
    c.add("frozen", "paused", &[15]);
    let out = c.run(&["stop", "frozen"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        folded(&c.calls()),
        [
            "state frozen",
            "kill frozen 15",
            "resume frozen",
            "state frozen"
        ]
    );
}

#[test]
fn stop_kills_a_created_container_at_once_and_leaves_a_stopped_one() {
    let c = Containers::new();
    c.add("fresh", "created", &[]).add("done", "stopped", &[]);
    let out = c.run(&["--format", "json", "stop", "fresh"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        folded(&c.calls()),
        ["state fresh", "kill fresh 9", "state fresh"]
    );
    assert_eq!(json_lines(&out.stdout)[0]["signal"], "SIGKILL");
    assert_eq!(json_lines(&out.stdout)[0]["escalated"], false);

    let out = c.run(&["--format", "json", "stop", "done"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(c.calls(), ["state done"]);
    let line = &json_lines(&out.stdout)[0];
    assert_eq!(line["already_stopped"], true);
    assert!(line.get("signal").is_none());
    let out = c.run(&["stop", "done"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("done: already stopped;"));
}

#[test]
fn stop_several_signals_all_and_a_failing_one_in_the_middle_keeps_no_other_from_stopping() {
    let c = Containers::new();
    c.add("a", "running", &[15])
        .failing("b", 3)
        .add("c", "running", &[]);
    let out = c.run(&[
        "--format", "json", "stop", "-t", "200ms", "a", "b", "nosuch", "c",
    ]);
    // The first failure's code: b's kill failed with 3.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let calls = c.calls();
    for call in [
        "kill a 15",
        "kill b 15",
        "state nosuch",
        "kill c 15",
        "kill c 9",
    ] {
        assert!(calls.iter().any(|c| c == call), "{call} in {calls:?}");
    }
    assert!(!calls.iter().any(|c| c == "kill a 9"), "{calls:?}");
    // Both signals are sent before any SIGKILL: one grace period for all.
    let last_term = calls.iter().rposition(|c| c.ends_with(" 15")).unwrap();
    let first_kill = calls.iter().position(|c| c.ends_with(" 9")).unwrap();
    assert!(last_term < first_kill, "{calls:?}");
    let done = json_lines(&out.stdout);
    let ids: Vec<_> = done.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(done[1]["escalated"], true);
    let errors = json_lines(&out.stderr);
    let failed: Vec<_> = errors.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(failed, ["b", "nosuch"]);
    assert_eq!(errors[0]["exit_code"], 3);
    assert!(errors[0]["error"].as_str().unwrap().contains("container b"));
    assert_eq!(errors[1]["exit_code"], 1);
}

#[test]
fn delete_several_deletes_every_one_and_exits_with_the_first_failure() {
    let c = Containers::new();
    c.add("a", "stopped", &[])
        .failing("b", 4)
        .failing("c", 5)
        .add("d", "stopped", &[]);
    let out = c.run(&["delete", "-f", "a", "b", "c", "d"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        c.calls(),
        [
            "delete --force a",
            "delete --force b",
            "delete --force c",
            "delete --force d"
        ]
    );
    // People see which were deleted; each failure names its container.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nd\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot delete container b"), "{stderr}");
    assert!(stderr.contains("cannot delete container c"), "{stderr}");

    c.add("a", "stopped", &[]).add("d", "stopped", &[]);
    let out = c.run(&["--format", "json", "delete", "a", "b", "d"]);
    assert_eq!(out.status.code(), Some(4));
    let done = json_lines(&out.stdout);
    assert_eq!(
        done,
        [
            serde_json::json!({"id":"a","action":"delete"}),
            serde_json::json!({"id":"d","action":"delete"})
        ]
    );
    let errors = json_lines(&out.stderr);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["id"], "b");
    assert_eq!(errors[0]["exit_code"], 4);
}

#[test]
fn delete_and_kill_of_one_container_are_as_before() {
    let c = Containers::new();
    c.add("a", "stopped", &[]).failing("b", 4);
    let out = c.run(&["delete", "a"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"", "silent, as runc");
    let out = c.run(&["--format", "json", "delete", "b"]);
    assert_eq!(out.status.code(), Some(4));
    let errors = json_lines(&out.stderr);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].get("id").is_none(),
        "the single-ID error is unchanged"
    );
    assert_eq!(errors[0]["exit_code"], 4);

    c.add("a", "running", &[]);
    for (words, call) in [
        (&["kill", "a"][..], "kill a 15"),
        (&["kill", "a", "KILL"], "kill a 9"),
        (&["kill", "a", "9"], "kill a 9"),
        (&["kill", "--all", "a", "HUP"], "kill --all a 1"),
    ] {
        let out = c.run(words);
        assert_eq!(out.status.code(), Some(0), "{words:?}");
        assert_eq!(out.stdout, b"", "{words:?}");
        assert_eq!(c.calls(), [call], "{words:?}");
        c.add("a", "running", &[]);
    }
    let out = c.run(&["kill", "b", "TERM"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn kill_several_takes_the_signal_last_or_from_dash_s() {
    let c = Containers::new();
    c.add("a", "running", &[])
        .failing("b", 6)
        .add("c", "running", &[]);
    let out = c.run(&["kill", "a", "b", "c", "HUP"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(c.calls(), ["kill a 1", "kill b 1", "kill c 1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nc\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot send SIGHUP to container b"));

    // With -s every positional is a container, even one named like a signal.
    c.add("TERM", "running", &[]);
    let out = c.run(&["--format", "json", "kill", "-s", "KILL", "a", "TERM"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(c.calls(), ["kill a 9", "kill TERM 9"]);
    let done = json_lines(&out.stdout);
    assert_eq!(
        done[1],
        serde_json::json!({"id":"TERM","action":"kill","signal":"SIGKILL"})
    );

    let out = c.run(&["kill", "--all", "a", "c", "9"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(c.calls(), ["kill --all a 9", "kill --all c 9"]);
}

#[test]
fn kill_never_takes_a_mistyped_signal_for_a_container() {
    let c = Containers::new();
    c.add("a", "running", &[]).add("b", "running", &[]);
    for words in [
        &["kill", "a", "TREM"][..],
        &["kill", "a", "b"],
        &["kill", "a", "b", "SIGTREM"],
    ] {
        let out = c.run(words);
        assert_eq!(out.status.code(), Some(2), "{words:?}");
        assert!(c.calls().is_empty(), "{words:?}: nothing is signalled");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unknown signal"), "{stderr}");
        assert!(
            stderr.contains("to kill several containers give the signal"),
            "{stderr}"
        );
    }
    let out = c.run(&["kill", "a", "b/c", "TERM"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(c.calls().is_empty());
}
