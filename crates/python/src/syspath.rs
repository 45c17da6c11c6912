//! `sys.path` entries and why each one is there.

use serde::Serialize;

/// One `sys.path` entry. `path` is absolute inside the image; `''` (the cwd) is kept as the
/// working directory it stands for, with the origin saying so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SysPathEntry {
    pub path: String,
    pub origin: Origin,
}

/// Why an entry is on `sys.path`, in the order CPython adds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// The directory of the script run as `python script.py`.
    ScriptDir {
        script: String,
    },
    /// The working directory, for `-m`, `-c`, or a server that inserts it.
    WorkingDir {
        reason: String,
    },
    /// The `bin/` directory of a console script.
    ScriptBinDir {
        script: String,
    },
    PythonPath,
    StdlibZip,
    Stdlib,
    LibDynload,
    SitePackages,
    UserSite,
    /// A path line of a `.pth` file.
    Pth {
        file: String,
        line: u32,
    },
    /// Added by the launcher's own code before it imports the application (AWS Lambda's
    /// `bootstrap.py`): the task root (`installed: false`, the application's directory) and the
    /// layer and runtime directories (`installed: true`, code installed there).
    Launcher {
        reason: String,
        installed: bool,
    },
    /// Added by the program's own code (`sys.path.insert(0, ...)` in the script).
    CodeEdit {
        file: String,
        line: u32,
    },
}

impl Origin {
    /// Words for users, as in `--verbose` and diagnostics.
    pub fn describe(&self) -> String {
        match self {
            Origin::ScriptDir { script } => format!("directory of the script {script}"),
            Origin::WorkingDir { reason } => format!("working directory ({reason})"),
            Origin::ScriptBinDir { script } => format!("directory of the console script {script}"),
            Origin::PythonPath => "PYTHONPATH".to_string(),
            Origin::StdlibZip => "standard library zip".to_string(),
            Origin::Stdlib => "standard library".to_string(),
            Origin::LibDynload => "standard library extension modules".to_string(),
            Origin::SitePackages => "site-packages".to_string(),
            Origin::UserSite => "user site-packages".to_string(),
            Origin::Pth { file, line } => format!("{file}:{line}"),
            Origin::Launcher { reason, .. } => reason.clone(),
            Origin::CodeEdit { file, line } => format!("added by {file}:{line}"),
        }
    }
}
