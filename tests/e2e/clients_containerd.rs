//! containerd (ctr → the runc v2 shim → go-runc) with ocictl as its runtime
//! binary (`ctr run --runc-binary`), against the same with bare runc, in the
//! same run. Each scenario runs with runc first (its outcome is checked, so
//! the scenario proves something), then with ocictl: containerd must observe
//! the same. Needs root and `scripts/setup --tests`; never skips.

use crate::client_env;

use client_env::containerd::{Containerd, RUNC_ROOT};
use client_env::{
    added, on_pty, run, same_for_both, seen, wait_child, wait_until, Binary, COMMAND_DEADLINE,
};

#[test]
fn containerd_foreground_run_exit_status_and_output() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr run",
        |b| {
            let id = format!("fg-{}", b.name());
            let cmd = ctd.run_args(b, &["--rm"], &id, &["sh", "-c", "echo out; exit 3"]);
            seen(&run(cmd, None, COMMAND_DEADLINE))
        },
        |seen| assert_eq!(seen, &(Some(3), "out".to_string())),
    );
}

#[test]
fn containerd_run_with_stdin() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr run with stdin",
        |b| {
            let id = format!("in-{}", b.name());
            let script = "read a; read b; echo \"got $a+$b\"";
            let cmd = ctd.run_args(b, &["--rm"], &id, &["sh", "-c", script]);
            seen(&run(cmd, Some(b"one\ntwo\n"), COMMAND_DEADLINE))
        },
        |seen| assert_eq!(seen, &(Some(0), "got one+two".to_string())),
    );
}

#[test]
fn containerd_run_with_a_terminal() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr run -t",
        |b| {
            let id = format!("tty-{}", b.name());
            let script = "tty; echo ready; read x; echo \"got $x\"; exit 4";
            on_pty(
                ctd.run_args(b, &["--rm", "-t"], &id, &["sh", "-c", script]),
                b"hello\n",
            )
        },
        |(code, text)| {
            assert_eq!(*code, Some(4), "{text}");
            assert!(text.contains("/dev/pts/0\n"), "{text:?}");
            assert!(text.contains("got hello"), "{text:?}");
        },
    );
}

/// Start a detached task running `command`; wait until it runs.
fn detached(ctd: &Containerd, b: Binary, id: &str, command: &[&str]) {
    let out = run(
        ctd.run_args(b, &["-d"], id, command),
        None,
        COMMAND_DEADLINE,
    );
    out.ok(&format!("ctr run -d {id}"));
    ctd.wait_status(id, "RUNNING");
}

const FOREVER: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 7' TERM; while :; do sleep 0.1; done",
];

#[test]
fn containerd_detached_run_exec_and_ps() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr run -d, task exec, task ps",
        |b| {
            let id = format!("det-{}", b.name());
            detached(&ctd, b, &id, FOREVER);
            let n = std::cell::Cell::new(0);
            let exec = |args: &[&str], stdin: Option<&[u8]>| {
                let mut all = vec!["task", "exec", "--exec-id"];
                n.set(n.get() + 1);
                let exec_id = format!("e{}", n.get());
                all.push(&exec_id);
                all.push(&id);
                all.extend_from_slice(args);
                seen(&ctd.ctr_run(&all, stdin))
            };
            let plain = exec(&["echo", "hi"], None);
            let code = exec(&["sh", "-c", "echo x; exit 5"], None);
            let stdin = exec(
                &["sh", "-c", "read l; echo \"got $l\"; exit 0"],
                Some(b"line\n"),
            );
            let missing = ctd.ctr_run(&["task", "exec", "--exec-id", "m", &id, "nosuch"], None);
            let missing = (missing.code, missing.stderr.trim().to_string());
            // The init and its `sleep` (a fresh one every 0.1 s): count the init.
            let ps = ctd.ctr_ok(&["task", "ps", &id]);
            let header = ps
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .count();
            let procs = ps.lines().count() > 1;
            ctd.remove(&id);
            let status = ctd.task_status(&id);
            (plain, code, stdin, header, procs, status, missing)
        },
        |seen| {
            assert_eq!(seen.0, (Some(0), "hi".to_string()));
            assert_eq!(seen.1, (Some(5), "x".to_string()));
            assert_eq!(seen.2, (Some(0), "got line".to_string()));
            assert_eq!((seen.3, seen.4, &seen.5), (2, true, &None));
            assert_eq!(seen.6 .0, Some(1));
            assert!(
                seen.6 .1.contains("executable file not found"),
                "{}",
                seen.6 .1
            );
        },
    );
}

