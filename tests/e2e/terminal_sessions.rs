//! Terminal sessions around the relay, on real runc through real ptys:
//! a restored terminal's window size, `attach` (input's end, redraw,
//! detach keys), `create -t`, and job control (Ctrl-Z) under tmux next to
//! bare runc.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use common::{unique_id, Env, PtySession};

fn run_d(env: &Env, extra: &[&str], bundle: &Path, id: &str) {
    let mut a: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), "-d".as_ref()];
    a.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    a.extend(["-b".as_ref(), bundle.as_os_str(), id.as_ref()]);
    let out = env.run_detached(&a);
    assert_eq!(out.code, Some(0), "run -d {id}: {out:?}");
}

fn ocictl_in_pty(env: &Env, args: &[&str], rows: u16, cols: u16) -> PtySession {
    let mut cmd = env.std_cmd();
    cmd.args(args);
    PtySession::spawn(cmd, rows, cols)
}

/// A checkpoint of a terminal container (its pty held by the monitor,
/// which never had a window size): the container is gone afterwards.
fn terminal_checkpoint(env: &Env, id: &str) -> (PathBuf, PathBuf) {
    let bundle = env.bundle_with(&["sh"], true);
    run_d(env, &[], &bundle, id);
    env.wait_status(id, "running");
    let image = env.dir.path().join(format!("{id}.img"));
    env.cmd()
        .args(["checkpoint", "--image-path"])
        .arg(&image)
        .arg(id)
        .assert()
        .success();
    env.cmd().args(["delete", "--force", id]).assert().success();
    (bundle, image)
}

#[test]
fn a_foreground_restore_has_the_terminals_size_at_once() {
    let env = Env::new();
    let id = unique_id("rsz");
    let (bundle, image) = terminal_checkpoint(&env, &id);
    let (b, i) = (bundle.to_str().unwrap(), image.to_str().unwrap());
    let mut s = ocictl_in_pty(&env, &["restore", "--image-path", i, "-b", b, &id], 30, 100);
    env.wait_status(&id, "running");
    s.send(b"stty size\r");
    s.expect("30 100");
    s.send(b"exit 3\r");
    assert_eq!(s.wait().code(), Some(3), "{}", s.text());
}

