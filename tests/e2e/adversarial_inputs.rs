//! Attacks on ocictl's inputs, bundles and private files (RELIABILITY.md's
//! threat model), performed as a real unprivileged user where the attack is
//! a user's: a bundle directory planted with links, FIFOs and /dev/zero as
//! input files, a runtime that floods its output, `exec -e` secrets looked
//! for everywhere another user can look, private directories' real modes,
//! and `--preserve-fds` beyond the open fds. Every test asserts the outcome
//! (victims intact, a prompt error naming the file, bounded memory, the
//! secret unreadable), not the mechanism.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::attacker::{shared_dir, victim, Attacker};
use common::{ocictl, ocictl_path, unique_id, Env, FakeRuntime};

/// Guards against a hang (the failure these tests look for), not a timing.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// A generous bound on ocictl's peak memory: it reads at most a few MiB
/// of any input, while the inputs here are hundreds of MiB or endless.
const RSS_BOUND_KIB: i64 = 64 * 1024;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `cmd` to the end, returning its output and its peak RSS in KiB
/// (getrusage of the reaped child, its own reaped children included).
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives the rusage
fn run_measured(mut cmd: std::process::Command) -> (std::process::Output, i64) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf).unwrap();
        buf
    });
    let mut stderr = Vec::new();
    err.read_to_end(&mut stderr).unwrap();
    let stdout = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; the pid is our child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    use std::os::unix::process::ExitStatusExt;
    let output = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (output, usage.ru_maxrss)
}

/// ocictl (a std Command, for [`run_measured`]) driving the fake runtime.
fn with_fake(fake: &FakeRuntime) -> std::process::Command {
    let mut cmd = std::process::Command::new(ocictl_path());
    for var in ["OCICTL_RUNTIME", "OCICTL_ROOT", "OCICTL_FORMAT", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd.env("FAKE_RUNTIME_DIR", fake.dir.path())
        .arg("--runtime")
        .arg(common::fake_runtime_path());
    cmd
}

// ---- ocictl bundle into a place another user prepared ----------------------

#[test]
fn bundle_into_a_directory_the_attacker_planted_is_refused_and_victims_stay_intact() {
    let who = Attacker::get();
    let base = tempfile::tempdir().unwrap();
    let tmp = shared_dir(base.path(), "tmp");
    let victims = base.path().join("victims");
    std::fs::create_dir(&victims).unwrap();
    let passwd = victim(&victims, "passwd");
    let busybox = victim(&victims, "busybox");
    let demo = tmp.join("demo");
    who.must(&format!(
        "mkdir -p {d}/rootfs/etc {d}/rootfs/bin && ln -s {p} {d}/rootfs/etc/passwd && \
         ln -s {b} {d}/rootfs/bin/busybox && ln -s {p} {d}/config.json",
        d = demo.display(),
        p = passwd.display(),
        b = busybox.display()
    ));
    for force in [false, true] {
        let mut cmd = ocictl();
        cmd.arg("bundle").arg(&demo);
        if force {
            cmd.arg("--force");
        }
        let out = cmd.timeout(HANG_GUARD).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "force {force}: {err}");
        assert!(
            err.contains(&demo.display().to_string())
                && err.contains(&format!("belongs to uid {}", who.uid)),
            "force {force}: {err}"
        );
    }
    // A link where the bundle goes, to a directory of root's.
    let roots = base.path().join("roots-dir");
    std::fs::create_dir(&roots).unwrap();
    let link = tmp.join("linked");
    who.must(&format!("ln -s {} {}", roots.display(), link.display()));
    let out = ocictl()
        .arg("bundle")
        .arg(&link)
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("symbolic link"),
        "{}",
        stderr_of(&out)
    );

    for v in [&passwd, &busybox] {
        assert_eq!(std::fs::read_to_string(v).unwrap(), "root's data\n");
    }
    assert_eq!(std::fs::read_dir(&roots).unwrap().count(), 0);
}

