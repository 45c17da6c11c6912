//! What the container runs: Entrypoint + Cmd seen through the wrappers the runtime model
//! unwraps (`sh -c`, `exec`, `env`, tini, dumb-init, an `entrypoint.sh` ending in
//! `exec "$@"`), turned into typed targets — the code of `python -c`, a script, the module of
//! `-m`, the `module:attr` of a console script, an app server or a framework CLI — each with
//! the argument of the image configuration that names it. The checker verifies every target
//! the way the program reading it does (a failure there means the process dies at start) and
//! the startup closure starts from them; nothing here reaches back into the closure.

use std::collections::BTreeMap;

use importgate_image::{ImageConfig, Vfs};
use importgate_python::access;
use importgate_python::runtime::{
    APP_SERVERS, APPENDS_CWD, DEFAULT_PATH, abspath, app_spec, basename, dirname, positionals,
    positionals_with, which,
};
use importgate_python::{Launch, Origin, Runtime, SysPathEntry};
use importgate_source::{ImportKind, Scope};

use crate::closure::CallMode;
use crate::finding::ConfigLoc;

/// The file name findings about the image configuration carry (and the pseudo-file the code
/// of `python -c` is checked as): not a path, so no report mistakes it for one.
pub const CONFIG_FILE: &str = "<image-config>";

/// One thing the program imports or runs before any application code runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum What {
    /// `python -c CODE`: checked like an application file run as `__main__` with the working
    /// directory as `sys.path[0]`.
    Code { code: String },
    /// `python SCRIPT`, or a directory / zip holding `__main__.py`; an absolute path.
    Script { path: String },
    /// `python -m MOD`: the module, and `MOD.__main__` when it is a package (runpy).
    MainModule { module: String },
    /// A module imported by name, and the attribute the program then looks up in it
    /// (`from X import Y` of a console script, `module:attr` of a server, `--app` of a CLI).
    Attr {
        module: String,
        attr: Option<String>,
    },
    /// `celery -A proj`: Celery's `find_app` takes `proj.app`, `proj.celery`, or the
    /// submodule `proj.celery`, else scans the module for an instance.
    CeleryApp { module: String },
    /// A file a framework CLI is given by path (`fastapi run app/main.py`).
    Path { path: String },
    /// The program the container executes (argv[0], or the command of a `sh -c`).
    Program { name: String },
    /// A launcher that refuses its configuration and exits before it imports anything: AWS
    /// Lambda's runtime given a handler without a dot, functions-framework without a target.
    Refused {
        /// What it prints.
        message: String,
        /// Why, in words.
        why: String,
        hint: String,
    },
    /// The program is there but the kernel (or `env`) cannot start it: no execute permission
    /// for the runtime user, a `#!` interpreter or ELF loader the image lacks, a CRLF `#!`.
    Exec {
        path: String,
        /// The error as the runtime prints it (`permission denied`).
        error: String,
        /// Why, in words.
        why: String,
    },
}

/// A target and where the image configuration names it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub what: What,
    /// The program that imports it, for messages: `python`, `uvicorn`, `console script x`.
    pub by: String,
    pub loc: ConfigLoc,
}

/// What the entrypoint starts, before following imports.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// Files run directly (the script, a console script), with the name shown in chains.
    pub files: Vec<(String, String)>,
    /// Everything the program imports or runs first, in the order it does.
    pub targets: Vec<Target>,
    /// Whether the entrypoint was understood well enough to call the closure complete.
    pub understood: bool,
    /// What was recognised, in words (`uvicorn imports app.main`, `flask imports web`).
    pub notes: Vec<String>,
    /// `DJANGO_SETTINGS_MODULE`, when Django is started.
    pub django_settings: Option<String>,
    /// Functions the program calls once it has imported them (an app factory):
    /// `(module, function, how)`.
    pub calls: Vec<(String, String, CallMode)>,
    /// `celery … worker`: the worker imports its configured task modules when it starts.
    pub celery_worker: bool,
    /// Modules given to the worker with `-I`/`--include` (comma-separated).
    pub celery_includes: Vec<String>,
}

impl Entry {
    /// Modules the entry imports by name (closure roots), with whether each runs as
    /// `__main__` (`-m`).
    pub fn modules(&self) -> Vec<(String, bool)> {
        self.targets
            .iter()
            .filter_map(|t| match &t.what {
                What::MainModule { module } => Some((module.clone(), true)),
                What::Attr { module, .. } | What::CeleryApp { module } => {
                    Some((module.clone(), false))
                }
                _ => None,
            })
            .collect()
    }

    /// The code of `python -c`, if that is what runs.
    pub fn code(&self) -> Option<(&str, &ConfigLoc)> {
        self.targets.iter().find_map(|t| match &t.what {
            What::Code { code } => Some((code.as_str(), &t.loc)),
            _ => None,
        })
    }
}

/// The argument of Entrypoint + Cmd that names `needle` (1-based): the argument equal to it,
/// else one holding it (`-mpkg`, a `sh -c` line, an option `--app=x`), else the program's own
/// first argument. A wrapper script's `exec "$@"` passes Cmd through, so the words it forwards
/// are still found where the user wrote them.
pub(crate) fn locate(config: &ImageConfig, needle: &str) -> ConfigLoc {
    let ep_len = config.entrypoint.as_ref().map_or(0, Vec::len);
    let all = config.argv();
    let pos = (!needle.is_empty())
        .then(|| {
            all.iter()
                .position(|a| a == needle)
                .or_else(|| all.iter().position(|a| a.contains(needle)))
        })
        .flatten()
        .unwrap_or(0);
    ConfigLoc {
        instruction: if pos < ep_len { "ENTRYPOINT" } else { "CMD" }.to_string(),
        argument: u32::try_from(pos + 1).unwrap_or(u32::MAX),
        code_line: None,
        code_column: None,
    }
}

/// The code after `-c` in a Python command line (`-c CODE` or `-cCODE`), before any script.
fn python_code(args: &[String]) -> Option<String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-c" {
            return args.get(i + 1).cloned();
        }
        if let Some(code) = a.strip_prefix("-c") {
            return Some(code.to_string());
        }
        if !a.starts_with('-') || a == "-" || a == "-m" || a.starts_with("-m") {
            return None;
        }
        // Options that take the next word as their value.
        if a == "-X" || a == "-W" || a == "--check-hash-based-pycs" {
            i += 1;
        }
        i += 1;
    }
    None
}

/// Whether Docker (or the shell) finds the program: a path that exists, else a name found on
/// the image's PATH. Words with shell syntax are not judged.
fn program_exists(vfs: &Vfs, config: &ImageConfig, cwd: &str, word: &str) -> bool {
    if word.is_empty() || word.contains(['$', '`', '(', '{', '=', '*', '?', '<', '>', '|', '&']) {
        return true;
    }
    let path = config.env_var("PATH").unwrap_or(DEFAULT_PATH);
    // An empty PATH entry is the working directory.
    which(vfs, path, cwd, word).is_some()
        || (path.split(':').any(str::is_empty) && vfs.is_file(&abspath(cwd, word)))
}

/// Why `execve(path)` (or the `env` of its `#!` line) fails for the runtime user, judged from
/// what the image holds: the execute bit (root needs one of the three, others their own), the
/// `#!` interpreter (a trailing `\r` from Windows line endings is part of its name to the
/// kernel), `env`'s lookup of the program it names, and an ELF's `PT_INTERP` loader.
/// Nothing is said when the contents are not at hand.
fn exec_problem(
    vfs: &Vfs,
    config: &ImageConfig,
    path: &str,
    modes_final: bool,
) -> Option<(String, String)> {
    let stat = vfs.stat(path)?;
    let user = access::runtime_user(vfs, config);
    let executable = if user.is_root() {
        stat.meta.mode & 0o111 != 0
    } else {
        access::allowed(&stat.meta, &user, access::EXEC)
    };
    if !executable && modes_final {
        return Some((
            "permission denied".into(),
            format!(
                "`{path}` has mode {:o} (owner {}:{}) and the container runs as {}: no execute permission (`chmod +x` it, e.g. `COPY --chmod=755`)",
                stat.meta.mode & 0o7777,
                stat.meta.uid,
                stat.meta.gid,
                user.spec
            ),
        ));
    }
    let data = vfs.read(path)??;
    if let Some(rest) = data.strip_prefix(b"#!") {
        // The kernel reads at most the first line (truncated at 255 bytes before 5.1, 256 after).
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end.min(255)]).into_owned();
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        let interp = words.next().unwrap_or_default().to_string();
        let crlf = "the `#!` line ends in a carriage return (Windows line endings), so the kernel looks for an interpreter whose name ends in `\\r`; convert the file to LF line endings";
        if interp.is_empty() {
            return Some((
                "exec format error".into(),
                "the `#!` line names no interpreter".into(),
            ));
        }
        if interp.ends_with('\r') {
            return Some(("no such file or directory".into(), crlf.into()));
        }
        if !interp.starts_with('/') {
            return None;
        }
        if !vfs.is_file(&interp) {
            return Some((
                "no such file or directory".into(),
                format!("its `#!` interpreter `{interp}` is not in the image"),
            ));
        }
        if basename(&interp) == "env" {
            let arg: Vec<&str> = words.collect();
            // `env -S ...` splits the rest; `env NAME=value prog` sets variables first.
            let prog = arg
                .iter()
                .find(|w| !w.starts_with('-') && !w.contains('='))
                .map(|w| w.to_string())?;
            if prog.ends_with('\r') {
                return Some((
                    format!(
                        "/usr/bin/env: '{}\\r': No such file or directory",
                        prog.trim_end_matches('\r')
                    ),
                    crlf.into(),
                ));
            }
            let path_var = config.env_var("PATH").unwrap_or(DEFAULT_PATH);
            if !prog.contains(['$', '`']) && which(vfs, path_var, "/", &prog).is_none() {
                return Some((
                    format!("{interp}: '{prog}': No such file or directory"),
                    format!(
                        "its `#!` line runs `{prog}` through env, and `{prog}` is not on the image's PATH ({path_var})"
                    ),
                ));
            }
        }
        return None;
    }
    if let Some(loader) = vfs.elf(path).and_then(|elf| elf.interp.clone())
        && !vfs.exists(&loader)
    {
        return Some((
            "no such file or directory".into(),
            format!(
                "`{path}` is a dynamically linked program whose loader `{loader}` is not in the image (built for another C library or distribution?)"
            ),
        ));
    }
    None
}

