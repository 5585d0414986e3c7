//! Help that teaches: each command's examples (its `--help` ends with them
//! and its man page has them as EXAMPLES), what its exit status means, the
//! files and environment it uses. Added to the full command line only
//! ([`teach`], for help and man pages), never on the parsing path, so a
//! plain call pays nothing for it.

/// (what it does, the command line)
pub type Example = (&'static str, &'static str);

/// The examples of the top-level page.
pub const TOP_EXAMPLES: &[Example] = &[
    (
        "Make a busybox bundle and run a shell in it.",
        "ocictl bundle /tmp/demo && ocictl run -t -b /tmp/demo demo",
    ),
    ("List containers as JSON.", "ocictl list --format json"),
    (
        "Stop a container (TERM, then KILL after 10s) and remove it.",
        "ocictl stop demo && ocictl delete demo",
    ),
];

/// A command's examples: 2 to 4 real command lines.
pub fn examples(command: &str) -> &'static [Example] {
    match command {
        "create" => &[
            ("Create a container, then start it.", "ocictl create -b /tmp/demo web && ocictl start web"),
            ("Keep its output for `ocictl logs`.", "ocictl create -b /tmp/demo --log-output /var/log/web.log web"),
            ("Create it without ocictl's monitor, exactly as runc would.", "ocictl create --no-monitor -b /tmp/demo web"),
            ("With a limit and a capability less (config.json is not edited).", "ocictl create -b /tmp/demo --pids-limit 50 --cap-drop NET_RAW web"),
        ],
        "start" => &[
            ("Start a created container.", "ocictl start web"),
            ("Start it and wait for its exit status.", "ocictl start web && ocictl wait web"),
        ],
        "run" => &[
            ("Run a container in the foreground; ocictl exits with its status.", "ocictl run -b /tmp/demo job"),
            ("A shell with a terminal, no config.json edit needed.", "ocictl run -t -b /tmp/demo shell"),
            ("Run it in the background, then attach to it.", "ocictl run -d -t -b /tmp/demo web && ocictl attach web"),
            ("Change it for one run (config.json is not edited).", "ocictl run -b /tmp/demo -e DEBUG=1 -v /srv:/data:ro --memory 64M job -- ls /data"),
        ],
        "exec" => &[
            ("Run a command in a running container.", "ocictl exec web sh -c 'echo $HOME'"),
            ("As another user, with a variable and a working directory.", "ocictl exec -e DEBUG=1 --cwd /tmp -u 1000:1000 web id"),
            ("An interactive shell.", "ocictl exec -t web sh"),
            ("In the background, keeping its pid.", "ocictl exec -d --pid-file /run/job.pid web sleep 100"),
        ],
        "kill" => &[
            ("Ask a container to stop (SIGTERM).", "ocictl kill web"),
            ("Send SIGKILL to every process of a container.", "ocictl kill --all web KILL"),
            ("A real-time signal.", "ocictl kill web RTMIN+3"),
            ("Several containers: the signal last, or with -s.", "ocictl kill web db cache HUP; ocictl kill -s HUP web db"),
        ],
        "pause" => &[
            ("Freeze a container.", "ocictl pause web"),
            ("Freeze it, and resume it a minute later.", "ocictl pause web && sleep 60 && ocictl resume web"),
        ],
        "resume" => &[
            ("Thaw a paused container.", "ocictl resume web"),
            ("Resume every paused container.", "ocictl list --format json | jq -r '.[] | select(.status==\"paused\") | .id' | xargs -n1 ocictl resume"),
        ],
        "delete" => &[
            ("Delete a stopped container.", "ocictl delete web"),
            ("Delete a container even if it still runs.", "ocictl delete --force web"),
            ("Several at once; the others are deleted even if one fails.", "ocictl delete -f web db cache"),
        ],
        "stop" => &[
            ("Stop a container: SIGTERM, and SIGKILL if it still runs 10s later.", "ocictl stop web"),
            ("Several at once, with 30 seconds' grace (they are waited for together).", "ocictl stop --time 30s web db cache"),
            ("Another signal, and how each ended, for a script.", "ocictl --format json stop -s INT web | jq .exit_code"),
        ],
        "state" => &[
            ("A container's state, as runc prints it.", "ocictl state web"),
            ("The status field alone.", "ocictl state web --format json | jq -r .status"),
        ],
        "inspect" => &[
            ("Everything ocictl knows of a container.", "ocictl inspect web"),
            ("With the environment's values.", "ocictl inspect --show-env web"),
            ("One field, for a script (always an array).", "ocictl inspect --format json web | jq -r '.[0].monitor.pid'"),
        ],
        "generate" | "systemd" => &[
            ("A unit that starts web at boot.", "ocictl generate systemd web > /etc/systemd/system/ocictl-web.service && systemctl daemon-reload && systemctl enable ocictl-web.service"),
            ("Restore its newest checkpoint at boot instead.", "ocictl generate systemd --restore --image-root /var/lib/ocictl/checkpoints web"),
            ("Stop it with 30 seconds' grace; always restart it.", "ocictl generate systemd --time 30 --restart-policy always web"),
        ],
        "list" => &[
            ("runc's table.", "ocictl list"),
            ("Only the IDs.", "ocictl list -q"),
            ("The IDs as a JSON array.", "ocictl list -q --format json"),
        ],
        "ps" => &[
            ("The host pids of a container's processes.", "ocictl ps --format json web"),
            ("Choose ps columns.", "ocictl ps web -o pid,comm"),
        ],
        "top" => &[
            ("A container's processes.", "ocictl top web"),
            ("Choose ps columns.", "ocictl top web -o pid,user,rss,args"),
        ],
        "stats" => &[
            ("Two containers' usage.", "ocictl stats web db"),
            ("Every container, refreshed until Ctrl-C.", "ocictl stats --all --watch"),
            ("Memory in use, for a script.", "ocictl --format json stats web | jq '.[0].stats.memory.usage.usage'"),
        ],
        "events" => &[
            ("Stats every second until the container stops.", "ocictl events --interval 1s web"),
            ("Only OOM kills, as JSON lines.", "ocictl --format json events web | jq -c 'select(.type==\"oom\")'"),
            ("One stats sample.", "ocictl events --stats web"),
        ],
        "update" => &[
            ("Limit memory and the number of processes.", "ocictl update --memory 64M --pids-limit 20 web"),
            ("From an OCI LinuxResources document on stdin.", "echo '{\"cpu\":{\"shares\":512}}' | ocictl update -r - web"),
        ],
        "attach" => &[
            ("Attach to a detached terminal container (Ctrl-P Ctrl-Q detaches).", "ocictl attach web"),
            ("Other detach keys.", "ocictl attach --detach-keys ctrl-x web"),
        ],
        "logs" => &[
            ("What a detached container wrote.", "ocictl logs web"),
            ("The last 20 lines, then follow.", "ocictl logs --tail 20 -f web"),
        ],
        "wait" => &[
            ("Wait for a container; exit with its status.", "ocictl wait web; echo \"web ended with $?\""),
            ("How it ended, as JSON.", "ocictl wait --format json web"),
        ],
        "console" => &[
            ("Log a terminal container's output.", "ocictl console --mode log --output out.txt /run/c.sock &"),
            ("Then start the container on that socket.", "ocictl run -d --no-monitor --console-socket /run/c.sock -b /tmp/demo web"),
        ],
        "checkpoint" => &[
            ("Checkpoint a container into ./checkpoint (it stops).", "ocictl checkpoint web"),
            ("From cron: every 15 minutes, keep the newest 8 images, leave it running.", "*/15 * * * * /usr/bin/ocictl checkpoint --leave-running --image-root /var/lib/ocictl/checkpoints --keep 8 web"),
            ("A summary for a script.", "ocictl checkpoint --format json --image-root /var/lib/ocictl/checkpoints web"),
        ],
        "restore" => &[
            ("Restore the newest image cron saved, in the background.", "ocictl restore --image-root /var/lib/ocictl/checkpoints --latest -d -b /srv/web web"),
            ("Restore one image, as runc does.", "ocictl restore --image-path ./checkpoint -b /srv/web web"),
            ("Another container's images under a new ID.", "ocictl restore --image-root /var/lib/ocictl/checkpoints --latest --from web -d -b /srv/web web2"),
        ],
        "version" => &[
            ("ocictl's and the runtime's versions.", "ocictl version"),
            ("Another runtime's.", "ocictl --runtime youki version --format json"),
        ],
        "features" => &[
            ("What the runtime supports.", "ocictl features"),
            ("Its seccomp actions.", "ocictl features --format json | jq .linux.seccomp.actions"),
        ],
        "spec" => &[
            ("A default config.json in a bundle directory.", "ocictl spec -b /tmp/bundle"),
            ("A rootless one.", "ocictl spec --rootless -b /tmp/bundle"),
        ],
        "bundle" => &[
            ("A busybox bundle whose container runs sh.", "ocictl bundle /tmp/demo"),
            ("A bundle whose container prints and exits.", "ocictl bundle /tmp/hello -- echo hello"),
            ("A bundle from an OCI image layout (e.g. `skopeo copy docker://alpine:3.19 oci:/srv/alpine:3.19`).", "ocictl bundle --image oci:/srv/alpine:3.19 /srv/bundles/alpine"),
            ("From `podman save -o app.tar app:1.0`, with another command.", "ocictl bundle --image docker-archive:app.tar:app:1.0 ./app -- /bin/sh"),
        ],
        "completion" => &[
            ("Enable bash completion for this shell.", "source <(ocictl completion bash)"),
            ("Install fish completion.", "ocictl completion fish > ~/.config/fish/completions/ocictl.fish"),
        ],
        _ => &[],
    }
}

