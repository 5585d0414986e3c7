//! A small builder for a runtime subcommand's arguments, so every option
//! type turns into argv the same way: flags only when set, paths absolute.

use std::ffi::{OsStr, OsString};
use std::path::Path;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args(Vec<OsString>);

impl Args {
    /// Start with the subcommand's name.
    pub fn subcommand(name: &str) -> Args {
        Args(vec![name.into()])
    }

    /// A bare word (a positional argument).
    pub fn arg(&mut self, word: impl AsRef<OsStr>) -> &mut Self {
        self.0.push(word.as_ref().to_os_string());
        self
    }

    /// `--name` when `on`.
    pub fn flag(&mut self, name: &str, on: bool) -> &mut Self {
        if on {
            self.0.push(format!("--{name}").into());
        }
        self
    }

    /// `--name VALUE` when there is a value.
    pub fn value(&mut self, name: &str, value: Option<impl AsRef<OsStr>>) -> &mut Self {
        if let Some(v) = value {
            self.0.push(format!("--{name}").into());
            self.0.push(v.as_ref().to_os_string());
        }
        self
    }

    /// `--name VALUE` once per value.
    pub fn values<V: AsRef<OsStr>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for v in values {
            self.value(name, Some(v));
        }
        self
    }

    /// `--name /absolute/path`: the runtime may run in another directory.
    pub fn path(&mut self, name: &str, path: Option<&Path>) -> &mut Self {
        self.value(name, path.map(absolute))
    }

    pub fn into_vec(self) -> Vec<OsString> {
        self.0
    }
}

/// `path` made absolute against the current directory, without touching the
/// filesystem (symlinks stay as the user wrote them).
pub fn absolute(path: &Path) -> OsString {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .into_os_string()
}
