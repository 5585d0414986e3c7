//! A hand parser for the common shape of the hot commands: `state ID`,
//! `kill [-a] ID [SIGNAL]`, `list [-q] [-f F]`, `pause ID`, `resume ID`,
//! `ps [-f F] ID`, `-v`/`--version`, with the global flags runc's callers
//! pass (`--root R --log F --log-format json …`) before or after the
//! subcommand's name.
//!
//! Building clap's definition of even one subcommand (its global options
//! copied into it, each `Arg` with boxed parsers and owned strings) and
//! matching against it was most of what ocictl did before starting the
//! runtime. This parser builds the same typed value directly, with the
//! same value parsers, and gives up (`None`) on anything it does not fully
//! understand: help, unknown or repeated flags, `--`, words that start with
//! a dash where it expects a value or an operand, one-dash long flags
//! (runc's spellings), non-UTF-8 words, errors of any kind. clap then
//! parses the same argv and stays the authority for help, errors,
//! completions and man pages. The property test below checks, on
//! generated argv, that whenever this parser answers, clap gives an equal
//! value; it never accepts what clap refuses.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{self, Cli, Given, GlobalOpts, Parsed};
use crate::commands::{self, Command};
use crate::output::Format;
use ocictl::runtime::ContainerId;
use ocictl::signal::Signal;

/// `args` (argv[0] first, after `cli::bare_rootless_means_true`) as clap
/// would parse them, or `None` to let clap do it.
pub fn parse(args: &[OsString]) -> Option<Parsed> {
    let mut words = Vec::with_capacity(args.len());
    for arg in args.iter().skip(1) {
        words.push(arg.to_str()?);
    }
    let mut parser = HandParser {
        global: GlobalOpts::defaults(),
        given: Given::default(),
        seen: 0,
        hot: None,
        short: ShortFlags::default(),
        operands: Vec::new(),
        rootless_value_word: false,
    };
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        if parser.hot.is_none() && (word == "-v" || word == "--version") {
            // `runc -v`: the rewrite makes it `version --runtime-lines`,
            // followed by whatever came after (only nothing is ordinary).
            // It takes `--rootless V` for a flag and a subcommand `V`, and
            // rewrites nothing after that.
            if words.next().is_some() || parser.rootless_value_word {
                return None;
            }
            return parser.finish_version();
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            parser.long_flag(name, inline, &mut words)?;
        } else if word.starts_with('-') {
            parser.short_flag(word, &mut words)?;
        } else if parser.hot.is_none() {
            parser.hot = Some(Hot::named(word)?);
        } else {
            // `ps ID PS_ARGS…` takes the rest raw: leave that to clap.
            if parser.hot == Some(Hot::Ps) && !parser.operands.is_empty() {
                return None;
            }
            parser.operands.push(word);
        }
    }
    parser.finish()
}

/// The subcommands parsed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hot {
    State,
    Kill,
    List,
    Pause,
    Resume,
    Ps,
}

impl Hot {
    fn named(word: &str) -> Option<Hot> {
        Some(match word {
            "state" => Hot::State,
            "kill" => Hot::Kill,
            "list" | "ls" => Hot::List,
            "pause" => Hot::Pause,
            "resume" => Hot::Resume,
            "ps" => Hot::Ps,
            _ => return None,
        })
    }

    /// The subcommand's own name, as clap reports it.
    fn name(self) -> &'static str {
        match self {
            Hot::State => "state",
            Hot::Kill => "kill",
            Hot::List => "list",
            Hot::Pause => "pause",
            Hot::Resume => "resume",
            Hot::Ps => "ps",
        }
    }
}

/// The subcommands' own flags: `kill -a/--all`, `list -q/--quiet`,
/// `list -f F`, `ps -f F`.
#[derive(Debug, Default)]
struct ShortFlags {
    all: Option<bool>,
    quiet: Option<bool>,
    format: Option<Format>,
}

struct HandParser<'a> {
    global: GlobalOpts,
    given: Given,
    /// The global flags seen (bit = `Global as u16`): a repeated one is
    /// clap's error to report.
    seen: u16,
    hot: Option<Hot>,
    short: ShortFlags,
    operands: Vec<&'a str>,
    /// `--rootless V` was given with V as a word of its own.
    rootless_value_word: bool,
}

