//! `runc exec`: run another process in a running container. The process is
//! given as a command line (runc merges it with the container's config), as
//! a process.json the operator wrote (checked first, passed as `--process`),
//! or as a full oci-spec [`Process`] that the driver writes to a private
//! anonymous file (as go-runc's `Exec` writes a temporary one). With `-e`,
//! the command line is turned into a process document first (see
//! `exec_process`), so environment values never appear on argv.

use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use super::argv::Args;
use super::error::{Error, Result, Termination};
use super::id::ContainerId;
use super::Runtime;

/// What to run in the container.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecProcess {
    /// A command and its arguments (`runc exec ID CMD ARGS…`).
    Command(Vec<String>),
    /// A process.json file (`runc exec -p FILE ID`); check it first with
    /// [`load_process_file`].
    File(PathBuf),
    /// A full process spec, written to a private temporary file.
    Spec(Box<Process>),
    /// A process.json's text, read already (from a pipe such as
    /// `-p <(…)`, which the runtime could not read a second time): written
    /// as it is to a private temporary file.
    Text(String),
}

impl Default for ExecProcess {
    fn default() -> Self {
        ExecProcess::Command(Vec::new())
    }
}

/// `runc exec`'s options, one field per runc 1.1 flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOpts {
    pub process: ExecProcess,
    /// Working directory inside the container.
    pub cwd: Option<String>,
    /// `KEY=VALUE` pairs added to the process's environment.
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal (needs `console_socket`).
    pub tty: bool,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub no_new_privs: bool,
    /// Capabilities added to the process's bounding set.
    pub caps: Vec<String>,
    pub preserve_fds: Option<u32>,
    /// `[controller:]path` sub-cgroups to run in.
    pub cgroups: Vec<String>,
    pub ignore_paused: bool,
    pub console_socket: Option<PathBuf>,
}

impl ExecOpts {
    /// The flags, in runc's help order; the process (`--process FILE` or the
    /// trailing command) is added by [`Runtime::exec`]. `process` says
    /// which of the flags that shape the process are passed:
    /// with `--process FILE` runc ignores them all, and the values of
    /// `--env` are never put on argv then (they may be secrets).
    fn push_flags(&self, args: &mut Args, process: ProcessFlags) {
        let shaping = process != ProcessFlags::None;
        let env: &[String] = if process == ProcessFlags::All {
            &self.env
        } else {
            &[]
        };
        let pick = |v: Option<&str>| v.filter(|_| shaping).map(str::to_string);
        args.path("console-socket", self.console_socket.as_deref())
            .value("cwd", pick(self.cwd.as_deref()))
            .values("env", env)
            .flag("tty", shaping && self.tty)
            .value("user", pick(self.user.as_deref()))
            .values(
                "additional-gids",
                self.additional_gids
                    .iter()
                    .filter(|_| shaping)
                    .map(u32::to_string),
            )
            .flag("detach", self.detach)
            .path("pid-file", self.pid_file.as_deref())
            .value("process-label", pick(self.process_label.as_deref()))
            .value("apparmor", pick(self.apparmor.as_deref()))
            .flag("no-new-privs", shaping && self.no_new_privs)
            .values("cap", self.caps.iter().filter(|_| shaping))
            .value("preserve-fds", self.preserve_fds.map(|n| n.to_string()))
            .values("cgroup", &self.cgroups)
            .flag("ignore-paused", self.ignore_paused);
    }

    /// Whether the process will want a terminal: `-t`, or with a spec,
    /// its `terminal` (runc ignores `-t` when given a process spec).
    pub fn wants_terminal(&self) -> bool {
        match &self.process {
            ExecProcess::Spec(p) => p.terminal().unwrap_or(false),
            _ => self.tty,
        }
    }
}

/// Which of the process-shaping flags [`ExecOpts::push_flags`] passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcessFlags {
    /// All of them (a command line).
    All,
    /// All but `--env` (a process file the user gave: runc ignores them).
    AllButEnv,
    /// None (ocictl wrote them into the process file).
    None,
}

/// Read and check a process.json: an oci-spec `Process`, read as runc
/// reads it (see [`super::validate`]), with a non-empty `args`; errors
/// name the file, line and field.
pub fn load_process_file(path: &Path) -> Result<Process> {
    read_process_file(path).map(|(process, _)| process)
}