/// The `Examples:` block `--help` ends with.
fn examples_text(examples: &[Example]) -> String {
    let mut text = String::from("Examples:");
    for (what, line) in examples {
        text.push_str(&format!("\n  # {what}\n  {line}"));
    }
    text
}

/// Notes a command's `--help` shows before its examples.
fn notes(command: &str) -> Option<&'static str> {
    match command {
        "kill" => Some("SIGNAL may be a name (TERM, SIGKILL, kill, RTMIN+3) or a number (9)."),
        "stop" => Some("A created container (its process never started) gets SIGKILL at once; a paused one is resumed after the signal. --time 0 sends SIGKILL right after the signal."),
        _ => None,
    }
}

/// The full command line with every subcommand's notes and examples at the
/// end of its help.
pub fn teach(cmd: clap::Command) -> clap::Command {
    let cmd = cmd.after_help(format!(
        "Run `ocictl help COMMAND` for a command's options. Exit codes and the JSON contract are in `man ocictl` and the README.\n\n{}",
        examples_text(TOP_EXAMPLES)
    ));
    teach_subcommands(cmd)
}

/// Notes and examples at the end of each subcommand's help, nested ones
/// (`generate systemd`) included.
fn teach_subcommands(mut cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let examples = examples(&name);
        let mut text = notes(&name).map(|n| format!("{n}\n\n")).unwrap_or_default();
        if !examples.is_empty() {
            text.push_str(&examples_text(examples));
        }
        cmd = cmd.mut_subcommand(name, |sub| {
            let sub = teach_subcommands(sub);
            if text.is_empty() {
                sub
            } else {
                sub.after_help(text)
            }
        });
    }
    cmd
}