#[test]
fn bundle_in_a_shared_directory_is_built_privately_and_runs() {
    let env = Env::new();
    let who = Attacker::get();
    let tmp = shared_dir(env.dir.path(), "tmp");
    let demo = tmp.join("demo");
    ocictl()
        .arg("bundle")
        .arg(&demo)
        .args(["--", "sh", "-c", "echo bundle-ran"])
        .timeout(HANG_GUARD)
        .assert()
        .success();
    // Only the bundle: no staging directory left beside it.
    let names: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["demo"]);
    for (rel, mode) in [
        ("", 0o755),
        ("rootfs", 0o755),
        ("rootfs/bin", 0o755),
        ("rootfs/etc", 0o755),
        ("rootfs/bin/busybox", 0o755),
        ("rootfs/etc/passwd", 0o644),
        ("config.json", 0o644),
    ] {
        let m = std::fs::symlink_metadata(demo.join(rel)).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (0, mode), "{rel}");
    }
    // The attacker can read it but change nothing in it.
    let out = who.sh(&format!(
        "echo x > {d}/config.json; touch {d}/rootfs/etc/x; rm -f {d}/rootfs/bin/sh",
        d = demo.display()
    ));
    assert!(!out.status.success());
    assert!(demo.join("rootfs/bin/sh").exists());
    assert!(!demo.join("rootfs/etc/x").exists());
    // runc runs it.
    let id = unique_id("adv-bundle");
    let out = env
        .cmd()
        .args(["run", "-b"])
        .arg(&demo)
        .arg(&id)
        .write_stdin("")
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bundle-ran");
}

#[test]
fn bundle_below_a_directory_the_attacker_owns_is_refused() {
    let who = Attacker::get();
    let base = tempfile::tempdir().unwrap();
    let tmp = shared_dir(base.path(), "tmp");
    let theirs = tmp.join("theirs");
    who.must(&format!("mkdir {}", theirs.display()));
    let out = ocictl()
        .arg("bundle")
        .arg(theirs.join("demo"))
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&theirs.display().to_string()) && err.contains(&format!("uid {}", who.uid)),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
}

// ---- input files that are not files ----------------------------------------

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// ocictl with `args` fails promptly (no hang), naming `file` and `what`,
/// and the runtime never ran.
fn refused(fake: &FakeRuntime, args: &[&std::ffi::OsStr], file: &Path, what: &str) {
    let mut cmd = with_fake(fake);
    cmd.args(args).stdin(Stdio::null());
    let (out, rss) = run_measured(cmd);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(&file.display().to_string()) && err.contains(what),
        "{args:?}: {err}"
    );
    assert!(rss < RSS_BOUND_KIB, "{args:?}: peak RSS {rss} KiB");
    assert_eq!(fake.calls(), 0, "{args:?}: the runtime ran");
}

#[test]
fn fifos_devices_and_huge_files_as_config_json_are_prompt_errors() {
    let env = Env::new();
    let fake = FakeRuntime::new();
    let bundle = env.bundle(&[]);
    let config = bundle.join("config.json");
    let big = env.dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(5 << 20)
        .unwrap();
    let cases: [(&dyn Fn(), &str); 3] = [
        (&|| mkfifo(&config), "pipe"),
        (
            &|| std::os::unix::fs::symlink("/dev/zero", &config).unwrap(),
            "character device",
        ),
        (
            &|| std::os::unix::fs::symlink(&big, &config).unwrap(),
            "larger than 4 MiB",
        ),
    ];
    for (plant, what) in cases {
        std::fs::remove_file(&config).unwrap();
        plant();
        for sub in ["run", "create"] {
            refused(
                &fake,
                args![sub, "-b", bundle, unique_id("adv-in")],
                &config,
                what,
            );
        }
    }
}

#[test]
fn fifos_and_dev_zero_for_exec_p_and_update_r_are_prompt_errors() {
    let fake = FakeRuntime::new();
    let fifo = fake.dir.path().join("input.fifo");
    mkfifo(&fifo);
    let zero = Path::new("/dev/zero");
    for (file, what) in [(fifo.as_path(), "pipe"), (zero, "character device")] {
        refused(&fake, args!["exec", "-p", file, "c1"], file, what);
        refused(&fake, args!["update", "-r", file, "c1"], file, what);
    }
    // `-r -` with an endless stdin: bounded, then refused.
    let mut cmd = with_fake(&fake);
    cmd.args(["update", "-r", "-", "c1"])
        .stdin(std::fs::File::open(zero).unwrap());
    let (out, rss) = run_measured(cmd);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("standard input") && err.contains("4 MiB"),
        "{err}"
    );
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB");
    assert_eq!(fake.calls(), 0);
}

