//! From an image config to the interpreter and `sys.path` the container will really run:
//! which program Entrypoint/Cmd starts, which Python that is, how it was launched (script,
//! `-m`, `-c`, console script, ASGI/WSGI server) and the path CPython computes at startup —
//! `sys.path[0]`, `PYTHONPATH`, the stdlib, venvs, site-packages, the user site and `.pth` lines.
//!
//! Rule numbers in comments refer to docs/import-semantics.md.

use std::collections::BTreeSet;

use importgate_image::{ImageConfig, Vfs};
use serde::Serialize;

use crate::interpreter::{
    Interpreter, PyVersion, core_builtins, default_soabi, extension_suffixes, frozen_modules,
    read_builtins, sysconfig_var,
};
use crate::shell::{chain_cwd, last_command, shell_script_exec};
use crate::syspath::{Origin, SysPathEntry};

/// The default PATH Docker gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How the interpreter is started; decides `sys.path[0]` and `__main__`'s package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Launch {
    /// `python path/to/script.py`: the script's real directory is `sys.path[0]`.
    Script { path: String },
    /// `python -m pkg.mod`: the working directory is `sys.path[0]`.
    Module { module: String },
    /// `python -c ...`.
    Command,
    /// A console script in a `bin/` directory (`uvicorn`, `gunicorn`, an app's own entry point).
    ConsoleScript { path: String },
    /// A server that imports `module:attr` after putting the working directory on sys.path.
    AppServer { server: String, app: String },
    /// AWS Lambda's Python runtime: `bootstrap.py` (which `/lambda-entrypoint.sh` reaches
    /// through `/var/runtime/bootstrap`) puts the task root and the `/opt/python` layer
    /// directories on `sys.path`, then imports the handler `module.function` that `_HANDLER`
    /// names (`None`: not set, the runtime fails at once).
    Lambda {
        bootstrap: String,
        handler: Option<String>,
    },
    /// Nothing in Entrypoint/Cmd was understood; the checker assumes `python` from WorkingDir.
    Unknown { argv: Vec<String> },
}

impl Launch {
    pub fn describe(&self) -> String {
        match self {
            Launch::Script { path } => format!("python {path}"),
            Launch::Module { module } => format!("python -m {module}"),
            Launch::Command => "python -c ...".to_string(),
            Launch::ConsoleScript { path } => path.clone(),
            Launch::AppServer { server, app } => format!("{server} {app}"),
            Launch::Lambda { bootstrap, handler } => format!(
                "AWS Lambda runtime {bootstrap}, handler {}",
                handler.as_deref().unwrap_or("(none)")
            ),
            Launch::Unknown { argv } if argv.is_empty() => "(no entrypoint)".to_string(),
            Launch::Unknown { argv } => format!("{} (not understood)", argv.join(" ")),
        }
    }
}

/// Interpreter options that change the path (rule A8), from argv, a shebang or the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Flags {
    pub isolated: bool,
    pub ignore_environment: bool,
    pub no_user_site: bool,
    pub no_site: bool,
    pub safe_path: bool,
    /// `-X frozen_modules=off` (or `on`); `None` when not given, which means on for an
    /// installed build (rule C3).
    pub frozen_modules: Option<bool>,
}

/// Everything later stages need about how Python runs in the image.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Runtime {
    pub interpreter: Interpreter,
    pub launch: Launch,
    pub flags: Flags,
    pub cwd: String,
    pub sys_path: Vec<SysPathEntry>,
    /// Site directories (where `.pth` files were read), in order.
    pub site_dirs: Vec<String>,
    /// `import` lines of `.pth` files and customize modules: code that runs at startup and may
    /// change the import system in ways not modelled.
    pub startup_hooks: Vec<String>,
    /// The venv prefix, when the interpreter runs inside one.
    pub venv: Option<String>,
    /// Top-level names served by setuptools editable finders (`__editable___*_finder.py`,
    /// installed by a `.pth` import line): name -> the path its `MAPPING` gives. The finder is
    /// appended to `sys.meta_path`, so it only answers what `PathFinder` does not find (D11).
    pub editable: Vec<(String, String)>,
    /// setuptools' `_distutils_hack` is installed by `distutils-precedence.pth` and enabled:
    /// `import distutils` then loads this directory (`setuptools/_distutils`) before any
    /// other finder is asked.
    pub distutils_shim: Option<String>,
    /// The `._pth` file that replaced the computed path (rule A4), if any.
    pub pth_file: Option<String>,
    /// Launchers that ran before the program (`ddtrace-run`, `opentelemetry-instrument`),
    /// outermost first.
    #[serde(default)]
    pub wrappers: Vec<ExecWrapper>,
    /// The user `gosu USER`/`su-exec USER` runs the program as (its HOME, its permissions);
    /// `None`: the image's `User`.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Variables an entrypoint script exports before it starts the program
    /// (`export PYTHONPATH=…`): the program's environment is the image's with these on top.
    #[serde(default)]
    pub exported: Vec<(String, String)>,
    /// Things that could not be modelled exactly.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("no Python interpreter found in the image (looked for {looked_for})")]
    NoInterpreter { looked_for: String },
    #[error("the image runs Python 2 ({executable}); Python 2 is not supported")]
    Python2 { executable: String },
    #[error("cannot find the standard library of {executable} (no lib/pythonX.Y/os.py above it)")]
    NoStdlib { executable: String },
}

/// Joins `rel` onto `base` and normalises `.`/`..` lexically, as `os.path.abspath` does.
pub fn abspath(base: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `os.path.dirname` of an absolute path (`/` for a top-level entry).
pub fn dirname(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) => "/".to_string(),
        Some((d, _)) => d.to_string(),
        None => ".".to_string(),
    }
}

/// The last component of a path.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Looks a command up on PATH inside the image, as `execvp` would.
pub fn which(vfs: &Vfs, path_var: &str, cwd: &str, cmd: &str) -> Option<String> {
    if cmd.contains('/') {
        let p = abspath(cwd, cmd);
        return vfs.is_file(&p).then_some(p);
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{cmd}", d.trim_end_matches('/')))
        .find(|p| vfs.is_file(p))
}

fn is_python_name(name: &str) -> bool {
    name == "python"
        || name
            .strip_prefix("python")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The first line of a script, if it is a `#!` line, split into interpreter and arguments.
/// Also understands the installer's `#!/bin/sh` + `'''exec' /long/python "$0" "$@"` trick.
fn shebang(vfs: &Vfs, path: &str) -> Option<Vec<String>> {
    let data = vfs.read(path)??;
    let text = String::from_utf8_lossy(&data[..data.len().min(4096)]).into_owned();
    let mut lines = text.lines();
    let first = lines.next()?.strip_prefix("#!")?.trim();
    let mut argv: Vec<String> = first.split_whitespace().map(str::to_string).collect();
    if argv.first().is_some_and(|a| a == "/bin/sh")
        && let Some(second) = lines.next()
        && let Some(rest) = second.strip_prefix("'''exec' ")
    {
        // `'''exec' /venv/bin/python -s "$0" "$@"`: the interpreter and its options, up to
        // the script itself.
        argv = rest
            .split_whitespace()
            .take_while(|w| !w.starts_with("\"$0"))
            .map(|w| w.trim_matches('"').to_string())
            .collect();
    }
    if argv.first().is_some_and(|a| basename(a) == "env") {
        argv.remove(0);
        while argv.first().is_some_and(|a| a.starts_with('-')) {
            argv.remove(0);
        }
    }
    (!argv.is_empty()).then_some(argv)
}

/// Servers whose CLI imports a `module:attr` string with the working directory on sys.path
/// (waitress appends it; the others insert it first).
pub const APP_SERVERS: &[&str] = &[
    "uvicorn",
    "gunicorn",
    "hypercorn",
    "daphne",
    "waitress-serve",
    "waitress",
    "granian",
];

/// Servers that append the working directory to sys.path (`sys.path.append(os.getcwd())`)
/// rather than insert it first: what sits in front of it still wins.
pub const APPENDS_CWD: &[&str] = &["waitress-serve", "waitress"];

struct Parsed {
    python: String,
    flags: Flags,
    launch: Launch,
    /// Launchers on the way, outermost first.
    wrappers: Vec<ExecWrapper>,
    /// The user `gosu`/`su-exec` switched to.
    run_as: Option<String>,
    /// Variables the shell scripts on the way export, outermost first (a later one wins).
    env: Vec<(String, String)>,
    /// The directory the shell line or scripts on the way `cd` into before the program runs.
    cwd: Option<String>,
}

/// A Python console script that prepares the environment and `exec`s the rest of its command
/// line: the APM and tracing launchers (`ddtrace-run gunicorn app:app`,
/// `opentelemetry-instrument uvicorn main:app`, `newrelic-admin run-program …`). The program it
/// runs is a new process with the same working directory and a `PYTHONPATH` it rewrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExecWrapper {
    /// Its name on the command line.
    pub program: String,
    /// Its console script, whose own imports must work for it to start.
    pub script: String,
    /// The command it executes.
    pub runs: Vec<String>,
    /// The directory it puts first on `PYTHONPATH` (where its `sitecustomize` is), when its
    /// package was found beside the script.
    pub bootstrap: Option<String>,
    /// How it rewrites `PYTHONPATH`.
    pub style: PythonPathStyle,
}

/// How a launcher rewrites `PYTHONPATH` before it `exec`s the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PythonPathStyle {
    /// `ddtrace-run`: the bootstrap directory, then the old value when it is not empty.
    Prepend,
    /// `newrelic-admin`: the bootstrap directory, then the old value when the variable is set
    /// and does not already list the directory (then the value is the directory alone).
    PrependUnlessListed,
    /// `opentelemetry-instrument`: the bootstrap directory, the working directory (unless
    /// listed), then the old entries without the bootstrap directory.
    BootstrapAndCwd,
}

impl ExecWrapper {
    /// `PYTHONPATH` for the program it runs, from the one it was given (`None`: unset).
    fn python_path(&self, old: Option<&str>, cwd: &str) -> Option<String> {
        let Some(boot) = self.bootstrap.as_deref() else {
            return match self.style {
                PythonPathStyle::BootstrapAndCwd => {
                    Some(cwd_first(old.unwrap_or_default(), cwd, None))
                }
                _ => old.map(str::to_string),
            };
        };
        Some(match (self.style, old) {
            (PythonPathStyle::Prepend, Some(old)) if !old.is_empty() => format!("{boot}:{old}"),
            (PythonPathStyle::Prepend, _) => boot.to_string(),
            (PythonPathStyle::PrependUnlessListed, Some(old))
                if !old.split(':').any(|p| p == boot) =>
            {
                format!("{boot}:{old}")
            }
            (PythonPathStyle::PrependUnlessListed, _) => boot.to_string(),
            (PythonPathStyle::BootstrapAndCwd, old) => {
                cwd_first(old.unwrap_or_default(), cwd, Some(boot))
            }
        })
    }
}

/// opentelemetry-instrument's rewrite: `[boot, cwd (unless listed), old entries but boot]`.
fn cwd_first(old: &str, cwd: &str, boot: Option<&str>) -> String {
    let mut parts: Vec<&str> = if old.is_empty() {
        Vec::new()
    } else {
        old.split(':').collect()
    };
    if !parts.contains(&cwd) {
        parts.insert(0, cwd);
    }
    if let Some(boot) = boot {
        parts.retain(|p| *p != boot);
        parts.insert(0, boot);
    }
    parts.join(":")
}

/// The launcher `name` (a Python console script at `script`) and what it executes, from its
/// arguments.
fn exec_wrapper(
    vfs: &Vfs,
    name: &str,
    script: &str,
    interp: &[String],
    args: &[String],
) -> Option<ExecWrapper> {
    let (runs, package_dir, style): (Vec<String>, &str, PythonPathStyle) = match name {
        // argparse: store-true flags, then the command as a REMAINDER.
        "ddtrace-run" => (
            args.iter()
                .skip_while(|a| a.starts_with('-'))
                .cloned()
                .collect(),
            "ddtrace/bootstrap",
            PythonPathStyle::Prepend,
        ),
        // Every option but `--version` takes a value (`--service_name x`, `--x=y`).
        "opentelemetry-instrument" => {
            let mut i = 0;
            while let Some(a) = args.get(i).filter(|a| a.starts_with("--")) {
                if a == "--version" || a == "--help" {
                    return None;
                }
                i += if a.contains('=') { 1 } else { 2 };
            }
            (
                args.get(i..).unwrap_or_default().to_vec(),
                "opentelemetry/instrumentation/auto_instrumentation",
                PythonPathStyle::BootstrapAndCwd,
            )
        }
        "newrelic-admin" => {
            let runs = match args.first().map(String::as_str) {
                Some("run-program") => args[1..].to_vec(),
                // The interpreter beside the script, else the one running it.
                Some("run-python") => {
                    let beside = format!("{}/python", dirname(script));
                    let python = if vfs.exists(&beside) {
                        beside
                    } else {
                        interp.first()?.clone()
                    };
                    std::iter::once(python)
                        .chain(args[1..].iter().cloned())
                        .collect()
                }
                _ => return None,
            };
            (
                runs,
                "newrelic/bootstrap",
                PythonPathStyle::PrependUnlessListed,
            )
        }
        _ => return None,
    };
    if runs.is_empty() {
        return None;
    }
    Some(ExecWrapper {
        program: name.to_string(),
        script: script.to_string(),
        runs,
        bootstrap: package_beside(vfs, script, package_dir),
        style,
    })
}