/// The global options, by the bit that marks them seen.
#[derive(Debug, Clone, Copy)]
enum Global {
    Runtime,
    Root,
    Debug,
    Log,
    LogFormat,
    SystemdCgroup,
    Rootless,
    Criu,
    PdeathSignal,
    Setpgid,
    Monitor,
    Timeout,
    Format,
}

impl Global {
    fn named(name: &str) -> Option<Global> {
        Some(match name {
            "runtime" => Global::Runtime,
            "root" => Global::Root,
            "debug" => Global::Debug,
            "log" => Global::Log,
            "log-format" => Global::LogFormat,
            "systemd-cgroup" => Global::SystemdCgroup,
            "rootless" => Global::Rootless,
            "criu" => Global::Criu,
            "pdeath-signal" => Global::PdeathSignal,
            "setpgid" => Global::Setpgid,
            "monitor" => Global::Monitor,
            "timeout" => Global::Timeout,
            "format" => Global::Format,
            _ => return None,
        })
    }
}

/// A value-enum option's value, spelled as clap accepts it (aliases
/// included, case exact).
fn value_enum<T: clap::ValueEnum>(value: &str) -> Option<T> {
    T::from_str(value, false).ok()
}

impl<'a> HandParser<'a> {
    /// `--NAME[=VALUE]`, its value from the next word when it needs one.
    fn long_flag(
        &mut self,
        name: &str,
        inline: Option<&'a str>,
        words: &mut impl Iterator<Item = &'a str>,
    ) -> Option<()> {
        let Some(global) = Global::named(name) else {
            return self.own_long_flag(name, inline);
        };
        let bit = 1u16 << global as u16;
        if self.seen & bit != 0 {
            return None;
        }
        self.seen |= bit;
        let g = &mut self.global;
        // A bare flag takes no `=VALUE`; an option's value is its own word
        // or the next one, and one that is empty or looks like a flag is
        // left to clap.
        let mut value = || {
            let value = match inline {
                Some(value) => value,
                None => words.next()?,
            };
            (!value.is_empty() && !value.starts_with('-')).then_some(value)
        };
        match global {
            Global::Debug | Global::SystemdCgroup | Global::Setpgid => {
                if inline.is_some() {
                    return None;
                }
                match global {
                    Global::Debug => g.debug = true,
                    Global::SystemdCgroup => g.systemd_cgroup = true,
                    _ => g.setpgid = true,
                }
            }
            Global::Rootless => {
                // `--rootless[=V]`: a bare one that is not last was made
                // `--rootless=true` already when clap would misread it.
                g.rootless = Some(match inline {
                    Some(v) => value_enum(v)?,
                    None => match words.next() {
                        None => cli::Rootless::True,
                        Some(v) => {
                            self.rootless_value_word = true;
                            value_enum(v)?
                        }
                    },
                });
            }
            Global::Runtime => {
                g.runtime = PathBuf::from(value()?);
                self.given.runtime = true;
            }
            Global::Root => {
                g.root = Some(cli::parse_root_arg(value()?).ok()?);
                self.given.root = true;
            }
            Global::Log => g.log = Some(PathBuf::from(value()?)),
            Global::LogFormat => g.log_format = Some(value_enum(value()?)?),
            Global::Criu => g.criu = Some(PathBuf::from(value()?)),
            Global::PdeathSignal => g.pdeath_signal = Some(value()?.parse::<Signal>().ok()?),
            Global::Monitor => {
                g.monitor = value_enum(value()?)?;
                self.given.monitor = true;
            }
            Global::Timeout => {
                g.timeout = cli::parse_timeout_arg(value()?).ok()?;
                self.given.timeout = true;
            }
            Global::Format => {
                g.format = value_enum(value()?)?;
                self.given.format = true;
            }
        }
        Some(())
    }

