//! podman 4.3 (with conmon) on private storage: its own --root, --runroot
//! and --tmpdir, cgroupfs, file events, no network, and default ulimits a
//! process without CAP_SYS_RESOURCE can set (a private containers.conf).
//! ocictl is given as a binary named `runc` in a private directory, so
//! podman passes it the argv it gives runc (`--log-format=json --log F`).

use std::path::PathBuf;
use std::process::Command;

use super::{ocictl_path, require, rootfs_tar, run, Binary, Outcome, Sandbox, COMMAND_DEADLINE};

/// The image every scenario runs.
pub const IMAGE: &str = "localhost/busybox:ocictl";

pub struct Podman {
    runc: PathBuf,
    /// `<dir>/bin/runc`, a link to ocictl.
    ocictl_as_runc: PathBuf,
    pub sandbox: Sandbox,
}

impl Podman {
    /// Private podman storage with the busybox image imported.
    pub fn new() -> Podman {
        require("podman", "podman");
        require("conmon", "conmon");
        let runc = require("runc", "runc");
        let sandbox = Sandbox::new();
        let dir = sandbox.dir.path();
        std::fs::write(
            dir.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.join("bin")).unwrap();
        let ocictl_as_runc = dir.join("bin/runc");
        std::os::unix::fs::symlink(ocictl_path(), &ocictl_as_runc).unwrap();
        let pm = Podman {
            runc,
            ocictl_as_runc,
            sandbox,
        };
        let tar = rootfs_tar(pm.sandbox.dir.path());
        pm.ok(Binary::Runc, &["import", tar.to_str().unwrap(), IMAGE]);
        pm
    }

    /// The `--runtime` podman gets.
    pub fn binary(&self, which: Binary) -> PathBuf {
        match which {
            Binary::Runc => self.runc.clone(),
            Binary::Ocictl => self.ocictl_as_runc.clone(),
        }
    }

    /// `podman` on this storage, with `--runtime` for `which`.
    pub fn cmd(&self, which: Binary) -> Command {
        self.cmd_with_runtime(&self.binary(which))
    }

    pub fn cmd_with_runtime(&self, runtime: &std::path::Path) -> Command {
        let dir = self.sandbox.dir.path();
        let mut cmd = self.sandbox.cmd("podman");
        cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("runroot"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .arg("--runtime")
            .arg(runtime);
        cmd
    }

    pub fn run(&self, which: Binary, args: &[&str], stdin: Option<&[u8]>) -> Outcome {
        let mut cmd = self.cmd(which);
        cmd.args(args);
        run(cmd, stdin, COMMAND_DEADLINE)
    }

    /// `podman ARGS`, which must succeed; its stdout, trimmed.
    pub fn ok(&self, which: Binary, args: &[&str]) -> String {
        self.run(which, args, None)
            .ok(&format!("podman {}", args.join(" ")))
            .trim()
            .to_string()
    }

    /// `podman run ARGS IMAGE COMMAND…` with the flags every scenario needs.
    pub fn run_container(
        &self,
        which: Binary,
        args: &[&str],
        command: &[&str],
        stdin: Option<&[u8]>,
    ) -> Outcome {
        let mut all = vec!["run", "--pull", "never", "--network", "none"];
        all.extend_from_slice(args);
        all.push(IMAGE);
        all.extend_from_slice(command);
        self.run(which, &all, stdin)
    }

    /// A detached container running `command`; its name.
    pub fn detached(&self, which: Binary, name: &str, command: &[&str]) -> String {
        let out = self.run_container(which, &["-d", "--name", name], command, None);
        out.ok(&format!("podman run -d {name}"));
        name.to_string()
    }

    /// `podman inspect -f FORMAT NAME`.
    pub fn inspect(&self, which: Binary, name: &str, format: &str) -> String {
        self.ok(which, &["inspect", "-f", format, name])
    }

    /// Remove every container, whatever its state.
    pub fn remove_all(&self) {
        let _ = self.run(
            Binary::Runc,
            &["rm", "--all", "--force", "--time", "0"],
            None,
        );
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        self.remove_all();
    }
}