/// `rel` in the site-packages (or dist-packages) of the prefix a console script in
/// `PREFIX/bin` belongs to.
fn package_beside(vfs: &Vfs, script: &str, rel: &str) -> Option<String> {
    let prefix = dirname(&dirname(script));
    for libdir in ["lib", "lib64"] {
        let lib = format!("{}/{libdir}", prefix.trim_end_matches('/'));
        let Some(names) = vfs.read_dir(&lib) else {
            continue;
        };
        let mut names: Vec<&str> = names
            .into_iter()
            .filter(|n| n.starts_with("python"))
            .collect();
        names.sort_unstable();
        for py in names {
            for site in ["site-packages", "dist-packages"] {
                let dir = format!("{lib}/{py}/{site}/{rel}");
                if vfs.is_dir(&dir) {
                    return Some(dir);
                }
            }
        }
    }
    None
}

/// Options of app servers that take no value; every other `--option` without `=` consumes the
/// next word, so `--bind 0.0.0.0:8000` is not mistaken for the application.
const FLAG_OPTIONS: &[&str] = &[
    "--reload",
    "--factory",
    "--proxy-headers",
    "--no-proxy-headers",
    "--access-log",
    "--no-access-log",
    "--use-colors",
    "--no-use-colors",
    "--server-header",
    "--no-server-header",
    "--date-header",
    "--no-date-header",
    "--preload",
    "--daemon",
    "-D",
    "--check-config",
    "--print-config",
    "--spew",
    "--capture-output",
    "--enable-stdio-inheritance",
    "--reuse-port",
    "--strip-header-spaces",
    "--debug",
    "-v",
    "--verbose",
    "--help",
    // granian
    "--ws",
    "--no-ws",
    "--log",
    "--no-log",
    "--no-access-log",
    "--http1-keep-alive",
    "--no-http1-keep-alive",
    "--http1-pipeline-flush",
    "--no-http1-pipeline-flush",
    "--http2-adaptive-window",
    "--no-http2-adaptive-window",
    "--ssl-client-verify",
    "--no-ssl-client-verify",
    "--respawn-failed-workers",
    "--no-respawn-failed-workers",
    "--no-factory",
    "--no-reload",
    "--metrics",
    "--no-metrics",
    "--reload-ignore-worker-failure",
    "--no-reload-ignore-worker-failure",
    // waitress-serve
    "--call",
    "--ipv4",
    "--no-ipv4",
    "--ipv6",
    "--no-ipv6",
    "--log-untrusted-proxy-headers",
    "--no-log-untrusted-proxy-headers",
    "--clear-untrusted-proxy-headers",
    "--no-clear-untrusted-proxy-headers",
    "--log-socket-errors",
    "--no-log-socket-errors",
    "--expose-tracebacks",
    "--no-expose-tracebacks",
    "--asyncore-use-poll",
    "--no-asyncore-use-poll",
];

/// Positional words of a command line after the program name, skipping option values.
pub fn positionals(args: &[String]) -> Vec<String> {
    positionals_with(args, |a| {
        let short_with_value = !a.starts_with("--") && a.len() > 2;
        !(a.contains('=') || FLAG_OPTIONS.contains(&a) || short_with_value)
    })
}

/// Positional words of a command line, `takes_value` telling which options consume the next
/// word; everything after `--` is positional.
pub fn positionals_with(args: &[String], takes_value: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            i += if takes_value(a) { 2 } else { 1 };
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    out
}

/// The application an app server is given: the first positional with a `:`, else the first.
pub fn app_spec(args: &[String]) -> Option<String> {
    let pos = positionals(args);
    pos.iter()
        .find(|p| p.contains(':'))
        .or_else(|| pos.first())
        .cloned()
}

/// Reads interpreter options up to the first non-option, returning what remains.
fn parse_python_args(args: &[String], flags: &mut Flags) -> Launch {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-m" {
            return match args.get(i + 1) {
                Some(m) => Launch::Module { module: m.clone() },
                None => Launch::Unknown {
                    argv: args.to_vec(),
                },
            };
        }
        if let Some(m) = a.strip_prefix("-m") {
            return Launch::Module {
                module: m.to_string(),
            };
        }
        if a == "-c" || a.starts_with("-c") {
            return Launch::Command;
        }
        if a == "-" || !a.starts_with('-') {
            return if a == "-" {
                Launch::Command
            } else {
                Launch::Script { path: a.clone() }
            };
        }
        if a == "-X" || (a.starts_with("-X") && a.len() > 2) {
            let opt = if a == "-X" {
                i += 1;
                args.get(i).map(String::as_str).unwrap_or("")
            } else {
                &a[2..]
            };
            match opt {
                "frozen_modules=off" => flags.frozen_modules = Some(false),
                "frozen_modules=on" | "frozen_modules" => flags.frozen_modules = Some(true),
                _ => {}
            }
            i += 1;
            continue;
        }
        if a == "-W" || a == "--check-hash-based-pycs" {
            i += 2;
            continue;
        }
        if !a.starts_with("--") {
            for c in a[1..].chars() {
                match c {
                    'I' => flags.isolated = true,
                    'E' => flags.ignore_environment = true,
                    's' => flags.no_user_site = true,
                    'S' => flags.no_site = true,
                    'P' => flags.safe_path = true,
                    _ => {}
                }
            }
        }
        i += 1;
    }
    Launch::Command
}

fn parse_argv(
    vfs: &Vfs,
    config: &ImageConfig,
    argv: &[String],
    path_var: &str,
    cwd: &str,
    depth: u8,
) -> Option<Parsed> {
    let first = argv.first()?;
    let name = basename(first);
    if depth > 4 {
        return None;
    }
    // Wrappers: `sh -c "..."`, `tini --`, `dumb-init`, `exec`.
    if matches!(name, "sh" | "bash" | "dash" | "ash") {
        let pos = argv.iter().position(|a| a == "-c")?;
        let script = argv.get(pos + 1)?;
        let words = last_command(script);
        let inner_cwd = chain_cwd(script, cwd, config);
        let mut inner = parse_argv(vfs, config, &words, path_var, &inner_cwd, depth + 1)?;
        if inner_cwd != cwd {
            inner.cwd.get_or_insert(inner_cwd);
        }
        return Some(inner);
    }
    // Init shims, `nice`/`nohup`/`timeout`, `env NAME=…`, and the user switchers (`gosu USER
    // CMD…`: the command runs as that user, with its HOME).
    if let Some(t) = see_through(name, &argv[1..]) {
        let inner_cwd = t
            .cwd
            .as_deref()
            .map_or_else(|| cwd.to_string(), |d| abspath(cwd, d));
        let mut inner = parse_argv(vfs, config, &t.rest, path_var, &inner_cwd, depth + 1)?;
        if let Some(user) = t.user {
            inner.run_as.get_or_insert(user);
        }
        if inner_cwd != cwd {
            inner.cwd.get_or_insert(inner_cwd);
        }
        let mut env = t.env;
        env.append(&mut inner.env);
        inner.env = env;
        return Some(inner);
    }
    let mut flags = Flags::default();
    if is_python_name(name) {
        let mut launch = parse_python_args(&argv[1..], &mut flags);
        if let Launch::Script { path } = &launch {
            let abs = abspath(cwd, path);
            if is_lambda_bootstrap(vfs, &abs) {
                launch = Launch::Lambda {
                    bootstrap: abs,
                    handler: config
                        .env_var("_HANDLER")
                        .filter(|h| !h.is_empty())
                        .map(str::to_string),
                };
            }
        }
        return Some(Parsed {
            python: first.clone(),
            flags,
            launch,
            wrappers: Vec::new(),
            run_as: None,
            env: Vec::new(),
            cwd: None,
        });
    }
    // Project runners: the command runs with the project's environment first on PATH.
    if let Some((rest, venv)) = project_runner(vfs, config, name, &argv[1..], cwd) {
        let inner_path = match &venv {
            Some(v) => format!("{}/bin:{path_var}", v.trim_end_matches('/')),
            None => path_var.to_string(),
        };
        let mut inner = parse_argv(vfs, config, &rest, &inner_path, cwd, depth + 1)?;
        // Its `python` is the environment's: the model looks a bare name up on the image's PATH.
        if !inner.python.contains('/')
            && let Some(p) = which(vfs, &inner_path, cwd, &inner.python)
        {
            inner.python = p;
        }
        return Some(inner);
    }
    // A script with a Python shebang: a console script (or the app's own executable script).
    let path = which(vfs, path_var, cwd, first)?;
    let interp = shebang(vfs, &path)?;
    if let Some(exec) = shell_script_exec(vfs, config, &path, &interp, &argv[1..], cwd) {
        let inner_cwd = exec.cwd.clone().unwrap_or_else(|| cwd.to_string());
        let mut inner = parse_argv(vfs, config, &exec.words, path_var, &inner_cwd, depth + 1)?;
        if inner_cwd != cwd {
            inner.cwd.get_or_insert(inner_cwd);
        }
        let mut env = exec.exports.clone();
        env.append(&mut inner.env);
        inner.env = env;
        // The variable the Lambda runtime reads its handler from, exported by its entrypoint.
        if let Launch::Lambda { handler, .. } = &mut inner.launch
            && let Some((_, v)) = exec.exports.iter().find(|(n, _)| n == "_HANDLER")
        {
            *handler = (!v.is_empty()).then(|| v.clone());
        }
        return Some(inner);
    }
    if !is_python_name(basename(&interp[0])) {
        return None;
    }
    if let Some(wrapper) = exec_wrapper(vfs, name, &path, &interp, &argv[1..]) {
        let mut inner = parse_argv(vfs, config, &wrapper.runs, path_var, cwd, depth + 1)?;
        inner.wrappers.insert(0, wrapper);
        return Some(inner);
    }
    parse_python_args(&interp[1..], &mut flags);
    let launch = if APP_SERVERS.contains(&name) {
        Launch::AppServer {
            server: name.to_string(),
            app: app_spec(&argv[1..]).unwrap_or_default(),
        }
    } else if dirname(&path).ends_with("/bin") {
        Launch::ConsoleScript { path: path.clone() }
    } else {
        Launch::Script { path: path.clone() }
    };
    Some(Parsed {
        python: interp[0].clone(),
        flags,
        launch,
        wrappers: Vec::new(),
        run_as: None,
        env: Vec::new(),
        cwd: None,
    })
}

/// What a program that runs the rest of its command line hands over: the command, the user it
/// runs it as, variables it sets and the directory it changes to.
struct Through {
    rest: Vec<String>,
    user: Option<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
}

