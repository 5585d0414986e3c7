//! OCI bundles: checking one before the runtime sees it (so a broken
//! config.json is reported with its file, line and field), and making a
//! small busybox bundle so nothing needs an image download — without ever
//! writing through a link another user planted.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::overrides::{OverrideError, Overrides};
use crate::secure_dir::{DirError, SecureDir};
use crate::staged_dir::StagedDir;

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
    #[error(transparent)]
    Input(crate::input_file::InputError),
    #[error("{path} is not valid JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The message names the file, the line and the field.
    #[error("{0}")]
    NotASpec(String),
    /// An override flag this bundle cannot take (a usage error).
    #[error(transparent)]
    Override(OverrideError),
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
    #[error("refusing to write a bundle at {}: {source}; give a new directory (ocictl builds it privately and renames it into place)", dir.display())]
    Unsafe { dir: PathBuf, source: DirError },
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
        let text = match crate::input_file::read_input_file(&config) {
            Ok(text) => text,
            Err(e) if e.is_not_found() => return Err(BundleError::NoConfig(dir.to_path_buf())),
            Err(e) => return Err(BundleError::Input(e)),
        };
        // Syntax first, for its own message (with the line).
        if let Err(source) = serde_json::from_slice::<serde::de::IgnoredAny>(&text) {
            return Err(BundleError::NotJson {
                path: config,
                source,
            });
        }
        // Valid JSON is valid UTF-8.
        let text = String::from_utf8_lossy(&text);
        // As loose as runc: what it accepts (unknown fields, a capability
        // ocictl does not know) is never refused here.
        let source = config.display().to_string();
        let spec: Spec = crate::runtime::decode_document(&text, &source, "an OCI runtime spec")
            .map_err(|e| BundleError::NotASpec(e.to_string()))?
            .warn_ignored(&source);
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

/// The largest busybox binary ocictl copies (a static one is about 2 MiB).
const MAX_BUSYBOX_BYTES: u64 = 64 << 20;