/// (code, meaning) rows of a man page's EXIT STATUS.
pub type Status = (&'static str, &'static str);

const SUCCESS: Status = ("0", "Success.");
const FAILURE: Status = ("1", "ocictl failed (bad bundle, unreadable file or runtime output), or the runtime failed with status 1.");
const USAGE: Status = ("2", "Usage error: unknown flag, invalid container ID, unknown signal, bad duration or size; nothing ran.");
const RUNTIME: Status = ("N", "The runtime failed with its own exit status N.");
const TIMEOUT: Status = ("124", "The runtime did not answer within --timeout.");
const NOT_EXECUTABLE: Status = ("126", "The runtime binary is not executable.");
const NOT_FOUND: Status = ("127", "The runtime binary was not found.");

/// What a command's exit status means.
pub fn exit_status(command: &str) -> Vec<Status> {
    let runtime = [RUNTIME, NOT_EXECUTABLE, NOT_FOUND];
    let mut rows = vec![SUCCESS, FAILURE, USAGE];
    match command {
        "wait" => {
            rows[0] = ("0", "The container exited with status 0.");
            rows[1] = ("1", "The container has no monitor, or its exit status is unknown (the monitor was killed first).");
            rows.push((
                "N",
                "wait exits with the container's status: its exit code N.",
            ));
            rows.push(("128+N", "Signal N killed the container's process."));
        }
        "run" | "exec" | "restore" => {
            rows.extend(runtime);
            rows.push(("N, 128+N", "In the foreground: the container process's exit code N, or 128+N when signal N killed it."));
            if command == "exec" {
                rows.push(("255", "The runtime could not start the process (as runc)."));
            }
        }
        "attach" => {
            rows.push((
                "N, 128+N",
                "The container ended while attached: its exit code N, or 128+N for signal N.",
            ));
        }
        "console" => {
            rows.push((
                "128+N",
                "Signal N stopped ocictl before the container's side closed.",
            ));
        }
        "checkpoint" => {
            rows.extend(runtime);
            rows.push((
                "75",
                "Another checkpoint of this container is running (EX_TEMPFAIL); nothing was done.",
            ));
        }
        "create" | "events" | "stats" | "update" => rows.extend(runtime),
        "stop" | "kill" | "delete" => {
            rows.extend(runtime);
            rows.push(TIMEOUT);
            if command == "stop" {
                rows[1] = ("1", "A container was not seen stopped within 10s of SIGKILL, or ocictl failed, or the runtime failed with status 1.");
            }
            rows.push(("first failure's", "With several IDs, every container is attempted; the exit status is that of the first one that failed, in the order given."));
        }
        "bundle" | "completion" | "logs" | "spec" => {}
        "inspect" => {
            rows.extend(runtime);
            rows[1] = ("1", "ocictl failed, or a container does not exist (runc's status 1); the containers found are still shown.");
            rows.push(TIMEOUT);
        }
        "ocictl" => {
            rows.extend(runtime);
            rows.push(("N, 128+N", "Foreground run, exec and restore, and wait: the container process's exit code, or 128+N when signal N killed it."));
            rows.push(("75", "Another checkpoint of this container is running."));
            rows.push(TIMEOUT);
        }
        _ => {
            rows.extend(runtime);
            rows.push(TIMEOUT);
        }
    }
    rows
}

