//! containerd 1.6 with a private config, root, state and grpc address (CRI
//! off), started by the test and killed by pid when it drops; `ctr` runs
//! inside the same private mount namespace, so the shim's FIFOs and sockets
//! are the test's own. The busybox image is an OCI archive built here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{ocictl_path, require, run, wait_until, Binary, Outcome, Sandbox, COMMAND_DEADLINE};

/// The image every scenario runs.
pub const IMAGE: &str = "localhost/busybox:ocictl";

/// The runc state root the shim gives the runtime (namespace "default").
pub const RUNC_ROOT: &str = "/run/containerd/runc/default";

pub struct Containerd {
    daemon: Child,
    socket: PathBuf,
    runc: PathBuf,
    pub sandbox: Sandbox,
}

impl Containerd {
    /// A running private containerd with the busybox image imported.
    pub fn start() -> Containerd {
        require("containerd", "containerd");
        require("ctr", "containerd");
        require("containerd-shim-runc-v2", "containerd");
        let runc = require("runc", "runc");
        let sandbox = Sandbox::new();
        let dir = sandbox.dir.path().to_path_buf();
        let socket = dir.join("containerd.sock");
        let config = dir.join("containerd.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{s}\"\n[ttrpc]\n  address = \"{s}.ttrpc\"\n\
                 [debug]\n  address = \"\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n",
                d = dir.display(),
                s = socket.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let mut cmd = sandbox.cmd("containerd");
        cmd.arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let daemon = cmd.spawn().expect("start containerd");
        let mut ctd = Containerd {
            daemon,
            socket,
            runc,
            sandbox,
        };
        let log_path = dir.join("containerd.log");
        wait_until("containerd serves its socket", COMMAND_DEADLINE, || {
            if let Ok(Some(status)) = ctd.daemon.try_wait() {
                panic!(
                    "containerd exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            ctd.socket.exists()
        });
        let archive = oci_archive(&dir);
        ctd.ctr_ok(&["images", "import", archive.to_str().unwrap()]);
        ctd
    }

    /// `ctr` on this containerd.
    pub fn ctr(&self) -> Command {
        let mut cmd = self.sandbox.cmd("ctr");
        cmd.arg("--address").arg(&self.socket);
        cmd
    }

    pub fn ctr_run(&self, args: &[&str], stdin: Option<&[u8]>) -> Outcome {
        let mut cmd = self.ctr();
        cmd.args(args);
        run(cmd, stdin, COMMAND_DEADLINE)
    }

    /// `ctr ARGS`, which must succeed; its stdout.
    pub fn ctr_ok(&self, args: &[&str]) -> String {
        self.ctr_run(args, None)
            .ok(&format!("ctr {}", args.join(" ")))
    }

    /// The runtime binary the shim is told to use (`--runc-binary`).
    pub fn binary(&self, which: Binary) -> PathBuf {
        match which {
            Binary::Runc => self.runc.clone(),
            Binary::Ocictl => ocictl_path(),
        }
    }

    /// `ctr run --runc-binary B [ARGS] IMAGE ID CMD…`: `args` before the
    /// image, `command` after the ID.
    pub fn run_args(&self, which: Binary, args: &[&str], id: &str, command: &[&str]) -> Command {
        let mut cmd = self.ctr();
        cmd.arg("run")
            .arg("--runc-binary")
            .arg(self.binary(which))
            .args(args)
            .arg(IMAGE)
            .arg(id)
            .args(command);
        cmd
    }

    /// Each task's status by ID (`ctr task ls`).
    pub fn task_status(&self, id: &str) -> Option<String> {
        self.ctr_ok(&["task", "ls"])
            .lines()
            .skip(1)
            .find_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                (cols.first() == Some(&id)).then(|| cols.get(2).unwrap_or(&"").to_string())
            })
    }

    pub fn wait_status(&self, id: &str, status: &str) {
        wait_until(&format!("task {id} is {status}"), COMMAND_DEADLINE, || {
            self.task_status(id).as_deref() == Some(status)
        });
    }

    /// Kill, delete and remove container `id` (it may be gone already).
    pub fn remove(&self, id: &str) {
        if self.task_status(id).is_some() {
            let _ = self.ctr_run(&["task", "kill", "-s", "KILL", id], None);
            let _ = self.ctr_run(&["task", "delete", "--force", id], None);
        }
        let _ = self.ctr_run(&["container", "rm", id], None);
    }

    /// What is left in the runtime's root and beside it (ocictl's state
    /// directory would be `RUNC_ROOT.ocictl`).
    pub fn runtime_dirs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.sandbox.inside("/run/containerd/runc"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.extend(
            std::fs::read_dir(self.sandbox.inside(RUNC_ROOT))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| format!("default/{}", e.file_name().to_string_lossy())),
        );
        names.sort();
        names
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(self.daemon.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // The sandbox's drop kills the shims and containers left.
    }
}

/// A one-layer OCI image archive of the busybox rootfs, for `ctr images
/// import` (no registry, no network).
fn oci_archive(dir: &Path) -> PathBuf {
    let layout = dir.join("oci");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &[u8]| -> (String, usize) {
        let tmp = layout.join("blob.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        let digest = sha256(&tmp);
        std::fs::rename(&tmp, blobs.join(&digest)).unwrap();
        (format!("sha256:{digest}"), bytes.len())
    };
    let (layer, layer_size) = blob(&std::fs::read(super::rootfs_tar(dir)).unwrap());
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    });
    let (config, config_size) = blob(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": layer_size}],
    });
    let (manifest, manifest_size) = blob(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest, "size": manifest_size,
                       "annotations": {"io.containerd.image.name": IMAGE,
                                       "org.opencontainers.image.ref.name": "ocictl"}}],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let archive = dir.join("image-oci.tar");
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&archive)
        .args(["oci-layout", "index.json", "blobs"]);
    run(tar, None, COMMAND_DEADLINE).ok("tar the OCI layout");
    archive
}

fn sha256(file: &Path) -> String {
    let mut cmd = Command::new("sha256sum");
    cmd.arg(file);
    let out = run(cmd, None, COMMAND_DEADLINE).ok("sha256sum");
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
