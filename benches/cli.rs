//! Front-end overhead: each operation through ocictl and through bare runc,
//! alternated (A B A B …) in one run on the same containers, with the cost
//! of one extra process start (`/bin/true`) measured beside them. Prints a
//! Markdown table (docs/BENCHMARKS.md holds a recorded run).
//!
//! Run as root with runc and busybox-static installed: `scripts/bench`.
//! ROUNDS (default 30) sets the samples per operation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Bench {
    ocictl: PathBuf,
    dir: tempfile::TempDir,
    rounds: usize,
}

fn main() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "run as root: sudo scripts/bench"
    );
    let ocictl = PathBuf::from(env!("CARGO_BIN_EXE_ocictl"));
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let bench = Bench {
        ocictl,
        dir: tempfile::Builder::new()
            .prefix("ocictl-bench-")
            .tempdir()
            .unwrap(),
        rounds,
    };
    bench.run_all();
}

/// Median of the samples.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn quiet(cmd: &mut Command) -> &mut Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

fn time_it(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let status = quiet(&mut cmd).status().expect("command runs");
    let took = start.elapsed();
    assert!(status.success(), "{cmd:?} failed: {status}");
    took
}

impl Bench {
    fn root(&self, name: &str) -> PathBuf {
        let root = self.dir.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    fn bundle(&self, name: &str, args: &[&str]) -> PathBuf {
        let dir = self.dir.path().join(name);
        let status = quiet(
            Command::new(&self.ocictl)
                .arg("bundle")
                .arg(&dir)
                .arg("--")
                .args(args),
        )
        .status()
        .unwrap();
        assert!(status.success());
        dir
    }

    fn ocictl(&self, root: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.ocictl);
        cmd.arg("--root").arg(root).args(args);
        cmd
    }

    fn runc(&self, root: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("runc");
        cmd.arg("--root").arg(root).args(args);
        cmd
    }

    fn create(&self, root: &Path, bundle: &Path, id: &str, start: bool) {
        let ok = quiet(&mut self.ocictl(root, &["create", "-b", bundle.to_str().unwrap(), id]))
            .status()
            .unwrap()
            .success();
        assert!(ok, "create {id}");
        if start {
            assert!(self
                .ocictl(root, &["start", id])
                .status()
                .unwrap()
                .success());
        }
    }