/// Programs that run another one from their arguments after their own options: init shims
/// (`tini`, `dumb-init`, `catatonit`), `exec`, `env [NAME=VALUE…]` (`-C DIR`), `nice`,
/// `ionice`, `nohup`, `setsid`, `stdbuf`, `timeout DURATION`, `taskset MASK`, AWS's
/// `aws-lambda-rie`, and the user
/// switchers `gosu USER`, `su-exec USER`, `s6-setuidgid USER`, `chpst -u USER`,
/// `runuser -u USER`, `setpriv --reuid=UID`. Options that take a value are skipped with it.
fn see_through(name: &str, args: &[String]) -> Option<Through> {
    // Options taking a separate value, per program.
    let valued: &[&str] = match name {
        "tini" | "tini-static" => &["-p", "-e", "-l"],
        "dumb-init" => &["-r", "--rewrite"],
        "env" => &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
        "nice" => &["-n", "--adjustment"],
        "ionice" => &["-c", "--class", "-n", "--classdata"],
        "timeout" => &["-s", "--signal", "-k", "--kill-after"],
        "stdbuf" => &["-i", "-o", "-e"],
        "chpst" => &[
            "-u", "-U", "-b", "-e", "-/", "-C", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f",
            "-c", "-r", "-t",
        ],
        "runuser" => &["-u", "--user", "-g", "--group", "-G", "--supp-group", "-w"],
        "setpriv" => &[],
        // AWS's Lambda runtime interface emulator runs the runtime it is given.
        "aws-lambda-rie" => &[
            "--log-level",
            "--runtime-interface-emulator-address",
            "--runtime-api-address",
            "--init-bin",
        ],
        "taskset" => &[],
        "catatonit" | "exec" | "nohup" | "setsid" | "gosu" | "su-exec" | "s6-setuidgid" => &[],
        _ => return None,
    };
    let mut user = None;
    let mut env = Vec::new();
    let mut cwd = None;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        if valued.contains(&a.as_str()) {
            let value = args.get(i + 1).cloned();
            match (name, a.as_str()) {
                ("chpst", "-u") | ("runuser", "-u" | "--user") => {
                    user = value.map(|v| v.split(':').next().unwrap_or_default().to_string());
                }
                ("env", "-C" | "--chdir") => cwd = value,
                _ => {}
            }
            i += 2;
            continue;
        }
        if let Some(uid) = a.strip_prefix("--reuid=").filter(|_| name == "setpriv") {
            user = Some(uid.to_string());
        }
        if let Some(dir) = a.strip_prefix("--chdir=").filter(|_| name == "env") {
            cwd = Some(dir.to_string());
        }
        if a.starts_with('-') && a.len() > 1 {
            i += 1;
            continue;
        }
        if name == "env"
            && let Some((k, v)) = a.split_once('=')
        {
            env.push((k.to_string(), v.to_string()));
            i += 1;
            continue;
        }
        break;
    }
    let mut rest = args.get(i..)?.to_vec();
    match name {
        // The user, then the command.
        "gosu" | "su-exec" | "s6-setuidgid" => {
            if rest.len() < 2 {
                return None;
            }
            user = Some(rest.remove(0));
        }
        // A duration or a CPU mask before the command.
        "timeout" | "taskset" => {
            if rest.len() < 2 {
                return None;
            }
            rest.remove(0);
        }
        _ => {}
    }
    (!rest.is_empty()).then_some(Through {
        rest,
        user,
        env,
        cwd,
    })
}

/// AWS Lambda's runtime bootstrap (`/var/runtime/bootstrap.py` of the `lambda/python` base
/// images): a `bootstrap.py` that hands `LAMBDA_TASK_ROOT` and `_HANDLER` to awslambdaric's
/// main. Recognised by what it does rather than where it is, so a copied runtime counts too.
fn is_lambda_bootstrap(vfs: &Vfs, path: &str) -> bool {
    basename(path) == "bootstrap.py"
        && vfs.read_to_string(path).is_some_and(|t| {
            t.contains("awslambdaric") && t.contains("LAMBDA_TASK_ROOT") && t.contains("_HANDLER")
        })
}

/// `uv run CMD…`, `poetry run CMD…`, `pipenv run CMD…`, `pdm run CMD…`: the command, and the
/// virtual environment whose `bin` the runner puts first on PATH when the image has one
/// (`None`: the command runs from the image's own PATH). uv uses `UV_PROJECT_ENVIRONMENT`,
/// else the `.venv` of the project (the nearest directory with a `pyproject.toml` from
/// `--directory`/`--project` or the working directory); Poetry its in-project `.venv`, else
/// the one environment under its `virtualenvs` directory, none with
/// `POETRY_VIRTUALENVS_CREATE=false`; pipenv `.venv`, else the one `NAME-*` under
/// `WORKON_HOME`; PDM `.venv`.
fn project_runner(
    vfs: &Vfs,
    config: &ImageConfig,
    name: &str,
    args: &[String],
    cwd: &str,
) -> Option<(Vec<String>, Option<String>)> {
    const UV_VALUED: &[&str] = &[
        "--with",
        "--with-editable",
        "--with-requirements",
        "--python",
        "-p",
        "--env-file",
        "--package",
        "--extra",
        "--group",
        "--only-group",
        "--no-group",
        "--directory",
        "--project",
        "--index",
        "--default-index",
        "--index-url",
        "-i",
        "--extra-index-url",
        "--find-links",
        "-f",
        "--config-file",
        "--cache-dir",
        "--index-strategy",
        "--resolution",
        "--prerelease",
        "--exclude-newer",
        "--link-mode",
        "--python-preference",
        "--color",
        "--no-extra",
        "--refresh-package",
        "--reinstall-package",
        "--upgrade-package",
        "-P",
        "--keyring-provider",
        "--no-binary-package",
        "--no-build-package",
    ];
    const POETRY_VALUED: &[&str] = &["-C", "--directory", "-P", "--project"];
    let valued: &[&str] = match name {
        "uv" => UV_VALUED,
        "poetry" | "pipenv" | "pdm" => POETRY_VALUED,
        _ => return None,
    };
    let mut project = cwd.to_string();
    let mut seen_run = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            if seen_run {
                break;
            }
            if a != "run" {
                return None;
            }
            seen_run = true;
            i += 1;
            continue;
        }
        let (opt, inline) = match a.split_once('=') {
            Some((o, v)) => (o, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let value = if valued.contains(&opt) {
            let v = inline.or_else(|| args.get(i + 1).cloned());
            i += usize::from(!a.contains('='));
            v
        } else {
            None
        };
        // (uv's `-P` is `--upgrade-package`, not a project.)
        let names_project = matches!(opt, "--directory" | "--project")
            || (name != "uv" && matches!(opt, "-C" | "-P"));
        if names_project && let Some(v) = &value {
            project = abspath(cwd, v);
        }
        if seen_run && name == "uv" && matches!(opt, "-m" | "--module") {
            // `uv run -m pkg`: `python -m pkg`.
            let mut rest = vec!["python".to_string(), "-m".to_string()];
            rest.extend(args.get(i + 1..).unwrap_or_default().iter().cloned());
            return Some((rest, uv_environment(vfs, config, &project)));
        }
        i += 1;
    }
    let rest = args.get(i..).unwrap_or_default().to_vec();
    if !seen_run || rest.is_empty() {
        return None;
    }
    let dot_venv = |dir: &str| {
        let v = format!("{}/.venv", dir.trim_end_matches('/'));
        vfs.is_file(&format!("{v}/pyvenv.cfg")).then_some(v)
    };
    let env = |k: &str| config.env_var(k).filter(|v| !v.is_empty());
    let home = home_dir(vfs, config, None);
    let only_one = |dir: &str, prefix: &str| {
        let names: Vec<&str> = vfs
            .read_dir(dir)?
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        match names.as_slice() {
            [one] => Some(format!("{}/{one}", dir.trim_end_matches('/'))),
            _ => None,
        }
    };
    let venv = match name {
        "uv" => uv_environment(vfs, config, &project),
        "poetry" => {
            let create = env("POETRY_VIRTUALENVS_CREATE").map(|v| v.to_ascii_lowercase());
            if matches!(create.as_deref(), Some("false" | "0")) {
                None
            } else {
                dot_venv(&project).or_else(|| {
                    let dir = env("POETRY_VIRTUALENVS_PATH")
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            let cache = env("POETRY_CACHE_DIR")
                                .map(str::to_string)
                                .unwrap_or_else(|| format!("{home}/.cache/pypoetry"));
                            format!("{cache}/virtualenvs")
                        });
                    only_one(&dir, "")
                })
            }
        }
        "pipenv" => dot_venv(&project).or_else(|| {
            let dir = env("WORKON_HOME")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{home}/.local/share/virtualenvs"));
            only_one(&dir, &format!("{}-", basename(&project)))
        }),
        _ => dot_venv(&project),
    };
    Some((rest, venv))
}

/// The environment `uv run` uses for the project at or above `start`.
fn uv_environment(vfs: &Vfs, config: &ImageConfig, start: &str) -> Option<String> {
    let mut dir = start.trim_end_matches('/').to_string();
    let root = loop {
        if vfs.is_file(&format!("{dir}/pyproject.toml")) {
            break Some(dir.clone());
        }
        if dir.is_empty() || dir == "/" {
            break None;
        }
        dir = dirname(&dir);
    };
    let root = root.unwrap_or_else(|| start.to_string());
    let env = config
        .env_var("UV_PROJECT_ENVIRONMENT")
        .filter(|v| !v.is_empty())
        .map(|v| abspath(&root, v))
        .unwrap_or_else(|| format!("{}/.venv", root.trim_end_matches('/')));
    vfs.is_file(&format!("{env}/pyvenv.cfg")).then_some(env)
}

/// The program's own command line after the wrappers `parse_argv` sees through (`sh -c`,
/// `exec`, init shims, shell entrypoint scripts): where app-server and framework options
/// (`--app-dir`, `-A`, `--app`) are read from.
pub fn program_argv(vfs: &Vfs, config: &ImageConfig) -> Vec<String> {
    let cwd = abspath("/", config.working_dir());
    let path_var = config.env_var("PATH").unwrap_or(DEFAULT_PATH).to_string();
    let mut argv = config.argv();
    for _ in 0..5 {
        let Some(first) = argv.first() else {
            break;
        };
        let name = basename(first).to_string();
        if matches!(name.as_str(), "sh" | "bash" | "dash" | "ash") {
            let Some(script) = argv
                .iter()
                .position(|a| a == "-c")
                .and_then(|p| argv.get(p + 1))
            else {
                break;
            };
            argv = last_command(script);
            continue;
        }
        if let Some((rest, _)) = project_runner(vfs, config, &name, &argv[1..], &cwd) {
            argv = rest;
            continue;
        }
        if let Some(t) = see_through(&name, &argv[1..]) {
            argv = t.rest;
            continue;
        }
        let words = which(vfs, &path_var, &cwd, first).and_then(|path| {
            let interp = shebang(vfs, &path)?;
            shell_script_exec(vfs, config, &path, &interp, &argv[1..], &cwd)
                .map(|e| e.words)
                .or_else(|| {
                    is_python_name(basename(&interp[0]))
                        .then(|| exec_wrapper(vfs, &name, &path, &interp, &argv[1..]))
                        .flatten()
                        .map(|w| w.runs)
                })
        });
        match words {
            Some(w) => argv = w,
            None => break,
        }
    }
    argv
}

/// Finds `{platlibdir}/pythonX.Y/os.py` (or `.pyc`, or the zip) above the executable's real
/// location, as getpath's prefix search does (rule A2). The build's `platlibdir` is compiled in
/// and not readable from the image, so both values a Linux build uses are tried per directory:
/// `lib` (python.org, Debian, Alpine, conda) and `lib64` (`--with-platlibdir=lib64`: RHEL,
/// Fedora, SUSE). `PYTHONPLATLIBDIR` narrows the search to its value, as it does for getpath.
fn search_prefix(
    vfs: &Vfs,
    start_dir: &str,
    version: Option<PyVersion>,
    platlibdir: Option<&str>,
) -> Option<(String, PyVersion, String)> {
    let libdirs: Vec<&str> = match platlibdir {
        Some(d) => vec![d],
        None => vec!["lib", "lib64"],
    };
    let mut dir = start_dir.to_string();
    loop {
        for libdir in &libdirs {
            let lib = if dir == "/" {
                format!("/{libdir}")
            } else {
                format!("{dir}/{libdir}")
            };
            let mut versions: Vec<PyVersion> = match version {
                Some(v) => vec![v],
                None => vfs
                    .read_dir(&lib)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|n| n.strip_prefix("python").and_then(PyVersion::parse))
                    .collect(),
            };
            versions.sort();
            for v in versions.into_iter().rev() {
                let stdlib = format!("{lib}/python{v}");
                if vfs.is_file(&format!("{stdlib}/os.py"))
                    || vfs.is_file(&format!("{stdlib}/os.pyc"))
                    || vfs.is_file(&format!("{lib}/python{}{}.zip", v.major, v.minor))
                {
                    let prefix = if dir.is_empty() { "/".into() } else { dir };
                    return Some((prefix, v, libdir.to_string()));
                }
            }
        }
        if dir == "/" || dir.is_empty() {
            return None;
        }
        dir = dirname(&dir);
    }
}

/// `pyvenv.cfg` as `site.venv()` reads it.
fn read_pyvenv(vfs: &Vfs, exe: &str) -> Option<(String, Vec<(String, String)>)> {
    let bin = dirname(exe);
    for dir in [bin.clone(), dirname(&bin)] {
        let cfg = if dir == "/" {
            "/pyvenv.cfg".to_string()
        } else {
            format!("{dir}/pyvenv.cfg")
        };
        if let Some(text) = vfs.read_to_string(&cfg) {
            let pairs = text
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    Some((k.trim().to_lowercase(), v.trim().to_string()))
                })
                .collect();
            return Some((dir, pairs));
        }
    }
    None
}

