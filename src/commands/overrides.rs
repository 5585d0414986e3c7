//! The run-time override flags `run` and `create` share (`-e`, `-v`,
//! `--memory`, `-- CMD…`, `--print-config`), flattened into both: the
//! values are typed by [`ocictl::overrides`], and the edited config.json
//! goes to the runtime as ocictl's private copy of the bundle (the user's
//! is never edited). With none of them, nothing changes: runc's argv.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use ocictl::bundle::{Bundle, BundleCopy, BundleError, ConfigEdits};
use ocictl::overrides::{
    Cap, Cpus, EnvArg, Hostname, Memory, Net, Overrides, PidsLimit, Tmpfs, UserSpec, Volume,
    Workdir,
};

use super::Outcome;
use crate::report::UsageError;

#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// Set an environment variable (repeatable): KEY=VALUE replaces KEY in
    /// process.env or adds it; KEY alone passes ocictl's own value on
    /// (nothing when it is unset).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvArg>,

    /// Read variables from FILE (repeatable): one KEY=VALUE (or KEY) a line,
    /// `#` comments and blank lines ignored; -e wins over it.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub env_file: Vec<PathBuf>,

    /// Bind-mount the host's SRC (an absolute, existing path) at DST,
    /// read-only with `:ro` (repeatable); replaces a mount at DST.
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]",
          value_hint = clap::ValueHint::AnyPath)]
    pub volumes: Vec<Volume>,

    /// Mount a tmpfs at DST (repeatable), with docker's options
    /// rw,noexec,nosuid,nodev and yours (e.g. `/tmp:size=64m,exec`).
    #[arg(long, value_name = "DST[:OPTIONS]")]
    pub tmpfs: Vec<Tmpfs>,

    /// The process's working directory (absolute, inside the container).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<Workdir>,

    /// Run the process as UID[:GID], or NAME[:GROUP] from the rootfs's
    /// /etc/passwd and /etc/group (its groups too, as docker does).
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<UserSpec>,

    /// The container's hostname (needs a UTS namespace in config.json).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<Hostname>,

    /// Memory limit, e.g. 64M or 1G (at least 6M).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<Memory>,

    /// CPU limit in CPUs, e.g. 1.5 (a CFS quota per 100 ms period).
    #[arg(long, value_name = "N")]
    pub cpus: Option<Cpus>,

    /// At most N processes in the container (-1: no limit).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<PidsLimit>,

    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,

    /// Add a capability (repeatable): NET_ADMIN, cap_net_admin, or ALL.
    #[arg(long, value_name = "CAP", add = crate::completion::capabilities())]
    pub cap_add: Vec<Cap>,

    /// Drop a capability (repeatable; after the adds, as in docker).
    #[arg(long, value_name = "CAP", add = crate::completion::capabilities())]
    pub cap_drop: Vec<Cap>,

    /// `host`: the host's network (no network namespace); `none`: a new
    /// network namespace with only `lo`.
    #[arg(long, value_name = "host|none",
          add = crate::completion::choices(ocictl::overrides::NET_MODES))]
    pub net: Option<Net>,

    /// Print the effective config.json (exactly what the runtime would
    /// get) and exit: nothing is run or written. Save it as a bundle's
    /// config.json to make the overrides permanent.
    #[arg(long)]
    pub print_config: bool,

    /// The command to run instead of config.json's process.args, after
    /// the ID (and `--`, so its own flags are not ocictl's); everything
    /// from CMD on is the command's.
    #[arg(
        value_name = "CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

impl OverrideArgs {
    /// The edits of the bundle's copy: `terminal` (a `-t` the bundle does
    /// not ask for) and the overrides, with `--env-file` read and `-e KEY`
    /// taken from ocictl's environment.
    pub fn edits(&self, terminal: bool) -> anyhow::Result<ConfigEdits> {
        let mut env = Vec::new();
        for file in &self.env_file {
            let bad = |why: String| {
                UsageError(format!(
                    "invalid value {:?} for --env-file: {why}",
                    file.display().to_string()
                ))
            };
            let text = ocictl::input_file::read_input_text(file).map_err(|e| bad(e.to_string()))?;
            env.extend(ocictl::overrides::parse_env_file(&text).map_err(bad)?);
        }
        env.extend(self.env.iter().cloned());
        let overrides = Overrides {
            env: env
                .into_iter()
                .filter_map(|v| v.resolve(|k| std::env::var(k).ok()))
                .collect(),
            volumes: self.volumes.clone(),
            tmpfs: self.tmpfs.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            pids_limit: self.pids_limit,
            read_only: self.read_only,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            net: self.net,
            command: self.command.clone(),
        };
        Ok(ConfigEdits {
            terminal,
            overrides,
        })
    }

    /// The bundle's private copy with `-t` (when the bundle has no
    /// terminal of its own) and the overrides, or `None` when nothing
    /// changes; an override the bundle cannot take is a usage error.
    pub fn copy(&self, bundle: &Bundle, tty: bool) -> anyhow::Result<Option<BundleCopy>> {
        let edits = self.edits(tty && !bundle.wants_terminal())?;
        if edits.is_empty() {
            return Ok(None);
        }
        match bundle.copy_with(&edits) {
            Ok(copy) => Ok(Some(copy)),
            Err(BundleError::Override(e)) => Err(UsageError(e.to_string()).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// `--print-config`: the config.json the runtime would get (the copy's,
    /// or the user's own bytes when nothing changes) on stdout.
    pub fn print_config(bundle: &Bundle, copy: Option<&BundleCopy>) -> Outcome {
        let config = match copy {
            Some(copy) => copy.config.clone(),
            None => ocictl::input_file::read_input_file(&bundle.dir.join("config.json"))?,
        };
        let mut out = std::io::stdout().lock();
        out.write_all(&config)?;
        if !config.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(0)
    }
}