/// [`load_process_file`], with the text as read (bounded: a FIFO or
/// /dev/zero is a prompt error).
pub fn read_process_file(path: &Path) -> Result<(Process, String)> {
    let text = crate::input_file::read_input_text(path)
        .map_err(|e| Error::Invalid(format!("cannot use the process file: {e}")))?;
    let process = parse_process(&text, &path.display().to_string())?;
    Ok((process, text))
}

/// Check a process spec's text; `source` names it in errors.
pub fn parse_process(text: &str, source: &str) -> Result<Process> {
    let process: Process =
        super::validate::decode_document(text, source, "an OCI process spec")?.warn_ignored(source);
    if process.args().as_ref().is_none_or(Vec::is_empty) {
        return Err(Error::Invalid(format!(
            "{source} is not an OCI process spec: field `args` must name the program to run"
        )));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Invalid(format!(
            "{source} is not an OCI process spec: field `cwd` must be an absolute path (it is {:?})",
            process.cwd()
        )));
    }
    Ok(process)
}

/// A process document in a private file with no name: an anonymous 0600
/// file (O_TMPFILE) that the runtime opens through `/proc/<ocictl>/fd/N`,
/// which only ocictl's user can. Nothing is ever left on disk, whatever
/// happens to ocictl (SIGINT or SIGKILL included), and no other user can
/// read the values in it.
struct SpecFile {
    _file: std::fs::File,
    path: PathBuf,
}

impl SpecFile {
    fn write(process: &Process) -> Result<SpecFile> {
        let json = serde_json::to_vec(process)
            .map_err(|e| Error::Invalid(format!("cannot encode the process spec: {e}")))?;
        SpecFile::with(&json)
    }

    fn with(document: &[u8]) -> Result<SpecFile> {
        let cannot = |e| Error::io("cannot write the process document to a private file", e);
        let mut file = super::process::private_anonymous_file().map_err(cannot)?;
        file.write_all(document)
            .and_then(|()| file.flush())
            .map_err(cannot)?;
        let path = super::process::proc_fd_path(&file);
        Ok(SpecFile { _file: file, path })
    }
}

impl Runtime {
    /// The argv `exec` runs, and the temporary spec file that must live
    /// while it runs.
    fn exec_args(&self, id: &ContainerId, opts: &ExecOpts) -> Result<(Args, Option<SpecFile>)> {
        let mut args = Args::subcommand("exec");
        let mut spec_file = None;
        match &opts.process {
            ExecProcess::Command(argv) if argv.is_empty() => {
                return Err(Error::Invalid(
                    "exec needs a command to run, or a process spec".into(),
                ));
            }
            ExecProcess::Command(argv) if !opts.env.is_empty() => {
                let file = SpecFile::with(&self.exec_process_document(id, opts, argv)?)?;
                opts.push_flags(&mut args, ProcessFlags::None);
                args.path("process", Some(&file.path)).arg(id);
                spec_file = Some(file);
            }
            ExecProcess::Command(argv) => {
                opts.push_flags(&mut args, ProcessFlags::All);
                args.arg(id);
                for a in argv {
                    args.arg(a);
                }
            }
            ExecProcess::File(path) => {
                opts.push_flags(&mut args, ProcessFlags::AllButEnv);
                args.path("process", Some(path)).arg(id);
            }
            ExecProcess::Spec(process) => {
                let file = SpecFile::write(process)?;
                opts.push_flags(&mut args, ProcessFlags::AllButEnv);
                args.path("process", Some(&file.path)).arg(id);
                spec_file = Some(file);
            }
            ExecProcess::Text(text) => {
                let file = SpecFile::with(text.as_bytes())?;
                opts.push_flags(&mut args, ProcessFlags::AllButEnv);
                args.path("process", Some(&file.path)).arg(id);
                spec_file = Some(file);
            }
        }
        Ok((args, spec_file))
    }

