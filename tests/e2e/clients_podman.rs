//! podman (→ conmon) with ocictl as its OCI runtime (`--runtime`, a binary
//! named `runc` so podman passes runc's log flags), against the same with
//! bare runc, in the same run. Each scenario runs with runc first (its
//! outcome is checked, so the scenario proves something), then with ocictl:
//! podman must observe the same. Needs root and `scripts/setup --tests`;
//! never skips.

use crate::client_env;

use client_env::podman::Podman;
use client_env::{
    added, ocictl_path, on_pty, run, same_for_both, seen, wait_until, Binary, Outcome,
    COMMAND_DEADLINE,
};

/// Traps TERM (exit 7) and runs until told.
const FOREVER: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 7' TERM; while :; do sleep 0.1; done",
];

/// A failing run's message with the runtime's path taken out.
fn message(out: &Outcome, runtime: &std::path::Path) -> String {
    out.stderr
        .replace(&*runtime.to_string_lossy(), "RUNTIME")
        .trim()
        .to_string()
}

#[test]
fn podman_foreground_run_exit_status_and_errors() {
    let pm = Podman::new();
    same_for_both(
        "podman run",
        |b| {
            let status = pm.run_container(b, &["--rm"], &["sh", "-c", "echo out; exit 3"], None);
            let missing = pm.run_container(b, &["--rm"], &["nosuch"], None);
            (
                seen(&status),
                missing.code,
                message(&missing, &pm.binary(b)),
            )
        },
        |(status, code, message)| {
            assert_eq!(status, &(Some(3), "out".to_string()));
            assert_eq!(*code, Some(127));
            assert!(message.contains("executable file not found"), "{message}");
        },
    );
}

#[test]
fn podman_runs_ocictl_under_its_own_name() {
    // Named `ocictl`, podman passes no --log: ocictl's own log handling.
    let pm = Podman::new();
    let with = |runtime: &std::path::Path, command: &[&str]| {
        let mut cmd = pm.cmd_with_runtime(runtime);
        cmd.args(["run", "--rm", "--pull", "never", "--network", "none"])
            .arg(client_env::podman::IMAGE)
            .args(command);
        let out = run(cmd, None, COMMAND_DEADLINE);
        (seen(&out), message(&out, runtime))
    };
    for command in [&["sh", "-c", "echo out; exit 3"][..], &["nosuch"]] {
        let runc = with(&pm.binary(Binary::Runc), command);
        assert!(matches!(runc.0 .0, Some(3) | Some(127)), "{runc:?}");
        assert_eq!(with(&ocictl_path(), command), runc, "{command:?}");
    }
}

#[test]
fn podman_run_with_stdin_and_a_terminal() {
    let pm = Podman::new();
    same_for_both(
        "podman run -i, run -it",
        |b| {
            let piped = pm.run_container(b, &["--rm", "-i"], &["cat"], Some(b"a\nb\n"));
            let mut cmd = pm.cmd(b);
            cmd.args(["run", "--rm", "-it", "--pull", "never", "--network", "none"])
                .arg(client_env::podman::IMAGE)
                .args([
                    "sh",
                    "-c",
                    "tty; echo ready; read x; echo \"got $x\"; exit 4",
                ]);
            (seen(&piped), on_pty(cmd, b"hello\n"))
        },
        |(piped, (code, text))| {
            assert_eq!(piped, &(Some(0), "a\nb".to_string()));
            assert_eq!(*code, Some(4), "{text}");
            assert!(text.contains("/dev/pts/0\n"), "{text:?}");
            assert!(text.contains("got hello"), "{text:?}");
        },
    );
}

