//! The parts of an image config that decide how its Python starts: environment, working
//! directory, user, entrypoint and command, and the platform.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `KEY=VALUE` strings, in image order.
    pub env: Vec<String>,
    /// Empty means `/`.
    pub working_dir: String,
    /// Empty means root.
    pub user: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl ImageConfig {
    /// The value of an environment variable; the last assignment wins, as in the runtime.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The argv the container runs: Entrypoint followed by Cmd.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.entrypoint.clone().unwrap_or_default();
        argv.extend(self.cmd.clone().unwrap_or_default());
        argv
    }

    pub fn working_dir(&self) -> &str {
        if self.working_dir.is_empty() {
            "/"
        } else {
            &self.working_dir
        }
    }
}
