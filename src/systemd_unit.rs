//! `generate systemd`: a systemd service unit that starts a container at
//! boot the way it was started (its user's bundle, the same override
//! flags, the same global flags), or restores its newest checkpoint, and
//! stops it with `ocictl stop`.
//!
//! The process model: `ExecStart` runs ocictl in the foreground, so the
//! service's main process is ocictl, which waits for the runtime, which
//! waits for the container. The service lives exactly as long as the
//! container; its exit status is the container's (128+N for signal N);
//! its output goes to the journal; `Restart=` sees real failures. No pid
//! file is involved: runc's `--pid-file` names the container's init, which
//! lives in the container's own cgroup, not the service's, and a detached
//! start would leave systemd supervising a process that is not its child.
//! The container is never in the service's cgroup (the runtime makes its
//! own), so systemd's kill on timeout cannot reach it: `ExecStop` stops it
//! (`ocictl stop --time N`: SIGTERM, SIGKILL after N seconds), and
//! `ExecStopPost` force-deletes whatever is left. `KillMode=mixed` sends
//! systemd's own SIGTERM to ocictl alone, which passes it on.
//!
//! Every word of a command line is quoted for systemd's syntax
//! ([`exec_word`]): `%` and `$` doubled, and any word with whitespace,
//! quotes, backslashes or control characters double-quoted with C escapes.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::runtime::{ContainerId, Runtime};
use crate::shim::state::StateDir;

/// `Restart=`: the values systemd takes (podman's `--restart-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    No,
    OnSuccess,
    #[default]
    OnFailure,
    OnAbnormal,
    OnWatchdog,
    OnAbort,
    Always,
}

impl RestartPolicy {
    /// Every policy's name, as systemd spells it.
    pub const NAMES: &'static [&'static str] = &[
        "no",
        "on-success",
        "on-failure",
        "on-abnormal",
        "on-watchdog",
        "on-abort",
        "always",
    ];
    const ALL: [RestartPolicy; 7] = [
        RestartPolicy::No,
        RestartPolicy::OnSuccess,
        RestartPolicy::OnFailure,
        RestartPolicy::OnAbnormal,
        RestartPolicy::OnWatchdog,
        RestartPolicy::OnAbort,
        RestartPolicy::Always,
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl std::str::FromStr for RestartPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown restart policy {s:?}: one of {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

/// How the unit starts the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `ocictl run` from the user's bundle with the recorded overrides.
    Run,
    /// `ocictl restore --image-root DIR --latest` from the user's bundle.
    Restore { image_root: PathBuf },
}

/// What the unit is for.
#[derive(Debug, Clone)]
pub struct UnitRequest {
    pub start: Start,
    /// Seconds `stop` waits after SIGTERM before SIGKILL.
    pub stop_time: u64,
    pub restart: RestartPolicy,
    /// The ocictl binary the unit runs (absolute).
    pub ocictl: PathBuf,
    /// Write `--env` values into the unit itself. Without it only their
    /// names are (a unit is world-readable: `systemctl show` prints its
    /// command lines to anyone), and the values come from a root-only
    /// EnvironmentFile the operator writes.
    pub show_env: bool,
}

/// Where a unit without `show_env` reads its `--env` values.
pub fn env_file(name: &str) -> String {
    format!("/etc/ocictl/{}.env", name.trim_end_matches(".service"))
}

/// The override flags with each `--env K=V` cut to `--env K` (ocictl then
/// takes K from its own environment), and the names cut.
fn hide_env_values(flags: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut out = Vec::with_capacity(flags.len());
    let mut names = Vec::new();
    let mut words = flags.into_iter();
    while let Some(w) = words.next() {
        let is_env = w == "--env" || w == "-e";
        out.push(w);
        if is_env {
            if let Some(value) = words.next() {
                let text = value.to_string_lossy().into_owned();
                match text.split_once('=') {
                    Some((key, _)) => {
                        names.push(key.to_string());
                        out.push(key.into());
                    }
                    None => out.push(value),
                }
            }
        }
    }
    (out, names)
}

/// A generated unit: its file name and text.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `ocictl-<ID>.service`, escaped as systemd escapes unit names.
    pub name: String,
    pub text: String,
}

