//! OCI bundles: checking one before the runtime sees it (so a broken
//! config.json is reported with its file, line and field), and making a
//! small busybox bundle so nothing needs an image download.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle directory {0} does not exist")]
    Missing(PathBuf),
    #[error("bundle {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("bundle {dir} has no config.json: write one with `ocictl spec --bundle {dir}`, or make a demo bundle with `ocictl bundle {dir}`", dir = .0.display())]
    NoConfig(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} is not an OCI runtime spec: {source}")]
    NotASpec {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the root filesystem {rootfs} named by {config} does not exist")]
    NoRootfs { rootfs: PathBuf, config: PathBuf },
    #[error("cannot write the bundle at {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("busybox was not found at {0}: install it (`apt-get install busybox-static`) or name it with --busybox")]
    NoBusybox(PathBuf),
    #[error("{0} already exists: choose an empty or new directory, or pass --force to overwrite config.json")]
    Exists(PathBuf),
}

/// A bundle whose config.json parsed as an OCI spec.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
}

impl Bundle {
    /// Load and check `dir`: it exists, has a config.json that is an OCI
    /// spec, and the rootfs it names exists.
    pub fn load(dir: &Path) -> Result<Bundle, BundleError> {
        match std::fs::metadata(dir) {
            Err(_) => return Err(BundleError::Missing(dir.to_path_buf())),
            Ok(m) if !m.is_dir() => return Err(BundleError::NotADirectory(dir.to_path_buf())),
            Ok(_) => {}
        }
        let config = dir.join("config.json");
        let text = match std::fs::read(&config) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BundleError::NoConfig(dir.to_path_buf()))
            }
            Err(source) => {
                return Err(BundleError::Read {
                    path: config,
                    source,
                })
            }
        };
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| BundleError::NotJson {
                path: config.clone(),
                source,
            })?;
        let spec: Spec = serde_json::from_value(value).map_err(|source| BundleError::NotASpec {
            path: config.clone(),
            source,
        })?;
        if let Some(root) = spec.root() {
            let rootfs = if root.path().is_absolute() {
                root.path().clone()
            } else {
                dir.join(root.path())
            };
            if !rootfs.is_dir() {
                return Err(BundleError::NoRootfs { rootfs, config });
            }
        }
        Ok(Bundle {
            dir: dir.to_path_buf(),
            spec,
        })
    }

    /// Whether the container's process asks for a terminal.
    pub fn wants_terminal(&self) -> bool {
        self.spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false)
    }
}

/// The busybox applets a demo bundle links, enough for a shell session and
/// the tests.
const APPLETS: &[&str] = &[
    "sh", "ash", "cat", "echo", "sleep", "ls", "ps", "id", "true", "false", "env", "pwd",
    "hostname", "head", "tail", "wc", "yes", "dd", "stty", "mkdir", "rm", "touch", "grep", "sed",
    "seq", "tr", "vi", "top", "kill", "date", "uname", "test", "[", "printf", "mount", "df",
    "free", "tty", "readlink",
];

/// What [`make_busybox_bundle`] should put in config.json.
#[derive(Debug, Clone)]
pub struct DemoBundle {
    pub busybox: PathBuf,
    pub args: Vec<String>,
    pub terminal: bool,
    pub hostname: String,
    pub overwrite: bool,
}

/// Make a runnable bundle at `dir`: `rootfs/bin/busybox` with applet links,
/// and a config.json from oci-spec's runc-like defaults.
pub fn make_busybox_bundle(dir: &Path, demo: &DemoBundle) -> Result<(), BundleError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Write { path, source }
    };
    if !demo.busybox.is_file() {
        return Err(BundleError::NoBusybox(demo.busybox.clone()));
    }
    let config = dir.join("config.json");
    if config.exists() && !demo.overwrite {
        return Err(BundleError::Exists(config));
    }
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).map_err(write_err(&bin))?;
    for sub in ["proc", "sys", "dev", "tmp", "etc", "root"] {
        let p = dir.join("rootfs").join(sub);
        std::fs::create_dir_all(&p).map_err(write_err(&p))?;
    }
    let target = bin.join("busybox");
    std::fs::copy(&demo.busybox, &target).map_err(write_err(&target))?;
    for applet in APPLETS {
        let link = bin.join(applet);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("busybox", &link).map_err(write_err(&link))?;
    }
    let passwd = dir.join("rootfs/etc/passwd");
    std::fs::write(
        &passwd,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .map_err(write_err(&passwd))?;
    let group = dir.join("rootfs/etc/group");
    std::fs::write(&group, "root:x:0:\nnogroup:x:65534:\n").map_err(write_err(&group))?;

    let spec = demo_spec(demo).map_err(|e| BundleError::Write {
        path: config.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| BundleError::Write {
        path: config.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&config, json).map_err(write_err(&config))?;
    Ok(())
}

fn demo_spec(demo: &DemoBundle) -> Result<Spec, oci_spec::OciSpecError> {
    Ok(default_spec(
        demo.args.clone(),
        demo.terminal,
        &demo.hostname,
    ))
}

/// The spec every bundle ocictl makes starts from (busybox or image):
/// oci-spec's runc-like defaults, a writable `rootfs`, the process in `/`.
pub fn default_spec(args: Vec<String>, terminal: bool, hostname: &str) -> Spec {
    let mut spec = Spec::default();
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args));
    process.set_terminal(Some(terminal));
    process.set_cwd("/".into());
    spec.set_process(Some(process));
    spec.set_hostname(Some(hostname.to_string()));
    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path("rootfs".into());
    root.set_readonly(Some(false));
    spec.set_root(Some(root));
    spec
}