    /// The process runc's `exec ID CMD` would build, `-e` values included,
    /// from the config.json of the bundle the runtime recorded for `id`.
    /// When the runtime cannot say (no such container), the document is
    /// empty: the runtime then reports the container's problem itself, with
    /// its own message and status, and runs nothing.
    fn exec_process_document(
        &self,
        id: &ContainerId,
        opts: &ExecOpts,
        command: &[String],
    ) -> Result<Vec<u8>> {
        let container = match self.state(id) {
            Ok(c) => c,
            Err(Error::Failed { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let config = Path::new(&container.bundle).join("config.json");
        let bytes = crate::input_file::read_input_file(&config).map_err(|e| {
            Error::Invalid(format!(
                "cannot read the container's process for exec -e: {e}"
            ))
        })?;
        super::exec_process::process_document(&bytes, &config.display().to_string(), opts, command)
    }

    /// `runc exec`: the process inherits ocictl's stdio. In the foreground
    /// this returns the process's own status (runc exits 255 when it could
    /// not start it, and that is an `Err` carrying runc's message); with
    /// `detach` it returns once the process runs.
    pub fn exec(&self, id: &ContainerId, opts: &ExecOpts) -> Result<Termination> {
        let (args, _spec_file) = self.exec_args(id, opts)?;
        self.run_stdio(args, !opts.detach)
        // `_spec_file` is dropped (and removed) here, after runc has read it.
    }

    /// `exec` of a process with a terminal in the foreground: ocictl
    /// receives the pty and relays it (see [`Runtime::run_with_terminal`]).
    pub fn exec_terminal(&self, id: &ContainerId, opts: &ExecOpts) -> Result<Termination> {
        let mut opts = opts.clone();
        let pid_file = opts.pid_file.take();
        opts.detach = false;
        opts.console_socket = None;
        let (args, _spec_file) = self.exec_args(id, &opts)?;
        self.run_with_terminal(args, &super::TerminalOpts { pid_file })
    }

    /// The argv `exec` would run (for `--debug`, tests and dry runs).
    pub fn exec_argv(&self, id: &ContainerId, opts: &ExecOpts) -> Result<super::Argv> {
        let (args, _) = self.exec_args(id, opts)?;
        Ok(self.argv(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_in_runc_form() {
        let opts = ExecOpts {
            process: ExecProcess::Command(vec!["sh".into(), "-c".into(), "exit 3".into()]),
            cwd: Some("/tmp".into()),
            env: Vec::new(),
            tty: true,
            user: Some("1000:1000".into()),
            additional_gids: vec![10, 20],
            detach: true,
            pid_file: Some("/run/x.pid".into()),
            process_label: Some("label".into()),
            apparmor: Some("prof".into()),
            no_new_privs: true,
            caps: vec!["CAP_NET_ADMIN".into()],
            preserve_fds: Some(2),
            cgroups: vec!["memory:/sub".into()],
            ignore_paused: true,
            console_socket: Some("/run/c.sock".into()),
        };
        let id: ContainerId = "c1".parse().unwrap();
        let argv = Runtime::default().exec_argv(&id, &opts).unwrap();
        assert_eq!(
            argv.to_string(),
            "runc exec --console-socket /run/c.sock --cwd /tmp --tty \
             --user 1000:1000 --additional-gids 10 --additional-gids 20 --detach \
             --pid-file /run/x.pid --process-label label --apparmor prof --no-new-privs \
             --cap CAP_NET_ADMIN --preserve-fds 2 --cgroup memory:/sub --ignore-paused c1 sh -c 'exit 3'"
        );
    }

    #[test]
    fn spec_file_is_private_and_removed() {
        let process: Process =
            serde_json::from_str(r#"{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}}"#)
                .unwrap();
        let file = SpecFile::write(&process).unwrap();
        let path = file.path.clone();
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // No name anywhere: the only link is ocictl's own fd.
        assert_eq!(std::fs::metadata(&path).unwrap().nlink(), 0);
        let back: Process = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back.args(), process.args());
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn process_files_are_checked() {
        assert!(parse_process(
            r#"{"args":[],"cwd":"/","user":{"uid":0,"gid":0}}"#,
            "p.json"
        )
        .unwrap_err()
        .to_string()
        .contains("args"));
        assert!(parse_process(
            r#"{"args":["sh"],"cwd":"rel","user":{"uid":0,"gid":0}}"#,
            "p.json"
        )
        .unwrap_err()
        .to_string()
        .contains("cwd"));
        // Unknown fields are ignored, as runc ignores them; a wrong type is
        // an error naming the line and the field.
        assert!(parse_process("{\"args\":[\"sh\"],\"cwd\":\"/\",\"tty\":true}", "p.json").is_ok());
        let err = parse_process(
            "{\"args\":[\"sh\"],\"user\":{\"uid\":0,\"gid\":0},\n\"cwd\":\"/\",\n\"terminal\":\"yes\"}",
            "p.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 3") && err.contains("`terminal`"),
            "{err}"
        );
    }
}
