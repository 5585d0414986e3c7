//! Container IDs, validated the way runc validates them before anything runs.

use std::fmt;
use std::str::FromStr;

/// A container ID that runc will accept: letters, digits and `_ + - .`,
/// not `.` or `..`, and short enough to be a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ContainerId(String);

/// Longer IDs cannot be a directory name under the runtime's root.
const MAX_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    #[error("a container ID cannot be empty")]
    Empty,
    #[error("{0:?} is not a valid container ID: `.` and `..` are reserved")]
    Dots(String),
    #[error("{id:?} is not a valid container ID: {c:?} is not allowed (use letters, digits, `_`, `+`, `-` and `.`)")]
    BadChar { id: String, c: char },
    #[error("container ID is {0} characters long: use at most {MAX_LEN}")]
    TooLong(usize),
    #[error(
        "{0:?} is not a valid container ID: it cannot start with `-` (it would read as an option)"
    )]
    LeadingDash(String),
    #[error("{0:?} is not a valid container ID: it is not UTF-8 text (use letters, digits, `_`, `+`, `-` and `.`)")]
    NotUtf8(String),
}

impl ContainerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ContainerId {
    type Err = InvalidId;

    fn from_str(id: &str) -> Result<Self, InvalidId> {
        if id.is_empty() {
            return Err(InvalidId::Empty);
        }
        if id.len() > MAX_LEN {
            return Err(InvalidId::TooLong(id.chars().count()));
        }
        if id == "." || id == ".." {
            return Err(InvalidId::Dots(id.to_string()));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_+-.".contains(*c)))
        {
            return Err(InvalidId::BadChar {
                id: id.to_string(),
                c,
            });
        }
        if id.starts_with('-') {
            return Err(InvalidId::LeadingDash(id.to_string()));
        }
        Ok(ContainerId(id.to_string()))
    }
}

impl ContainerId {
    /// Validate an ID straight from the command line, where it may not even
    /// be UTF-8 (the error then shows it with the bad bytes replaced).
    pub fn from_os_str(id: &std::ffi::OsStr) -> Result<Self, InvalidId> {
        match id.to_str() {
            Some(s) => s.parse(),
            None => Err(InvalidId::NotUtf8(id.to_string_lossy().into_owned())),
        }
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<std::ffi::OsStr> for ContainerId {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids() {
        for id in ["a", "demo", "web-1", "a.b", "x_y+z", "0", "..a", "a.."] {
            assert_eq!(id.parse::<ContainerId>().unwrap().as_str(), id);
        }
    }

    #[test]
    fn invalid_ids() {
        let long = "a".repeat(1000);
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "a;b",
            "$(x)",
            "a\nb",
            "é",
            "-x",
            long.as_str(),
        ] {
            assert!(id.parse::<ContainerId>().is_err(), "{id:?}");
        }
    }

    #[test]
    fn non_utf8_ids_are_refused_by_name() {
        use std::os::unix::ffi::OsStrExt;
        let err = ContainerId::from_os_str(std::ffi::OsStr::from_bytes(b"a\xffb")).unwrap_err();
        assert_eq!(err, InvalidId::NotUtf8("a\u{fffd}b".into()));
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
