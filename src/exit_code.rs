//! ocictl's exit codes, beside the runtime's and the container's own: the
//! command line's policy (the driver reports kinds and statuses, not codes).
//! Documented in the README; tests assert them.

/// A generic failure of ocictl itself (bad bundle, unreadable file, a
/// runtime answer that cannot be read).
pub const FAILURE: i32 = 1;
/// The command line is wrong (clap's own code).
pub const USAGE: i32 = 2;
/// Another ocictl holds this container's checkpoint lock (EX_TEMPFAIL).
pub const LOCKED: i32 = 75;
/// The runtime did not answer within `--timeout`, as `timeout(1)` reports.
pub const TIMED_OUT: i32 = 124;
/// The runtime binary exists but cannot be executed, as the shell reports.
pub const RUNTIME_NOT_EXECUTABLE: i32 = 126;
/// The runtime binary was not found, as the shell reports.
pub const RUNTIME_NOT_FOUND: i32 = 127;

/// The exit code that best reports a driver error from a command line: the
/// runtime's own status when it ran and failed, the shell's conventions for
/// a runtime that cannot run (127, 126) or did not answer (124).
pub fn of_runtime_error(e: &ocictl::runtime::Error) -> i32 {
    use ocictl::runtime::Error;
    match e {
        Error::RuntimeNotFound { .. } => RUNTIME_NOT_FOUND,
        Error::RuntimeNotExecutable { .. } => RUNTIME_NOT_EXECUTABLE,
        Error::Failed { status, .. } => match status.shell_code() {
            0 => FAILURE,
            code => code,
        },
        Error::TimedOut { .. } => TIMED_OUT,
        _ => FAILURE,
    }
}

/// The exit code of a command given several containers (`stop a b c`,
/// `delete -f a b c`, `kill a b c TERM`), each attempted: 0 when all
/// succeeded, else the first failure's code in the order given, so a
/// script sees what that container alone would have given.
pub fn of_several(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().find(|&c| c != 0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn several_give_the_first_failure() {
        assert_eq!(super::of_several([0, 0]), 0);
        assert_eq!(super::of_several([0, 1, 127]), 1);
        assert_eq!(super::of_several([124, 1]), 124);
    }
}