    /// `kill --all`, `list --quiet`.
    fn own_long_flag(&mut self, name: &str, inline: Option<&str>) -> Option<()> {
        if inline.is_some() {
            return None;
        }
        match (self.hot?, name) {
            (Hot::Kill, "all") => set_once(&mut self.short.all, true),
            (Hot::List, "quiet") => set_once(&mut self.short.quiet, true),
            _ => None,
        }
    }

    /// `-a`, `-q`, `-f F`: one flag to a word (clusters and attached
    /// values are clap's).
    fn short_flag(&mut self, word: &str, words: &mut impl Iterator<Item = &'a str>) -> Option<()> {
        match (self.hot?, word) {
            (Hot::Kill, "-a") => set_once(&mut self.short.all, true),
            (Hot::List, "-q") => set_once(&mut self.short.quiet, true),
            (Hot::List | Hot::Ps, "-f") => {
                let value = words.next().filter(|v| !v.starts_with('-'))?;
                set_once(&mut self.short.format, value_enum(value)?)
            }
            _ => None,
        }
    }

    fn finish(self) -> Option<Parsed> {
        let hot = self.hot?;
        let id = |operand: Option<&&str>| -> Option<ContainerId> { operand?.parse().ok() };
        let ops = &self.operands;
        let short = &self.short;
        // Flags another subcommand has were refused as they came.
        let command = match (hot, ops.len()) {
            (Hot::State, 1) => Command::State(commands::State {
                id: id(ops.first())?,
            }),
            (Hot::Pause, 1) => Command::Pause(commands::Pause {
                id: id(ops.first())?,
            }),
            (Hot::Resume, 1) => Command::Resume(commands::Resume {
                id: id(ops.first())?,
            }),
            // Only runc's shape, `kill ID [SIGNAL]` with a valid ID and
            // signal; several IDs and `-s` are clap's.
            (Hot::Kill, 1 | 2) => {
                id(ops.first())?;
                if let Some(signal) = ops.get(1) {
                    signal.parse::<Signal>().ok()?;
                }
                Command::Kill(commands::Kill {
                    all: short.all.unwrap_or(false),
                    signal_flag: None,
                    targets: ops.iter().map(OsString::from).collect(),
                })
            }
            (Hot::List, 0) => Command::List(commands::List {
                format_short: short.format,
                quiet: short.quiet.unwrap_or(false),
            }),
            (Hot::Ps, 1) => Command::Ps(commands::Ps {
                format_short: short.format,
                id: id(ops.first())?,
                ps_args: Vec::new(),
            }),
            _ => return None,
        };
        Some(self.parsed(command, hot.name()))
    }

    fn finish_version(self) -> Option<Parsed> {
        let version = commands::Version {
            runtime_lines: true,
        };
        Some(self.parsed(Command::Version(version), "version"))
    }

    fn parsed(self, command: Command, name: &str) -> Parsed {
        Parsed {
            cli: Cli {
                global: self.global,
                command,
            },
            subcommand: name.to_string(),
            given: self.given,
        }
    }
}