/// HOME for the runtime user: the image Env first, else the passwd entry, as Docker does. A
/// user `gosu`/`su-exec` switched to (`run_as`) gets the passwd entry's home whatever Env says:
/// both set HOME from it.
fn home_dir(vfs: &Vfs, config: &ImageConfig, run_as: Option<&str>) -> String {
    if let Some(h) = config.env_var("HOME").filter(|_| run_as.is_none()) {
        return h.to_string();
    }
    let user = run_as
        .unwrap_or(&config.user)
        .split(':')
        .next()
        .unwrap_or("");
    let user = if user.is_empty() { "root" } else { user };
    if let Some(passwd) = vfs.read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 6 && (f[0] == user || f[2] == user) {
                return f[5].to_string();
            }
        }
    }
    if user == "root" || user == "0" {
        "/root".to_string()
    } else {
        "/".to_string()
    }
}

struct PathBuilder {
    entries: Vec<SysPathEntry>,
}

impl PathBuilder {
    fn push(&mut self, path: String, origin: Origin) {
        // site.removeduppaths: the first occurrence wins.
        if !self.entries.iter().any(|e| e.path == path) {
            self.entries.push(SysPathEntry { path, origin });
        }
    }
}

/// The site-packages directories `site.getsitepackages()` names for one prefix; only those that
/// exist end up on sys.path. Debian's patched `site.py` uses dist-packages instead. From 3.9,
/// a build whose `platlibdir` is not `lib` looks in `{platlibdir}` first and then `lib` (RHEL
/// and Fedora patched the same order into their older builds).
fn site_candidates(
    prefix: &str,
    version: PyVersion,
    in_venv: bool,
    debian: bool,
    platlibdir: &str,
) -> Vec<String> {
    let p = prefix.trim_end_matches('/');
    if debian {
        let mut v = Vec::new();
        if in_venv {
            v.push(format!("{p}/lib/python{version}/site-packages"));
        }
        v.push(format!("{p}/local/lib/python{version}/dist-packages"));
        v.push(format!("{p}/lib/python3/dist-packages"));
        v.push(format!("{p}/lib/python{version}/dist-packages"));
        v
    } else {
        let mut v = vec![format!("{p}/{platlibdir}/python{version}/site-packages")];
        if platlibdir != "lib" {
            v.push(format!("{p}/lib/python{version}/site-packages"));
        }
        v
    }
}

/// Builds the runtime model of the image's Python.
pub fn model(vfs: &Vfs, config: &ImageConfig) -> Result<Runtime, ModelError> {
    let cwd = abspath("/", config.working_dir());
    let path_var = config.env_var("PATH").unwrap_or(DEFAULT_PATH).to_string();
    let argv = config.argv();
    let mut warnings = Vec::new();

    let parsed = parse_argv(vfs, config, &argv, &path_var, &cwd, 0);
    // What the shell scripts on the way export reaches the interpreter, and where they `cd`
    // is its working directory.
    let (exported, cwd) = match &parsed {
        Some(p) => (p.env.clone(), p.cwd.clone().unwrap_or(cwd)),
        None => (Vec::new(), cwd),
    };
    let overlay;
    let config = if exported.is_empty() {
        config
    } else {
        overlay = with_exports(config, &exported);
        &overlay
    };
    let (python_cmd, mut flags, launch, wrappers, run_as) = match parsed {
        Some(p) => (p.python, p.flags, p.launch, p.wrappers, p.run_as),
        None => {
            warnings.push(format!(
                "the entrypoint `{}` was not understood; assuming `python` started in {cwd}",
                argv.join(" ")
            ));
            (
                "python3".to_string(),
                Flags::default(),
                Launch::Unknown { argv: argv.clone() },
                Vec::new(),
                None,
            )
        }
    };
    let executable = which(vfs, &path_var, &cwd, &python_cmd)
        .or_else(|| which(vfs, &path_var, &cwd, "python3"))
        .or_else(|| which(vfs, &path_var, &cwd, "python"))
        .ok_or_else(|| ModelError::NoInterpreter {
            looked_for: format!("`{python_cmd}` on PATH={path_var}"),
        })?;
    let real_executable = vfs
        .realpath(&executable)
        .unwrap_or_else(|| executable.clone());

    // A `._pth` file named after the (unresolved) executable replaces the computed path and
    // implies -I, -S (unless it has `import site`) and safe_path; POSIX honours it from 3.11
    // (rule A4, `Modules/getpath.py` "DETECT _pth FILE"). Environment and options cannot
    // override it.
    let pth_version = PyVersion::parse(basename(&real_executable).trim_start_matches("python"))
        .or_else(|| search_prefix(vfs, &dirname(&real_executable), None, None).map(|(_, v, _)| v));
    let pth_file = format!("{executable}._pth");
    let pth_lines = vfs
        .read_to_string(&pth_file)
        .filter(|_| pth_version.is_some_and(|v| v >= PyVersion::new(3, 11)));
    if let Some(text) = &pth_lines {
        flags.isolated = true;
        flags.ignore_environment = true;
        flags.safe_path = true;
        flags.no_site = !text
            .lines()
            .any(|l| l.split('#').next().unwrap_or("").trim() == "import site");
    }

    // Environment options (rule A8); -E and -I ignore them.
    let use_env = !(flags.isolated || flags.ignore_environment);
    let env = |k: &str| -> Option<&str> {
        if use_env {
            config.env_var(k).filter(|v| !v.is_empty())
        } else {
            None
        }
    };
    if env("PYTHONNOUSERSITE").is_some() {
        flags.no_user_site = true;
    }
    // PYTHON_FROZEN_MODULES (3.13+) when no -X option says otherwise; read below once the
    // version is known.
    let frozen_env = env("PYTHON_FROZEN_MODULES").map(str::to_string);
    // PYTHONPLATLIBDIR replaces the compiled-in platlibdir for getpath and site (3.9+).
    let env_platlibdir = env("PYTHONPLATLIBDIR")
        .filter(|d| !d.contains('/'))
        .map(str::to_string);

    let exe_version = PyVersion::parse(basename(&real_executable).trim_start_matches("python"));
    if exe_version.is_some_and(|v| v.major == 2) {
        return Err(ModelError::Python2 {
            executable: real_executable,
        });
    }
    let venv = read_pyvenv(vfs, &executable);
    let home = venv
        .as_ref()
        .and_then(|(_, kv)| kv.iter().find(|(k, _)| k == "home").map(|(_, v)| v.clone()));
    let search_from = match (env("PYTHONHOME"), &home) {
        (Some(h), _) => h.split(':').next().unwrap_or(h).to_string() + "/bin",
        (None, Some(h)) => {
            // `home` names the base interpreter's directory; its real location finds the prefix.
            let base_exe = format!("{h}/{}", basename(&executable));
            dirname(&vfs.realpath(&base_exe).unwrap_or(base_exe))
        }
        (None, None) => dirname(&real_executable),
    };
    let (prefix, version, platlibdir) =
        search_prefix(vfs, &search_from, exe_version, env_platlibdir.as_deref()).ok_or_else(
            || ModelError::NoStdlib {
                executable: real_executable.clone(),
            },
        )?;
    if version.major == 2 {
        return Err(ModelError::Python2 {
            executable: real_executable,
        });
    }
    if version >= PyVersion::new(3, 11) && env("PYTHONSAFEPATH").is_some() {
        flags.safe_path = true;
    }
    let lib = if prefix == "/" {
        format!("/{platlibdir}")
    } else {
        format!("{prefix}/{platlibdir}")
    };
    let stdlib = format!("{lib}/python{version}");
    let lib_dynload = format!("{stdlib}/lib-dynload");

    // Extension suffixes from the build's own sysconfig data.
    let arch = config.architecture.as_str();
    let soabi = vfs
        .read_dir(&stdlib)
        .unwrap_or_default()
        .into_iter()
        .find(|n| n.starts_with("_sysconfigdata") && n.ends_with(".py"))
        .and_then(|n| vfs.read_to_string(&format!("{stdlib}/{n}")))
        .and_then(|src| sysconfig_var(&src, "SOABI"))
        .unwrap_or_else(|| {
            // musl's loader and no glibc one: an Alpine-style build.
            let musl = vfs
                .read_dir("/lib")
                .unwrap_or_default()
                .iter()
                .any(|n| n.starts_with("ld-musl-"))
                && !vfs.exists("/lib64/ld-linux-x86-64.so.2")
                && !vfs.exists("/lib/ld-linux-aarch64.so.1");
            default_soabi(version, arch, musl)
        });
    let (builtins, builtins_from_binary) = match read_builtins(vfs, &real_executable, &prefix) {
        Some(b) => (b, true),
        None => {
            warnings.push(format!(
                "could not read the builtin modules of {real_executable}; assuming the core set"
            ));
            (core_builtins(), false)
        }
    };
    let site_py = vfs.read_to_string(&format!("{stdlib}/site.py"));
    let debian_site = site_py
        .as_deref()
        .is_some_and(|s| s.contains("dist-packages"));
    // Fedora and RHEL patch `site.py` to put `/usr/local`'s site-packages first outside a
    // venv (unless RPM_BUILD_ROOT is set), so that `pip install` as root cannot break the
    // distribution's packages.
    let local_prefix_site = site_py
        .as_deref()
        .is_some_and(|s| s.contains("PREFIXES.insert(0, \"/usr/local\")"))
        && config.env_var("RPM_BUILD_ROOT").is_none();
    let interpreter = Interpreter {
        executable: executable.clone(),
        real_executable: real_executable.clone(),
        version,
        prefix: prefix.clone(),
        stdlib: stdlib.clone(),
        lib_dynload: lib_dynload.clone(),
        extension_suffixes: extension_suffixes(Some(&soabi)),
        builtins,
        builtins_from_binary,
        // `-X frozen_modules=off` makes the stdlib copies load from files (rule C3).
        frozen: {
            let from_env = (version >= PyVersion::new(3, 13))
                .then_some(frozen_env.as_deref())
                .flatten()
                .and_then(|v| match v {
                    "off" => Some(false),
                    "on" => Some(true),
                    _ => None,
                });
            if flags.frozen_modules.or(from_env) == Some(false) {
                BTreeSet::new()
            } else {
                frozen_modules(version)
            }
        },
        debian_site,
        platlibdir: platlibdir.clone(),
    };

    let mut b = PathBuilder {
        entries: Vec::new(),
    };
    // sys.path[0] (rule A5).
    if !(flags.isolated || flags.safe_path) {
        match &launch {
            Launch::Script { path } => {
                let abs = abspath(&cwd, path);
                // `python dir/` or `python app.zip` runs its `__main__.py`, and the directory
                // or zip itself (as given, not resolved) is sys.path[0].
                let main_importer = vfs.is_dir(&abs)
                    || (vfs.is_file(&abs) && (abs.ends_with(".zip") || abs.ends_with(".pyz")));
                let path0 = if main_importer {
                    abs
                } else {
                    dirname(&vfs.realpath(&abs).unwrap_or(abs))
                };
                b.push(
                    path0,
                    Origin::ScriptDir {
                        script: path.clone(),
                    },
                );
            }
            Launch::ConsoleScript { path } => {
                let real = vfs.realpath(path).unwrap_or_else(|| path.clone());
                b.push(
                    dirname(&real),
                    Origin::ScriptBinDir {
                        script: path.clone(),
                    },
                );
            }
            Launch::AppServer { server, .. } => {
                // The server's own script dir is sys.path[0]; the server then inserts the
                // working directory in front of it before importing the app (rule F3/F4), or
                // appends it (waitress, done once the model is built).
                if !APPENDS_CWD.contains(&server.as_str()) {
                    b.push(
                        cwd.clone(),
                        Origin::WorkingDir {
                            reason: format!("{server} inserts it before importing the app"),
                        },
                    );
                }
                if let Some(p) = which(vfs, &path_var, &cwd, server) {
                    let real = vfs.realpath(&p).unwrap_or(p.clone());
                    b.push(dirname(&real), Origin::ScriptBinDir { script: p });
                }
            }
            Launch::Lambda { bootstrap, .. } => {
                let real = vfs.realpath(bootstrap).unwrap_or_else(|| bootstrap.clone());
                b.push(
                    dirname(&real),
                    Origin::Launcher {
                        reason: format!("directory of the Lambda runtime's {bootstrap}"),
                        installed: true,
                    },
                );
            }
            Launch::Module { .. } => b.push(
                cwd.clone(),
                Origin::WorkingDir {
                    reason: "python -m".into(),
                },
            ),
            Launch::Command => b.push(
                cwd.clone(),
                Origin::WorkingDir {
                    reason: "python -c".into(),
                },
            ),
            // Not understood (uWSGI, a shell script, no Cmd): the program is unknown, so the
            // description names what was assumed rather than a launch form never used.
            Launch::Unknown { argv } => b.push(
                cwd.clone(),
                Origin::WorkingDir {
                    reason: match argv.first() {
                        Some(p) => format!("assumed: `{}` is not understood", basename(p)),
                        None => "assumed: the image has no Entrypoint/Cmd".into(),
                    },
                },
            ),
        }
    }
    // PYTHONPATH (rule A7): empty components mean the working directory. A launcher on the
    // way rewrote it before the program started.
    let python_path = wrappers.iter().fold(
        config.env_var("PYTHONPATH").map(str::to_string),
        |old, w| w.python_path(old.as_deref(), &cwd),
    );
    if let Some(pp) = python_path.as_deref().filter(|p| use_env && !p.is_empty()) {
        for part in pp.split(':') {
            let p = if part.is_empty() {
                cwd.clone()
            } else {
                abspath(&cwd, part)
            };
            b.push(p, Origin::PythonPath);
        }
    }
    if let Some(text) = &pth_lines {
        // The `._pth` lines are the whole module search path, relative to its directory.
        let dir = dirname(&pth_file);
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line == "import site" {
                continue;
            }
            if line.starts_with("import ") {
                warnings.push(format!(
                    "{pth_file}:{}: `{line}` is ignored by CPython (only `import site` counts)",
                    n + 1
                ));
                continue;
            }
            b.push(
                abspath(&dir, line),
                Origin::Pth {
                    file: pth_file.clone(),
                    line: (n + 1) as u32,
                },
            );
        }
        if !flags.no_site {
            warnings.push(format!(
                "{pth_file} has `import site`: site-packages are taken from the interpreter's prefix, which a ._pth may move"
            ));
        }
    } else {
        b.push(
            format!("{lib}/python{}{}.zip", version.major, version.minor),
            Origin::StdlibZip,
        );
        b.push(stdlib.clone(), Origin::Stdlib);
        b.push(lib_dynload, Origin::LibDynload);
    }

    // site (rules B1–B7).
    let mut site_dirs = Vec::new();
    let mut startup_hooks = Vec::new();
    let mut editable = Vec::new();
    let mut distutils_shim = None;
    let venv_prefix = venv.as_ref().map(|(d, _)| d.clone());
    if !flags.no_site {
        let include_system = venv.as_ref().is_none_or(|(_, kv)| {
            kv.iter()
                .find(|(k, _)| k == "include-system-site-packages")
                .is_none_or(|(_, v)| v.eq_ignore_ascii_case("true"))
        });
        // User site sits between the venv's and the system's site-packages (rules B3/B4).
        let user_enabled =
            !(flags.no_user_site || flags.isolated) && (venv_prefix.is_none() || include_system);
        let user_site = if user_enabled {
            // site.py reads PYTHONUSERBASE from os.environ itself, so -E does not hide it
            // (only -I/-s/PYTHONNOUSERSITE, which are interpreter flags, turn the user site off).
            let base = config
                .env_var("PYTHONUSERBASE")
                .filter(|v| !v.is_empty())
                .map(|b| abspath(&cwd, b))
                .unwrap_or_else(|| {
                    let home = home_dir(vfs, config, run_as.as_deref());
                    format!("{}/.local", home.trim_end_matches('/'))
                });
            let dir = format!("{base}/lib/python{version}/site-packages");
            vfs.is_dir(&dir).then_some(dir)
        } else {
            None
        };
        let in_venv = venv_prefix.is_some();
        let mut candidates = Vec::new();
        if let Some(v) = &venv_prefix {
            candidates.extend(site_candidates(
                v,
                version,
                in_venv,
                debian_site,
                &platlibdir,
            ));
        }
        candidates.extend(user_site.clone());
        if !in_venv || include_system {
            if local_prefix_site && !in_venv && prefix != "/usr/local" {
                candidates.extend(site_candidates(
                    "/usr/local",
                    version,
                    in_venv,
                    debian_site,
                    &platlibdir,
                ));
            }
            candidates.extend(site_candidates(
                &prefix,
                version,
                in_venv,
                debian_site,
                &platlibdir,
            ));
        }
        for c in candidates {
            if vfs.is_dir(&c) && !site_dirs.contains(&c) {
                site_dirs.push(c);
            }
        }
        let mut site = SiteState {
            startup_hooks: Vec::new(),
            editable: Vec::new(),
            distutils_shim: None,
            warnings: Vec::new(),
        };
        for dir in &site_dirs {
            let origin = if Some(dir) == user_site.as_ref() {
                Origin::UserSite
            } else {
                Origin::SitePackages
            };
            b.push(dir.clone(), origin);
            add_pth_files(vfs, config, dir, &interpreter, &mut b, &mut site);
        }
        if let Launch::Lambda { .. } = &launch {
            lambda_paths(
                vfs,
                config,
                &cwd,
                &interpreter,
                &mut b,
                &mut site_dirs,
                &mut site,
            );
        }
        startup_hooks = site.startup_hooks;
        editable = site.editable;
        distutils_shim = site.distutils_shim;
        warnings.extend(site.warnings);
        for m in ["sitecustomize", "usercustomize"] {
            for e in &b.entries {
                if vfs.is_file(&format!("{}/{m}.py", e.path)) {
                    startup_hooks.push(format!("{}/{m}.py runs at startup", e.path));
                    break;
                }
            }
        }
    }

    Ok(Runtime {
        interpreter,
        launch,
        flags,
        cwd,
        sys_path: b.entries,
        site_dirs,
        startup_hooks,
        venv: venv_prefix,
        editable,
        distutils_shim,
        pth_file: pth_lines.map(|_| pth_file),
        wrappers,
        run_as,
        exported,
        warnings,
    })
}