/// What the unit replays of a container, read from the runtime and ocictl's
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The user's bundle (absolute).
    pub bundle: PathBuf,
    /// The override flags of its `run`/`create`, argv form.
    pub overrides: Vec<String>,
    /// It was started with `-t` (a unit has no terminal to give it).
    pub terminal: bool,
}

/// Why no unit could be made.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    #[error("{0}")]
    Runtime(#[from] crate::runtime::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The unit for container `id` under `runtime`: its bundle and overrides
/// as recorded (the container must exist).
pub fn generate(runtime: &Runtime, id: &ContainerId, req: &UnitRequest) -> Result<Unit, UnitError> {
    let container = runtime.state(id)?;
    let dir = StateDir::of(runtime, id);
    let recorded = match dir.user_bundle(&container).and(dir.origin()) {
        Some(origin) => Recorded {
            bundle: origin.bundle,
            overrides: origin.overrides,
            terminal: origin.terminal,
        },
        None if crate::bundle::is_private_copy(Path::new(&container.bundle)) => {
            // A foreground run's temporary copy: removed when the run
            // ends, after which any user could make a directory of that
            // name for the unit to run as root; and its overrides are not
            // recorded.
            return Err(UnitError::Invalid(format!(
                "container {id} runs from a temporary copy of its bundle ({}), made for a                  foreground run with -t or override flags, which is gone when the run ends:                  start it with `run -d` (its bundle and overrides are then recorded), or                  save the effective config with --print-config as a bundle of its own",
                container.bundle
            )));
        }
        None => Recorded {
            bundle: PathBuf::from(&container.bundle),
            overrides: Vec::new(),
            terminal: false,
        },
    };
    if !recorded.bundle.is_absolute() {
        return Err(UnitError::Invalid(format!(
            "container {id}: the runtime records its bundle as {}, not an absolute path",
            recorded.bundle.display()
        )));
    }
    render(&global_flags(runtime), id, &recorded, req)
}

/// The global flags of `runtime` a unit must repeat so that its commands
/// reach the same container: the runtime, its root and the options that
/// change what the runtime does. Paths are made absolute (a unit runs in /).
pub fn global_flags(runtime: &Runtime) -> Vec<OsString> {
    let absolute =
        |p: &Path| -> OsString { std::path::absolute(p).unwrap_or_else(|_| p.into()).into() };
    let mut flags: Vec<OsString> = Vec::new();
    if runtime.binary != Path::new("runc") {
        flags.push("--runtime".into());
        // A bare name is looked up on the unit's PATH, as on the operator's.
        flags.push(if runtime.binary.as_os_str().as_bytes().contains(&b'/') {
            absolute(&runtime.binary)
        } else {
            runtime.binary.clone().into()
        });
    }
    let valued = [
        ("--root", runtime.root.as_deref()),
        ("--criu", runtime.criu.as_deref()),
        ("--log", runtime.log.as_deref()),
    ];
    for (name, value) in valued {
        if let Some(value) = value {
            flags.push(name.into());
            flags.push(absolute(value));
        }
    }
    let switches = [
        (runtime.systemd_cgroup, "--systemd-cgroup"),
        (runtime.rootless == Some(true), "--rootless=true"),
        (runtime.rootless == Some(false), "--rootless=false"),
        (
            runtime.log_format == Some(crate::runtime::LogFormat::Json),
            "--log-format=json",
        ),
        (
            runtime.log_format == Some(crate::runtime::LogFormat::Text),
            "--log-format=text",
        ),
    ];
    flags.extend(switches.iter().filter(|(on, _)| *on).map(|(_, f)| f.into()));
    flags
}

/// The unit's file name: `ocictl-<ID>.service`, with every character a unit
/// name cannot hold (`+`, a leading `.`) escaped as `systemd-escape` does.
pub fn unit_name(id: &ContainerId) -> String {
    let mut name = String::from("ocictl-");
    for (i, c) in id.as_str().chars().enumerate() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | ':' | '_' | '-' => name.push(c),
            '.' if i > 0 => name.push(c),
            _ => {
                let _ = write!(name, "\\x{:02x}", c as u32);
            }
        }
    }
    name.push_str(".service");
    name
}