#[test]
fn containerd_exec_with_a_terminal() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr task exec -t",
        |b| {
            let id = format!("xt-{}", b.name());
            detached(&ctd, b, &id, FOREVER);
            let mut cmd = ctd.ctr();
            cmd.args(["task", "exec", "-t", "--exec-id", "t1", &id])
                .args([
                    "sh",
                    "-c",
                    "tty; echo ready; read x; echo \"got $x\"; exit 6",
                ]);
            let (code, text) = on_pty(cmd, b"typed\n");
            ctd.remove(&id);
            // ctr's own last resize can race the process's exit and log
            // "cannot resize a stopped container" with either runtime: the
            // client's noise, not the runtime's output.
            let text: String = text
                .lines()
                .filter(|l| !l.contains("resize pty"))
                .map(|l| format!("{l}\n"))
                .collect();
            (code, text)
        },
        |(code, text)| {
            assert_eq!(*code, Some(6), "{text}");
            assert!(text.contains("/dev/pts/"), "{text:?}");
            assert!(text.contains("got typed"), "{text:?}");
        },
    );
}

#[test]
fn containerd_pause_resume_and_metrics() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr task pause/resume/metrics",
        |b| {
            let id = format!("pr-{}", b.name());
            detached(&ctd, b, &id, FOREVER);
            ctd.ctr_ok(&["task", "pause", &id]);
            let paused = ctd.task_status(&id);
            ctd.ctr_ok(&["task", "resume", &id]);
            let resumed = ctd.task_status(&id);
            let metrics = ctd.ctr_ok(&["task", "metrics", &id]);
            let has_memory = metrics.contains("memory.usage_in_bytes");
            ctd.remove(&id);
            (paused, resumed, has_memory)
        },
        |seen| assert_eq!(seen, &(Some("PAUSED".into()), Some("RUNNING".into()), true)),
    );
}

/// `ctr run` in the foreground, signalled through `ctr task kill ARGS`:
/// how the foreground ctr ends, and what is left of the task.
fn killed_foreground(
    ctd: &Containerd,
    b: Binary,
    id: &str,
    command: &[&str],
    kill: &[&str],
) -> Option<i32> {
    let mut cmd = ctd.run_args(b, &["--rm"], id, command);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("ctr run");
    ctd.wait_status(id, "RUNNING");
    let mut all = vec!["task", "kill"];
    all.extend_from_slice(kill);
    all.push(id);
    ctd.ctr_ok(&all);
    let status = wait_child(&mut child, COMMAND_DEADLINE, "ctr run after task kill");
    status.code()
}

#[test]
fn containerd_kill_term_kill_and_all() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr task kill",
        |b| {
            let n = b.name();
            let term = killed_foreground(&ctd, b, &format!("kt-{n}"), FOREVER, &[]);
            let kill = killed_foreground(&ctd, b, &format!("kk-{n}"), FOREVER, &["-s", "KILL"]);
            let family = ["sh", "-c", "sleep 300 & sleep 300 & wait"];
            let all = killed_foreground(
                &ctd,
                b,
                &format!("ka-{n}"),
                &family,
                &["--all", "-s", "KILL"],
            );
            (term, kill, all, ctd.ctr_ok(&["task", "ls", "-q"]))
        },
        |seen| assert_eq!(seen, &(Some(7), Some(137), Some(137), String::new())),
    );
}

#[test]
fn containerd_delete_and_rm_leave_nothing_behind() {
    let ctd = Containerd::start();
    // containerd makes its own directories on first use: not the runtime's.
    let warm = ctd.run_args(Binary::Runc, &["--rm"], "warm", &["true"]);
    run(warm, None, COMMAND_DEADLINE).ok("a first ctr run");
    same_for_both(
        "ctr run --rm, task delete, container rm",
        |b| {
            let before = ctd.sandbox.private_tree();
            let id = format!("rm-{}", b.name());
            let out = run(
                ctd.run_args(b, &["--rm"], &id, &["true"]),
                None,
                COMMAND_DEADLINE,
            );
            let after_rm = added(&before, &ctd.sandbox.private_tree());
            let id2 = format!("del-{}", b.name());
            let exits = ctd.run_args(b, &["-d"], &id2, &["sh", "-c", "exit 9"]);
            run(exits, None, COMMAND_DEADLINE).ok("ctr run -d");
            ctd.wait_status(&id2, "STOPPED");
            let deleted = ctd.ctr_run(&["task", "delete", &id2], None);
            ctd.ctr_ok(&["container", "rm", &id2]);
            let after_delete = added(&before, &ctd.sandbox.private_tree());
            (
                out.code,
                after_rm,
                deleted.code,
                deleted.stderr.contains("exit code 9"),
                after_delete,
                ctd.runtime_dirs(),
            )
        },
        |seen| {
            assert_eq!(seen.0, Some(0));
            assert_eq!(seen.1, Vec::<String>::new(), "ctr run --rm left these");
            assert_eq!((seen.2, seen.3), (Some(0), true));
            assert_eq!(seen.4, Vec::<String>::new(), "task delete left these");
            assert_eq!(
                seen.5,
                vec!["default".to_string()],
                "{RUNC_ROOT} and beside it"
            );
        },
    );
}