/// A private copy of a bundle's config.json with `process.terminal` set,
/// for `ocictl run -t` on a bundle that does not ask for a terminal: the
/// user's config.json is never edited. The copy names the original rootfs
/// (and relative bind-mount sources) by absolute path, so runc, which
/// resolves them against the bundle directory, finds the same files. The
/// private 0700 directory is removed on drop.
#[derive(Debug)]
pub struct TerminalBundle {
    dir: tempfile::TempDir,
}

impl TerminalBundle {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Bundle {
    /// A private copy of this bundle that asks for a terminal, removed when
    /// dropped (for a container that ends with the command).
    pub fn with_terminal(&self) -> Result<TerminalBundle, BundleError> {
        let dir = crate::runtime::console::private_dir("ocictl-bundle-").map_err(|source| {
            BundleError::Read {
                path: self.dir.join("config.json"),
                source,
            }
        })?;
        self.write_terminal_copy(dir.path())?;
        Ok(TerminalBundle { dir })
    }

    /// The same copy at `dir` (created 0700), kept for as long as the
    /// container lives: the runtime records the bundle path in its state.
    pub fn with_terminal_at(&self, dir: &Path) -> Result<(), BundleError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| BundleError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        self.write_terminal_copy(dir)
    }

    fn write_terminal_copy(&self, dir: &Path) -> Result<(), BundleError> {
        let config = self.dir.join("config.json");
        let read_err = |source| BundleError::Read {
            path: config.clone(),
            source,
        };
        let text = std::fs::read(&config).map_err(read_err)?;
        // Edited as plain JSON, so fields oci-spec does not know survive.
        let mut value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| BundleError::NotJson {
                path: config.clone(),
                source,
            })?;
        let base = std::path::absolute(&self.dir).map_err(read_err)?;
        terminal_config(&mut value, &base);
        let copy = dir.join("config.json");
        let json = serde_json::to_vec_pretty(&value).map_err(|e| BundleError::Write {
            path: copy.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&copy, json).map_err(|source| BundleError::Write { path: copy, source })
    }
}

/// Set `process.terminal` and make the paths runc resolves against the
/// bundle directory (`root.path`, bind-mount sources) absolute.
fn terminal_config(config: &mut serde_json::Value, bundle: &Path) {
    use serde_json::Value;
    let absolutize = |v: &mut Value| {
        if let Some(p) = v.as_str() {
            if !Path::new(p).is_absolute() {
                *v = Value::String(bundle.join(p).to_string_lossy().into_owned());
            }
        }
    };
    if let Some(process) = config.get_mut("process").and_then(Value::as_object_mut) {
        process.insert("terminal".into(), Value::Bool(true));
    }
    if let Some(path) = config.pointer_mut("/root/path") {
        absolutize(path);
    }
    if let Some(mounts) = config.get_mut("mounts").and_then(Value::as_array_mut) {
        for m in mounts {
            let is_bind = m.get("type").and_then(Value::as_str) == Some("bind")
                || m.get("options")
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"));
            if is_bind {
                if let Some(source) = m.get_mut("source") {
                    absolutize(source);
                }
            }
        }
    }
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn terminal_copy_sets_terminal_and_absolute_paths() {
        let mut v = serde_json::json!({
            "process": {"terminal": false, "args": ["sh"]},
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "data"},
                {"destination": "/abs", "source": "/srv", "options": ["rbind"]},
                {"destination": "/rel", "source": "rel", "options": ["ro", "bind"]}
            ],
            "x-unknown": 1
        });
        terminal_config(&mut v, Path::new("/b"));
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["root"]["path"], "/b/rootfs");
        assert_eq!(v["mounts"][0]["source"], "proc");
        assert_eq!(v["mounts"][1]["source"], "/b/data");
        assert_eq!(v["mounts"][2]["source"], "/srv");
        assert_eq!(v["mounts"][3]["source"], "/b/rel");
        assert_eq!(v["x-unknown"], 1);
    }
}