/// The unit's text.
pub fn render(
    globals: &[OsString],
    id: &ContainerId,
    recorded: &Recorded,
    req: &UnitRequest,
) -> Result<Unit, UnitError> {
    let name = unit_name(id);
    let program = program_word(&req.ocictl).map_err(UnitError::Invalid)?;
    let command = |prefix: &str, words: &[&OsStr]| -> String {
        let mut line = String::from(prefix);
        line.push_str(&program);
        for w in globals
            .iter()
            .map(OsString::as_os_str)
            .chain(words.iter().copied())
        {
            line.push(' ');
            line.push_str(&exec_word(w));
        }
        line
    };
    let id_word = OsStr::new(id.as_str());
    let bundle = recorded.bundle.as_os_str();
    let (flags, cmd) = match recorded.overrides.iter().position(|w| w == "--") {
        Some(i) => recorded.overrides.split_at(i),
        None => (recorded.overrides.as_slice(), &[][..]),
    };
    let os = |words: &[String]| -> Vec<OsString> { words.iter().map(OsString::from).collect() };
    let (mut flags, cmd) = (os(flags), os(cmd));
    let mut hidden_env = Vec::new();
    if !req.show_env {
        (flags, hidden_env) = hide_env_values(flags);
    }
    let start = match &req.start {
        Start::Run => {
            let mut words: Vec<&OsStr> = vec!["run".as_ref(), "--bundle".as_ref(), bundle];
            words.extend(flags.iter().map(OsString::as_os_str));
            words.push(id_word);
            words.extend(cmd.iter().map(OsString::as_os_str));
            command("", &words)
        }
        Start::Restore { image_root } => command(
            "",
            &[
                "restore".as_ref(),
                "--image-root".as_ref(),
                image_root.as_os_str(),
                "--latest".as_ref(),
                "--bundle".as_ref(),
                bundle,
                id_word,
            ],
        ),
    };
    let time = req.stop_time.to_string();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# {name}: container {id}, made by `ocictl generate systemd` (ocictl {}).",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        text,
        "# Install: put it in /etc/systemd/system/, then `systemctl daemon-reload` and\n\
         # `systemctl enable --now '{name}'` (stop the running container first: the\n\
         # unit starts its own)."
    );
    if recorded.terminal {
        let _ = writeln!(
            text,
            "# It was started with -t: a service has no terminal, so the unit runs it without."
        );
    }
    if matches!(req.start, Start::Restore { .. }) {
        let _ = writeln!(
            text,
            "# Restores the newest checkpoint under the image root. With none, the start fails\n\
             # and says so in the journal: it never runs a fresh container in place of lost\n\
             # state. The bundle is the user's: override flags of the first run are not in it."
        );
    }
    if !hidden_env.is_empty() {
        let _ = writeln!(
            text,
            "# The values of --env {} are not written here (anyone can read a unit's\n\
             # command lines): put them, one KEY=VALUE a line, in {} (root's, mode\n\
             # 0600), or make the unit with --show-env.",
            hidden_env.join(", "),
            env_file(&name)
        );
    }
    text.push_str("\n[Unit]\n");
    let _ = writeln!(text, "Description=OCI container {id} (ocictl)");
    text.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    text.push_str("\n[Service]\nType=exec\n");
    let _ = writeln!(text, "Restart={}", req.restart.name());
    // stop's grace, then its SIGKILL and the runtime's delete.
    let _ = writeln!(text, "TimeoutStopSec={}", req.stop_time.saturating_add(60));
    let force_delete: [&OsStr; 3] = ["delete".as_ref(), "--force".as_ref(), id_word];
    let _ = writeln!(text, "ExecStartPre={}", command("-", &force_delete));
    let _ = writeln!(text, "ExecStart={start}");
    let _ = writeln!(
        text,
        "ExecStop={}",
        command(
            "",
            &["stop".as_ref(), "--time".as_ref(), time.as_ref(), id_word]
        )
    );
    let _ = writeln!(text, "ExecStopPost={}", command("-", &force_delete));
    if !hidden_env.is_empty() {
        let _ = writeln!(text, "EnvironmentFile={}", env_file(&name));
    }
    text.push_str("KillMode=mixed\n");
    // SIGTERM from `stop` ends the container with 143: a clean stop.
    text.push_str("SuccessExitStatus=143\n");
    text.push_str("StandardInput=null\n");
    text.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    Ok(Unit { name, text })
}

