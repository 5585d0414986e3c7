//! runc's flag spelling, turned into clap's before parsing: runc's CLI
//! library (urfave/cli on Go's `flag` package) accepts every long flag with
//! one dash as well as two (`-pid-file x`, `-no-subreaper`, `-bundle=x`,
//! `-root /x` before the subcommand), and `-v`/`--version` at the top
//! print the runtime's version. Scripts and clients (go-runc spells
//! `-no-subreaper`) rely on both, so the argv is rewritten once: a
//! single-dash word whose name is a long flag of the command at hand gets
//! its second dash. Short flags and their clusters (`-d`, `-it`,
//! `-p FILE`), flag values and everything after `--` or after the first
//! argument of a command that takes a trailing command (`exec ID CMD…`)
//! are left alone.
//!
//! The flag sets come from the clap definitions themselves: the root's
//! (global flags) and the one subcommand named, which the caller then
//! reuses for parsing, so nothing is built twice.

use std::collections::HashMap;
use std::ffi::OsString;

/// The hidden `version` flag that makes it print as `runc -v` does.
pub const RUNTIME_LINES_FLAG: &str = "--runtime-lines";

/// The flags of one command, as the rewrite needs them.
#[derive(Debug, Default)]
pub struct FlagSet {
    /// Long names (and aliases) -> whether the flag needs a value.
    longs: HashMap<String, bool>,
    /// Short names that need a value (`-p FILE`, `-e VAR`).
    value_shorts: Vec<char>,
    /// After its first argument, the rest is a command's argv.
    trailing_command: bool,
}

impl FlagSet {
    /// Add the flags of `cmd` (arguments only, not its subcommands).
    pub fn add(&mut self, cmd: &clap::Command) {
        for arg in cmd.get_arguments() {
            // A flag whose value is optional (`--rootless[=V]`) takes the
            // next word only if it is a value: never skip it here.
            let needs_value = arg.get_action().takes_values()
                && arg.get_num_args().is_none_or(|n| n.min_values() > 0);
            if arg.is_positional() {
                if arg.is_trailing_var_arg_set() {
                    self.trailing_command = true;
                }
                continue;
            }
            for long in arg.get_long_and_visible_aliases().into_iter().flatten() {
                self.longs.insert(long.to_string(), needs_value);
            }
            if let Some(aliases) = arg.get_all_aliases() {
                for long in aliases {
                    self.longs.insert(long.to_string(), needs_value);
                }
            }
            if needs_value {
                self.value_shorts
                    .extend(arg.get_short_and_visible_aliases().into_iter().flatten());
            }
        }
    }
}

/// What [`rewrite`] made of the argv.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub args: Vec<OsString>,
    /// The subcommand named (a name or an alias as given), if any.
    pub subcommand: Option<String>,
}

/// Rewrite `args` (argv[0] first) for clap. `globals` are the root's
/// flags; `subcommand(name)` gives the flags of a subcommand, or `None`
/// for a word that is not one (then nothing after it is touched).
pub fn rewrite(
    args: Vec<OsString>,
    globals: &FlagSet,
    mut subcommand: impl FnMut(&str) -> Option<FlagSet>,
) -> Rewritten {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut words = args.into_iter();
    out.extend(words.next());
    let mut sub: Option<FlagSet> = None;
    let mut sub_name = None;
    let mut positionals = 0usize;
    while let Some(word) = words.next() {
        let Some(text) = word.to_str().map(str::to_string) else {
            out.push(word);
            continue;
        };
        if text == "--" {
            out.push(word);
            break;
        }
        let flag_needs_value = |name: &str| -> Option<bool> {
            // clap adds `--help` itself, at build time.
            if name == "help" {
                return Some(false);
            }
            sub.as_ref()
                .and_then(|s| s.longs.get(name))
                .or_else(|| globals.longs.get(name))
                .copied()
        };
        if sub.is_none() && (text == "-v" || text == "--version" || text == "-version") {
            // `runc -v`: the runtime's version lines (and ocictl's).
            out.push("version".into());
            out.push(RUNTIME_LINES_FLAG.into());
            sub_name = Some("version".to_string());
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            out.push(word.clone());
            let (name, has_value) = split_value(long);
            if !has_value && flag_needs_value(name) == Some(true) {
                out.extend(words.next());
            }
            continue;
        }
        if let Some(body) = text.strip_prefix('-').filter(|b| !b.is_empty()) {
            let (name, has_value) = split_value(body);
            match flag_needs_value(name) {
                Some(needs_value) if name.chars().count() > 1 => {
                    out.push(format!("-{text}").into());
                    if needs_value && !has_value {
                        out.extend(words.next());
                    }
                }
                _ => {
                    out.push(word);
                    // A short cluster: a value-taking short flag takes the
                    // rest of the word, or else the next word.
                    let shorts = sub.as_ref().map_or(&[][..], |s| &s.value_shorts[..]);
                    let mut chars = body.chars();
                    while let Some(c) = chars.next() {
                        if shorts.contains(&c) || globals.value_shorts.contains(&c) {
                            if chars.as_str().is_empty() {
                                out.extend(words.next());
                            }
                            break;
                        }
                    }
                }
            }
            continue;
        }
        // A plain word: the subcommand's name, or an argument.
        out.push(word);
        match &sub {
            None => match subcommand(&text) {
                Some(flags) => {
                    sub = Some(flags);
                    sub_name = Some(text);
                }
                None => break,
            },
            Some(flags) => {
                positionals += 1;
                if flags.trailing_command && positionals >= 1 {
                    break;
                }
            }
        }
    }
    out.extend(words);
    Rewritten {
        args: out,
        subcommand: sub_name,
    }
}