    fn cleanup(&self, root: &Path) {
        let out = self.runc(root, &["list", "-q"]).output().unwrap();
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = quiet(&mut self.runc(root, &["delete", "--force", id])).status();
        }
    }

    /// Alternate ocictl and runc; return their medians.
    fn pair(
        &self,
        mut ocictl: impl FnMut() -> Duration,
        mut runc: impl FnMut() -> Duration,
    ) -> (Duration, Duration) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // One warm-up each, so page cache and cgroup setup do not count.
        ocictl();
        runc();
        for _ in 0..self.rounds {
            a.push(ocictl());
            b.push(runc());
        }
        (median(a), median(b))
    }

    fn row(&self, name: &str, (ours, theirs): (Duration, Duration), floor: Duration) {
        let extra = ours.as_secs_f64() - theirs.as_secs_f64() - floor.as_secs_f64();
        println!(
            "| {name} | {} | {} | {:.2} | {:+.2} |",
            ms(ours),
            ms(theirs),
            ours.as_secs_f64() / theirs.as_secs_f64(),
            extra * 1000.0
        );
    }

    fn run_all(&self) {
        let floor = median(
            (0..self.rounds.max(50))
                .map(|_| time_it(Command::new("/bin/true")))
                .collect(),
        );
        println!(
            "rounds per operation: {} (medians, milliseconds)\n",
            self.rounds
        );
        println!("one extra process start (/bin/true): {} ms\n", ms(floor));
        println!("| operation | ocictl | runc | ratio | ocictl - runc - floor |");
        println!("|---|---|---|---|---|");

        let sleeper = self.bundle("sleeper", &["sleep", "100000"]);
        let root = self.root("main");
        self.create(&root, &sleeper, "bench", true);
        for (name, ours, theirs) in [
            ("state", vec!["state", "bench"], vec!["state", "bench"]),
            ("ps", vec!["ps", "bench"], vec!["ps", "bench"]),
            (
                "kill (CONT)",
                vec!["kill", "bench", "CONT"],
                vec!["kill", "bench", "CONT"],
            ),
            ("version", vec!["version"], vec!["--version"]),
        ] {
            let result = self.pair(
                || time_it(self.ocictl(&root, &ours)),
                || time_it(self.runc(&root, &theirs)),
            );
            self.row(name, result, floor);
        }
        let result = self.pair(
            || {
                time_it(self.ocictl(&root, &["pause", "bench"]))
                    + time_it(self.ocictl(&root, &["resume", "bench"]))
            },
            || {
                time_it(self.runc(&root, &["pause", "bench"]))
                    + time_it(self.runc(&root, &["resume", "bench"]))
            },
        );
        self.row("pause + resume", result, floor * 2);
        if self
            .ocictl(&root, &["stats", "--help"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            let result = self.pair(
                || time_it(self.ocictl(&root, &["--format", "json", "stats", "bench"])),
                || time_it(self.runc(&root, &["events", "--stats", "bench"])),
            );
            self.row("stats (one snapshot)", result, floor);
        }
        if self
            .ocictl(&root, &["exec", "--help"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            let result = self.pair(
                || time_it(self.ocictl(&root, &["exec", "bench", "true"])),
                || time_it(self.runc(&root, &["exec", "bench", "true"])),
            );
            self.row("exec true", result, floor);
        }
        self.cleanup(&root);

        for n in [1usize, 50, 200] {
            let root = self.root(&format!("list-{n}"));
            for i in 0..n {
                self.create(&root, &sleeper, &format!("c{i}"), false);
            }
            let result = self.pair(
                || time_it(self.ocictl(&root, &["list"])),
                || time_it(self.runc(&root, &["list"])),
            );
            self.row(&format!("list ({n} containers)"), result, floor);
            if n == 50 {
                // One ocictl call against the 50 runtime calls it replaces.
                let ids: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
                let mut ours = vec!["--format", "json", "stats"];
                ours.extend(ids.iter().map(String::as_str));
                let result = self.pair(
                    || time_it(self.ocictl(&root, &ours)),
                    || {
                        ids.iter()
                            .map(|id| time_it(self.runc(&root, &["events", "--stats", id])))
                            .sum()
                    },
                );
                self.row("stats of 50 containers (1 call vs 50)", result, floor);
            }
            self.cleanup(&root);
        }

        let root = self.root("lifecycle");
        let n = std::cell::Cell::new(0);
        let sleeper_str = sleeper.to_str().unwrap().to_string();
        let result = self.pair(
            || {
                n.set(n.get() + 1);
                let id = format!("o{}", n.get());
                let start = Instant::now();
                assert!(
                    quiet(&mut self.ocictl(&root, &["create", "-b", &sleeper_str, &id]))
                        .status()
                        .unwrap()
                        .success()
                );
                assert!(quiet(&mut self.ocictl(&root, &["start", &id]))
                    .status()
                    .unwrap()
                    .success());
                assert!(quiet(&mut self.ocictl(&root, &["delete", "--force", &id]))
                    .status()
                    .unwrap()
                    .success());
                start.elapsed()
            },
            || {
                n.set(n.get() + 1);
                let id = format!("r{}", n.get());
                let start = Instant::now();
                assert!(
                    quiet(&mut self.runc(&root, &["create", "-b", &sleeper_str, &id]))
                        .status()
                        .unwrap()
                        .success()
                );
                assert!(quiet(&mut self.runc(&root, &["start", &id]))
                    .status()
                    .unwrap()
                    .success());
                assert!(quiet(&mut self.runc(&root, &["delete", "--force", &id]))
                    .status()
                    .unwrap()
                    .success());
                start.elapsed()
            },
        );
        self.row("create + start + delete", result, floor * 3);

        let truth = self.bundle("true", &["true"]);
        let truth_str = truth.to_str().unwrap().to_string();
        let result = self.pair(
            || {
                n.set(n.get() + 1);
                time_it(self.ocictl(&root, &["run", "-b", &truth_str, &format!("t{}", n.get())]))
            },
            || {
                n.set(n.get() + 1);
                time_it(self.runc(&root, &["run", "-b", &truth_str, &format!("t{}", n.get())]))
            },
        );
        self.row("run true (foreground)", result, floor);
        self.cleanup(&root);

        let startup = self.pair(
            || {
                time_it({
                    let mut c = Command::new(&self.ocictl);
                    c.arg("--version");
                    c
                })
            },
            || time_it(Command::new("/bin/true")),
        );
        println!(
            "\nstart-up: `ocictl --version` {} ms vs `/bin/true` {} ms ({:+.2} ms)",
            ms(startup.0),
            ms(startup.1),
            (startup.0.as_secs_f64() - startup.1.as_secs_f64()) * 1000.0
        );
        self.peak_rss_of_list(1000);
        let size = std::fs::metadata(&self.ocictl)
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "binary size: {:.1} MiB ({})",
            size as f64 / 1048576.0,
            self.ocictl.display()
        );
    }

    /// ocictl's own peak RSS for `list` of `n` containers, with a runtime
    /// that only prints a canned answer (so runc's memory is not counted).
    fn peak_rss_of_list(&self, n: usize) {
        let answer = self.dir.path().join("list.json");
        let containers: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                serde_json::json!({
                    "ociVersion": "1.0.2-dev", "id": format!("container-{i}"), "pid": 10000 + i,
                    "status": "running", "bundle": format!("/var/lib/bundles/container-{i}"),
                    "rootfs": format!("/var/lib/bundles/container-{i}/rootfs"),
                    "created": "2026-11-28T19:07:16.05477406Z", "owner": "root"
                })
            })
            .collect();
        std::fs::write(&answer, serde_json::to_vec(&containers).unwrap()).unwrap();
        let fake = self.dir.path().join("canned-runtime");
        std::fs::write(&fake, format!("#!/bin/sh\nexec cat {}\n", answer.display())).unwrap();
        let mut perms = std::fs::metadata(&fake).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&fake, perms).unwrap();
        for format in ["table", "json"] {
            #[allow(clippy::zombie_processes)] // reaped by wait4 below, for its rusage
            let child = quiet(
                Command::new(&self.ocictl)
                    .args(["--runtime"])
                    .arg(&fake)
                    .args(["--format", format, "list"]),
            )
            .spawn()
            .unwrap();
            let pid = child.id() as libc::pid_t;
            let mut status = 0;
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 on our own child, with valid pointers.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            // Reaped above; this only releases the handle.
            std::mem::forget(child);
            println!(
                "peak RSS, `ocictl list --format {format}` of {n} containers: {:.1} MiB (ocictl itself; the canned runtime is `cat`)",
                usage.ru_maxrss as f64 / 1024.0
            );
        }
    }
}
