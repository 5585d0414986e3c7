//! Signals as operators type them: `KILL`, `SIGKILL`, `kill`, `9`, `RTMIN+3`.

use std::fmt;
use std::str::FromStr;

/// A signal number, valid on this platform (1..=SIGRTMAX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

/// Standard signal names without the `SIG` prefix, as runc knows them.
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The highest signal number the kernel has (a number up to it is always
/// accepted, as runc accepts it).
const MAX: i32 = 64;

/// `RTMIN` as userspace counts it: glibc's SIGRTMIN (34; 32 and 33 are
/// glibc's own), which bash, systemd and Docker mean by `RTMIN+N` (systemd
/// halts on RTMIN+3 = 37).
fn rtmin() -> i32 {
    libc::SIGRTMIN()
}

/// `RTMAX` as glibc counts it (64).
fn rtmax() -> i32 {
    libc::SIGRTMAX()
}

/// Why a signal could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal {input:?}: use a name like TERM, SIGKILL or HUP, or a number from 1 to {MAX}"
)]
pub struct ParseSignalError {
    input: String,
}

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// The signal with this number, if the number is one. 0 is kept, as
    /// runc keeps it: `kill ID 0` only checks that the process exists.
    pub fn from_number(n: i32) -> Option<Signal> {
        (0..=MAX).contains(&n).then_some(Signal(n))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// The canonical name with the `SIG` prefix (`SIGKILL`, `SIGRTMIN+3`),
    /// as bash's `kill -l` names it; the bare number for 0 and for the
    /// real-time signals glibc keeps for itself (32, 33), which have none.
    pub fn name(self) -> String {
        if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == self.0) {
            return format!("SIG{name}");
        }
        match self.0 {
            n if n == rtmin() => "SIGRTMIN".into(),
            n if n == rtmax() => "SIGRTMAX".into(),
            n if n > rtmin() && n < rtmax() => format!("SIGRTMIN+{}", n - rtmin()),
            n => n.to_string(),
        }
    }

    /// Every standard name, for completion and help.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(name, _)| *name)
    }
}

impl FromStr for Signal {
    type Err = ParseSignalError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || ParseSignalError {
            input: input.to_string(),
        };
        let trimmed = input.trim();
        if let Ok(n) = trimmed.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(err);
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if bare == "0" {
            // `SIG0`, the name the JSON contract gives the null signal.
            return Ok(Signal(0));
        }
        if let Some((_, n)) = NAMES.iter().find(|(name, _)| *name == bare) {
            return Ok(Signal(*n));
        }
        let rt = |rest: &str, base: i32, sign: i32| -> Option<Signal> {
            let offset = if rest.is_empty() {
                0
            } else {
                rest.strip_prefix(if sign > 0 { '+' } else { '-' })?
                    .parse::<i32>()
                    .ok()?
            };
            // Checked: `RTMIN+2147483647` is not a signal, not an overflow.
            let n = base.checked_add(sign.checked_mul(offset)?)?;
            (rtmin()..=rtmax()).contains(&n).then_some(Signal(n))
        };
        if let Some(rest) = bare.strip_prefix("RTMIN") {
            return rt(rest, rtmin(), 1).ok_or_else(err);
        }
        if let Some(rest) = bare.strip_prefix("RTMAX") {
            return rt(rest, rtmax(), -1).ok_or_else(err);
        }
        Err(err())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_spelling_runc_accepts() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "9", " 9 "] {
            assert_eq!(s.parse::<Signal>().unwrap(), Signal::KILL, "{s}");
        }
        assert_eq!("hup".parse::<Signal>().unwrap().number(), libc::SIGHUP);
        assert_eq!("SIGRTMAX-1".parse::<Signal>().unwrap().number(), 63);
        assert_eq!("64".parse::<Signal>().unwrap().name(), "SIGRTMAX");
        assert_eq!("0".parse::<Signal>().unwrap().number(), 0);
    }

    /// Counted as bash (`kill -l RTMIN+3` is 37), glibc, systemd and Docker
    /// count: from glibc's SIGRTMIN, 34.
    #[test]
    fn real_time_signals_count_from_glibcs_rtmin() {
        let n = |s: &str| s.parse::<Signal>().unwrap().number();
        assert_eq!(n("RTMIN"), 34);
        assert_eq!(n("RTMIN+3"), 37);
        assert_eq!(n("SIGRTMIN+30"), 64);
        assert_eq!(n("RTMAX"), 64);
        assert_eq!(n("RTMAX-30"), 34);
        assert_eq!(Signal(37).name(), "SIGRTMIN+3");
        assert_eq!(Signal(34).name(), "SIGRTMIN");
        // glibc's own: sendable by number, named by number.
        assert_eq!(Signal(32).name(), "32");
        assert_eq!(n("33"), 33);
        for s in ["RTMIN+31", "RTMAX-31", "RTMIN-1"] {
            assert!(s.parse::<Signal>().is_err(), "{s}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for s in [
            "", "65", "-9", "BOGUS", "SIG", "RTMIN+40", "KILL9", "RTMIN+31",
        ] {
            let err = s.parse::<Signal>().unwrap_err();
            assert!(err.to_string().contains("unknown signal"), "{s}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=64 {
            let sig = Signal::from_number(n).unwrap();
            assert_eq!(sig.name().parse::<Signal>().unwrap(), sig);
        }
    }
}