/// Set a flag given once; a second time is clap's error to report.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both parsers on `words` (argv[0] added), as `Cli::parse` runs them.
    fn both(words: &[String]) -> (Option<Parsed>, Result<Parsed, clap::Error>) {
        let args: Vec<OsString> = std::iter::once("ocictl".to_string())
            .chain(words.iter().cloned())
            .map(OsString::from)
            .collect();
        let args = cli::bare_rootless_means_true(args);
        (parse(&args), cli::parse_with_clap(args))
    }

    /// The property: the hand parser answers only where clap agrees.
    fn check(words: &[String]) -> Result<(), TestCaseError> {
        let (hand, clap) = both(words);
        if let Some(hand) = hand {
            let clap = clap.map_err(|e| {
                TestCaseError::fail(format!(
                    "hand parser accepted {words:?}, clap refused: {}",
                    e.render()
                ))
            })?;
            prop_assert_eq!(format!("{hand:?}"), format!("{clap:?}"), "argv {:?}", words);
        }
        Ok(())
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_hot_shapes_are_parsed_by_hand_as_clap_parses_them() {
        for argv in [
            &["state", "c1"][..],
            &["--root", "/tmp", "state", "c1"],
            &[
                "--root=/tmp",
                "--log",
                "/l.json",
                "--log-format",
                "json",
                "kill",
                "c",
                "9",
            ],
            &["kill", "-a", "c", "KILL"],
            &["kill", "c", "--all"],
            &["kill", "c"],
            &["list"],
            &["ls", "-q", "--format", "json"],
            &["list", "-f", "json"],
            &["--systemd-cgroup", "pause", "c"],
            &["resume", "c", "--debug"],
            &["ps", "-f", "json", "c"],
            &["ps", "c"],
            &["-v"],
            &["--version"],
            &["--root", "/tmp", "-v"],
            &["--rootless", "state", "c"],
            &["--rootless", "false", "state", "c"],
            &["state", "c", "--rootless"],
            &[
                "--timeout",
                "5s",
                "--monitor",
                "never",
                "--format",
                "text",
                "list",
            ],
            &[
                "--pdeath-signal",
                "KILL",
                "--setpgid",
                "--criu",
                "/c",
                "state",
                "c",
            ],
            &["--runtime", "/bin/crun", "state", "list"],
        ] {
            let words = words(argv);
            let (hand, _) = both(&words);
            assert!(hand.is_some(), "not parsed by hand: {argv:?}");
            check(&words).unwrap();
        }
    }

    #[test]
    fn anything_unusual_is_left_to_clap() {
        for argv in [
            &[][..],
            &["--help"],
            &["state", "--help"],
            &["-h"],
            &["-V"],
            &["state"],
            &["state", "a", "b"],
            &["state", "--", "c"],
            &["state", "-x"],
            &["-root", "/tmp", "state", "c"],
            &["--root", "/etc/passwd", "state", "c"],
            &["--debug", "--debug", "state", "c"],
            &["--debug=true", "state", "c"],
            &["kill", "c", "NOPE"],
            &["kill", "c", "-9"],
            &["kill", "-a", "-a", "c"],
            &["kill", "c1", "c2", "9"],
            &["kill", "-s", "9", "c"],
            &["list", "-qf", "json"],
            &["list", "-fjson"],
            &["list", "c"],
            &["ps", "c", "-o", "pid"],
            &["ps", "c", "aux"],
            &["-v", "extra"],
            &["state", "-v"],
            &["create", "c"],
            &["--format", "yaml", "list"],
            &["--root", "", "list"],
            &["--log", "--debug", "list"],
        ] {
            let words = words(argv);
            let (hand, _) = both(&words);
            assert!(hand.is_none(), "parsed by hand: {argv:?}");
        }
    }

    /// The shapes the hand parser is for.
    const HOT_SHAPES: &[&[&str]] = &[
        &["state", "c1"],
        &["kill", "c1"],
        &["kill", "c1", "KILL"],
        &["kill", "-a", "c1", "0"],
        &["kill", "c1", "--all", "9"],
        &["list"],
        &["ls", "-q"],
        &["list", "-f", "json"],
        &["pause", "c1"],
        &["resume", "c1"],
        &["ps", "c1"],
        &["ps", "-f", "json", "c1"],
        &["-v"],
    ];

    /// Every hot shape with each of these words (or pairs) inserted at
    /// each place: a deterministic sweep of what a single extra word does.
    #[test]
    fn one_more_word_anywhere_agrees() {
        let flags = [
            "--runtime",
            "--root",
            "--log",
            "--log-format",
            "--rootless",
            "--criu",
            "--pdeath-signal",
            "--monitor",
            "--timeout",
            "--format",
            "-f",
        ];
        let values = [
            "/tmp",
            "/etc/passwd",
            "",
            "json",
            "text",
            "true",
            "5s",
            "KILL",
            "-x",
        ];
        let mut inserts: Vec<Vec<String>> = Vec::new();
        for flag in flags {
            inserts.push(words(&[flag]));
            for value in values {
                inserts.push(words(&[flag, value]));
                inserts.push(vec![format!("{flag}={value}")]);
            }
        }
        for word in [
            "--debug",
            "--systemd-cgroup",
            "--setpgid",
            "--all",
            "--quiet",
            "--debug=true",
            "-a",
            "-q",
            "-aq",
            "-v",
            "--version",
            "-V",
            "--help",
            "-h",
            "--",
            "-",
            "--nope",
            "-root",
            "-debug",
            "c2",
            "9",
            "TERM",
            "list",
            "state",
            "-9",
        ] {
            inserts.push(words(&[word]));
        }
        for shape in HOT_SHAPES {
            for insert in &inserts {
                for at in 0..=shape.len() {
                    let mut argv = words(shape);
                    argv.splice(at..at, insert.iter().cloned());
                    check(&argv).unwrap();
                }
            }
        }
    }

    /// Words from which argv are drawn: global flags with good and bad
    /// values (joined with `=` or not), the subcommands and their flags,
    /// IDs (some looking like flags, signals or subcommands), and noise.
    fn word() -> impl Strategy<Value = Vec<String>> {
        let one = |w: &'static str| Just(vec![w.to_string()]);
        let pair = |a: &'static str, b: &'static str| Just(vec![a.to_string(), b.to_string()]);
        let value = prop_oneof![
            Just("/tmp"),
            Just("/nonexistent/dir"),
            Just("/etc/passwd"),
            Just(""),
            Just("json"),
            Just("text"),
            Just("human"),
            Just("table"),
            Just("yaml"),
            Just("JSON"),
            Just("true"),
            Just("false"),
            Just("auto"),
            Just("always"),
            Just("never"),
            Just("5s"),
            Just("0s"),
            Just("-1s"),
            Just("KILL"),
            Just("9"),
            Just("0"),
            Just("--debug"),
            Just("state"),
            Just("a=b"),
        ];
        let flag = prop_oneof![
            Just("--runtime"),
            Just("--root"),
            Just("--log"),
            Just("--log-format"),
            Just("--rootless"),
            Just("--criu"),
            Just("--pdeath-signal"),
            Just("--monitor"),
            Just("--timeout"),
            Just("--format"),
            Just("-f"),
            Just("--debug"),
            Just("--systemd-cgroup"),
            Just("--setpgid"),
            Just("--all"),
            Just("--quiet"),
            Just("-root"),
        ];
        let with_value = (flag.clone(), value.clone(), any::<bool>()).prop_map(|(f, v, joined)| {
            if joined {
                vec![format!("{f}={v}")]
            } else {
                vec![f.to_string(), v.to_string()]
            }
        });
        prop_oneof![
            4 => with_value,
            2 => flag.prop_map(|f| vec![f.to_string()]),
            3 => prop_oneof![
                one("state"), one("kill"), one("list"), one("ls"), one("pause"),
                one("resume"), one("ps"), one("version"), one("delete"), one("stats"),
                one("stop"), one("inspect"),
            ],
            3 => prop_oneof![
                one("c1"), one("web-1"), one("a.b"), one("-c"), one("..a"), one("9"),
                one("KILL"), one("SIGUSR1"), one("RTMIN+1"), one("list"), one("x/y"),
                one("a=b"), one(""), one("é"),
            ],
            2 => prop_oneof![
                one("-a"), one("-q"), one("-aq"), one("-v"), one("--version"), one("-V"),
                one("--help"), one("-h"), one("--"), one("-"), one("--nope"),
                pair("-f", "json"), one("-fjson"), pair("-o", "pid"), pair("-s", "TERM"),
                pair("--signal", "9"),
            ],
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn whenever_the_hand_parser_answers_clap_agrees(
            parts in prop::collection::vec(word(), 0..7)
        ) {
            let words: Vec<String> = parts.into_iter().flatten().collect();
            check(&words)?;
        }

        /// The shapes the hand parser is for, with words inserted in
        /// every place clap takes global flags: most of these are answered
        /// by hand, so the agreement is checked where it matters.
        #[test]
        fn hot_shapes_with_global_flags_anywhere_agree(
            shape in prop::sample::select(HOT_SHAPES),
            inserts in prop::collection::vec((word(), 0usize..8), 0..4),
        ) {
            let mut words = words(shape);
            for (insert, at) in inserts {
                let at = at.min(words.len());
                words.splice(at..at, insert);
            }
            check(&words)?;
        }
    }
}