#[test]
fn podman_detached_run_exec_top_and_stats() {
    let pm = Podman::new();
    same_for_both(
        "podman run -d, exec, top, stats",
        |b| {
            let name = pm.detached(b, &format!("det-{}", b.name()), FOREVER);
            let state = pm.inspect(b, &name, "{{.State.Status}} {{.State.Running}}");
            let exec = |args: &[&str], stdin: Option<&[u8]>| {
                let mut all = vec!["exec"];
                all.extend_from_slice(args);
                seen(&pm.run(b, &all, stdin))
            };
            let plain = exec(&[&name, "echo", "hi"], None);
            let code = exec(&[&name, "sh", "-c", "echo x; exit 5"], None);
            let stdin = exec(&["-i", &name, "cat"], Some(b"piped\n"));
            let missing = pm.run(b, &["exec", &name, "nosuch"], None);
            let missing = (missing.code, message(&missing, &pm.binary(b)));
            let top = pm.ok(b, &["top", &name, "pid", "args"]);
            let top_has_init = top
                .lines()
                .any(|l| l.trim_start().starts_with("1 ") && l.contains("sh -c"));
            let stats = pm.ok(b, &["stats", "--no-stream", "--format", "{{.Name}}", &name]);
            let mut cmd = pm.cmd(b);
            cmd.args(["exec", "-it", &name, "sh", "-c"])
                .arg("tty; echo ready; read x; echo \"got $x\"; exit 6");
            let (tty_code, tty_text) = on_pty(cmd, b"typed\n");
            pm.ok(b, &["rm", "--force", "--time", "0", &name]);
            let stats_name = stats == name;
            let tty = (
                tty_code,
                tty_text.contains("/dev/pts/") && tty_text.contains("got typed"),
            );
            (
                state,
                plain,
                code,
                stdin,
                top_has_init,
                stats_name,
                tty,
                missing,
            )
        },
        |seen| {
            assert_eq!(seen.0, "running true");
            assert_eq!(seen.1, (Some(0), "hi".to_string()));
            assert_eq!(seen.2, (Some(5), "x".to_string()));
            assert_eq!(seen.3, (Some(0), "piped".to_string()));
            assert_eq!((seen.4, seen.5, seen.6), (true, true, (Some(6), true)));
            assert_eq!(seen.7 .0, Some(127));
            assert!(
                seen.7 .1.contains("executable file not found"),
                "{}",
                seen.7 .1
            );
        },
    );
}

#[test]
fn podman_pause_unpause_and_update() {
    let pm = Podman::new();
    same_for_both(
        "podman pause/unpause/update",
        |b| {
            let name = pm.detached(b, &format!("pu-{}", b.name()), FOREVER);
            pm.ok(b, &["pause", &name]);
            let paused = pm.inspect(b, &name, "{{.State.Status}}");
            pm.ok(b, &["unpause", &name]);
            let running = pm.inspect(b, &name, "{{.State.Status}}");
            let update = pm.run(b, &["update", "--memory", "64m", &name], None);
            let limit = pm.ok(
                b,
                &[
                    "exec",
                    &name,
                    "cat",
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                ],
            );
            pm.ok(b, &["rm", "--force", "--time", "0", &name]);
            (paused, running, update.code, limit)
        },
        |seen| {
            assert_eq!(
                seen,
                &(
                    "paused".into(),
                    "running".into(),
                    Some(0),
                    (64 << 20).to_string()
                )
            )
        },
    );
}

#[test]
fn podman_kill_stop_and_wait() {
    let pm = Podman::new();
    same_for_both(
        "podman kill/stop/wait",
        |b| {
            let ended = |name: &str, how: &[&str]| {
                let mut all = how.to_vec();
                all.push(name);
                pm.ok(b, &all);
                let code = pm.ok(b, &["wait", name]);
                let state = pm.inspect(b, name, "{{.State.Status}} {{.State.ExitCode}}");
                pm.ok(b, &["rm", name]);
                (code, state)
            };
            let n = b.name();
            let term = ended(
                &pm.detached(b, &format!("kt-{n}"), FOREVER),
                &["kill", "-s", "TERM"],
            );
            let kill = ended(
                &pm.detached(b, &format!("kk-{n}"), FOREVER),
                &["kill", "-s", "KILL"],
            );
            // PID 1 ignores TERM without a trap: stop has to KILL it.
            let sleeper = pm.detached(b, &format!("ks-{n}"), &["sleep", "300"]);
            let stop = ended(&sleeper, &["stop", "--time", "1"]);
            // Sharing the host's pid namespace, podman stops it with the
            // runtime's `kill --all`.
            let host = format!("kh-{n}");
            let args = ["-d", "--name", &host, "--pid", "host"];
            pm.run_container(b, &args, &["sleep", "300"], None)
                .ok("podman run -d --pid host");
            let all = ended(&host, &["stop", "--time", "1"]);
            (term, kill, stop, all)
        },
        |seen| {
            let ended = |code: &str| (code.to_string(), format!("exited {code}"));
            assert_eq!(
                seen,
                &(ended("7"), ended("137"), ended("137"), ended("143"))
            );
        },
    );
}

#[test]
fn podman_rm_and_run_rm_leave_nothing_behind() {
    let pm = Podman::new();
    // podman makes its own directories on first use: not the runtime's.
    pm.run_container(Binary::Runc, &["--rm"], &["true"], None)
        .ok("a first podman run");
    same_for_both(
        "podman run --rm, rm",
        |b| {
            let before = pm.sandbox.private_tree();
            let out = pm.run_container(b, &["--rm"], &["true"], None);
            let after_run = added(&before, &pm.sandbox.private_tree());
            let name = pm.detached(b, &format!("rm-{}", b.name()), &["sleep", "300"]);
            pm.ok(b, &["rm", "--force", "--time", "0", &name]);
            let after_rm = added(&before, &pm.sandbox.private_tree());
            let listed = pm.ok(b, &["ps", "--all", "--quiet"]);
            (out.code, after_run, after_rm, listed)
        },
        |seen| {
            assert_eq!(seen.0, Some(0));
            assert_eq!(seen.1, Vec::<String>::new(), "podman run --rm left these");
            assert_eq!(seen.2, Vec::<String>::new(), "podman rm left these");
            assert_eq!(seen.3, "");
        },
    );
    let runc_dirs: Vec<String> = pm
        .sandbox
        .private_tree()
        .into_iter()
        .filter(|p| p.starts_with("/run/runc"))
        .collect();
    assert_eq!(
        runc_dirs,
        vec!["/run/runc".to_string()],
        "the runtime's root"
    );
}