/// `config` with `exported` added to its environment (the later value of a name wins, as
/// [`ImageConfig::env_var`] reads it).
pub fn with_exports(config: &ImageConfig, exported: &[(String, String)]) -> ImageConfig {
    let mut c = config.clone();
    c.env
        .extend(exported.iter().map(|(k, v)| format!("{k}={v}")));
    c
}

/// What reading `.pth` files collects besides path entries.
struct SiteState {
    startup_hooks: Vec<String>,
    editable: Vec<(String, String)>,
    distutils_shim: Option<String>,
    warnings: Vec<String>,
}

/// `site.addpackage` for every `.pth` file of `dir`, in name order (rules B5, B6): path lines
/// that exist are appended, import lines are startup code.
fn add_pth_files(
    vfs: &Vfs,
    config: &ImageConfig,
    dir: &str,
    interpreter: &Interpreter,
    b: &mut PathBuilder,
    site: &mut SiteState,
) {
    let hidden_skipped = interpreter.version >= PyVersion::new(3, 13);
    let mut pths: Vec<&str> = vfs
        .read_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.ends_with(".pth"))
        .filter(|n| !(hidden_skipped && n.starts_with('.')))
        .collect();
    pths.sort();
    for name in pths {
        let file = format!("{dir}/{name}");
        let Some(text) = vfs.read_to_string(&file) else {
            site.warnings.push(format!(
                "{file}: contents not available; its lines are ignored"
            ));
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if line.starts_with("import ") || line.starts_with("import\t") {
                // An exception in an import line makes `addpackage` give up on the
                // rest of the file (rule B5). A module found nowhere certainly raises;
                // anything else may or may not, which is reported, not guessed.
                if let Some(missing) = first_import_missing(vfs, line, &b.entries, interpreter) {
                    site.warnings.push(format!(
                        "{file}:{}: `import {missing}` fails (no such module), so CPython skips the rest of this .pth file",
                        n + 1
                    ));
                    break;
                }
                site.startup_hooks
                    .push(format!("{file}:{}: {}", n + 1, line.trim()));
                let path_lines_follow = text.lines().skip(n + 1).any(|l| {
                    !(l.starts_with('#')
                        || l.trim().is_empty()
                        || l.starts_with("import ")
                        || l.starts_with("import\t"))
                });
                if path_lines_follow {
                    site.warnings.push(format!(
                        "{file}:{}: undecidable: if this import line raises, CPython skips the rest of the file; the path lines after it are assumed to be added",
                        n + 1
                    ));
                }
                if let Some(map) = editable_finder(vfs, dir, line) {
                    site.editable.extend(map);
                }
                if name == "distutils-precedence.pth"
                    && line.contains("_distutils_hack")
                    && config
                        .env_var("SETUPTOOLS_USE_DISTUTILS")
                        .or_else(|| distutils_default(line))
                        == Some("local")
                    && vfs.is_file(&format!("{dir}/_distutils_hack/__init__.py"))
                    && vfs.is_dir(&format!("{dir}/setuptools/_distutils"))
                {
                    site.distutils_shim = Some(format!("{dir}/setuptools/_distutils"));
                }
                continue;
            }
            let p = abspath(dir, line.trim_end());
            if vfs.exists(&p) {
                b.push(
                    p,
                    Origin::Pth {
                        file: file.clone(),
                        line: (n + 1) as u32,
                    },
                );
            }
        }
    }
}

/// AWS Lambda's `bootstrap.py`, before it imports the handler: `site.addsitedir` of
/// `$LAMBDA_TASK_ROOT` and, when `PYTHONPATH` is not in the environment, of
/// `/opt/python/lib/pythonX.Y/site-packages` and `/opt/python` (appended, their `.pth` files
/// read); then the same directories inserted in front, the task root first. From 3.11 the
/// interpreter's own site-packages (where the runtime's boto3 lives) comes before the runtime's
/// directory, as AWS documents for those images.
fn lambda_paths(
    vfs: &Vfs,
    config: &ImageConfig,
    cwd: &str,
    interpreter: &Interpreter,
    b: &mut PathBuilder,
    site_dirs: &mut Vec<String>,
    site: &mut SiteState,
) {
    let task_root = config
        .env_var("LAMBDA_TASK_ROOT")
        .filter(|t| !t.is_empty())
        .map(|t| abspath(cwd, t))
        .unwrap_or_else(|| cwd.to_string());
    let layers = config.env_var("PYTHONPATH").is_none();
    let opt_site = format!(
        "/opt/python/lib/python{}/site-packages",
        interpreter.version
    );
    let mut dirs = vec![(task_root.clone(), false)];
    if layers {
        dirs.push((opt_site.clone(), true));
        dirs.push(("/opt/python".to_string(), true));
    }
    let origin = |dir: &str, installed: bool| Origin::Launcher {
        reason: if installed {
            format!("Lambda layer directory {dir} (bootstrap.py)")
        } else {
            format!("$LAMBDA_TASK_ROOT {dir}, put first by the Lambda runtime's bootstrap.py")
        },
        installed,
    };
    for (dir, installed) in &dirs {
        if !vfs.is_dir(dir) {
            continue;
        }
        b.push(dir.clone(), origin(dir, *installed));
        add_pth_files(vfs, config, dir, interpreter, b, site);
        if *installed && !site_dirs.contains(dir) {
            site_dirs.push(dir.clone());
        }
    }
    let runtime_dir = b.entries.first().map(|e| e.path.clone());
    if let Some(r) = &runtime_dir
        && !site_dirs.contains(r)
    {
        site_dirs.push(r.clone());
    }
    let mut front: Vec<SysPathEntry> = dirs
        .iter()
        .filter(|(d, _)| vfs.is_dir(d))
        .map(|(d, installed)| SysPathEntry {
            path: d.clone(),
            origin: origin(d, *installed),
        })
        .collect();
    if interpreter.version >= PyVersion::new(3, 11)
        && let Some(sp) = b
            .entries
            .iter()
            .find(|e| e.origin == Origin::SitePackages)
            .cloned()
    {
        front.push(sp);
    }
    let rest = std::mem::take(&mut b.entries);
    for e in front.into_iter().chain(rest) {
        b.push(e.path, e.origin);
    }
}