#[test]
fn containerd_checkpoint_and_restore() {
    // go-runc restores with `-no-subreaper` (one dash): ocictl needs the
    // single-dash long flags of runc's CLI library for this one.
    let ctd = Containerd::start();
    let counter = "i=0; while :; do i=$((i+1)); echo $i >/tmp/n; sleep 0.1; done";
    same_for_both(
        "ctr container checkpoint/restore",
        |b| {
            let id = format!("cr-{}", b.name());
            let image = format!("localhost/checkpoint-{}:1", b.name());
            detached(&ctd, b, &id, &["sh", "-c", counter]);
            let count = || {
                let out = ctd.ctr_run(
                    &["task", "exec", "--exec-id", "n", &id, "cat", "/tmp/n"],
                    None,
                );
                out.stdout.trim().parse::<u64>().unwrap_or(0)
            };
            wait_until("the counter counts", COMMAND_DEADLINE, || count() > 2);
            let checkpoint = ctd.ctr_run(
                &["container", "checkpoint", "--task", "--rw", &id, &image],
                None,
            );
            ctd.remove(&id);
            let restore = ctd.ctr_run(
                &["container", "restore", "--live", "--rw", &id, &image],
                None,
            );
            if restore.code != Some(0) {
                // A failed restore leaves a task that hangs `task delete`:
                // the sandbox's drop kills what is left.
                return (checkpoint.code, restore.code, restore.stderr, None, false);
            }
            let status = ctd.task_status(&id);
            let went_on = restore.code == Some(0) && count() > 2;
            ctd.remove(&id);
            (
                checkpoint.code,
                restore.code,
                restore.stderr,
                status,
                went_on,
            )
        },
        |seen| {
            assert_eq!(
                seen,
                &(
                    Some(0),
                    Some(0),
                    String::new(),
                    Some("RUNNING".into()),
                    true
                )
            )
        },
    );
}

#[test]
fn containerd_logs_and_container_info() {
    let ctd = Containerd::start();
    same_for_both(
        "ctr run --log-uri, container info",
        |b| {
            let id = format!("log-{}", b.name());
            let log = ctd.sandbox.dir.path().join(format!("{id}.log"));
            let uri = format!("file://{}", log.display());
            let out = run(
                ctd.run_args(
                    b,
                    &["-d", "--log-uri", &uri],
                    &id,
                    &["sh", "-c", "echo to-the-log; exec sleep 300"],
                ),
                None,
                COMMAND_DEADLINE,
            );
            out.ok("ctr run -d --log-uri");
            wait_until("the log has the line", COMMAND_DEADLINE, || {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("to-the-log")
            });
            let info: serde_json::Value =
                serde_json::from_str(&ctd.ctr_ok(&["container", "info", &id]))
                    .expect("info is JSON");
            // The shim's options (protobuf, base64): they hold BinaryName.
            let options = info["Runtime"]["Options"]["value"]
                .as_str()
                .unwrap_or_default();
            let mut decode = std::process::Command::new("base64");
            decode.arg("-d");
            let decoded = run(decode, Some(options.as_bytes()), COMMAND_DEADLINE).stdout;
            let binary = decoded.contains(&*ctd.binary(b).to_string_lossy());
            let runtime = info["Runtime"]["Name"].as_str().map(str::to_string);
            let status = ctd.task_status(&id);
            ctd.remove(&id);
            (
                std::fs::read_to_string(&log).unwrap_or_default(),
                binary,
                runtime,
                status,
            )
        },
        |seen| {
            assert_eq!(seen.0, "to-the-log\n");
            assert_eq!(
                (seen.1, seen.2.as_deref(), seen.3.as_deref()),
                (true, Some("io.containerd.runc.v2"), Some("RUNNING"))
            );
        },
    );
}