/// Make a runnable bundle at `dir`: `rootfs/bin/busybox` with applet links,
/// and a config.json from oci-spec's runc-like defaults.
///
/// Nothing is ever written through a link another user planted: a new `dir`
/// is built in a private directory beside it and renamed into place (see
/// [`StagedDir`]); an existing `dir` is used only if it passes
/// [`SecureDir`]'s checks (ours, not writable by others, not a link), and
/// then only through directory fds, each file replaced atomically.
pub fn make_busybox_bundle(dir: &Path, demo: &DemoBundle) -> Result<(), BundleError> {
    if !demo.busybox.is_file() {
        return Err(BundleError::NoBusybox(demo.busybox.clone()));
    }
    let busybox = read_busybox(&demo.busybox)?;
    let config = dir.join("config.json");
    let spec = demo_spec(demo).map_err(|e| BundleError::Write {
        path: config.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| BundleError::Write {
        path: config.clone(),
        source: std::io::Error::other(e),
    })?;
    let unsafe_dir = |source| BundleError::Unsafe {
        dir: dir.to_path_buf(),
        source,
    };
    match SecureDir::open(dir).map_err(unsafe_dir)? {
        None => {
            let staged = StagedDir::begin(dir).map_err(unsafe_dir)?;
            populate(staged.dir(), &busybox, &json)?;
            staged.commit(0o755).map_err(|source| BundleError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Some(existing) => {
            let has_config = existing
                .kind_of("config.json")
                .map_err(|source| BundleError::Write {
                    path: config.clone(),
                    source,
                })?
                .is_some();
            if has_config && !demo.overwrite {
                return Err(BundleError::Exists(config));
            }
            populate(&existing, &busybox, &json)?;
        }
    }
    Ok(())
}

fn read_busybox(path: &Path) -> Result<Vec<u8>, BundleError> {
    use std::io::Read;
    let read_err = |source| BundleError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BUSYBOX_BYTES + 1).read_to_end(&mut data))
        .map_err(read_err)?;
    if data.len() as u64 > MAX_BUSYBOX_BYTES {
        return Err(read_err(std::io::Error::other(format!(
            "larger than {} MiB: not a static busybox",
            MAX_BUSYBOX_BYTES >> 20
        ))));
    }
    Ok(data)
}

/// Write the bundle's files into `bundle` through fds: the directories it
/// writes into are created or verified, files are replaced atomically (a
/// link at a file's name is replaced, never followed).
fn populate(bundle: &SecureDir, busybox: &[u8], config: &[u8]) -> Result<(), BundleError> {
    let dir_err = |e: DirError| BundleError::Unsafe {
        dir: e.path().to_path_buf(),
        source: e,
    };
    let write_err = |dir: &SecureDir, name: &str| {
        let path = dir.join(name);
        move |source| BundleError::Write { path, source }
    };
    let rootfs = bundle
        .create_or_open_dir("rootfs", 0o755)
        .map_err(dir_err)?;
    let bin = rootfs.create_or_open_dir("bin", 0o755).map_err(dir_err)?;
    let etc = rootfs.create_or_open_dir("etc", 0o755).map_err(dir_err)?;
    // Mount points and homes: only made when missing, never written into.
    for sub in ["proc", "sys", "dev", "tmp", "root"] {
        if rootfs
            .kind_of(sub)
            .map_err(write_err(&rootfs, sub))?
            .is_none()
        {
            rootfs.create_dir(sub, 0o755).map_err(dir_err)?;
        }
    }
    bin.write_atomic("busybox", busybox, 0o755)
        .map_err(write_err(&bin, "busybox"))?;
    for applet in APPLETS {
        bin.remove_file(applet).map_err(write_err(&bin, applet))?;
        nix::unistd::symlinkat("busybox", bin.as_fd(), *applet)
            .map_err(|e| write_err(&bin, applet)(e.into()))?;
    }
    etc.write_atomic(
        "passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    )
    .map_err(write_err(&etc, "passwd"))?;
    etc.write_atomic("group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
        .map_err(write_err(&etc, "group"))?;
    bundle
        .write_atomic("config.json", config, 0o644)
        .map_err(write_err(bundle, "config.json"))
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

/// What ocictl changes in its private copy of a bundle's config.json: the
/// one way a run differs from the user's bundle (which is never edited).
#[derive(Debug, Clone, Default)]
pub struct ConfigEdits {
    /// Set `process.terminal` (`-t` on a bundle without a terminal).
    pub terminal: bool,
    /// The run-time override flags (`-e`, `-v`, `--memory`, …).
    pub overrides: Overrides,
}

impl ConfigEdits {
    /// Nothing to change: the runtime gets the user's bundle itself.
    pub fn is_empty(&self) -> bool {
        !self.terminal && self.overrides.is_empty()
    }
}

/// A private copy of a bundle, made but not yet written: the config.json
/// the runtime gets, and what to record of where it came from. It names
/// the original rootfs (and relative bind-mount sources) by absolute path,
/// so runc, which resolves them against the bundle directory, finds the
/// same files.
#[derive(Debug, Clone)]
pub struct BundleCopy {
    /// The user's bundle directory (absolute).
    pub bundle: PathBuf,
    /// The copy's config.json (0600 where written: it holds the
    /// container's environment).
    pub config: Vec<u8>,
    /// The copy sets `process.terminal`.
    pub terminal: bool,
    /// The overrides applied, in their canonical argv form.
    pub overrides: Vec<String>,
}

/// A [`BundleCopy`] written to a private 0700 directory, removed on drop
/// (for a container that ends with the command).
#[derive(Debug)]
pub struct PrivateBundle {
    dir: tempfile::TempDir,
}

impl PrivateBundle {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// How the private directory of a copy for a foreground run is named
/// (under $XDG_RUNTIME_DIR or the temp dir). It is gone when the run ends,
/// and anyone could make a directory of that name then: nothing may name
/// it for later use (see `systemd_unit`).
pub const PRIVATE_COPY_PREFIX: &str = "ocictl-bundle-";

/// Whether `dir` is (by its name) such a private copy.
pub fn is_private_copy(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| {
        n.as_encoded_bytes()
            .starts_with(PRIVATE_COPY_PREFIX.as_bytes())
    })
}

impl BundleCopy {
    /// Write the copy to a new private directory, removed when dropped.
    pub fn write_private(&self) -> Result<PrivateBundle, BundleError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let config = self.bundle.join("config.json");
        let dir = crate::runtime::console::private_dir(PRIVATE_COPY_PREFIX).map_err(|source| {
            BundleError::Read {
                path: config.clone(),
                source,
            }
        })?;
        let copy = dir.path().join("config.json");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&copy)
            .and_then(|mut f| f.write_all(&self.config))
            .map_err(|source| BundleError::Write { path: copy, source })?;
        Ok(PrivateBundle { dir })
    }
}

impl Bundle {
    /// A private copy of this bundle that asks for a terminal, removed when
    /// dropped (for a container that ends with the command).
    pub fn with_terminal(&self) -> Result<PrivateBundle, BundleError> {
        let edits = ConfigEdits {
            terminal: true,
            ..ConfigEdits::default()
        };
        self.copy_with(&edits)?.write_private()
    }

    /// The copy of this bundle with `edits` made: its config.json is this
    /// bundle's (re-read, as plain JSON, so fields oci-spec does not know
    /// survive) with the paths runc resolves against the bundle made
    /// absolute, `process.terminal` set if asked, and the overrides
    /// applied (an error names a flag this bundle cannot take).
    pub fn copy_with(&self, edits: &ConfigEdits) -> Result<BundleCopy, BundleError> {
        let config = self.dir.join("config.json");
        let text = crate::input_file::read_input_file(&config).map_err(BundleError::Input)?;
        let mut value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| BundleError::NotJson {
                path: config.clone(),
                source,
            })?;
        let base = std::path::absolute(&self.dir).map_err(|source| BundleError::Read {
            path: config.clone(),
            source,
        })?;
        absolutize_config(&mut value, &base);
        if edits.terminal {
            if let Some(process) = value.get_mut("process").and_then(|p| p.as_object_mut()) {
                process.insert("terminal".into(), true.into());
            }
        }
        edits
            .overrides
            .apply(&mut value)
            .map_err(BundleError::Override)?;
        let json = serde_json::to_vec_pretty(&value).map_err(|e| BundleError::Write {
            path: config.clone(),
            source: std::io::Error::other(e),
        })?;
        Ok(BundleCopy {
            bundle: base,
            config: json,
            terminal: edits.terminal,
            overrides: edits.overrides.argv(),
        })
    }
}

/// Make the paths runc resolves against the bundle directory
/// (`root.path`, bind-mount sources) absolute, for a copy elsewhere.
fn absolutize_config(config: &mut serde_json::Value, bundle: &Path) {
    use serde_json::Value;
    let absolutize = |v: &mut Value| {
        if let Some(p) = v.as_str() {
            if !Path::new(p).is_absolute() {
                *v = Value::String(bundle.join(p).to_string_lossy().into_owned());
            }
        }
    };
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
mod copy_tests {
    use super::*;

    #[test]
    fn copies_name_the_bundles_paths_absolutely() {
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
        absolutize_config(&mut v, Path::new("/b"));
        assert_eq!(v["process"]["terminal"], false);
        assert_eq!(v["root"]["path"], "/b/rootfs");
        assert_eq!(v["mounts"][0]["source"], "proc");
        assert_eq!(v["mounts"][1]["source"], "/b/data");
        assert_eq!(v["mounts"][2]["source"], "/srv");
        assert_eq!(v["mounts"][3]["source"], "/b/rel");
        assert_eq!(v["x-unknown"], 1);
    }
}