/// The first module of a `.pth` import line (`import a.b, c; ...`: only the first statement
/// runs before anything can fail) that exists nowhere the interpreter could find it at that
/// point of startup: not builtin, frozen or preloaded, and no file, package or directory of
/// that name in any sys.path entry so far. `None` when every name may exist.
fn first_import_missing(
    vfs: &Vfs,
    line: &str,
    entries: &[SysPathEntry],
    interp: &Interpreter,
) -> Option<String> {
    let first = line.split(';').next()?.trim();
    let names = first.strip_prefix("import")?;
    for item in names.split(',') {
        let dotted = item.split_whitespace().next()?;
        let top = dotted.split('.').next()?;
        if top.is_empty() || !top.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        if interp.builtins.contains(top)
            || interp.frozen.contains(top)
            || crate::interpreter::STARTUP_MODULES.contains(&top)
        {
            continue;
        }
        let exists = entries.iter().any(|e| {
            if vfs.is_file(&e.path) {
                return true; // a zip may hold it
            }
            let Some(names) = vfs.read_dir(&e.path) else {
                return false;
            };
            names.iter().any(|n| {
                *n == top
                    || n.strip_prefix(top)
                        .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
            })
        });
        if !exists {
            return Some(top.to_string());
        }
    }
    None
}

/// The default of `SETUPTOOLS_USE_DISTUTILS` written into `distutils-precedence.pth`
/// (`os.environ.get(var, 'local')`; setuptools 60+ says `local`, older ones `stdlib`).
fn distutils_default(line: &str) -> Option<&str> {
    let rest = &line[line.find("os.environ.get(var,")? + "os.environ.get(var,".len()..];
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &rest[1..];
    Some(&body[..body.find(quote)?])
}

/// A setuptools editable-finder `.pth` line (`import __editable___x_finder; ...install()`):
/// the `MAPPING` dict literal of that module in `site_dir`, as (top-level name, path) pairs.
fn editable_finder(vfs: &Vfs, site_dir: &str, line: &str) -> Option<Vec<(String, String)>> {
    let module = line
        .split(';')
        .next()?
        .trim()
        .strip_prefix("import ")?
        .trim();
    if !(module.starts_with("__editable___") && module.ends_with("_finder")) {
        return None;
    }
    let src = vfs.read_to_string(&format!("{site_dir}/{module}.py"))?;
    let start = src.find("MAPPING")?;
    let rest = &src[start..];
    let open = rest.find('{')?;
    let close = rest[open..].find('}')? + open;
    Some(parse_str_dict(&rest[open + 1..close]))
}

