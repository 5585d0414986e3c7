//! A real unprivileged local user for the adversarial tests: the attacker
//! of RELIABILITY.md's threat model, with a shell on the same host and write
//! access to /tmp-like directories, acting while root runs ocictl.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The attacker's account name (created once per machine, idempotently).
pub const NAME: &str = "ocictl-attacker";

#[derive(Debug, Clone, Copy)]
pub struct Attacker {
    pub uid: u32,
    pub gid: u32,
}

impl Attacker {
    /// The attacker account, created with `useradd` if missing.
    pub fn get() -> Attacker {
        static ONE: OnceLock<Attacker> = OnceLock::new();
        *ONE.get_or_init(|| {
            if lookup().is_none() {
                let out = Command::new("useradd")
                    .args(["--system", "--no-create-home", "--shell", "/bin/sh", NAME])
                    .output()
                    .expect("useradd runs (the adversarial tests need root and useradd)");
                // Another test binary may have created it at the same moment.
                assert!(
                    out.status.success() || lookup().is_some(),
                    "useradd {NAME}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            lookup().expect("the attacker account exists")
        })
    }

    /// Run `script` with /bin/sh as the attacker (no groups, no privileges).
    pub fn sh(&self, script: &str) -> Output {
        Command::new("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .args([
                "--clear-groups",
                "--inh-caps=-all",
                "--",
                "/bin/sh",
                "-c",
                script,
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .expect("setpriv runs")
    }

    /// Like [`Attacker::sh`], and the script must succeed.
    pub fn must(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "attacker's script failed: {script}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn lookup() -> Option<Attacker> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&NAME)).then(|| Attacker {
            uid: f[2].parse().unwrap(),
            gid: f[3].parse().unwrap(),
        })
    })
}

/// A directory like /tmp (mode 1777) inside `parent`, where both root and
/// the attacker can create names.
pub fn shared_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    // The attacker must reach it: every ancestor searchable.
    let mut p = parent.to_path_buf();
    loop {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o711)).unwrap();
        }
        if !p.pop() || p.as_os_str() == "/" {
            break;
        }
    }
    dir
}

/// A root-owned file the attacker must not be able to change through ocictl.
pub fn victim(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, "root's data\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p
}