/// The program of a command line: systemd takes `%%` there but no `$`
/// expansion, and refuses quotes, backslashes and control characters in an
/// executable's name however they are escaped; spaces need quotes.
pub fn program_word(path: &Path) -> Result<String, String> {
    let refused = |c: char| c.is_control() || matches!(c, '"' | '\'' | '\\');
    let text = path.to_str().filter(|t| !t.contains(refused));
    let Some(text) = text.filter(|t| path.is_absolute() && !t.is_empty()) else {
        return Err(format!(
            "{} cannot be named in a systemd unit (systemd wants an absolute path \
             without quotes, backslashes or control characters): install ocictl \
             elsewhere (e.g. /usr/local/bin) and run that one",
            path.display()
        ));
    };
    let text = text.replace('%', "%%");
    Ok(if text.contains(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text
    })
}

/// One word of a systemd command line (`ExecStart=` and friends), so that
/// systemd hands the program exactly `word`: `%` (specifiers) and `$`
/// (environment variables) doubled everywhere; a word with anything but
/// plain characters double-quoted, with `\\`, `\"` and C escapes for
/// control characters and bytes that are not UTF-8.
pub fn exec_word(word: &OsStr) -> String {
    let bytes = word.as_bytes();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/_.,:+=@-".contains(&b);
    let doubled = |text: &str| text.replace('%', "%%").replace('$', "$$");
    if !bytes.is_empty() && bytes.iter().all(|&b| plain(b) || b == b'%' || b == b'$') {
        return doubled(&String::from_utf8_lossy(bytes));
    }
    let mut quoted = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '"' => quoted.push_str("\\\""),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                '%' => quoted.push_str("%%"),
                '$' => quoted.push_str("$$"),
                c if c.is_control() => {
                    let mut buf = [0; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(quoted, "\\x{b:02x}");
                    }
                }
                c => quoted.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(quoted, "\\x{b:02x}");
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str) -> String {
        exec_word(OsStr::new(s))
    }

    #[test]
    fn plain_words_stay_as_they_are() {
        assert_eq!(word("/usr/bin/ocictl"), "/usr/bin/ocictl");
        assert_eq!(word("--root=/run/runc"), "--root=/run/runc");
        assert_eq!(word("a+b.c_d-1"), "a+b.c_d-1");
    }

    #[test]
    fn specifiers_and_variables_are_doubled_everywhere() {
        assert_eq!(word("100%"), "100%%");
        assert_eq!(word("$HOME"), "$$HOME");
        assert_eq!(word("${X}"), "\"$${X}\"");
        assert_eq!(word("a b%$"), "\"a b%%$$\"");
    }

    #[test]
    fn odd_words_are_quoted_with_escapes() {
        assert_eq!(word("/srv/my bundle"), "\"/srv/my bundle\"");
        assert_eq!(word(""), "\"\"");
        assert_eq!(word(";"), "\";\"");
        assert_eq!(word("it's"), "\"it's\"");
        assert_eq!(word("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(word("back\\slash"), "\"back\\\\slash\"");
        assert_eq!(word("a\nb\tc"), "\"a\\nb\\tc\"");
        assert_eq!(word("bell\x07"), "\"bell\\x07\"");
        assert_eq!(word("end\\"), "\"end\\\\\"");
        assert_eq!(word("ünï"), "\"ünï\"");
        assert_eq!(
            exec_word(OsStr::from_bytes(b"bad\xffbyte")),
            "\"bad\\xffbyte\""
        );
    }

    #[test]
    fn the_program_takes_percent_and_spaces_but_never_quotes() {
        let program = |p: &str| program_word(Path::new(p));
        assert_eq!(program("/usr/bin/ocictl").unwrap(), "/usr/bin/ocictl");
        assert_eq!(
            program("/opt/my $x 1%/ocictl").unwrap(),
            "\"/opt/my $x 1%%/ocictl\""
        );
        for bad in [
            "/opt/it's/ocictl",
            "/opt/a\\b/ocictl",
            "/opt/q\"/ocictl",
            "ocictl",
            "/a\nb",
        ] {
            let err = program(bad).unwrap_err();
            assert!(err.contains("cannot be named in a systemd unit"), "{err}");
        }
    }

    #[test]
    fn unit_names_are_escaped_like_systemd_escape() {
        let id = |s: &str| s.parse::<ContainerId>().unwrap();
        assert_eq!(unit_name(&id("web")), "ocictl-web.service");
        assert_eq!(unit_name(&id("a+b.c_d-1")), "ocictl-a\\x2bb.c_d-1.service");
    }

    fn request(start: Start) -> UnitRequest {
        UnitRequest {
            start,
            stop_time: 10,
            restart: RestartPolicy::OnFailure,
            ocictl: "/usr/bin/ocictl".into(),
            show_env: true,
        }
    }

    fn line<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
    }

    #[test]
    fn a_run_unit_replays_globals_bundle_and_overrides() {
        let recorded = Recorded {
            bundle: "/srv/my web".into(),
            overrides: [
                "--env",
                "A=1 2",
                "--memory",
                "64M",
                "--",
                "sh",
                "-c",
                "echo $HOME",
            ]
            .map(String::from)
            .to_vec(),
            terminal: false,
        };
        let globals = ["--root", "/run/x"].map(OsString::from);
        let id = "web".parse().unwrap();
        let unit = render(&globals, &id, &recorded, &request(Start::Run)).unwrap();
        let text = &unit.text;
        assert_eq!(
            line(text, "ExecStart="),
            "/usr/bin/ocictl --root /run/x run --bundle \"/srv/my web\" --env \"A=1 2\" \
             --memory 64M web -- sh -c \"echo $$HOME\""
        );
        assert_eq!(
            line(text, "ExecStop="),
            "/usr/bin/ocictl --root /run/x stop --time 10 web"
        );
        assert_eq!(
            line(text, "ExecStartPre="),
            "-/usr/bin/ocictl --root /run/x delete --force web"
        );
        assert_eq!(line(text, "ExecStopPost="), line(text, "ExecStartPre="));
        assert_eq!(line(text, "Restart="), "on-failure");
        assert_eq!(line(text, "TimeoutStopSec="), "70");
        assert_eq!(line(text, "Type="), "exec");
        assert!(!text.contains("EnvironmentFile="), "{text}");

        // By default the values stay out of the unit: names only, the
        // values from a root-only file.
        let hidden = UnitRequest {
            show_env: false,
            ..request(Start::Run)
        };
        let text = render(&globals, &id, &recorded, &hidden).unwrap().text;
        assert!(!text.contains("1 2"), "{text}");
        assert_eq!(
            line(&text, "ExecStart="),
            "/usr/bin/ocictl --root /run/x run --bundle \"/srv/my web\" --env A \
             --memory 64M web -- sh -c \"echo $$HOME\""
        );
        assert_eq!(
            line(&text, "EnvironmentFile="),
            "/etc/ocictl/ocictl-web.env"
        );
    }

    #[test]
    fn a_restore_unit_restores_the_latest_image() {
        let recorded = Recorded {
            bundle: "/srv/web".into(),
            overrides: Vec::new(),
            terminal: true,
        };
        let id = "web".parse().unwrap();
        let root = PathBuf::from("/var/lib/ocictl/100%");
        let mut req = request(Start::Restore { image_root: root });
        req.restart = RestartPolicy::Always;
        req.stop_time = 5;
        let unit = render(&[], &id, &recorded, &req).unwrap();
        assert_eq!(
            line(&unit.text, "ExecStart="),
            "/usr/bin/ocictl restore --image-root /var/lib/ocictl/100%% --latest --bundle /srv/web web"
        );
        assert_eq!(line(&unit.text, "Restart="), "always");
        assert_eq!(line(&unit.text, "TimeoutStopSec="), "65");
        assert!(unit.text.contains("started with -t"), "{}", unit.text);
    }

    #[test]
    fn restart_policies_parse_by_systemd_name() {
        for name in RestartPolicy::NAMES {
            assert_eq!(name.parse::<RestartPolicy>().unwrap().name(), *name);
        }
        assert!("sometimes".parse::<RestartPolicy>().is_err());
    }
}