/// `'a': '/x', "b": "/y"` -> pairs; entries that are not two plain string literals are left
/// out (a path that is not a literal cannot be followed statically).
fn parse_str_dict(body: &str) -> Vec<(String, String)> {
    let mut strings = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            let mut s = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                s.push(d);
            }
            strings.push(s);
        }
    }
    strings
        .chunks(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

/// The builtin and frozen names that a file can never shadow, plus startup modules.
pub fn unshadowable(rt: &Runtime) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = rt.interpreter.builtins.clone();
    if !rt.flags.no_site {
        s.extend(
            crate::interpreter::STARTUP_MODULES
                .iter()
                .map(|m| m.to_string()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::shell_guard_exit;

    fn slim(extra: &[(&str, &str)]) -> Vfs {
        let mut files = vec![
            ("usr/local/bin/python3.12", "ELF"),
            ("usr/local/bin/python3", "-> python3.12"),
            ("usr/local/bin/python", "-> python3"),
            ("usr/local/lib/python3.12/os.py", ""),
            ("usr/local/lib/python3.12/site.py", ""),
            ("usr/local/lib/python3.12/lib-dynload/", ""),
            ("usr/local/lib/python3.12/site-packages/", ""),
        ];
        files.extend_from_slice(extra);
        Vfs::from_files(&files)
    }

    fn cfg(cmd: &[&str], wd: &str, env: &[&str]) -> ImageConfig {
        ImageConfig {
            env: env.iter().map(|s| s.to_string()).collect(),
            working_dir: wd.into(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn paths(rt: &Runtime) -> Vec<&str> {
        rt.sys_path.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn script_launch_puts_the_script_dir_first() {
        let vfs = slim(&[("app/main.py", "")]);
        let rt = model(
            &vfs,
            &cfg(
                &["python", "main.py"],
                "/app",
                &["PATH=/usr/local/bin:/usr/bin"],
            ),
        )
        .unwrap();
        assert_eq!(rt.interpreter.version, PyVersion::new(3, 12));
        assert_eq!(rt.interpreter.prefix, "/usr/local");
        assert_eq!(
            paths(&rt),
            [
                "/app",
                "/usr/local/lib/python312.zip",
                "/usr/local/lib/python3.12",
                "/usr/local/lib/python3.12/lib-dynload",
                "/usr/local/lib/python3.12/site-packages"
            ]
        );
    }

    /// A shell entrypoint hands over to its last `exec` line (continued lines joined), else
    /// runs its last command in the foreground (`"$@"`: the Cmd).
    #[test]
    fn shell_entrypoints_run_their_last_command() {
        let vfs = slim(&[
            (
                "usr/local/bin/gunicorn",
                "#!/usr/local/bin/python3.12\nfrom gunicorn.app.wsgiapp import run\n",
            ),
            ("app/main.py", ""),
            (
                "app/exec.sh",
                "#!/bin/sh\nset -e\nif [ \"$1\" = worker ]; then\n  exec celery -A proj worker\nfi\nexec gunicorn \\\n  --bind 0.0.0.0:8000 \\\n  main:app\n",
            ),
            (
                "app/last.sh",
                "#!/bin/bash\nset -e\npython main.py migrate\n# serve\ngunicorn --bind 0.0.0.0:8000 main:app\n",
            ),
            (
                "app/chain.sh",
                "#!/bin/sh\npython main.py migrate && gunicorn main:app\n",
            ),
            ("app/args.sh", "#!/bin/sh\necho starting\n\"$@\"\n"),
            ("app/bg.sh", "#!/bin/sh\ngunicorn main:app &\nwait\n"),
        ]);
        let launch = |script: &str| {
            let mut c = cfg(
                &["python", "main.py"],
                "/app",
                &["PATH=/usr/local/bin:/usr/bin"],
            );
            c.entrypoint = Some(vec![format!("/app/{script}")]);
            model(&vfs, &c).unwrap().launch
        };
        let gunicorn = Launch::AppServer {
            server: "gunicorn".into(),
            app: "main:app".into(),
        };
        assert_eq!(launch("exec.sh"), gunicorn);
        assert_eq!(launch("last.sh"), gunicorn);
        assert_eq!(launch("chain.sh"), gunicorn);
        assert_eq!(
            launch("args.sh"),
            Launch::Script {
                path: "main.py".into()
            }
        );
        assert!(matches!(launch("bg.sh"), Launch::Unknown { .. }));
    }

    /// The `lambda/python` base images: `/lambda-entrypoint.sh` exports `_HANDLER="$1"` and
    /// execs `$RUNTIME_ENTRYPOINT` (a variable it set), whose `exec` of the interpreter on
    /// `bootstrap.py` is the branch taken without `AWS_LAMBDA_EXEC_WRAPPER`; `bootstrap.py`
    /// puts the task root and the layer directories in front and reads the task root's `.pth`.
    #[test]
    fn lambda_base_images_run_the_handler_from_the_task_root() {
        const ENTRY: &str = "#!/bin/sh\nif [ $# -ne 1 ]; then\n  echo \"entrypoint requires the handler name to be the first argument\" 1>&2\n  exit 142\nfi\nexport _HANDLER=\"$1\"\n\nRUNTIME_ENTRYPOINT=/var/runtime/bootstrap\nif [ -z \"${AWS_LAMBDA_RUNTIME_API}\" ]; then\n  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT\nelse\n  exec $RUNTIME_ENTRYPOINT\nfi\n";
        const BOOT: &str = "#!/bin/sh\nexport AWS_EXECUTION_ENV=AWS_Lambda_python3.12\nif [ -z \"$AWS_LAMBDA_EXEC_WRAPPER\" ]; then\n  exec /var/lang/bin/python3.12 /var/runtime/bootstrap.py\nelse\n  wrapper=\"$AWS_LAMBDA_EXEC_WRAPPER\"\n  exec -- \"$wrapper\" /var/lang/bin/python3.12 /var/runtime/bootstrap.py\nfi\n";
        const PY: &str = "import os, site, sys\nimport awslambdaric.__main__ as m\ndef main():\n    site.addsitedir(os.environ['LAMBDA_TASK_ROOT'])\n    m.main([os.environ['LAMBDA_TASK_ROOT'], os.environ['_HANDLER']])\n";
        let vfs = Vfs::from_files(&[
            ("var/lang/bin/python3.12", "ELF"),
            ("var/lang/lib/python3.12/os.py", ""),
            ("var/lang/lib/python3.12/site.py", ""),
            ("var/lang/lib/python3.12/lib-dynload/", ""),
            (
                "var/lang/lib/python3.12/site-packages/awslambdaric/__init__.py",
                "",
            ),
            ("var/runtime/bootstrap", BOOT),
            ("var/runtime/bootstrap.py", PY),
            ("lambda-entrypoint.sh", ENTRY),
            ("usr/local/bin/aws-lambda-rie", "ELF"),
            ("var/task/app.py", ""),
            ("var/task/extra.pth", "vendor\n"),
            ("var/task/vendor/dep.py", ""),
            ("opt/python/lib/python3.12/site-packages/layer.py", ""),
            ("opt/python/shared.py", ""),
        ]);
        let config = |cmd: &[&str], extra: &[&str]| {
            let mut env = vec![
                "PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
                "LAMBDA_TASK_ROOT=/var/task",
                "LAMBDA_RUNTIME_DIR=/var/runtime",
            ];
            env.extend_from_slice(extra);
            let mut c = cfg(cmd, "/var/task", &env);
            c.entrypoint = Some(vec!["/lambda-entrypoint.sh".into()]);
            c
        };
        let rt = model(&vfs, &config(&["app.handler"], &[])).unwrap();
        assert_eq!(
            rt.launch,
            Launch::Lambda {
                bootstrap: "/var/runtime/bootstrap.py".into(),
                handler: Some("app.handler".into()),
            }
        );
        assert_eq!(
            paths(&rt),
            [
                "/var/task",
                "/opt/python/lib/python3.12/site-packages",
                "/opt/python",
                "/var/lang/lib/python3.12/site-packages",
                "/var/runtime",
                "/var/lang/lib/python312.zip",
                "/var/lang/lib/python3.12",
                "/var/lang/lib/python3.12/lib-dynload",
                "/var/task/vendor",
            ]
        );
        assert!(rt.site_dirs.contains(&"/opt/python".to_string()));
        assert!(rt.site_dirs.contains(&"/var/runtime".to_string()));
        assert!(!rt.site_dirs.contains(&"/var/task".to_string()));
        // With PYTHONPATH in the environment the layers are left out.
        let rt = model(&vfs, &config(&["app.handler"], &["PYTHONPATH=/x"])).unwrap();
        assert_eq!(
            paths(&rt)[..4],
            [
                "/var/task",
                "/var/lang/lib/python3.12/site-packages",
                "/var/runtime",
                "/x"
            ]
        );
        // The entrypoint's guard: exactly one argument, the handler.
        let handler = |n: usize| vec!["app.handler".to_string(); n];
        assert_eq!(
            shell_guard_exit(&vfs, "/lambda-entrypoint.sh", &handler(1)),
            None
        );
        for n in [0, 2] {
            assert_eq!(
                shell_guard_exit(&vfs, "/lambda-entrypoint.sh", &handler(n)),
                Some((
                    142,
                    "entrypoint requires the handler name to be the first argument".into()
                ))
            );
        }
        let rt = model(&vfs, &config(&[], &[])).unwrap();
        assert!(matches!(rt.launch, Launch::Lambda { handler: None, .. }));
    }

    /// A shell entrypoint's `cd DIR` (its own line, or `cd DIR && exec …`) is the program's
    /// working directory, and what it exports is the program's environment: `$VAR` of an unset
    /// variable is empty there, so `/app/lib:$PYTHONPATH` ends in an empty entry, the working
    /// directory.
    #[test]
    fn shell_entrypoints_cd_and_export() {
        let vfs = slim(&[
            (
                "usr/local/bin/gunicorn",
                "#!/usr/local/bin/python3.12\nfrom gunicorn.app.wsgiapp import run\n",
            ),
            ("app/src/main.py", ""),
            ("app/lib/", ""),
            (
                "app/start.sh",
                "#!/bin/sh\nset -e\ncd /app/src\nexport PYTHONPATH=/app/lib:$PYTHONPATH\nexec gunicorn main:app\n",
            ),
            (
                "app/chain.sh",
                "#!/bin/sh\ncd src && exec gunicorn main:app\n",
            ),
        ]);
        let run = |entry: Vec<String>| {
            let mut c = cfg(&[], "/app", &["PATH=/usr/local/bin:/usr/bin"]);
            c.entrypoint = Some(entry);
            c.cmd = None;
            model(&vfs, &c).unwrap()
        };
        let rt = run(vec!["/app/start.sh".into()]);
        assert_eq!(rt.cwd, "/app/src");
        assert_eq!(
            rt.exported,
            [("PYTHONPATH".to_string(), "/app/lib:".to_string())]
        );
        assert_eq!(
            paths(&rt)[..4],
            [
                "/app/src",
                "/usr/local/bin",
                "/app/lib",
                "/usr/local/lib/python312.zip"
            ]
        );
        assert_eq!(run(vec!["/app/chain.sh".into()]).cwd, "/app/src");
        let rt = run(vec![
            "sh".into(),
            "-c".into(),
            "cd /app/src && exec gunicorn main:app".into(),
        ]);
        assert_eq!(rt.cwd, "/app/src");
        assert!(rt.exported.is_empty());
    }

    /// Programs that run the rest of their command line: their own options (with values) are
    /// passed over, the user switchers name the user, `env` sets variables and `-C` a directory.
    #[test]
    fn wrappers_hand_over_the_rest_of_their_command_line() {
        let t = |line: &str| {
            let w: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            see_through(&w[0], &w[1..]).map(|t| (t.rest.join(" "), t.user, t.env, t.cwd))
        };
        let plain = |rest: &str| Some((rest.to_string(), None, Vec::new(), None));
        assert_eq!(
            t("tini -g -p SIGTERM -- python app.py"),
            plain("python app.py")
        );
        assert_eq!(
            t("dumb-init --rewrite 15:2 python app.py"),
            plain("python app.py")
        );
        assert_eq!(t("nice -n 10 gunicorn a:b"), plain("gunicorn a:b"));
        assert_eq!(
            t("timeout --preserve-status 1h python x.py"),
            plain("python x.py")
        );
        assert_eq!(t("stdbuf -oL -e L python x.py"), plain("python x.py"));
        assert_eq!(t("nohup python x.py"), plain("python x.py"));
        assert_eq!(
            t("aws-lambda-rie --log-level debug python -m awslambdaric app.handler"),
            plain("python -m awslambdaric app.handler")
        );
        let user =
            |rest: &str, u: &str| Some((rest.to_string(), Some(u.to_string()), Vec::new(), None));
        assert_eq!(t("gosu app python x.py"), user("python x.py", "app"));
        assert_eq!(
            t("runuser -u app -- python x.py"),
            user("python x.py", "app")
        );
        assert_eq!(
            t("chpst -u app:app python x.py"),
            user("python x.py", "app")
        );
        assert_eq!(
            t("setpriv --reuid=1000 --regid=1000 --init-groups python x.py"),
            user("python x.py", "1000")
        );
        assert_eq!(
            t("s6-setuidgid app python x.py"),
            user("python x.py", "app")
        );
        assert_eq!(
            t("env -C /srv PYTHONPATH=/lib python x.py"),
            Some((
                "python x.py".to_string(),
                None,
                vec![("PYTHONPATH".to_string(), "/lib".to_string())],
                Some("/srv".to_string())
            ))
        );
        assert_eq!(t("gosu app"), None);
        assert_eq!(t("python x.py"), None);
    }

    /// `gosu app CMD` and `su-exec app CMD` run CMD as `app` with `app`'s HOME from passwd:
    /// its user site, not root's (nor the HOME the image's Env names).
    #[test]
    fn gosu_runs_the_program_as_another_user() {
        let vfs = slim(&[
            ("usr/local/bin/gosu", "ELF"),
            ("sbin/su-exec", "ELF"),
            (
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            ),
            ("root/.local/lib/python3.12/site-packages/", ""),
            ("home/app/.local/lib/python3.12/site-packages/", ""),
            ("app/main.py", ""),
            (
                "app/entrypoint.sh",
                "#!/bin/sh\nset -e\nexec gosu app \"$@\"\n",
            ),
        ]);
        let user_site = |rt: &Runtime| {
            rt.sys_path
                .iter()
                .find(|e| e.origin == Origin::UserSite)
                .map(|e| e.path.clone())
        };
        let env = ["PATH=/usr/local/bin:/usr/bin:/sbin", "HOME=/root"];
        let rt = model(&vfs, &cfg(&["python", "main.py"], "/app", &env)).unwrap();
        assert_eq!(
            user_site(&rt).as_deref(),
            Some("/root/.local/lib/python3.12/site-packages")
        );
        for cmd in [
            &["gosu", "app", "python", "main.py"][..],
            &["su-exec", "app:app", "python", "main.py"][..],
        ] {
            let rt = model(&vfs, &cfg(cmd, "/app", &env)).unwrap();
            assert_eq!(
                rt.launch,
                Launch::Script {
                    path: "main.py".into()
                },
                "{cmd:?}"
            );
            assert_eq!(rt.run_as.as_deref(), Some(cmd[1]));
            assert_eq!(
                user_site(&rt).as_deref(),
                Some("/home/app/.local/lib/python3.12/site-packages"),
                "{cmd:?}"
            );
        }
        let mut c = cfg(&["python", "main.py"], "/app", &env);
        c.entrypoint = Some(vec!["/app/entrypoint.sh".into()]);
        let rt = model(&vfs, &c).unwrap();
        assert_eq!(
            rt.launch,
            Launch::Script {
                path: "main.py".into()
            }
        );
        assert_eq!(rt.run_as.as_deref(), Some("app"));
    }

    /// APM launchers `exec` the program behind them after rewriting `PYTHONPATH` each in its
    /// own way (ddtrace 2.x `ddtrace_run.py`, opentelemetry-instrumentation `run()`,
    /// newrelic `run_program.py`/`run_python.py`).
    #[test]
    fn launchers_run_the_program_behind_them() {
        const SITE: &str = "usr/local/lib/python3.12/site-packages";
        let script =
            |module: &str| format!("#!/usr/local/bin/python3.12\nfrom {module} import main\n");
        let files = [
            (
                "usr/local/bin/ddtrace-run".to_string(),
                script("ddtrace.commands.ddtrace_run"),
            ),
            (
                "usr/local/bin/opentelemetry-instrument".into(),
                script("opentelemetry.instrumentation.auto_instrumentation"),
            ),
            (
                "usr/local/bin/newrelic-admin".into(),
                script("newrelic.admin"),
            ),
            (
                "usr/local/bin/gunicorn".into(),
                script("gunicorn.app.wsgiapp"),
            ),
            (
                format!("{SITE}/ddtrace/bootstrap/sitecustomize.py"),
                String::new(),
            ),
            (
                format!(
                    "{SITE}/opentelemetry/instrumentation/auto_instrumentation/sitecustomize.py"
                ),
                String::new(),
            ),
            (
                format!("{SITE}/newrelic/bootstrap/sitecustomize.py"),
                String::new(),
            ),
            ("app/main.py".into(), String::new()),
        ];
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        let vfs = slim(&refs);
        let run = |cmd: &[&str], env: &[&str]| {
            let mut env = env.to_vec();
            env.push("PATH=/usr/local/bin:/usr/bin");
            model(&vfs, &cfg(cmd, "/app", &env)).unwrap()
        };
        let boot = |rel: &str| format!("/{SITE}/{rel}");

        let rt = run(&["ddtrace-run", "-d", "gunicorn", "main:app"], &[]);
        assert_eq!(
            rt.launch,
            Launch::AppServer {
                server: "gunicorn".into(),
                app: "main:app".into()
            }
        );
        assert_eq!(rt.wrappers.len(), 1);
        assert_eq!(rt.wrappers[0].runs, ["gunicorn", "main:app"]);
        // gunicorn puts its working directory first; its script's directory follows.
        assert_eq!(
            paths(&rt)[..3],
            ["/app", "/usr/local/bin", &boot("ddtrace/bootstrap")[..]]
        );
        let rt = run(
            &["ddtrace-run", "python", "main.py"],
            &["PYTHONPATH=/lib/x"],
        );
        assert_eq!(
            rt.launch,
            Launch::Script {
                path: "main.py".into()
            }
        );
        assert_eq!(
            paths(&rt)[..3],
            ["/app", &boot("ddtrace/bootstrap")[..], "/lib/x"]
        );

        // The working directory joins PYTHONPATH after the bootstrap directory.
        let rt = run(
            &[
                "opentelemetry-instrument",
                "--service_name",
                "svc",
                "--traces_exporter=console",
                "python",
                "main.py",
            ],
            &["PYTHONPATH=/lib/x"],
        );
        assert_eq!(
            rt.launch,
            Launch::Script {
                path: "main.py".into()
            }
        );
        let auto = boot("opentelemetry/instrumentation/auto_instrumentation");
        // (site removes the duplicate of `sys.path[0]`).
        assert_eq!(paths(&rt)[..3], ["/app", &auto[..], "/lib/x"]);
        let vfs_sub = {
            let mut f = refs.clone();
            f.push(("srv/run.py", ""));
            slim(&f)
        };
        let rt = model(
            &vfs_sub,
            &cfg(
                &["opentelemetry-instrument", "python", "/srv/run.py"],
                "/app",
                &["PATH=/usr/local/bin:/usr/bin"],
            ),
        )
        .unwrap();
        assert_eq!(paths(&rt)[..3], ["/srv", &auto[..], "/app"]);

        let rt = model(
            &vfs_sub,
            &cfg(
                &["newrelic-admin", "run-program", "python", "/srv/run.py"],
                "/app",
                &["PATH=/usr/local/bin:/usr/bin", "PYTHONPATH="],
            ),
        )
        .unwrap();
        // Set but empty: `boot:` (an empty component is the working directory).
        assert_eq!(
            paths(&rt)[..3],
            ["/srv", &boot("newrelic/bootstrap")[..], "/app"]
        );
        let rt = run(&["newrelic-admin", "run-python", "main.py"], &[]);
        assert_eq!(
            rt.launch,
            Launch::Script {
                path: "main.py".into()
            }
        );
        assert_eq!(paths(&rt)[1], boot("newrelic/bootstrap"));
        // Not a launch: the launcher is the program.
        let rt = run(&["newrelic-admin", "validate-config", "x.ini"], &[]);
        assert!(rt.wrappers.is_empty());
        assert_eq!(
            rt.launch,
            Launch::ConsoleScript {
                path: "/usr/local/bin/newrelic-admin".into()
            }
        );
    }

    #[test]
    fn pythonpath_empty_component_is_cwd_and_relative_is_absolutised() {
        let vfs = slim(&[]);
        let rt = model(
            &vfs,
            &cfg(
                &["python", "-m", "app"],
                "/srv",
                &["PYTHONPATH=:lib:/opt/x"],
            ),
        )
        .unwrap();
        assert_eq!(&paths(&rt)[..3], ["/srv", "/srv/lib", "/opt/x"]);
    }

    #[test]
    fn pth_lines_follow_their_site_dir_and_import_lines_are_hooks() {
        let vfs = slim(&[
            (
                "usr/local/lib/python3.12/site-packages/a.pth",
                "# c\n/opt/extra\nimport sys\n/nonexistent\n ../../../../../opt/rel\n",
            ),
            ("opt/extra/", ""),
            ("opt/rel/", ""),
        ]);
        let rt = model(&vfs, &cfg(&["python", "-c", "1"], "/", &[])).unwrap();
        let p = paths(&rt);
        assert_eq!(
            &p[p.len() - 2..],
            ["/usr/local/lib/python3.12/site-packages", "/opt/extra"]
        );
        assert_eq!(rt.startup_hooks.len(), 1);
    }

    /// `uv run`, `poetry run`, `pipenv run`: the command runs with the project's environment
    /// first on PATH (its `python`, its console scripts, its site-packages), or from the
    /// image's PATH when the image has none.
    #[test]
    fn project_runners_use_the_project_environment() {
        let venv = |dir: &str| {
            vec![
                (
                    format!("{dir}/pyvenv.cfg"),
                    "home = /usr/local/bin\ninclude-system-site-packages = false\n".to_string(),
                ),
                (
                    format!("{dir}/bin/python"),
                    "-> /usr/local/bin/python3.12".to_string(),
                ),
                (
                    format!("{dir}/bin/uvicorn"),
                    format!("#!/{dir}/bin/python\nfrom uvicorn.main import main\n"),
                ),
                (
                    format!("{dir}/lib/python3.12/site-packages/"),
                    String::new(),
                ),
            ]
        };
        let mut files = venv("app/.venv");
        files.extend(venv("root/.cache/pypoetry/virtualenvs/svc-AbC123-py3.12"));
        files.push(("app/pyproject.toml".into(), String::new()));
        files.push(("app/main.py".into(), String::new()));
        files.push(("srv/main.py".into(), String::new()));
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        let vfs = slim(&refs);
        let run = |cmd: &[&str], wd: &str, env: &[&str]| {
            let mut env = env.to_vec();
            env.push("PATH=/usr/local/bin:/usr/bin");
            model(&vfs, &cfg(cmd, wd, &env)).unwrap()
        };
        let site = |rt: &Runtime| paths(rt).last().map(|p| p.to_string());

        let rt = run(
            &["uv", "run", "--frozen", "--no-dev", "uvicorn", "main:app"],
            "/app",
            &[],
        );
        assert_eq!(
            rt.launch,
            Launch::AppServer {
                server: "uvicorn".into(),
                app: "main:app".into()
            }
        );
        assert_eq!(rt.venv.as_deref(), Some("/app/.venv"));
        assert_eq!(
            site(&rt).as_deref(),
            Some("/app/.venv/lib/python3.12/site-packages")
        );
        let rt = run(&["uv", "run", "python", "main.py"], "/app", &[]);
        assert_eq!(
            rt.launch,
            Launch::Script {
                path: "main.py".into()
            }
        );
        assert_eq!(rt.venv.as_deref(), Some("/app/.venv"));
        let rt = run(&["uv", "run", "--directory", "/app", "-m", "svc"], "/", &[]);
        assert_eq!(
            rt.launch,
            Launch::Module {
                module: "svc".into()
            }
        );
        assert_eq!(rt.venv.as_deref(), Some("/app/.venv"));

        // Poetry: in-project `.venv`, else its one cached environment, else the image's own.
        let rt = run(&["poetry", "run", "python", "main.py"], "/app", &[]);
        assert_eq!(rt.venv.as_deref(), Some("/app/.venv"));
        let rt = run(
            &["poetry", "run", "python", "main.py"],
            "/srv",
            &["HOME=/root"],
        );
        assert_eq!(
            rt.venv.as_deref(),
            Some("/root/.cache/pypoetry/virtualenvs/svc-AbC123-py3.12")
        );
        let rt = run(
            &["poetry", "run", "python", "main.py"],
            "/srv",
            &["POETRY_VIRTUALENVS_CREATE=false"],
        );
        assert_eq!(rt.venv, None);
        assert_eq!(
            site(&rt).as_deref(),
            Some("/usr/local/lib/python3.12/site-packages")
        );
        // Not a run: the runner itself is the program.
        assert!(matches!(
            run(&["uv", "sync"], "/app", &[]).launch,
            Launch::Unknown { .. }
        ));
    }

    #[test]
    fn venv_without_system_site_hides_base_site_packages() {
        let vfs = slim(&[
            (
                "venv/pyvenv.cfg",
                "home = /usr/local/bin\ninclude-system-site-packages = false\n",
            ),
            ("venv/bin/python", "-> /usr/local/bin/python3.12"),
            ("venv/lib/python3.12/site-packages/", ""),
        ]);
        let rt = model(&vfs, &cfg(&["/venv/bin/python", "-m", "app"], "/app", &[])).unwrap();
        let p = paths(&rt);
        assert_eq!(p.last(), Some(&"/venv/lib/python3.12/site-packages"));
        assert!(!p.contains(&"/usr/local/lib/python3.12/site-packages"));
    }

    /// RHEL/Fedora: stdlib and lib-dynload under lib64, site-packages in lib64 then lib, with
    /// the patched `site.py` putting /usr/local's first outside a venv.
    #[test]
    fn lib64_platlibdir_layout_is_found_from_the_files() {
        let vfs = Vfs::from_files(&[
            ("usr/bin/python3.11", "ELF"),
            ("usr/bin/python3", "-> python3.11"),
            ("usr/lib64/python3.11/os.py", ""),
            (
                "usr/lib64/python3.11/site.py",
                "if 'RPM_BUILD_ROOT' not in os.environ:\n    PREFIXES.insert(0, \"/usr/local\")\n",
            ),
            ("usr/lib64/python3.11/lib-dynload/", ""),
            ("usr/lib64/python3.11/site-packages/", ""),
            ("usr/lib/python3.11/site-packages/", ""),
            ("usr/local/lib/python3.11/site-packages/", ""),
        ]);
        let rt = model(&vfs, &cfg(&["python3", "-m", "app"], "/srv", &[])).unwrap();
        assert_eq!(rt.interpreter.platlibdir, "lib64");
        assert_eq!(rt.interpreter.stdlib, "/usr/lib64/python3.11");
        assert_eq!(
            paths(&rt),
            [
                "/srv",
                "/usr/lib64/python311.zip",
                "/usr/lib64/python3.11",
                "/usr/lib64/python3.11/lib-dynload",
                "/usr/local/lib/python3.11/site-packages",
                "/usr/lib64/python3.11/site-packages",
                "/usr/lib/python3.11/site-packages",
            ]
        );
        // RPM_BUILD_ROOT turns the /usr/local prefix off; PYTHONPLATLIBDIR that names a
        // directory without the stdlib leaves no prefix to find.
        let rt = model(
            &vfs,
            &cfg(&["python3", "-m", "app"], "/srv", &["RPM_BUILD_ROOT=/x"]),
        )
        .unwrap();
        assert!(!paths(&rt).contains(&"/usr/local/lib/python3.11/site-packages"));
        assert!(
            model(
                &vfs,
                &cfg(&["python3", "-m", "app"], "/srv", &["PYTHONPLATLIBDIR=lib"])
            )
            .is_err()
        );
    }

    #[test]
    fn pythonplatlibdir_moves_stdlib_and_site_packages() {
        let vfs = Vfs::from_files(&[
            ("usr/local/bin/python3.12", "ELF"),
            ("usr/local/lib64/python3.12/os.py", ""),
            ("usr/local/lib64/python3.12/site-packages/", ""),
            ("usr/local/lib/python3.12/os.py", ""),
            ("usr/local/lib/python3.12/site-packages/", ""),
        ]);
        let rt = model(
            &vfs,
            &cfg(&["python3.12", "-c", "0"], "/", &["PYTHONPLATLIBDIR=lib64"]),
        )
        .unwrap();
        assert_eq!(rt.interpreter.stdlib, "/usr/local/lib64/python3.12");
        let p = paths(&rt);
        let a = p
            .iter()
            .position(|e| *e == "/usr/local/lib64/python3.12/site-packages");
        let b = p
            .iter()
            .position(|e| *e == "/usr/local/lib/python3.12/site-packages");
        assert!(a.is_some() && b.is_some() && a < b, "{p:?}");
        // Without the variable the `lib` copy wins, as the compiled-in default would.
        let rt = model(&vfs, &cfg(&["python3.12", "-c", "0"], "/", &[])).unwrap();
        assert_eq!(rt.interpreter.stdlib, "/usr/local/lib/python3.12");
    }

    #[test]
    fn shell_wrappers_and_app_servers_are_understood() {
        let vfs = slim(&[(
            "usr/local/bin/uvicorn",
            "#!/usr/local/bin/python3.12\nimport uvicorn\n",
        )]);
        let rt = model(
            &vfs,
            &cfg(
                &["sh", "-c", "echo hi && exec uvicorn main:app --port 80"],
                "/app",
                &[],
            ),
        )
        .unwrap();
        assert_eq!(
            rt.launch,
            Launch::AppServer {
                server: "uvicorn".into(),
                app: "main:app".into()
            }
        );
        assert_eq!(paths(&rt)[0], "/app");
    }

    #[test]
    fn pth_file_next_to_the_executable_replaces_the_path_from_311() {
        let vfs = slim(&[
            ("opt/app/bin/python", "-> /usr/local/bin/python3.12"),
            (
                "opt/app/bin/python._pth",
                "/usr/local/lib/python3.12\n# comment\n../lib\n",
            ),
            ("opt/app/lib/", ""),
            ("app/main.py", ""),
        ]);
        let rt = model(
            &vfs,
            &cfg(
                &["/opt/app/bin/python", "main.py"],
                "/app",
                &["PYTHONPATH=/x"],
            ),
        )
        .unwrap();
        assert_eq!(paths(&rt), ["/usr/local/lib/python3.12", "/opt/app/lib"]);
        assert!(rt.flags.isolated && rt.flags.no_site && rt.flags.safe_path);
        assert_eq!(rt.pth_file.as_deref(), Some("/opt/app/bin/python._pth"));
    }

    #[test]
    fn frozen_modules_off_from_x_option_and_exec_trick_keeps_flags() {
        let vfs = slim(&[(
            "venv/bin/tool",
            "#!/bin/sh\n'''exec' /usr/local/bin/python3.12 -s -X frozen_modules=off \"$0\" \"$@\"\n' '''\nimport x\n",
        )]);
        let rt = model(&vfs, &cfg(&["/venv/bin/tool"], "/", &[])).unwrap();
        assert!(rt.flags.no_user_site);
        assert_eq!(rt.flags.frozen_modules, Some(false));
        assert!(rt.interpreter.frozen.is_empty());
        let rt = model(
            &vfs,
            &cfg(&["python", "-Xfrozen_modules=off", "m.py"], "/", &[]),
        )
        .unwrap();
        assert!(rt.interpreter.frozen.is_empty());
        let rt = model(&vfs, &cfg(&["python", "m.py"], "/", &[])).unwrap();
        assert!(rt.interpreter.frozen.contains("runpy"));
    }

    #[test]
    fn a_directory_with_main_is_its_own_sys_path_0() {
        let vfs = slim(&[("srv/appdir/__main__.py", "")]);
        let rt = model(&vfs, &cfg(&["python", "appdir"], "/srv", &[])).unwrap();
        assert_eq!(paths(&rt)[0], "/srv/appdir");
    }

    #[test]
    fn a_failing_pth_import_line_drops_the_rest_of_the_file() {
        let vfs = slim(&[
            (
                "usr/local/lib/python3.12/site-packages/a.pth",
                "/opt/one\nimport surely_missing_mod\n/opt/two\n",
            ),
            (
                "usr/local/lib/python3.12/site-packages/b.pth",
                "import os\n/opt/three\n",
            ),
            ("opt/one/", ""),
            ("opt/two/", ""),
            ("opt/three/", ""),
        ]);
        let rt = model(&vfs, &cfg(&["python", "-c", "1"], "/", &[])).unwrap();
        let p = paths(&rt);
        assert!(p.contains(&"/opt/one") && p.contains(&"/opt/three"));
        assert!(!p.contains(&"/opt/two"));
        assert!(rt.warnings.iter().any(|w| w.contains("surely_missing_mod")));
        // `import os` may still raise in principle: reported, not guessed.
        assert!(
            rt.warnings
                .iter()
                .any(|w| w.contains("b.pth:1: undecidable"))
        );
    }

    #[test]
    fn editable_finder_mapping_and_distutils_shim_are_read() {
        let sp = "usr/local/lib/python3.12/site-packages";
        let files: Vec<(String, &str)> = vec![
            (
                format!("{sp}/__editable__.proj-1.0.pth"),
                "import __editable___proj_1_0_finder; __editable___proj_1_0_finder.install()\n",
            ),
            (
                format!("{sp}/__editable___proj_1_0_finder.py"),
                "import sys\nMAPPING = {'proj': '/src/proj', \"other\": '/src/other'}\nNAMESPACES = {}\n",
            ),
            (
                format!("{sp}/distutils-precedence.pth"),
                "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n",
            ),
            (format!("{sp}/_distutils_hack/__init__.py"), ""),
            (format!("{sp}/setuptools/_distutils/__init__.py"), ""),
        ];
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let vfs = slim(&refs);
        let rt = model(&vfs, &cfg(&["python", "-c", "1"], "/", &[])).unwrap();
        assert_eq!(
            rt.editable,
            [
                ("proj".to_string(), "/src/proj".to_string()),
                ("other".to_string(), "/src/other".to_string())
            ]
        );
        assert_eq!(
            rt.distutils_shim.as_deref(),
            Some("/usr/local/lib/python3.12/site-packages/setuptools/_distutils")
        );
        assert_eq!(
            distutils_default(
                "import os; var = 'X'; enabled = os.environ.get(var, 'stdlib') == 'local'"
            ),
            Some("stdlib")
        );
        let rt = model(
            &vfs,
            &cfg(
                &["python", "-c", "1"],
                "/",
                &["SETUPTOOLS_USE_DISTUTILS=stdlib"],
            ),
        )
        .unwrap();
        assert_eq!(rt.distutils_shim, None);
    }

    #[test]
    fn python2_is_refused() {
        let vfs = Vfs::from_files(&[
            ("usr/bin/python2.7", "x"),
            ("usr/bin/python", "-> python2.7"),
        ]);
        assert!(matches!(
            model(&vfs, &cfg(&["python", "x.py"], "/", &[])),
            Err(ModelError::Python2 { .. })
        ));
    }
}