/// Whether the shell line or entrypoint script between Docker's exec and the program may have
/// changed `PATH` (or the working directory the program is looked up from) before it runs.
fn wrappers_may_change_path(vfs: &Vfs, config: &ImageConfig, cwd: &str, raw: &[String]) -> bool {
    let mut text = raw.join(" ");
    if let Some(first) = raw.first() {
        let path = which(
            vfs,
            config.env_var("PATH").unwrap_or(DEFAULT_PATH),
            cwd,
            first,
        );
        if let Some(script) = path.and_then(|p| vfs.read_to_string(&p))
            && script.starts_with("#!")
        {
            text.push('\n');
            text.push_str(&script);
        }
    }
    [
        "PATH", "activate", "source ", ". /", ". ./", "conda", "pyenv", "poetry", "pipenv",
        "uv run", "pdm run",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// Shell builtins and keywords a `sh -c` line may start with; they are not files.
const SHELL_WORDS: &[&str] = &[
    "exec", "cd", "export", "set", "source", ".", "eval", "test", "[", "true", "false", ":",
    "echo", "printf", "trap", "ulimit", "umask", "wait", "if", "for", "while", "until", "case",
    "read", "unset", "shift", "command", "alias", "let", "local",
];

/// The `from X import Y` a console-script wrapper runs (pip's and setuptools' generated
/// scripts; the first module-level from-import that is not `__future__`).
fn wrapper_target(vfs: &Vfs, path: &str) -> Option<(String, String)> {
    let text = vfs.read_to_string(path)?;
    if !text.starts_with("#!") {
        return None;
    }
    let parsed = importgate_source::parse_module(&text);
    if !parsed.syntax_errors.is_empty() {
        return None;
    }
    parsed.imports.iter().find_map(|s| match &s.kind {
        ImportKind::From {
            module: Some(m),
            level: 0,
            name,
        } if m != "__future__"
            && name != "*"
            && matches!(s.context.scope, Scope::Module)
            && !s.context.guarded() =>
        {
            Some((m.clone(), name.clone()))
        }
        _ => None,
    })
}

/// `module:attr` (or `module:factory(args)`, `module:obj.attr`) as the module and the first
/// attribute looked up; `default` when the spec names no attribute (gunicorn's
/// `application`, hypercorn's `app`).
fn split_spec(spec: &str, default: Option<&str>) -> (String, Option<String>) {
    let module = app_module(spec);
    let attr = match spec.split_once(':') {
        Some((_, a)) => {
            let a = a.split(['(', '.', ' ']).next().unwrap_or_default().trim();
            (!a.is_empty()).then(|| a.to_string())
        }
        None => default.map(str::to_string),
    };
    (module, attr)
}

/// Reads Entrypoint/Cmd (after the model's unwrapping) into the targets the program starts
/// with.
pub(crate) fn entry(
    vfs: &Vfs,
    config: &ImageConfig,
    rt: &Runtime,
    argv: &[String],
    modes_final: bool,
) -> Entry {
    let mut e = Entry {
        understood: true,
        ..Entry::default()
    };
    let args = argv.get(1..).unwrap_or_default();
    let program = argv
        .first()
        .map(|a| basename(a).to_string())
        .unwrap_or_default();
    let env_settings = config
        .env_var("DJANGO_SETTINGS_MODULE")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let target = |what: What, by: &str, needle: &str| Target {
        what,
        by: by.to_string(),
        loc: locate(config, needle),
    };
    // The program itself: Docker's exec of argv[0], then the command a shell line runs.
    let raw = config.argv();
    let image_cwd = abspath("/", config.working_dir());
    // The unwrapped command is looked up on the image's PATH only when no wrapper on the way
    // can have changed it (`. venv/bin/activate`, `export PATH=…`, `env PATH=…`).
    let inner = argv
        .first()
        .filter(|_| !wrappers_may_change_path(vfs, config, &image_cwd, &raw));
    for word in [raw.first(), inner].into_iter().flatten() {
        if SHELL_WORDS.contains(&word.as_str()) {
            continue;
        }
        if !program_exists(vfs, config, &image_cwd, word) {
            e.targets.push(target(
                What::Program { name: word.clone() },
                "the container runtime",
                word,
            ));
            e.understood = false;
            return e;
        }
        let path_var = config.env_var("PATH").unwrap_or(DEFAULT_PATH);
        let problem = which(vfs, path_var, &image_cwd, word).and_then(|path| {
            let p = exec_problem(vfs, config, &path, modes_final).or_else(|| {
                // Docker's own program: a script that stops at its argument-count guard.
                (Some(word) == raw.first())
                    .then(|| importgate_python::shell::shell_guard_exit(vfs, &path, raw.get(1..).unwrap_or_default()))
                    .flatten()
                    .map(|(status, message)| {
                        (
                            format!("exit status {status}"),
                            format!(
                                "the script stops before it starts anything when given {} argument(s){}",
                                raw.len().saturating_sub(1),
                                if message.is_empty() {
                                    String::new()
                                } else {
                                    format!(": \"{message}\"")
                                }
                            ),
                        )
                    })
            });
            p.map(|(error, why)| (path, error, why))
        });
        if let Some((path, error, why)) = problem {
            e.targets.push(target(
                What::Exec { path, error, why },
                "the container runtime",
                word,
            ));
            e.understood = false;
            return e;
        }
    }
    // A launcher's own console script runs first; it then executes the program.
    for w in &rt.wrappers {
        e.files.push((w.script.clone(), w.program.clone()));
        console_script(vfs, rt, &w.script, &w.program, config, &mut e);
        e.notes.push(format!(
            "{} runs `{}`{}",
            w.program,
            w.runs.join(" "),
            w.bootstrap
                .as_deref()
                .map(|b| format!(" with {b} first on PYTHONPATH"))
                .unwrap_or_default()
        ));
    }
    match &rt.launch {
        Launch::Script { path } => {
            let abs = abspath(&rt.cwd, path);
            e.targets
                .push(target(What::Script { path: abs.clone() }, "python", path));
            let file = vfs.realpath(&abs).unwrap_or(abs);
            if vfs.is_dir(&file) {
                e.files.push((
                    format!("{}/__main__.py", file.trim_end_matches('/')),
                    "__main__".into(),
                ));
            } else {
                e.files.push((file.clone(), basename(path).to_string()));
            }
            if basename(path) == "manage.py" {
                e.django_settings = env_settings.clone().or_else(|| {
                    vfs.read_to_string(&file)
                        .and_then(|t| django_settings_in(&t))
                });
            }
        }
        Launch::Module { module } => {
            e.targets.push(target(
                What::MainModule {
                    module: module.clone(),
                },
                "python -m",
                module,
            ));
            if module == "flask" {
                flask(vfs, config, &rt.cwd, args, &mut e);
            }
            if module == "celery" {
                celery(config, args, &mut e);
            }
            // `python -m fastapi run`, `python -m streamlit run`: the CLI's own `__main__`.
            if module == "fastapi" {
                fastapi(vfs, config, &rt.cwd, args, &mut e);
            }
            if module == "streamlit" {
                streamlit(vfs, config, &rt.cwd, args, &mut e);
            }
            // `python -m uvicorn main:app`: the server's own `__main__`, then the app.
            if APP_SERVERS.contains(&module.as_str()) {
                server_app(vfs, config, rt, module, args, &mut e);
            }
            if module == "aiohttp.web" {
                aiohttp_web(config, args, &mut e);
            }
            if module == "functions_framework" {
                functions_framework(vfs, config, &rt.cwd, args, &mut e);
            }
            if module == "awslambdaric"
                && let Some(handler) = positionals(args).into_iter().next()
            {
                lambda_handler(config, &handler, "awslambdaric", &mut e);
            }
        }
        Launch::Command => match python_code(args) {
            Some(code) => {
                e.notes.push(
                    "`python -c`: the code is checked as run from the working directory".into(),
                );
                e.targets.push(target(
                    What::Code { code: code.clone() },
                    "python -c",
                    &code,
                ));
            }
            None => {
                e.understood = false;
                e.notes
                    .push("the program reads its code from stdin: not analysed".into());
            }
        },
        Launch::ConsoleScript { path } => {
            let name = basename(path).to_string();
            e.files.push((path.clone(), name.clone()));
            let needle = argv.first().map(String::as_str).unwrap_or(&name);
            console_script(vfs, rt, path, needle, config, &mut e);
            match name.as_str() {
                "flask" => flask(vfs, config, &rt.cwd, args, &mut e),
                "celery" => celery(config, args, &mut e),
                "fastapi" => fastapi(vfs, config, &rt.cwd, args, &mut e),
                "streamlit" => streamlit(vfs, config, &rt.cwd, args, &mut e),
                "uwsgi" => uwsgi(vfs, config, &rt.cwd, args, &mut e),
                "django-admin" => e.django_settings = env_settings.clone(),
                other => worker_cli(vfs, config, &rt.cwd, other, args, &mut e),
            }
        }
        Launch::AppServer { server, .. } => {
            // The server's console script imports its own entry point module before the app.
            if let Some(p) = which_server(vfs, rt, server) {
                let needle = argv.first().map(String::as_str).unwrap_or(server);
                console_script(vfs, rt, &p, needle, config, &mut e);
                e.files.push((p, server.clone()));
            }
            server_app(vfs, config, rt, server, args, &mut e);
        }
        Launch::Lambda { bootstrap, handler } => {
            // The runtime's own imports (awslambdaric) come first, from its directory.
            e.files.push((bootstrap.clone(), "bootstrap.py".into()));
            match handler {
                Some(h) => lambda_handler(config, h, "the Lambda runtime", &mut e),
                None => {
                    e.understood = false;
                    e.notes
                        .push("the Lambda runtime starts without a handler (`_HANDLER`)".into());
                }
            }
        }
        Launch::Unknown { .. } if program == "uwsgi" => uwsgi(vfs, config, &rt.cwd, args, &mut e),
        Launch::Unknown { argv } => {
            e.understood = false;
            e.notes.push(if argv.is_empty() {
                "the image has no Entrypoint/Cmd: no startup path".into()
            } else {
                format!(
                    "the entrypoint `{}` is not understood: no startup path",
                    argv.join(" ")
                )
            });
        }
    }
    if e.django_settings.is_none() && program != "manage.py" {
        // An app server or console script serving a Django project names its settings in the
        // environment (or in the wsgi/asgi module, read when the closure reaches it).
        e.django_settings = env_settings;
    }
    e
}

/// An app server's application: `module:attr` (`module:factory()`), with the attribute the
/// server looks up by default when none is named (gunicorn's `application`, hypercorn's
/// `app`).
fn server_app(
    vfs: &Vfs,
    config: &ImageConfig,
    rt: &Runtime,
    server: &str,
    args: &[String],
    e: &mut Entry,
) {
    let cwd = rt.cwd.as_str();
    let mut spec = app_spec(args);
    if server == "gunicorn" {
        // The configuration file runs first (`-c`, else `./gunicorn.conf.py`): its imports
        // are startup code, and it may name the app and the worker class.
        let given = option(args, &["-c", "--config"]);
        let file = given
            .as_deref()
            .filter(|c| !c.starts_with("python:"))
            .map(|c| abspath(cwd, c))
            .or_else(|| {
                let default = format!("{}/gunicorn.conf.py", cwd.trim_end_matches('/'));
                vfs.is_file(&default).then_some(default)
            });
        let settings = file
            .as_deref()
            .and_then(|f| vfs.read_to_string(f))
            .map(|t| literal_settings(&t))
            .unwrap_or_default();
        if let Some(f) = file.filter(|f| vfs.is_file(f)) {
            e.notes.push(format!("gunicorn runs its configuration {f}"));
            e.files.push((f, "gunicorn.conf".into()));
        }
        if spec.is_none() {
            spec = settings.get("wsgi_app").cloned();
        }
        let worker = option(args, &["-k", "--worker-class"])
            .or_else(|| settings.get("worker_class").cloned());
        if let Some(worker) = worker {
            gunicorn_worker(config, &worker, e);
        }
    }
    match spec {
        Some(spec) => {
            let default = match server {
                "gunicorn" => Some("application"),
                "hypercorn" | "granian" => Some("app"),
                _ => None,
            };
            let spec = if server == "hypercorn" {
                hypercorn_spec(&spec).to_string()
            } else {
                spec
            };
            let (mut module, mut attr) = split_spec(&spec, default);
            if server == "hypercorn"
                && let Some((_, m)) = hypercorn_path(cwd, &spec)
            {
                module = m;
            }
            if matches!(server, "waitress" | "waitress-serve") && !spec.contains(':') {
                // `pkgutil.resolve_name` without a colon: the first name must be a module, then
                // each longer dotted name is imported while that works; the rest are
                // attributes.
                let parts: Vec<&str> = spec.split('.').collect();
                let resolver = importgate_python::Resolver::new(vfs, rt);
                let mut n = 1;
                while n < parts.len() && resolver.resolve(&parts[..=n].join(".")).failure.is_none()
                {
                    n += 1;
                }
                module = parts[..n].join(".");
                attr = parts.get(n).map(|a| a.to_string());
            }
            if server == "granian" {
                // Granian imports its target the way Flask's CLI does (a path or a dotted
                // name, walked up while the directory is a package).
                module = flask_import(vfs, cwd, Some(&spec)).1;
            }
            e.notes
                .push(format!("{server} imports `{module}` ({spec}) at startup"));
            if let Some(attr) = &attr
                && let Some(mode) = factory_call(server, &spec, args)
            {
                if mode == CallMode::Always {
                    e.notes
                        .push(format!("{server} calls `{module}:{attr}` at startup"));
                }
                e.calls.push((module.clone(), attr.clone(), mode));
            }
            e.targets.push(Target {
                what: What::Attr { module, attr },
                by: server.to_string(),
                loc: locate(config, &spec),
            });
        }
        None => {
            e.understood = false;
            e.notes.push(format!(
                "no application given to {server} on the command line (a config file?)"
            ));
        }
    }
}

/// hypercorn's application spec without its `asgi:`/`wsgi:` mode prefix (two colons).
fn hypercorn_spec(spec: &str) -> &str {
    match spec.split_once(':') {
        Some((mode, rest)) if rest.contains(':') && matches!(mode, "asgi" | "wsgi") => rest,
        _ => spec,
    }
}

/// hypercorn imports a module part spelled as a path (`src/server:app`, `server.py:app`) by
/// inserting its parent directory first and importing its last component: that directory and
/// that module.
fn hypercorn_path(cwd: &str, spec: &str) -> Option<(String, String)> {
    let module = hypercorn_spec(spec).split(':').next()?;
    if !module.contains('/') && !module.ends_with(".py") {
        return None;
    }
    let path = abspath(cwd, module);
    let path = path.strip_suffix(".py").unwrap_or(&path);
    let (dir, name) = path.rsplit_once('/')?;
    Some((
        if dir.is_empty() { "/" } else { dir }.to_string(),
        name.to_string(),
    ))
}

/// Whether the server calls the object it is given, and how: gunicorn and hypercorn call a
/// `factory(args)` spelled with parentheses, uvicorn calls what `--factory` names and tries a
/// call of anything else (a `TypeError` tells it the object is the app), waitress calls what
/// `--call` names.
fn factory_call(server: &str, spec: &str, args: &[String]) -> Option<CallMode> {
    let attr = spec.split_once(':').map(|(_, a)| a).unwrap_or_default();
    match server {
        "gunicorn" | "hypercorn" => attr.contains('(').then_some(CallMode::Always),
        "uvicorn" if args.iter().any(|a| a == "--factory") => Some(CallMode::Always),
        "uvicorn" if !attr.contains('.') => Some(CallMode::Bare),
        "waitress" | "waitress-serve" if args.iter().any(|a| a == "--call") => {
            Some(CallMode::Always)
        }
        "granian" if args.iter().any(|a| a == "--factory") => Some(CallMode::Always),
        _ => None,
    }
}

/// gunicorn's worker class, loaded by the arbiter before any worker starts: a short name of
/// gunicorn's own workers (gevent and eventlet import their library), or a dotted class path
/// (`uvicorn.workers.UvicornWorker`).
fn gunicorn_worker(config: &ImageConfig, worker: &str, e: &mut Entry) {
    let path = match worker {
        "sync" => "gunicorn.workers.sync.SyncWorker".to_string(),
        "eventlet" => "gunicorn.workers.geventlet.EventletWorker".to_string(),
        "gevent" => "gunicorn.workers.ggevent.GeventWorker".to_string(),
        "tornado" => "gunicorn.workers.gtornado.TornadoWorker".to_string(),
        "gthread" => "gunicorn.workers.gthread.ThreadWorker".to_string(),
        w if w.contains('.') && !w.contains(':') => w.to_string(),
        _ => return,
    };
    let Some((module, class)) = path.rsplit_once('.') else {
        return;
    };
    e.notes
        .push(format!("gunicorn loads the worker class {path} at startup"));
    e.targets.push(Target {
        what: What::Attr {
            module: module.to_string(),
            attr: Some(class.to_string()),
        },
        by: "gunicorn".into(),
        loc: locate(config, worker),
    });
}

/// `NAME = "literal"` lines at the top level of a configuration module (gunicorn's
/// `wsgi_app`, `worker_class`): the values a server reads from it when they are plain strings.
fn literal_settings(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t', '#']) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let value = value.split('#').next().unwrap_or_default().trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')));
        if let Some(v) = unquoted
            && !name.is_empty()
            && name.chars().all(|c| c == '_' || c.is_alphanumeric())
            && !v.contains(['"', '\''])
        {
            out.insert(name.to_string(), v.to_string());
        }
    }
    out
}

/// The options of uWSGI that decide what it imports, from its command line and the `[uwsgi]`
/// section of an `--ini` file (command line first, as uWSGI reads them in order).
#[derive(Debug, Default)]
struct UwsgiOptions {
    chdir: Option<String>,
    pythonpath: Vec<String>,
    module: Option<String>,
    callable: Option<String>,
    wsgi_file: Option<String>,
}

fn uwsgi_options(vfs: &Vfs, cwd: &str, args: &[String]) -> UwsgiOptions {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (key, value) = match a.strip_prefix("--").map(|k| k.split_once('=')) {
            Some(Some((k, v))) => (k.to_string(), Some(v.to_string())),
            Some(None) => (a[2..].to_string(), args.get(i + 1).cloned()),
            None if a == "-w" => ("module".into(), args.get(i + 1).cloned()),
            // `uwsgi app.ini`: a lone configuration file is loaded as `--ini` would.
            None if a.ends_with(".ini") && !a.starts_with('-') => {
                pairs.push(("ini".into(), a.clone()));
                i += 1;
                continue;
            }
            None => {
                i += 1;
                continue;
            }
        };
        if !a.contains('=') {
            i += 1;
        }
        i += 1;
        if let Some(v) = value {
            pairs.push((key, v));
        }
    }
    let mut o = UwsgiOptions::default();
    let mut ini_pairs = Vec::new();
    for (k, v) in &pairs {
        if k == "ini" {
            let file = abspath(cwd, v.split(':').next().unwrap_or(v));
            if let Some(text) = vfs.read_to_string(&file) {
                let mut in_section = false;
                for line in text.lines().map(str::trim) {
                    if line.starts_with('[') {
                        in_section = line == "[uwsgi]";
                        continue;
                    }
                    if let (true, Some((k, v))) = (in_section, line.split_once('='))
                        && !line.starts_with(['#', ';'])
                    {
                        ini_pairs.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
            }
        }
    }
    for (k, v) in pairs.into_iter().chain(ini_pairs) {
        match k.as_str() {
            "chdir" => o.chdir = Some(abspath(cwd, &v)),
            "pythonpath" | "python-path" | "pp" => o.pythonpath.push(v),
            "module" | "wsgi" => o.module = Some(v),
            "callable" => o.callable = Some(v),
            "wsgi-file" | "file" => o.wsgi_file = Some(v),
            _ => {}
        }
    }
    o
}

/// uWSGI's application: `module` (`pkg.wsgi:application`, else `callable`, default
/// `application`) or a `wsgi-file`. Without `need-app` uWSGI keeps running when the import
/// fails, serving errors ("no app loaded. going in full dynamic mode").
fn uwsgi(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let o = uwsgi_options(vfs, cwd, args);
    let cwd = o.chdir.clone().unwrap_or_else(|| cwd.to_string());
    if let Some(spec) = &o.module {
        let (module, attr) = match spec.split_once(':') {
            Some((m, a)) => (m.to_string(), Some(a.to_string())),
            None => (
                spec.clone(),
                Some(o.callable.clone().unwrap_or_else(|| "application".into())),
            ),
        };
        e.notes.push(format!("uwsgi imports `{module}` at startup"));
        e.targets.push(Target {
            what: What::Attr { module, attr },
            by: "uwsgi".into(),
            loc: locate(config, spec),
        });
    } else if let Some(file) = &o.wsgi_file {
        let abs = abspath(&cwd, file);
        e.targets.push(Target {
            what: What::Path { path: abs.clone() },
            by: "uwsgi".into(),
            loc: locate(config, file),
        });
        if vfs.is_file(&abs) {
            e.notes.push(format!("uwsgi runs {abs} at startup"));
            e.files.push((abs, basename(file).to_string()));
        }
    } else {
        e.understood = false;
        e.notes
            .push("no application given to uwsgi (module, wsgi-file) that was understood".into());
    }
}

/// `streamlit run SCRIPT`: the script runs as `__main__` from its own directory.
fn streamlit(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let pos = positionals(args);
    if pos.first().map(String::as_str) != Some("run") {
        return;
    }
    let Some(path) = pos.get(1) else {
        return;
    };
    let abs = abspath(cwd, path);
    e.targets.push(Target {
        what: What::Path { path: abs.clone() },
        by: "streamlit".into(),
        loc: locate(config, path),
    });
    if vfs.is_file(&abs) {
        let real = vfs.realpath(&abs).unwrap_or(abs);
        e.notes.push(format!("streamlit runs {real} at startup"));
        e.files.push((real, basename(path).to_string()));
    }
}

/// A console script's own import: the wrapper's `from X import Y`, else the distribution's
/// `entry_points.txt` line for the script's name.
fn console_script(
    vfs: &Vfs,
    rt: &Runtime,
    path: &str,
    needle: &str,
    config: &ImageConfig,
    e: &mut Entry,
) {
    let name = basename(path);
    let from_metadata = || {
        let spec = console_entry_points(vfs, rt).get(name).cloned()?;
        let (module, attr) = split_spec(&spec, None);
        Some((module, attr))
    };
    let found = wrapper_target(vfs, path)
        .map(|(m, a)| (m, Some(a)))
        .or_else(from_metadata);
    if let Some((module, attr)) = found {
        e.targets.push(Target {
            what: What::Attr { module, attr },
            by: format!("console script {name}"),
            loc: locate(config, needle),
        });
    }
}

/// `python -m aiohttp.web [-H HOST] [-P PORT] [-U PATH] module:function`: aiohttp imports
/// the module (relative names refused) and calls the function with the rest of the command
/// line to get the application (aiohttp 3.x `web.main`); a failing import is an argparse error,
/// exit 2.
fn aiohttp_web(config: &ImageConfig, args: &[String], e: &mut Entry) {
    let Some(spec) =
        positionals_taking(args, &["-H", "--hostname", "-P", "--port", "-U", "--path"])
            .into_iter()
            .next()
    else {
        return;
    };
    let Some((module, function)) = spec.split_once(':') else {
        return;
    };
    e.notes.push(format!(
        "aiohttp.web imports `{module}` and calls `{function}` at startup"
    ));
    e.calls
        .push((module.to_string(), function.to_string(), CallMode::Always));
    e.targets.push(Target {
        what: What::Attr {
            module: module.to_string(),
            attr: Some(function.to_string()),
        },
        by: "aiohttp.web".into(),
        loc: locate(config, &spec),
    });
}

/// `python -m awslambdaric HANDLER` (AWS's runtime interface client on a base of one's own):
/// the handler `module.function` (split at the last dot, `/` in the module part read as `.`)
/// is imported and looked up before the first invocation is fetched; a failure there ends the
/// process (awslambdaric 4.2 `bootstrap._get_handler`).
fn lambda_handler(config: &ImageConfig, handler: &str, by: &str, e: &mut Entry) {
    let Some((module, function)) = handler.rsplit_once('.') else {
        e.targets.push(Target {
            what: What::Refused {
                message: format!(
                    "Runtime.MalformedHandlerName: Bad handler '{handler}': not enough values to unpack (expected 2, got 1)"
                ),
                why: format!(
                    "{by} splits the handler at its last dot into a module and a function, and exits when there is no dot"
                ),
                hint: "name the handler as `module.function` (`app.handler`)".into(),
            },
            by: by.into(),
            loc: locate(config, handler),
        });
        return;
    };
    let module = module.replace('/', ".");
    e.notes
        .push(format!("{by} imports `{module}` for the handler {handler}"));
    e.targets.push(Target {
        what: What::Attr {
            module,
            attr: Some(function.to_string()),
        },
        by: by.into(),
        loc: locate(config, handler),
    });
}

/// The console scripts of Google's Functions Framework (and `python -m functions_framework`).
const FUNCTIONS_FRAMEWORK: &[&str] = &[
    "functions-framework",
    "functions_framework",
    "functions-framework-python",
    "functions_framework_python",
    "ff",
];

/// The file Functions Framework loads: `--source`, else `FUNCTION_SOURCE`, else `./main.py`
/// (functions-framework 3.10 `_function_registry.get_function_source`); absolute, not resolved.
fn functions_source(config: &ImageConfig, cwd: &str, args: &[String]) -> String {
    let source = option(args, &["--source"])
        .or_else(|| config.env_var("FUNCTION_SOURCE").map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "main.py".into());
    abspath(cwd, &source)
}

/// `functions-framework --target F [--source FILE]`: the target comes from `--target` or
/// `FUNCTION_TARGET` (click exits 2 without one); the source file must exist; it is loaded as
/// the module named after the file, with its directory appended to `sys.path` first, and must
/// define the target (functions-framework 3.10 `create_app`, `load_function_module`,
/// `get_user_function`).
fn functions_framework(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let by = "functions-framework";
    let target = option(args, &["--target"])
        .or_else(|| config.env_var("FUNCTION_TARGET").map(str::to_string))
        .filter(|t| !t.is_empty());
    let Some(target) = target else {
        e.targets.push(Target {
            what: What::Refused {
                message: "Error: Missing option '--target'.".into(),
                why: "functions-framework needs the function to serve, from `--target` or `FUNCTION_TARGET`, and exits 2 without it".into(),
                hint: "pass `--target NAME` or set `FUNCTION_TARGET`".into(),
            },
            by: by.into(),
            loc: locate(config, args.first().map(String::as_str).unwrap_or(by)),
        });
        return;
    };
    let source = functions_source(config, cwd, args);
    let real = vfs.realpath(&source).unwrap_or_else(|| source.clone());
    let needle = option(args, &["--source"]).unwrap_or_else(|| target.clone());
    if !vfs.is_file(&real) {
        e.targets.push(Target {
            what: What::Path { path: source },
            by: by.into(),
            loc: locate(config, &needle),
        });
        return;
    }
    let module = basename(&real)
        .rsplit_once('.')
        .map_or(basename(&real), |(stem, _)| stem)
        .to_string();
    e.notes.push(format!(
        "functions-framework loads {real} as `{module}` and serves its `{target}`"
    ));
    e.targets.push(Target {
        what: What::Attr {
            module,
            attr: Some(target),
        },
        by: by.into(),
        loc: locate(config, &needle),
    });
}

/// How a worker or framework CLI turns the name it is given into a module and an attribute.
#[derive(Clone, Copy)]
enum SpecForm {
    /// `module:attr` only (litestar, taskiq, dramatiq's broker).
    Colon,
    /// `module.attr`, split at the last dot (arq, huey).
    LastDot,
    /// `module:attr`, else `module.attr` at the last dot, else a bare module whose `app` is
    /// taken (sanic, faust).
    ColonElseDotElseApp,
}

fn split_form(spec: &str, form: SpecForm) -> (String, Option<String>) {
    let spec = spec.trim_end_matches("()");
    match form {
        SpecForm::Colon => split_spec(spec, None),
        _ if spec.contains(':') => split_spec(spec, None),
        SpecForm::LastDot | SpecForm::ColonElseDotElseApp if spec.contains('.') => {
            let (m, a) = spec.rsplit_once('.').unwrap_or((spec, ""));
            (m.to_string(), (!a.is_empty()).then(|| a.to_string()))
        }
        SpecForm::LastDot => (spec.to_string(), None),
        SpecForm::ColonElseDotElseApp => (spec.to_string(), Some("app".into())),
    }
}

/// The CLIs of task queues and frameworks that import the application they are named on their
/// command line before they serve (each checked against its own code: sanic 25.12, litestar
/// 2.25, rq 3.0, dramatiq 2.2, arq 0.28, huey 3.5, taskiq 0.13, faust-streaming 0.15). What
/// they put on `sys.path` first is [`apply_server_paths`]'s.
fn worker_cli(
    vfs: &Vfs,
    config: &ImageConfig,
    cwd: &str,
    program: &str,
    args: &[String],
    e: &mut Entry,
) {
    let import = |spec: &str, form: SpecForm, call: Option<CallMode>, e: &mut Entry| {
        let (module, attr) = split_form(spec, form);
        if module.is_empty() {
            return;
        }
        e.notes
            .push(format!("{program} imports `{module}` ({spec}) at startup"));
        if let (Some(attr), Some(mode)) = (&attr, call) {
            e.calls.push((module.clone(), attr.clone(), mode));
        }
        e.targets.push(Target {
            what: What::Attr { module, attr },
            by: program.to_string(),
            loc: locate(config, spec),
        });
    };
    match program {
        p if FUNCTIONS_FRAMEWORK.contains(&p) => functions_framework(vfs, config, cwd, args, e),
        "sanic" => {
            // `--simple` (or a directory) serves files and imports nothing; a path is not a
            // module name either.
            let pos = positionals_taking(args, SANIC_VALUES);
            let Some(spec) = pos.first() else { return };
            if args.iter().any(|a| a == "--simple")
                || spec.contains(['/', '\\'])
                || vfs.is_dir(&abspath(cwd, spec))
            {
                return;
            }
            // A function is called (`--factory` says so; a plain function is called anyway).
            let mode = if args.iter().any(|a| a == "--factory") || spec.ends_with("()") {
                CallMode::Always
            } else {
                CallMode::Bare
            };
            import(spec, SpecForm::ColonElseDotElseApp, Some(mode), e);
        }
        "litestar" => {
            // Group options come before the command: `litestar --app m:app run`.
            let spec = option(args, &["--app"])
                .or_else(|| config.env_var("LITESTAR_APP").map(str::to_string))
                .filter(|s| !s.is_empty());
            match spec {
                Some(spec) => import(&spec, SpecForm::Colon, Some(CallMode::Bare), e),
                None => {
                    // Autodiscovery: `app` then `application`, as a module or a package, in
                    // the application directory.
                    let dir = option(args, &["--app-dir"])
                        .map(|d| abspath(cwd, &d))
                        .unwrap_or_else(|| cwd.to_string());
                    let dir = dir.trim_end_matches('/');
                    let found = ["app", "application"].into_iter().find(|m| {
                        vfs.is_file(&format!("{dir}/{m}.py")) || vfs.is_dir(&format!("{dir}/{m}"))
                    });
                    match found {
                        Some(m) => {
                            e.notes
                                .push(format!("litestar finds `{m}` in {dir} and imports it"));
                            e.targets.push(Target {
                                what: What::Attr {
                                    module: m.to_string(),
                                    attr: None,
                                },
                                by: "litestar".into(),
                                loc: locate(config, "litestar"),
                            });
                        }
                        None => {
                            e.understood = false;
                            e.notes
                                .push("litestar finds its app itself: not modelled".into());
                        }
                    }
                }
            }
        }
        "rq" => {
            let pos = positionals_taking(args, RQ_VALUES);
            if pos.first().map(String::as_str) != Some("worker") {
                return;
            }
            // The settings module and the classes it is told to use are imported before the
            // worker starts; job functions only when a job runs.
            if let Some(config_module) = option(args, &["-c", "--config"]) {
                import(&config_module, SpecForm::Colon, None, e);
            }
            for name in [
                "--worker-class",
                "-w",
                "--job-class",
                "-j",
                "--queue-class",
                "--connection-class",
                "--exception-handler",
            ] {
                if let Some(path) = option(args, &[name]) {
                    import(&path, SpecForm::LastDot, None, e);
                }
            }
        }
        "dramatiq" => {
            let pos = positionals_taking(args, DRAMATIQ_VALUES);
            let Some((broker, modules)) = pos.split_first() else {
                return;
            };
            import(broker, SpecForm::Colon, Some(CallMode::Bare), e);
            for module in modules {
                import(module, SpecForm::Colon, None, e);
            }
        }
        "arq" => {
            if let Some(spec) = positionals_taking(args, &["--watch", "--custom-log-dict"]).first()
            {
                import(spec, SpecForm::LastDot, None, e);
            }
        }
        "huey_consumer" | "huey_consumer.py" => {
            if let Some(spec) = positionals_taking(args, HUEY_VALUES).first() {
                import(spec, SpecForm::LastDot, None, e);
            }
        }
        "taskiq" => {
            let pos = positionals_taking(args, TASKIQ_VALUES);
            if matches!(
                pos.first().map(String::as_str),
                Some("worker" | "scheduler")
            ) && let Some(spec) = pos.get(1)
            {
                // Further modules' import errors are only logged.
                import(spec, SpecForm::Colon, Some(CallMode::Bare), e);
            }
        }
        "faust" => {
            if let Some(spec) = option(args, &["-A", "--app"]) {
                import(&spec, SpecForm::ColonElseDotElseApp, None, e);
            }
        }
        _ => {}
    }
}

/// Options of these CLIs that take a value; every other option is a flag.
const SANIC_VALUES: &[&str] = &[
    "-H",
    "--host",
    "-p",
    "--port",
    "-u",
    "--unix",
    "--cert",
    "--key",
    "--tls",
    "-w",
    "--workers",
    "-R",
    "--reload-dir",
    "--tls-strict-host",
];
const RQ_VALUES: &[&str] = &[
    "-c",
    "--config",
    "-u",
    "--url",
    "--path",
    "-w",
    "--worker-class",
    "-j",
    "--job-class",
    "--queue-class",
    "--connection-class",
    "--exception-handler",
    "--results-ttl",
    "--worker-ttl",
    "--job-monitoring-interval",
    "-n",
    "--name",
    "--logging_level",
    "--log-format",
    "--date-format",
    "--pid",
    "--max-jobs",
    "--max-idle-time",
    "--serializer",
    "-S",
    "--sentry-dsn",
    "--sentry-ca-certs",
    "--sentry-debug",
    "--dequeue-strategy",
];
const DRAMATIQ_VALUES: &[&str] = &[
    "--path",
    "-p",
    "--processes",
    "-t",
    "--threads",
    "-Q",
    "--queues",
    "--pid-file",
    "--log-file",
    "--watch",
    "--worker-shutdown-timeout",
    "-f",
    "--fork-function",
];
const HUEY_VALUES: &[&str] = &[
    "-w",
    "--workers",
    "-k",
    "--worker-type",
    "-d",
    "--delay",
    "-m",
    "--max-delay",
    "-b",
    "--backoff",
    "-c",
    "--health-check-interval",
    "-s",
    "--scheduler-interval",
    "-l",
    "--logfile",
    "-F",
    "--flush-locks",
];
const TASKIQ_VALUES: &[&str] = &[
    "--app-dir",
    "-w",
    "--workers",
    "--tasks-pattern",
    "--log-level",
    "--log-format",
    "--max-async-tasks",
    "--receiver",
    "--max-threadpool-threads",
    "--max-prefetch",
    "--shutdown-timeout",
    "--ack-type",
    "--max-tasks-per-child",
    "--wait-tasks-timeout",
    "--max-fails",
    "--hardkill-count",
];

/// Positional words of `args`, given the options that take a value (any other option is a
/// flag).
fn positionals_taking(args: &[String], values: &[&str]) -> Vec<String> {
    positionals_with(args, |a| values.contains(&a))
}

/// Every value of a repeated option (`--path a --path b`), in order.
fn option_values(args: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if names.contains(&a.as_str()) {
            out.extend(args.get(i + 1).cloned());
            i += 2;
            continue;
        }
        if let Some(v) = names.iter().find_map(|n| a.strip_prefix(&format!("{n}="))) {
            out.push(v.to_string());
        }
        i += 1;
    }
    out
}

/// Flask's app discovery: `--app`, else `FLASK_APP`, else `wsgi.py` or `app.py` in the working
/// directory, imported as [`flask_import`] names it; `module:name` looks the name up.
fn flask(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let spec = flask_spec(config, args);
    let (_, m) = flask_import(vfs, cwd, spec.as_deref());
    if spec.is_none() {
        e.notes
            .push("flask looks for `wsgi` or `app` in the working directory".into());
    }
    e.notes.push(format!("flask imports `{m}` at startup"));
    // `module:create_app()` and `module:app` name the attribute; a plain module lets Flask
    // look for `app`, `application` or a factory.
    let attr = spec
        .as_deref()
        .and_then(|s| {
            let b = s.as_bytes();
            (0..b.len())
                .find(|&i| b[i] == b':' && !matches!(b.get(i + 1), Some(b'/' | b'\\')))
                .map(|i| &s[i + 1..])
        })
        .map(|a| {
            a.split(['(', '.', ' '])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|a| !a.is_empty());
    let needle = spec.clone().unwrap_or_else(|| "flask".into());
    let from_env = option(args, &["--app", "-A"]).is_none() && spec.is_some();
    let mut loc = locate(config, &needle);
    if from_env {
        loc = ConfigLoc {
            instruction: "ENV".into(),
            argument: 0,
            code_line: None,
            code_column: None,
        };
    }
    // Flask calls a function it is named (`module:create_app`, `module:create_app(args)`);
    // given a module, it looks for an app object, then calls `create_app` or `make_app`.
    match &attr {
        Some(a) => e.calls.push((m.clone(), a.clone(), CallMode::Always)),
        None => e
            .calls
            .push((m.clone(), String::new(), CallMode::FlaskFind)),
    }
    e.targets.push(Target {
        what: What::Attr { module: m, attr },
        by: "flask".into(),
        loc,
    });
}

/// `celery -A proj` imports `proj` (and `proj.celery` when `proj` is a package without an app).
fn celery(config: &ImageConfig, args: &[String], e: &mut Entry) {
    if positionals(args).iter().any(|p| p == "worker") {
        e.celery_worker = true;
        e.celery_includes = option(args, &["-I", "--include"])
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
    }
    match option(args, &["-A", "--app"]) {
        Some(spec) => {
            let m = app_module(&spec);
            e.notes.push(format!("celery imports `{m}` at startup"));
            let what = if spec.contains(':') {
                let (module, attr) = split_spec(&spec, None);
                What::Attr { module, attr }
            } else {
                What::CeleryApp { module: m }
            };
            e.targets.push(Target {
                what,
                by: "celery".into(),
                loc: locate(config, &spec),
            });
        }
        None => {
            e.understood = false;
            e.notes
                .push("celery without -A: the app is not known".into());
        }
    }
}

/// `fastapi run|dev [PATH] [--app NAME]` (fastapi-cli): the path, or the first of its default
/// files, imported as a module from the top of its package (the same walk as Flask's).
fn fastapi(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let pos = positionals(args);
    if !matches!(pos.first().map(String::as_str), Some("run" | "dev")) {
        return;
    }
    let cwd = cwd.trim_end_matches('/');
    let Some(path) = fastapi_path(vfs, cwd, args) else {
        e.targets.push(Target {
            what: What::Path {
                path: format!("{cwd}/main.py"),
            },
            by: "fastapi".into(),
            loc: locate(config, pos.first().map(String::as_str).unwrap_or("run")),
        });
        return;
    };
    let abs = abspath(cwd, &path);
    if !vfs.exists(&abs) {
        e.targets.push(Target {
            what: What::Path { path: abs },
            by: "fastapi".into(),
            loc: locate(config, &path),
        });
        return;
    }
    let (_, module) = flask_import(vfs, cwd, Some(&path));
    e.notes
        .push(format!("fastapi imports `{module}` at startup"));
    e.targets.push(Target {
        what: What::Attr {
            module,
            attr: option(args, &["--app"]),
        },
        by: "fastapi".into(),
        loc: locate(config, &path),
    });
}

/// The path `fastapi run|dev` imports: the one it is given, else the first of its default files
/// in the working directory (`main.py`, `app.py`, `api.py`, `app/main.py`, `app/app.py`,
/// `app/api.py`); `None` when it finds none.
fn fastapi_path(vfs: &Vfs, cwd: &str, args: &[String]) -> Option<String> {
    if let Some(p) = positionals(args).get(1) {
        return Some(p.clone());
    }
    let cwd = cwd.trim_end_matches('/');
    [
        "main.py",
        "app.py",
        "api.py",
        "app/main.py",
        "app/app.py",
        "app/api.py",
    ]
    .iter()
    .find(|d| vfs.is_file(&format!("{cwd}/{d}")))
    .map(|d| d.to_string())
}

/// The value of `--name VALUE`, `--name=VALUE` or a short `-X VALUE`/`-XVALUE`.
fn option(args: &[String], names: &[&str]) -> Option<String> {
    for (i, a) in args.iter().enumerate() {
        for n in names {
            if a == n {
                return args.get(i + 1).cloned();
            }
            if let Some(v) = a.strip_prefix(&format!("{n}=")) {
                return Some(v.to_string());
            }
            if n.len() == 2
                && !n.starts_with("--")
                && let Some(v) = a.strip_prefix(n)
                && !v.is_empty()
            {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Applies app-server and framework-CLI path options to the model: uvicorn's `--app-dir` and
/// gunicorn's `--chdir`/`--pythonpath` put directories in front of sys.path before the app is
/// imported; Flask's CLI puts the directory its app path is imported from first
/// (`prepare_import`), Celery's the working directory (`cwd_in_path`, after `--workdir`). Also
/// names the app server's application in the launch (not an option value like `--bind`'s).
pub(crate) fn apply_server_paths(
    vfs: &Vfs,
    config: &ImageConfig,
    rt: &mut Runtime,
    argv: &[String],
) -> Vec<String> {
    let args = argv.get(1..).unwrap_or_default();
    let mut front: Vec<(String, String)> = Vec::new();
    // Directories appended (`sys.path.append(...)`): what sits in front of them still wins.
    let mut back: Vec<(String, String)> = Vec::new();
    let framework = match &rt.launch {
        Launch::ConsoleScript { path } => basename(path).to_string(),
        Launch::Module { module } => module.clone(),
        Launch::Unknown { .. } => argv
            .first()
            .map(|a| basename(a).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    match framework.as_str() {
        "uwsgi" => {
            let o = uwsgi_options(vfs, &rt.cwd, args);
            if let Some(dir) = &o.chdir {
                rt.cwd = dir.clone();
            }
            // The C binary's sys.path has no script directory: the working directory the
            // model assumed is replaced by uWSGI's own `.` (the directory after `chdir`).
            rt.sys_path.retain(|e| {
                !matches!(&e.origin, Origin::WorkingDir { reason } if reason.starts_with("assumed"))
            });
            // Each `pythonpath` is inserted at the front, before `.`: the last one first.
            for p in o.pythonpath.iter().rev() {
                front.push((abspath(&rt.cwd, p), "uwsgi pythonpath".into()));
            }
            front.push((rt.cwd.clone(), "uwsgi's `.` (its working directory)".into()));
        }
        "flask" => {
            let spec = flask_spec(config, args);
            let (dir, _) = flask_import(vfs, &rt.cwd, spec.as_deref());
            front.push((dir, "flask".into()));
        }
        "fastapi" => {
            let pos = positionals(args);
            if matches!(pos.first().map(String::as_str), Some("run" | "dev"))
                && let Some(path) = fastapi_path(vfs, &rt.cwd, args)
            {
                // fastapi-cli puts the directory above the module's top package first, for a
                // path it is given as for one it found.
                let (dir, _) = flask_import(vfs, &rt.cwd, Some(&path));
                front.push((dir, "fastapi".into()));
            }
        }
        "streamlit" => {
            let pos = positionals(args);
            if pos.first().map(String::as_str) == Some("run")
                && let Some(path) = pos.get(1)
            {
                // Streamlit runs the script with its directory first on sys.path.
                let abs = abspath(&rt.cwd, path);
                let real = vfs.realpath(&abs).unwrap_or(abs);
                let dir = real
                    .rsplit_once('/')
                    .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
                front.push((dir.to_string(), "streamlit".into()));
            }
        }
        "celery" => {
            if let Some(dir) = option(args, &["--workdir"]) {
                rt.cwd = abspath(&rt.cwd, &dir);
            }
            let cwd = vfs.realpath(&rt.cwd).unwrap_or_else(|| rt.cwd.clone());
            front.push((cwd, "celery".into()));
        }
        // The source file's real directory appended before it is loaded.
        f if FUNCTIONS_FRAMEWORK.contains(&f) || f == "functions_framework" => {
            let source = functions_source(config, &rt.cwd, args);
            let real = vfs.realpath(&source).unwrap_or(source);
            back.push((dirname(&real), "functions-framework".into()));
        }
        // `sys.path.append(os.getcwd())` before the import (sanic's loader, arq's CLI).
        "sanic" | "arq" => {
            let cwd = vfs.realpath(&rt.cwd).unwrap_or_else(|| rt.cwd.clone());
            back.push((cwd, framework.clone()));
        }
        // `--app-dir`, else the working directory, appended.
        "litestar" => {
            let dir = option(args, &["--app-dir"])
                .map(|d| abspath(&rt.cwd, &d))
                .unwrap_or_else(|| rt.cwd.clone());
            let dir = vfs.realpath(&dir).unwrap_or(dir);
            back.push((dir, "litestar".into()));
        }
        // Each `--path` (default `.`) appended.
        "rq" => {
            let mut paths = option_values(args, &["--path"]);
            if paths.is_empty() {
                paths.push(".".into());
            }
            for p in paths {
                back.push((abspath(&rt.cwd, &p), "rq --path".into()));
            }
        }
        // Each `--path` (default `.`) inserted first: the last one ends up in front.
        "dramatiq" => {
            let mut paths = option_values(args, &["--path"]);
            if paths.is_empty() {
                paths.push(".".into());
            }
            for p in paths.iter().rev() {
                front.push((abspath(&rt.cwd, p), "dramatiq --path".into()));
            }
        }
        // The working directory first while the application is imported (huey after a
        // first failed attempt without it; taskiq and faust take it out again afterwards).
        // taskiq's `--app-dir` stays in front of it.
        "huey_consumer" | "huey_consumer.py" | "taskiq" | "faust" => {
            if framework == "taskiq"
                && let Some(dir) = option(args, &["--app-dir"])
            {
                front.push((abspath(&rt.cwd, &dir), "taskiq --app-dir".into()));
            }
            if framework == "faust"
                && let Some(dir) = option(args, &["-W", "--workdir"])
            {
                rt.cwd = abspath(&rt.cwd, &dir);
            }
            let cwd = vfs.realpath(&rt.cwd).unwrap_or_else(|| rt.cwd.clone());
            front.push((cwd, framework.clone()));
        }
        _ => {}
    }
    if let Launch::AppServer { app, .. } = &mut rt.launch
        && let Some(spec) = app_spec(args)
    {
        *app = spec;
    }
    let server = match &rt.launch {
        Launch::AppServer { server, .. } => Some(server.clone()),
        Launch::Module { module } if APP_SERVERS.contains(&module.as_str()) => Some(module.clone()),
        _ => None,
    };
    if let Some(server) = server.as_deref().filter(|s| *s == "granian") {
        // Granian inserts `--working-dir` (else the working directory) first, then the
        // directory its target is imported from in front of it.
        if let Some(spec) = app_spec(args) {
            let (dir, _) = flask_import(vfs, &rt.cwd, Some(&spec));
            front.push((dir, server.to_string()));
        }
        if let Some(dir) = option(args, &["--working-dir"]) {
            let dir = abspath(&rt.cwd, &dir);
            let real = vfs.realpath(&dir).unwrap_or(dir);
            front.push((real, format!("{server} --working-dir")));
        }
    }
    if let Some(server) = &server {
        if let Some(dir) = option(args, &["--app-dir"]) {
            if server == "uvicorn" {
                // uvicorn inserts its app directory, whose default is `.`: given one, the
                // working directory is not inserted at all.
                rt.sys_path.retain(|e| {
                    !matches!(&e.origin, Origin::WorkingDir { reason } if reason.starts_with("uvicorn inserts"))
                });
            }
            front.push((abspath(&rt.cwd, &dir), format!("{server} --app-dir")));
        }
        // gunicorn changes directory (and inserts it) first, then inserts each
        // `--pythonpath` entry at the front: the last one ends up first.
        let chdir = option(args, &["--chdir"]).map(|dir| abspath(&rt.cwd, &dir));
        if let Some(dir) = &chdir {
            rt.cwd = dir.clone();
        }
        if let Some(list) = option(args, &["--pythonpath"]) {
            let entries: Vec<&str> = list.split(',').filter(|p| !p.is_empty()).collect();
            for p in entries.iter().rev() {
                front.push((abspath(&rt.cwd, p.trim()), format!("{server} --pythonpath")));
            }
        }
        if let Some(dir) = chdir {
            front.push((dir, format!("{server} --chdir")));
        }
        if server == "hypercorn"
            && let Some(spec) = app_spec(args)
            && let Some((dir, _)) = hypercorn_path(&rt.cwd, &spec)
        {
            front.insert(0, (dir, "hypercorn (its application path)".into()));
        }
    }
    let mut notes = Vec::new();
    if let Some(server) = &server
        && APPENDS_CWD.contains(&server.as_str())
    {
        // `sys.path.append(os.getcwd())` before the app is imported: the real directory.
        let cwd = vfs.realpath(&rt.cwd).unwrap_or_else(|| rt.cwd.clone());
        notes.push(format!("{server} appends {cwd} to sys.path"));
        rt.sys_path.push(SysPathEntry {
            path: cwd,
            origin: Origin::WorkingDir {
                reason: format!("{server} appends it before importing the app"),
            },
        });
    }
    for (path, reason) in back {
        if rt.sys_path.iter().any(|e| e.path == path) {
            continue;
        }
        notes.push(format!("{reason} appends {path} to sys.path"));
        rt.sys_path.push(SysPathEntry {
            path,
            origin: Origin::WorkingDir {
                reason: format!("{reason} appends it before importing the application"),
            },
        });
    }
    for (path, reason) in front.into_iter().rev() {
        rt.sys_path.retain(|e| e.path != path);
        notes.push(format!("{reason} puts {path} first on sys.path"));
        rt.sys_path.insert(
            0,
            SysPathEntry {
                path,
                origin: Origin::WorkingDir { reason },
            },
        );
    }
    notes
}

/// Flask's app path: `--app`/`-A`, else `FLASK_APP`.
fn flask_spec(config: &ImageConfig, args: &[String]) -> Option<String> {
    option(args, &["--app", "-A"])
        .or_else(|| config.env_var("FLASK_APP").map(str::to_string))
        .filter(|s| !s.is_empty())
}

/// Flask's `prepare_import`: the path part of the app spec (`pkg.app`, `src/app.py`, before a
/// `:` not followed by a slash), made real and stripped of `.py` and `/__init__`, walked up
/// while its directory is a package. Returns the directory Flask inserts first on sys.path and
/// the module it imports. Without a spec Flask tries `wsgi.py`, then `app.py`.
pub(crate) fn flask_import(vfs: &Vfs, cwd: &str, spec: Option<&str>) -> (String, String) {
    let spec = match spec {
        Some(s) => s.to_string(),
        None if vfs.is_file(&format!("{}/wsgi.py", cwd.trim_end_matches('/'))) => "wsgi.py".into(),
        None => "app.py".into(),
    };
    let bytes = spec.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| bytes[i] == b':' && !matches!(bytes.get(i + 1), Some(b'/' | b'\\')))
        .unwrap_or(bytes.len());
    let base = vfs.realpath(cwd).unwrap_or_else(|| cwd.to_string());
    let mut path = abspath(&base, &spec[..end]);
    if let Some(real) = vfs.realpath(&path) {
        path = real;
    }
    if let Some(p) = path.strip_suffix(".py") {
        path = p.to_string();
    }
    if let Some(p) = path.strip_suffix("/__init__") {
        path = p.to_string();
    }
    let mut names = Vec::new();
    loop {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        names.push(name.to_string());
        path = if dir.is_empty() {
            "/".into()
        } else {
            dir.into()
        };
        if path == "/" || !vfs.exists(&format!("{path}/__init__.py")) {
            break;
        }
    }
    names.reverse();
    (path, names.join("."))
}

/// `module:attr` / `module:factory()` / `path/to/app.py` as a module name.
fn app_module(spec: &str) -> String {
    let module = spec.split(':').next().unwrap_or(spec);
    let module = module.strip_suffix(".py").unwrap_or(module);
    module.trim_matches('/').replace('/', ".")
}

/// `console_scripts` of every installed distribution: script name to `module:attr`.
fn console_entry_points(vfs: &Vfs, rt: &Runtime) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for site in &rt.site_dirs {
        for name in vfs.read_dir(site).unwrap_or_default() {
            if !name.ends_with(".dist-info") && !name.ends_with(".egg-info") {
                continue;
            }
            let Some(text) = vfs.read_to_string(&format!("{site}/{name}/entry_points.txt")) else {
                continue;
            };
            let mut in_scripts = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with('[') {
                    in_scripts = line == "[console_scripts]" || line == "[gui_scripts]";
                    continue;
                }
                if let (true, Some((k, v))) = (in_scripts, line.split_once('=')) {
                    // `module:attr [extra]`: the extras in brackets are not part of the name.
                    let spec = v.split('[').next().unwrap_or(v).trim();
                    out.entry(k.trim().to_string())
                        .or_insert_with(|| spec.to_string());
                }
            }
        }
    }
    out
}

/// A string assigned in a file like `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x.y")`.
pub(crate) fn django_settings_in(text: &str) -> Option<String> {
    let at = text.find("DJANGO_SETTINGS_MODULE")?;
    let rest = &text[at + "DJANGO_SETTINGS_MODULE".len()..];
    // Skip the key's closing quote, then take the next literal within the call.
    let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    let rest = rest.get(..rest.find(')').unwrap_or(rest.len()))?;
    let q = rest.find(['"', '\''])?;
    let quote = rest[q..].chars().next()?;
    let value = &rest[q + 1..];
    let v = &value[..value.find(quote)?];
    (!v.is_empty()
        && v.chars()
            .all(|c| c == '.' || c == '_' || c.is_alphanumeric()))
    .then(|| v.to_string())
}

fn which_server(vfs: &Vfs, rt: &Runtime, server: &str) -> Option<String> {
    rt.sys_path
        .iter()
        .filter(|p| matches!(p.origin, Origin::ScriptBinDir { .. }))
        .map(|p| format!("{}/{server}", p.path.trim_end_matches('/')))
        .chain(["/usr/local/bin", "/usr/bin"].map(|d| format!("{d}/{server}")))
        .find(|p| vfs.is_file(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn app_spec_skips_option_values() {
        assert_eq!(
            positionals(&words("--bind 0.0.0.0:8000 -w 4 --preload app.main:app")),
            vec!["app.main:app"]
        );
        assert_eq!(
            positionals(&words("main:app --host 0.0.0.0 --port 80 --reload")),
            vec!["main:app"]
        );
        assert_eq!(
            option(&words("-A proj worker"), &["-A", "--app"]),
            Some("proj".into())
        );
        assert_eq!(
            option(&words("--app=proj.x worker"), &["-A", "--app"]),
            Some("proj.x".into())
        );
        assert_eq!(app_module("src/app.py"), "src.app");
        assert_eq!(app_module("app:create_app()"), "app");
    }

    /// The names worker and framework CLIs import, as their own code splits them (see
    /// [`worker_cli`]); a path given to hypercorn is imported from its directory.
    #[test]
    fn worker_cli_specs() {
        let pair = |m: &str, a: Option<&str>| (m.to_string(), a.map(str::to_string));
        assert_eq!(
            split_form("server:app", SpecForm::ColonElseDotElseApp),
            pair("server", Some("app"))
        );
        assert_eq!(
            split_form("pkg.server.app", SpecForm::ColonElseDotElseApp),
            pair("pkg.server", Some("app"))
        );
        assert_eq!(
            split_form("server", SpecForm::ColonElseDotElseApp),
            pair("server", Some("app"))
        );
        assert_eq!(
            split_form("server:create_app()", SpecForm::ColonElseDotElseApp),
            pair("server", Some("create_app"))
        );
        assert_eq!(
            split_form("jobs.WorkerSettings", SpecForm::LastDot),
            pair("jobs", Some("WorkerSettings"))
        );
        assert_eq!(split_form("broker", SpecForm::Colon), pair("broker", None));
        assert_eq!(
            positionals_taking(
                &words("server --processes 1 --threads 1 --path src tasks"),
                DRAMATIQ_VALUES
            ),
            vec!["server", "tasks"]
        );
        assert_eq!(
            positionals_taking(&words("--dev server:app --host 0.0.0.0"), SANIC_VALUES),
            vec!["server:app"]
        );
        assert_eq!(
            option_values(&words("worker --path a --path=b -c s"), &["--path"]),
            vec!["a", "b"]
        );
        assert_eq!(hypercorn_spec("asgi:server:app"), "server:app");
        assert_eq!(hypercorn_spec("server:app"), "server:app");
        assert_eq!(
            hypercorn_path("/app", "src/server:app"),
            Some(("/app/src".to_string(), "server".to_string()))
        );
        assert_eq!(
            hypercorn_path("/app", "wsgi:server.py:app"),
            Some(("/app".to_string(), "server".to_string()))
        );
        assert_eq!(hypercorn_path("/app", "server:app"), None);
    }

    /// functions-framework 3.10: `--target` (else `FUNCTION_TARGET`) names the function,
    /// `--source` (else `FUNCTION_SOURCE`, else `./main.py`) the file, loaded as the module
    /// named after it; no target or no file stops it before anything is imported.
    #[test]
    fn functions_framework_target_and_source() {
        let vfs = Vfs::from_files(&[("srv/main.py", ""), ("srv/fn/handler.py", "")]);
        let config = |env: &[&str]| ImageConfig {
            env: env.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let run = |args: &str, env: &[&str]| {
            let mut e = Entry::default();
            functions_framework(&vfs, &config(env), "/srv", &words(args), &mut e);
            e.targets.into_iter().map(|t| t.what).collect::<Vec<_>>()
        };
        let attr = |m: &str, a: &str| What::Attr {
            module: m.into(),
            attr: Some(a.into()),
        };
        assert_eq!(run("--target hello", &[]), [attr("main", "hello")]);
        assert_eq!(
            run("--target=hi --source fn/handler.py", &[]),
            [attr("handler", "hi")]
        );
        assert_eq!(
            run(
                "",
                &["FUNCTION_TARGET=hi", "FUNCTION_SOURCE=/srv/fn/handler.py"]
            ),
            [attr("handler", "hi")]
        );
        assert_eq!(
            run("--target hello --source gone.py", &[]),
            [What::Path {
                path: "/srv/gone.py".into()
            }]
        );
        assert!(matches!(
            run("--port 8080", &[])[..],
            [What::Refused { .. }]
        ));
        assert_eq!(functions_source(&config(&[]), "/srv", &[]), "/srv/main.py");
    }

    /// Flask's `prepare_import`, as observed with Flask 3.1 (tests/it/servers.rs).
    #[test]
    fn flask_import_walks_up_packages() {
        let vfs = Vfs::from_files(&[
            ("srv/web/wsgi.py", ""),
            ("srv/web/pkg/__init__.py", ""),
            ("srv/web/pkg/app.py", ""),
            ("srv/api/app.py", ""),
            ("srv/link", "-> web"),
        ]);
        let got = |cwd: &str, spec: Option<&str>| flask_import(&vfs, cwd, spec);
        let pair = |d: &str, m: &str| (d.to_string(), m.to_string());
        assert_eq!(
            got("/srv/web", Some("pkg.app")),
            pair("/srv/web", "pkg.app")
        );
        assert_eq!(
            got("/srv/web", Some("pkg.app:create_app()")),
            pair("/srv/web", "pkg.app")
        );
        assert_eq!(got("/srv", Some("web/wsgi.py")), pair("/srv/web", "wsgi"));
        assert_eq!(
            got("/srv", Some("web/pkg/app.py")),
            pair("/srv/web", "pkg.app")
        );
        assert_eq!(got("/srv/web", Some("pkg")), pair("/srv/web", "pkg"));
        assert_eq!(
            got("/srv/link", Some("pkg.app")),
            pair("/srv/web", "pkg.app")
        );
        assert_eq!(got("/srv/web", None), pair("/srv/web", "wsgi"));
        assert_eq!(got("/srv/api", None), pair("/srv/api", "app"));
    }
}