/// Whether [`rewrite`] could change `args` at all: only a word before `--`
/// that is `-v`, `--version`, or one dash and two characters or more
/// (`-it`, `-root`) can be rewritten. A cheap scan, so that a plain call
/// builds no flag tables.
pub fn needs_rewrite(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|word| *word != "--")
        .filter_map(|word| word.to_str())
        .any(|w| {
            w == "-v"
                || w == "--version"
                || (w.starts_with('-') && !w.starts_with("--") && w.chars().count() >= 3)
        })
}

/// `name=value` -> (`name`, true); `name` -> (`name`, false).
fn split_value(word: &str) -> (&str, bool) {
    match word.split_once('=') {
        Some((name, _)) => (name, true),
        None => (word, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> (FlagSet, FlagSet) {
        let root = clap::Command::new("x")
            .arg(clap::Arg::new("root").long("root").num_args(1))
            .arg(
                clap::Arg::new("debug")
                    .long("debug")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("rootless")
                    .long("rootless")
                    .num_args(0..=1)
                    .default_missing_value("true"),
            );
        let exec = clap::Command::new("exec")
            .arg(
                clap::Arg::new("detach")
                    .short('d')
                    .long("detach")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("tty")
                    .short('t')
                    .long("tty")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("process")
                    .short('p')
                    .long("process")
                    .num_args(1),
            )
            .arg(clap::Arg::new("pid-file").long("pid-file").num_args(1))
            .arg(clap::Arg::new("id"))
            .arg(
                clap::Arg::new("cmd")
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true),
            );
        let mut g = FlagSet::default();
        g.add(&root);
        let mut e = FlagSet::default();
        e.add(&exec);
        (g, e)
    }

    fn run(words: &[&str]) -> Vec<String> {
        let (globals, exec) = flags();
        let mut exec = Some(exec);
        let args = words.iter().map(OsString::from).collect();
        rewrite(args, &globals, |name| {
            if name == "exec" {
                exec.take()
            } else {
                None
            }
        })
        .args
        .into_iter()
        .map(|w| w.into_string().unwrap())
        .collect()
    }

    #[test]
    fn single_dash_long_flags_get_two_dashes() {
        assert_eq!(
            run(&[
                "o",
                "-root",
                "/r",
                "-debug",
                "exec",
                "-pid-file",
                "p",
                "-tty",
                "c",
                "sh"
            ]),
            [
                "o",
                "--root",
                "/r",
                "--debug",
                "exec",
                "--pid-file",
                "p",
                "--tty",
                "c",
                "sh"
            ]
        );
        assert_eq!(
            run(&["o", "-root=/r", "exec", "-pid-file=p", "c"]),
            ["o", "--root=/r", "exec", "--pid-file=p", "c"]
        );
    }

    #[test]
    fn short_clusters_values_and_commands_are_left_alone() {
        // `-p` takes a value, so a value spelt like a flag stays a value.
        assert_eq!(
            run(&["o", "exec", "-it", "-p", "-root", "c", "sh", "-debug", "-tty"]),
            ["o", "exec", "-it", "-p", "-root", "c", "sh", "-debug", "-tty"]
        );
        assert_eq!(
            run(&["o", "--root", "-debug", "exec", "-dp-root", "c"]),
            ["o", "--root", "-debug", "exec", "-dp-root", "c"]
        );
        assert_eq!(
            run(&["o", "exec", "--", "-tty"]),
            ["o", "exec", "--", "-tty"]
        );
        // An unknown word is not a subcommand: nothing after it changes.
        assert_eq!(run(&["o", "nope", "-debug"]), ["o", "nope", "-debug"]);
        // A flag with an optional value never swallows the next word.
        assert_eq!(
            run(&["o", "-rootless", "exec", "-tty", "c"]),
            ["o", "--rootless", "exec", "--tty", "c"]
        );
    }

    #[test]
    fn the_scan_finds_every_word_the_rewrite_would_change() {
        let cases: &[&[&str]] = &[
            &["o", "state", "c"],
            &["o", "kill", "c", "-9"],
            &["o", "--root", "/r", "list", "-q"],
            &["o", "exec", "c", "--", "-tty"],
            &["o", "exec", "-it", "c", "sh"],
            &["o", "-root", "/r", "list"],
            &["o", "-v"],
            &["o", "--version"],
            &["o", "exec", "-pid-file=p", "c"],
        ];
        for words in cases {
            let args: Vec<OsString> = words.iter().map(OsString::from).collect();
            let changed = run(words) != *words;
            assert!(
                !changed || needs_rewrite(&args),
                "{words:?} is rewritten but the scan missed it"
            );
        }
        let plain = |w: &[&str]| needs_rewrite(&w.iter().map(OsString::from).collect::<Vec<_>>());
        assert!(!plain(&["o", "state", "c"]));
        assert!(!plain(&["o", "kill", "c", "-9"]));
        assert!(!plain(&["o", "exec", "c", "--", "-tty"]));
    }

    #[test]
    fn version_flags_at_the_top_ask_for_the_runtime_lines() {
        for v in ["-v", "--version", "-version"] {
            assert_eq!(
                run(&["o", "--root", "/r", v]),
                ["o", "--root", "/r", "version", RUNTIME_LINES_FLAG]
            );
        }
        assert_eq!(run(&["o", "-help"]), ["o", "--help"]);
        assert_eq!(run(&["o", "exec", "-help"]), ["o", "exec", "--help"]);
        // After a subcommand, -v is that subcommand's business.
        assert_eq!(run(&["o", "exec", "-v"]), ["o", "exec", "-v"]);
    }
}