// ---- a runtime that floods ----------------------------------------------------

#[test]
fn a_runtime_flooding_stderr_is_cut_and_ocictl_stays_small() {
    let fake = FakeRuntime::new();
    fake.set(
        "script",
        "yes 'flood line from the runtime' | head -c 200000000 >&2\n\
         echo 'time=\"2025-01-01T00:00:00Z\" level=error msg=\"the real failure\"' >&2\n\
         exit 1\n",
    );
    let mut cmd = with_fake(&fake);
    cmd.args(["state", "c1"]);
    let (out, rss) = run_measured(cmd);
    let err = stderr_of(&out);
    assert!(err.len() < 64 << 10, "an error of {} bytes", err.len());
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the real failure"), "{err}");
    assert!(
        err.contains("MiB more to stderr than ocictl keeps"),
        "{err}"
    );
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB");
}

#[test]
fn a_runtime_flooding_stdout_is_refused_and_ocictl_stays_small() {
    let fake = FakeRuntime::new();
    fake.set("script", "yes '{\"id\":' | head -c 200000000\n");
    let mut cmd = with_fake(&fake);
    cmd.args(["state", "c1"]);
    let (out, rss) = run_measured(cmd);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("more output than ocictl reads"), "{err}");
    assert!(rss < RSS_BOUND_KIB, "peak RSS {rss} KiB");
}

#[test]
fn an_endless_event_line_is_skipped_not_kept() {
    use ocictl::runtime::{Event, EventReader};
    let mut stream = vec![b'x'; 3 << 20];
    stream.extend_from_slice(b"\n{\"type\":\"oom\",\"id\":\"c1\"}\n");
    let events: Vec<Event> = EventReader::new(std::io::Cursor::new(stream)).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[0], Event::Error { line: 1, message } if message.contains("longer than 1 MiB")),
        "{:?}",
        events[0]
    );
    assert_eq!((events[1].kind(), events[1].id()), ("oom", "c1"));
}

// ---- exec -e secrets ------------------------------------------------------------

/// Every process's command line, as root sees them.
fn all_cmdlines() -> Vec<(u32, Vec<u8>)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((pid, std::fs::read(e.path().join("cmdline")).ok()?))
        })
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn exec_env_secret_is_on_no_argv_and_nowhere_the_attacker_can_read() {
    let env = Env::new();
    let who = Attacker::get();
    let tmpdir = shared_dir(env.dir.path(), "tmpdir");
    let id = env.started(&["sleep", "1000"], "adv-secret");
    let secret = format!("s3cret-{}", std::process::id());

    let mut exec = env.std_cmd();
    exec.env("TMPDIR", &tmpdir)
        .args(["exec", "-e"])
        .arg(format!("SECRET={secret}"))
        .args([&id, "sh", "-c", "echo \"seen:$SECRET\"; read line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = exec.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // The value reached the process inside the container…
    assert_eq!(line.trim(), format!("seen:{secret}"));

    // …while runc still runs (the process waits for our newline): no
    // command line on the host carries it, runc's included, but the one the
    // operator typed it into (ocictl's own, as it would be runc's).
    let cmdlines = all_cmdlines();
    let runc_exec: Vec<_> = cmdlines
        .iter()
        .filter(|(_, c)| contains(c, "runc") && contains(c, "exec") && contains(c, &id))
        .collect();
    assert!(!runc_exec.is_empty(), "runc exec was caught while it ran");
    let leaked: Vec<_> = cmdlines
        .iter()
        .filter(|(pid, c)| *pid != child.id() && contains(c, &secret))
        .map(|(pid, c)| (pid, String::from_utf8_lossy(c).replace('\0', " ")))
        .collect();
    assert!(leaked.is_empty(), "the secret is on argv: {leaked:?}");

    // Nor can the attacker read it: not in TMPDIR, /tmp, /run, /dev/shm,
    // the runtime's state, nor through ocictl's or runc's fds.
    let ocictl_pid = child.id();
    let scan = who.sh(&format!(
        "grep -rls -- '{secret}' {tmpdir} /tmp /var/tmp /run /dev/shm {root} 2>/dev/null; \
         cat /proc/{ocictl_pid}/fd/* /proc/{ocictl_pid}/environ 2>/dev/null | grep -c -- '{secret}'; \
         for p in {runc_pids}; do cat /proc/$p/fd/* /proc/$p/environ 2>/dev/null; done | grep -c -- '{secret}'",
        tmpdir = tmpdir.display(),
        root = env.root.display(),
        runc_pids = runc_exec
            .iter()
            .map(|(p, _)| p.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    ));
    assert_eq!(
        String::from_utf8_lossy(&scan.stdout),
        "0\n0\n",
        "the attacker found the secret"
    );

    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    // Nothing left behind in TMPDIR.
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
    env.cmd().args(["delete", "-f", &id]).assert().success();
}

#[test]
fn exec_env_on_a_missing_container_is_runcs_own_error() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["exec", "-e", "SECRET=x", "no-such-container", "true"])
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    // As `runc exec` without -e: its status and message, nothing run.
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("container does not exist"), "{err}");
}