#[test]
fn podman_checkpoint_and_restore() {
    let pm = Podman::new();
    let counter = "i=0; while :; do i=$((i+1)); echo $i >/tmp/n; sleep 0.1; done";
    same_for_both(
        "podman container checkpoint/restore",
        |b| {
            let name = pm.detached(b, &format!("cr-{}", b.name()), &["sh", "-c", counter]);
            let count = || {
                let out = pm.run(b, &["exec", &name, "cat", "/tmp/n"], None);
                out.stdout.trim().parse::<u64>().unwrap_or(0)
            };
            wait_until("the counter counts", COMMAND_DEADLINE, || count() > 2);
            let checkpoint = pm.run(b, &["container", "checkpoint", &name], None);
            let stopped = pm.inspect(b, &name, "{{.State.Status}}");
            let restore = pm.run(b, &["container", "restore", &name], None);
            let running = pm.inspect(b, &name, "{{.State.Status}}");
            let went_on = count() > 2;
            pm.ok(b, &["rm", "--force", "--time", "0", &name]);
            (
                checkpoint.code,
                stopped,
                restore.code,
                restore.stderr,
                running,
                went_on,
            )
        },
        |seen| {
            let expected = (
                Some(0),
                "exited".into(),
                Some(0),
                String::new(),
                "running".into(),
                true,
            );
            assert_eq!(seen, &expected)
        },
    );
}

#[test]
fn podman_logs_and_inspect() {
    let pm = Podman::new();
    same_for_both(
        "podman logs, inspect",
        |b| {
            let script = "echo one; echo two >&2; exec sleep 300";
            let name = pm.detached(b, &format!("lg-{}", b.name()), &["sh", "-c", script]);
            wait_until("podman logs shows both lines", COMMAND_DEADLINE, || {
                let out = pm.run(b, &["logs", &name], None);
                out.stdout.contains("one") && out.stderr.contains("two")
            });
            let logs = pm.run(b, &["logs", &name], None);
            let pid: i64 = pm.inspect(b, &name, "{{.State.Pid}}").parse().unwrap_or(0);
            let alive = pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists();
            pm.ok(b, &["kill", "-s", "KILL", &name]);
            pm.ok(b, &["wait", &name]);
            let ended = pm.inspect(
                b,
                &name,
                "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}",
            );
            pm.ok(b, &["rm", &name]);
            (logs.stdout, logs.stderr, alive, ended)
        },
        |seen| {
            assert_eq!(
                seen,
                &("one\n".into(), "two\n".into(), true, "exited 137 0".into())
            )
        },
    );
}

#[test]
fn podman_info_reports_the_runtime() {
    // podman shows `RUNTIME --version`'s first line: runc's lines must come
    // first (`-v`/`--version` print the runtime's version, then ocictl's).
    let pm = Podman::new();
    same_for_both(
        "podman info",
        |b| {
            let version = pm.ok(b, &["info", "--format", "{{.Host.OCIRuntime.Version}}"]);
            version.lines().next().unwrap_or_default().to_string()
        },
        |version| assert!(version.starts_with("runc version 1."), "{version}"),
    );
}

#[test]
fn podman_s_checkpoint_probes_find_what_they_find_in_runc() {
    // podman runs these to learn what the runtime can do: `checkpoint
    // --help` must succeed, and `restore --lsm-mount-context` (restore into
    // a pod) must answer with runc's "flag needs an argument".
    let runc = client_env::require("runc", "runc");
    same_for_both(
        "podman's checkpoint/restore probes",
        |b| {
            let binary = match b {
                Binary::Runc => runc.clone(),
                Binary::Ocictl => ocictl_path(),
            };
            let probe = |args: &[&str]| {
                let mut cmd = std::process::Command::new(&binary);
                cmd.args(args);
                run(cmd, None, COMMAND_DEADLINE)
            };
            let help = probe(&["checkpoint", "--help"]).code;
            let pod = probe(&["restore", "--lsm-mount-context"]);
            let combined = format!("{}{}", pod.stdout, pod.stderr);
            (help, combined.contains("flag needs an argument"))
        },
        |seen| assert_eq!(seen, &(Some(0), true)),
    );
}