/// The environment every page lists.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("OCICTL_RUNTIME", "The runtime binary (--runtime), default runc."),
    ("OCICTL_ROOT", "The runtime's state root (--root)."),
    ("OCICTL_FORMAT", "Output format, table or json (--format)."),
    ("OCICTL_TIMEOUT", "How long a prompt runtime call may take (--timeout), default 60s."),
    ("XDG_RUNTIME_DIR", "Where private console sockets and bundle copies go (0700 directories, always removed); ocictl's state directory for a non-root user."),
    ("TMPDIR", "Where private sockets and bundle copies go without XDG_RUNTIME_DIR (default /tmp)."),
    ("RUST_LOG", "Tracing filter: TARGET=LEVEL or LEVEL, comma separated, e.g. ocictl=debug (--debug sets it)."),
    ("NOTIFY_SOCKET", "Never passed on to the runtime."),
    ("OCICTL_COMPLETE", "Set by the completion scripts to ask ocictl for completions."),
];

/// The files a command's page lists.
pub fn files(command: &str) -> Vec<(&'static str, &'static str)> {
    let mut rows = vec![
        ("/run/runc", "runc's default state root (see --root)."),
        ("ROOT.ocictl/ID/", "ocictl's own state directory for container ID, beside the runtime's root (/run/runc.ocictl/ID/ for the default root): the monitor's lock, meta.json, exit.json, console.log and attach.sock."),
        ("BUNDLE/config.json", "The OCI runtime spec of a container."),
    ];
    if matches!(command, "checkpoint" | "restore" | "ocictl") {
        rows.push(("DIR/ID/TIME/", "With --image-root DIR: one complete checkpoint image, named by its UTC time; dump.log is CRIU's log."));
        rows.push((
            "DIR/ID/.lock",
            "The lock one checkpoint of ID holds while it runs.",
        ));
    }
    rows
}

/// SEE ALSO of a page.
pub fn see_also(command: &str) -> String {
    const RUNC_HAS: &[&str] = &[
        "create",
        "start",
        "run",
        "exec",
        "kill",
        "pause",
        "resume",
        "delete",
        "state",
        "list",
        "ps",
        "events",
        "update",
        "checkpoint",
        "restore",
        "features",
        "spec",
    ];
    match command {
        "ocictl" => "runc(8), criu(8), ocictl-run(1), ocictl-checkpoint(1), ocictl-wait(1)".into(),
        c @ ("checkpoint" | "restore") => format!("ocictl(1), runc(8), runc-{c}(8), criu(8)"),
        c if RUNC_HAS.contains(&c) => format!("ocictl(1), runc(8), runc-{c}(8)"),
        _ => "ocictl(1), runc(8)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_has_two_to_four_examples() {
        let cmd = crate::cli::full_command();
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let n = examples(sub.get_name()).len();
            assert!((2..=4).contains(&n), "{}: {n} examples", sub.get_name());
        }
    }
}
