//! The image config's process settings (`Entrypoint`, `Cmd`, `Env`,
//! `WorkingDir`, `User`, `Labels`), read loosely, and the runtime spec made
//! from them on top of the defaults every `ocictl bundle` uses.

use std::collections::{BTreeMap, HashMap};

use oci_spec::runtime::Spec;
use serde_json::Value;

use super::source::{array_field, field, str_field};
use super::user::User;
use super::ImageError;

/// PATH when the image sets none (docker's default).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What an image config says about the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
}

impl ImageConfig {
    /// From the image config document (its `config` object); missing or
    /// null fields are empty.
    pub fn from_json(doc: &Value) -> ImageConfig {
        let c = field(doc, "config").unwrap_or(&Value::Null);
        let strings = |key| -> Vec<String> {
            array_field(c, key)
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let labels = field(c, "Labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        ImageConfig {
            entrypoint: strings("Entrypoint"),
            cmd: strings("Cmd"),
            env: strings("Env"),
            working_dir: str_field(c, "WorkingDir").unwrap_or_default().to_string(),
            user: str_field(c, "User").unwrap_or_default().to_string(),
            labels,
        }
    }

    /// Entrypoint + Cmd, or Entrypoint + `command` when one is given (a
    /// trailing `-- CMD` replaces Cmd, as `docker run IMAGE CMD` does).
    pub fn args(&self, command: &[String]) -> Result<Vec<String>, ImageError> {
        let cmd = if command.is_empty() {
            &self.cmd
        } else {
            command
        };
        let args: Vec<String> = self.entrypoint.iter().chain(cmd).cloned().collect();
        if args.is_empty() {
            return Err(ImageError::NoCommand);
        }
        Ok(args)
    }

    /// The working directory, absolute (`/` when the image gives none).
    pub fn cwd(&self) -> String {
        if self.working_dir.starts_with('/') {
            self.working_dir.clone()
        } else {
            format!("/{}", self.working_dir)
        }
    }

    /// The image's Env, with a PATH when it has none, and TERM for a
    /// terminal; a later duplicate wins, as in docker.
    pub fn env(&self, terminal: bool) -> Vec<String> {
        let mut env: Vec<String> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let mut put = |entry: &str, env: &mut Vec<String>| {
            let key = entry.split('=').next().unwrap_or(entry).to_string();
            match at.get(&key) {
                Some(&i) => env[i] = entry.to_string(),
                None => {
                    at.insert(key, env.len());
                    env.push(entry.to_string());
                }
            }
        };
        if !self.env.iter().any(|e| e.starts_with("PATH=")) {
            put(DEFAULT_PATH, &mut env);
        }
        for e in &self.env {
            put(e, &mut env);
        }
        if terminal && !self.env.iter().any(|e| e.starts_with("TERM=")) {
            put("TERM=xterm", &mut env);
        }
        env
    }
}

/// The choices the command line makes.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// Replaces the image's Cmd when not empty.
    pub command: Vec<String>,
    pub terminal: bool,
    pub hostname: String,
}

/// The runtime spec for the image.
pub fn build(config: &ImageConfig, user: &User, choices: &Choices) -> Result<Spec, ImageError> {
    let args = config.args(&choices.command)?;
    let mut spec = crate::bundle::default_spec(args, choices.terminal, &choices.hostname);
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_env(Some(config.env(choices.terminal)));
    process.set_cwd(config.cwd().into());
    let mut process_user = process.user().clone();
    process_user.set_uid(user.uid);
    process_user.set_gid(user.gid);
    process_user.set_additional_gids(if user.additional_gids.is_empty() {
        None
    } else {
        Some(user.additional_gids.clone())
    });
    process.set_user(process_user);
    spec.set_process(Some(process));
    if !config.labels.is_empty() {
        let annotations: HashMap<String, String> = config.labels.clone().into_iter().collect();
        spec.set_annotations(Some(annotations));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_loosely_and_builds_args() {
        let doc = serde_json::json!({"config": {
            "entrypoint": ["/bin/echo"], "Cmd": ["hi"], "Env": ["A=1", "PATH=/bin", "A=2"],
            "WorkingDir": "srv", "Labels": {"l": "v"}, "Unknown": 1
        }});
        let c = ImageConfig::from_json(&doc);
        assert_eq!(c.args(&[]).unwrap(), ["/bin/echo", "hi"]);
        assert_eq!(c.args(&["bye".into()]).unwrap(), ["/bin/echo", "bye"]);
        assert_eq!(c.env(true), ["A=2", "PATH=/bin", "TERM=xterm"]);
        assert_eq!(c.cwd(), "/srv");
        assert!(ImageConfig::from_json(&Value::Null).args(&[]).is_err());
        assert_eq!(
            ImageConfig::from_json(&Value::Null).env(false),
            [DEFAULT_PATH]
        );
    }
}