#[test]
fn a_restore_through_ocictl_console_has_the_consoles_size_at_once() {
    let env = Env::new();
    let id = unique_id("rszc");
    let (bundle, image) = terminal_checkpoint(&env, &id);
    let socket = env.dir.path().join("console.sock");
    let mut console = ocictl_in_pty(&env, &["console", socket.to_str().unwrap()], 30, 100);
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let out = env.run_detached(args![
        "restore",
        "-d",
        "--console-socket",
        socket,
        "--image-path",
        image,
        "-b",
        bundle,
        id
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    console.send(b"stty size\r");
    console.expect("30 100");
    console.send(b"exit\r");
    assert_eq!(console.wait().code(), Some(0), "{}", console.text());
}

/// Docker's rule: a tty container's attach ends when its input ends; the
/// container runs on.
#[test]
fn attach_returns_at_the_end_of_its_input() {
    let env = Env::new();
    let id = unique_id("aeof");
    run_d(&env, &["-t"], &env.bundle(&["sh"]), &id);
    env.wait_status(&id, "running");
    let attach = |stdin: std::process::Stdio| {
        env.std_cmd()
            .args(["attach", &id])
            .stdin(stdin)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = attach(std::process::Stdio::null());
    assert_eq!(exit_within_30s(&mut a), Some(0));
    // A finished pipe: its data reaches the container, then attach returns.
    let mut a = attach(std::process::Stdio::piped());
    use std::io::Write;
    a.stdin.take().unwrap().write_all(b"echo x\n").unwrap();
    assert_eq!(exit_within_30s(&mut a), Some(0));
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}

/// The child's exit code; a child still running after 30 s is killed and
/// the test fails.
fn exit_within_30s(child: &mut std::process::Child) -> Option<i32> {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("still running after 30 s");
}

/// `--detach-keys ctrl-p,ctrl-p,ctrl-q`: typed after one more ctrl-p, the
/// sequence still matches (the extra ctrl-p reaches the container).
#[test]
fn detach_keys_with_a_repeated_prefix_match() {
    let env = Env::new();
    let id = unique_id("akeys");
    run_d(&env, &["-t"], &env.bundle(&["sh"]), &id);
    env.wait_status(&id, "running");
    let mut a = ocictl_in_pty(
        &env,
        &["attach", "--detach-keys", "ctrl-p,ctrl-p,ctrl-q", &id],
        24,
        80,
    );
    a.send(b"echo at''tached\r");
    a.expect("attached");
    a.send(b"\x10\x10\x10\x11");
    assert_eq!(a.wait().code(), Some(0), "{}", a.text());
    assert!(a.text().contains("detached from container"), "{}", a.text());
    assert_eq!(env.status(&id).as_deref(), Some("running"));
}

/// Re-attaching to vi at the same size: vi draws its screen again with
/// nothing typed.
#[test]
fn reattaching_redraws_a_full_screen_program() {
    let env = Env::new();
    let id = unique_id("aredraw");
    let bundle = env.bundle(&["sh", "-c", "echo marker-line-42 > /f; exec vi /f"]);
    run_d(&env, &["-t"], &bundle, &id);
    env.wait_status(&id, "running");
    let mut first = ocictl_in_pty(&env, &["attach", &id], 24, 80);
    first.expect("marker-line-42");
    first.send(b"\x10\x11");
    assert_eq!(first.wait().code(), Some(0), "{}", first.text());
    // Same size: no change of size for the pty, only the nudge.
    let mut again = ocictl_in_pty(&env, &["attach", &id], 24, 80);
    again.expect("marker-line-42");
    again.send(b"\x10\x11");
    assert_eq!(again.wait().code(), Some(0), "{}", again.text());
}

/// `create -t`, `start`, `attach`: as `run -d -t`.
#[test]
fn create_t_then_start_then_attach() {
    let env = Env::new();
    let id = unique_id("ct");
    let bundle = env.bundle(&["sh"]);
    let out = env.run_detached(args!["create", "-t", "-b", bundle, id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(env.status(&id).as_deref(), Some("created"));
    env.cmd().args(["start", &id]).assert().success();
    env.wait_status(&id, "running");
    let mut a = ocictl_in_pty(&env, &["attach", &id], 24, 80);
    a.send(b"tty; echo hi-$((6*7))\r");
    a.expect("hi-42");
    a.expect("/dev/pts/");
    a.send(b"exit 4\r");
    assert_eq!(a.wait().code(), Some(4), "{}", a.text());
}

// ---- job control: tmux, ocictl next to bare runc -----------------------

/// A tmux server of the test's own, with one interactive bash.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let t = Tmux {
            socket: format!("ocictl-{name}-{}", std::process::id()),
        };
        t.tmux(&[
            "new-session",
            "-d",
            "-x",
            "150",
            "-y",
            "50",
            "-s",
            "t",
            "bash --norc --noprofile -i",
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = StdCommand::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (scripts/setup --tests installs it)");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend(keys);
        self.tmux(&a);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-S", "-100", "-t", "t"])
    }

    /// Wait (at most 30 s) until the pane shows `needle`.
    fn expect(&self, needle: &str) {
        for _ in 0..300 {
            if self.screen().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tmux never showed {needle:?}:\n{}", self.screen());
    }

    /// The pane's shell and everything it started, with their `ps`
    /// states (R, S, T…). Not `ps -t`: a container's pty in its own devpts
    /// instance has the same device number as the host's pty of that
    /// index, so another test's stopped container process could match.
    fn states(&self) -> Vec<(String, String)> {
        let shell: i32 = self
            .tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        // (pid, ppid, state, comm) of every process.
        let all: Vec<(i32, i32, String, String)> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let (head, rest) = stat.rsplit_once(')')?;
                let comm = head.split_once('(')?.1.to_string();
                let mut fields = rest.split_whitespace();
                let state = fields.next()?.to_string();
                let ppid = fields.next()?.parse().ok()?;
                Some((pid, ppid, state, comm))
            })
            .collect();
        let mut tree = vec![shell];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        all.into_iter()
            .filter(|p| tree.contains(&p.0))
            .map(|(_, _, state, comm)| (state, comm))
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = StdCommand::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// What Ctrl-Z does to a foreground command in an interactive shell: the
/// container reads lines and echoes them; after Ctrl-Z a typed line reaches
/// either the container (nothing stopped) or the shell (the job stopped).
fn ctrl_z_outcome(
    env: &Env,
    tmux: &Tmux,
    command: &str,
    id: &str,
    n: usize,
) -> (bool, Vec<String>) {
    tmux.keys(&[&format!("PS1='shell> '; {command}; echo ended=$?"), "Enter"]);
    env.wait_status(id, "running");
    // The reader runs (so the shell has handed it the terminal).
    wait_processes(env, id, n);
    tmux.keys(&["echo ready", "Enter"]);
    tmux.expect("got:echo ready");
    tmux.keys(&["C-z"]);
    tmux.keys(&["echo after-z", "Enter"]);
    // Either the container or the shell echoes it.
    for _ in 0..300 {
        let screen = tmux.screen();
        if screen.contains("got:echo after-z") || screen.contains("\nafter-z") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reached_container = tmux.screen().contains("got:echo after-z");
    let stopped: Vec<String> = tmux
        .states()
        .into_iter()
        .filter(|(stat, _)| stat.starts_with('T'))
        .map(|(_, comm)| comm)
        .collect();
    (reached_container, stopped)
}

#[test]
fn ctrl_z_on_a_foreground_run_and_exec_does_what_bare_runc_does() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "while read l; do echo got:$l; done"]);
    let ocictl = format!(
        "'{}' --root '{}'",
        common::ocictl_path().display(),
        env.root.display()
    );
    let runc = format!("runc --root '{}'", env.root.display());
    let host = unique_id("jc-host");
    run_d(&env, &[], &env.bundle(&["sleep", "1000"]), &host);
    let reader = "sh -c 'while read l; do echo got:$l; done'";
    for (what, tool) in [("runc", &runc), ("ocictl", &ocictl)] {
        for exec in [false, true] {
            let tmux = Tmux::new(&format!("jc-{what}-{exec}"));
            let id = unique_id("jc");
            let command = if exec {
                format!("{tool} exec {host} {reader}")
            } else {
                format!("{tool} run -b '{}' {id}", bundle.display())
            };
            let watched = if exec { &host } else { &id };
            let (reached, stopped) =
                ctrl_z_outcome(&env, &tmux, &command, watched, 1 + exec as usize);
            // Bare runc passes Ctrl-Z on; the container's process, leading a
            // session of its own, does not stop: the shell keeps waiting.
            assert!(
                reached && stopped.is_empty(),
                "{what} exec={exec}: line reached the container: {reached}, stopped: {stopped:?}\n{}",
                tmux.screen()
            );
            // Ctrl-D ends the reader; the command returns to the shell.
            tmux.keys(&["C-d"]);
            tmux.expect("ended=0");
        }
    }
}

/// Wait (at most 30 s) until the container runs `n` processes.
fn wait_processes(env: &Env, id: &str, n: usize) {
    for _ in 0..300 {
        let pids = env.json(&["ps", id]);
        if pids.as_array().is_some_and(|p| p.len() >= n) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("container {id} never ran {n} processes");
}

/// With -t, Ctrl-Z is a key for the container's shell (raw mode), which
/// stops its own job; `fg` resumes it, as under bare runc.
#[test]
fn ctrl_z_under_run_t_is_the_container_shells_job_control() {
    let env = Env::new();
    let bundle = env.bundle_with(&["sh"], true);
    let ocictl = format!(
        "'{}' --root '{}'",
        common::ocictl_path().display(),
        env.root.display()
    );
    let runc = format!("runc --root '{}'", env.root.display());
    for (what, tool) in [("runc", &runc), ("ocictl", &ocictl)] {
        let tmux = Tmux::new(&format!("jct-{what}"));
        let id = unique_id("jct");
        tmux.keys(&[
            &format!("{tool} run -b '{}' {id}; echo ended=$?", bundle.display()),
            "Enter",
        ]);
        env.wait_status(&id, "running");
        tmux.keys(&["sleep 1000", "Enter"]);
        wait_processes(&env, &id, 2);
        tmux.keys(&["C-z"]);
        tmux.expect("Stopped");
        tmux.keys(&["echo inside-$((6*7))", "Enter"]);
        tmux.expect("inside-42");
        // `fg` resumes it in the foreground; Ctrl-C ends it.
        tmux.keys(&["fg", "Enter"]);
        wait_processes(&env, &id, 2);
        tmux.keys(&["C-c"]);
        tmux.keys(&["echo back-$((1+1))", "Enter"]);
        tmux.expect("back-2");
        tmux.keys(&["exit 0", "Enter"]);
        tmux.expect("ended=0");
        let stopped: Vec<_> = tmux
            .states()
            .into_iter()
            .filter(|(s, _)| s.starts_with('T'))
            .collect();
        assert!(stopped.is_empty(), "{what}: {stopped:?}");
    }
}

/// `--setpgid` in an interactive shell: the runtime's own group gets the
/// terminal for as long as it runs (as a shell gives it to a job), so runc
/// reads what is typed instead of spinning on SIGTTIN in the background;
/// Ctrl-Z then does what it does under bare runc, and the shell gets the
/// terminal back at the end.
#[test]
fn setpgid_gives_the_runtime_the_terminal_while_it_runs() {
    let env = Env::new();
    let bundle = env.bundle(&["sh", "-c", "while read l; do echo got:$l; done"]);
    let tmux = Tmux::new("setpgid");
    let id = unique_id("pg");
    let command = format!(
        "'{}' --root '{}' --setpgid run -b '{}' {id}",
        common::ocictl_path().display(),
        env.root.display(),
        bundle.display()
    );
    let (reached, stopped) = ctrl_z_outcome(&env, &tmux, &command, &id, 1);
    assert!(
        reached && stopped.is_empty(),
        "line reached the container: {reached}, stopped: {stopped:?}\n{}",
        tmux.screen()
    );
    tmux.keys(&["C-d"]);
    tmux.expect("ended=0");
    tmux.keys(&["echo shell-$((6*7))", "Enter"]);
    tmux.expect("shell-42");
}