// ---- private directories and files ---------------------------------------------

#[test]
fn private_directories_and_copies_are_private() {
    // Under the usual umask (022), a mode left to the default shows as 0755.
    let dir = ocictl::runtime::console::private_dir("ocictl-adv-").unwrap();
    let socket = ocictl::runtime::ConsoleSocket::temp().unwrap();
    let env_bundle = tempfile::tempdir().unwrap();
    std::fs::create_dir(env_bundle.path().join("rootfs")).unwrap();
    std::fs::write(
        env_bundle.path().join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","env":["TOKEN=x"],
            "user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}}"#,
    )
    .unwrap();
    let bundle = ocictl::bundle::Bundle::load(env_bundle.path()).unwrap();
    let copy = bundle.with_terminal().unwrap();

    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(socket.dir().unwrap()), 0o700);
    assert_eq!(mode(copy.path()), 0o700);
    assert_eq!(mode(&copy.path().join("config.json")), 0o600);
    // And as the attacker: nothing inside can be listed or read.
    let who = Attacker::get();
    for p in [
        dir.path(),
        socket.dir().unwrap(),
        copy.path(),
        &copy.path().join("config.json"),
    ] {
        let out = who.sh(&format!("ls {p} || cat {p}", p = p.display()));
        assert!(!out.status.success(), "{} is readable", p.display());
    }
}

// ---- --preserve-fds beyond the open fds ------------------------------------------

#[test]
fn preserve_fds_beyond_the_open_fds_is_an_error_before_anything_runs() {
    let fake = FakeRuntime::new();
    let bundle = tempfile::tempdir().unwrap();
    std::fs::create_dir(bundle.path().join("rootfs")).unwrap();
    std::fs::write(
        bundle.path().join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
            "root":{"path":"rootfs"}}"#,
    )
    .unwrap();
    let b = bundle.path();
    let cases: [&[&std::ffi::OsStr]; 4] = [
        args!["run", "--preserve-fds", "2", "-b", b, "c1"],
        args!["run", "-d", "--preserve-fds", "2", "-b", b, "c1"],
        args!["create", "--preserve-fds", "2", "-b", b, "c1"],
        args!["exec", "--preserve-fds", "2", "c1", "true"],
    ];
    for args in cases {
        // fd 3 open (inherited), fd 4 missing: the error names fd 4.
        let mut cmd = fake.cmd();
        cmd.args(args);
        let out = common::with_inherited_fds(&cmd, 1)
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("fd 4 is not open"), "{args:?}: {err}");
        assert_eq!(fake.calls(), 0, "{args:?}: the runtime ran");
    }
}
