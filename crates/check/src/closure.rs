//! The startup closure: which modules run while the container starts. From Entrypoint/Cmd we
//! take the first modules Python executes (the script, `-m` package, console script, the
//! app-server's `module:attr`, Django settings and the dotted strings Django imports, Flask's
//! app, Celery's `-A`), then follow every import that runs at import time (module level, live
//! branch, not `TYPE_CHECKING`, not inside a function) through the application and into
//! site-packages, level by level. A failure found on this path is what makes the container start
//! degraded, so it is reported with the chain of modules that reaches it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use importgate_image::{ImageConfig, Vfs};
use importgate_python::runtime::abspath;
use importgate_python::{Found, Launch, Origin, Resolver, Runtime, SysPathEntry};
use importgate_source::{ImportSite, ParsedModule, Scope, TargetEnv};

use crate::checker::{Identity, site_target};

/// A module on the startup path.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Dotted name, or the script's file name for `python script.py`.
    pub module: String,
    pub file: String,
    /// The node whose import reached this one.
    pub parent: Option<usize>,
}

/// Where a dotted string from a framework's configuration comes from, for findings.
#[derive(Debug, Clone)]
pub(crate) struct ConfigRef {
    pub module: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub setting: String,
    pub parent: Option<usize>,
}

/// What the entrypoint starts, before following imports.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// Files run directly (the script, a console script), with the name shown in chains.
    pub files: Vec<(String, String)>,
    /// Modules imported by name (`-m`, `module:attr`, `-A`, `FLASK_APP`).
    pub modules: Vec<String>,
    /// Whether the entrypoint was understood well enough to call the closure complete.
    pub understood: bool,
    /// What was recognised, in words (`uvicorn app.main:app`, `Django settings mysite.settings`).
    pub notes: Vec<String>,
    /// `DJANGO_SETTINGS_MODULE`, when Django is started.
    pub django_settings: Option<String>,
}

/// One module's import sites that run at import time, `(line, column)`, with the nodes each
/// executes.
pub(crate) type SiteEdges = Vec<Edge>;

/// One import site of a reached module: where it is, whether a failure in what it executes is
/// caught (`try/except ImportError` around it), and the nodes it executes.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub at: (u32, u32),
    pub guarded: bool,
    pub children: Vec<usize>,
}

/// The closure once computed.
#[derive(Debug, Default)]
pub(crate) struct Reached {
    pub nodes: Vec<Node>,
    pub by_file: BTreeMap<String, usize>,
    /// Files parsed only for the closure (outside the application).
    pub parsed_outside_app: usize,
    /// Dotted strings from framework settings that do not import.
    pub config_refs: Vec<ConfigRef>,
    /// Per node, its import sites that run at import time (line, column) and the nodes each
    /// one executes, in source order.
    pub edges: Vec<SiteEdges>,
    /// The importer in CPython's depth-first execution order (what the traceback shows).
    pub dfs_parent: Vec<Option<usize>>,
    /// Execution rank of each import site reached: `(file, line, column)` to its position in
    /// the depth-first order, so the first failure CPython hits can be told from later ones.
    pub rank: BTreeMap<(String, u32, u32), usize>,
    /// Nodes reached through imports whose failure is not caught: an exception raised while
    /// executing them stops startup. A module reached only under `try/except ImportError`
    /// (urllib3's optional `pyopenssl`) may fail without consequence.
    pub hard: Vec<bool>,
    /// Nodes the entrypoint or a framework imports directly (with the packages on the way),
    /// besides the parentless roots: the starting points of [`Reached::hard`].
    pub config_roots: Vec<usize>,
}

impl Reached {
    /// Module names from the entrypoint to node `i`, outermost first.
    pub fn chain(&self, mut i: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut guard = 0;
        while let Some(node) = self.nodes.get(i) {
            out.push(node.module.clone());
            guard += 1;
            let parent = self.dfs_parent.get(i).copied().flatten().or(node.parent);
            match parent {
                Some(p) if guard < 4096 => i = p,
                _ => break,
            }
        }
        out.reverse();
        out
    }
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
];

/// Positional words of a command line after the program name, skipping option values.
fn positionals(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            let short_with_value = !a.starts_with("--") && a.len() > 2;
            let takes_value =
                !(a.contains('=') || FLAG_OPTIONS.contains(&a.as_str()) || short_with_value);
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    out
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
    let framework = match &rt.launch {
        Launch::ConsoleScript { path } => basename(path).to_string(),
        Launch::Module { module } => module.clone(),
        _ => String::new(),
    };
    match framework.as_str() {
        "flask" => {
            let spec = flask_spec(config, args);
            let (dir, _) = flask_import(vfs, &rt.cwd, spec.as_deref());
            front.push((dir, "flask".into()));
        }
        "celery" => {
            if let Some(dir) = option(args, &["--workdir"]) {
                rt.cwd = abspath(&rt.cwd, &dir);
            }
            let cwd = vfs.realpath(&rt.cwd).unwrap_or_else(|| rt.cwd.clone());
            front.push((cwd, "celery".into()));
        }
        _ => {}
    }
    if let Launch::AppServer { server, app } = &mut rt.launch {
        if let Some(spec) = app_spec(args) {
            *app = spec;
        }
        let server = server.clone();
        if let Some(dir) = option(args, &["--app-dir"]) {
            front.push((abspath(&rt.cwd, &dir), format!("{server} --app-dir")));
        }
        if let Some(dir) = option(args, &["--chdir"]) {
            let dir = abspath(&rt.cwd, &dir);
            rt.cwd = dir.clone();
            front.push((dir, format!("{server} --chdir")));
        }
        if let Some(list) = option(args, &["--pythonpath"]) {
            for p in list.split(',').filter(|p| !p.is_empty()) {
                front.push((abspath(&rt.cwd, p), format!("{server} --pythonpath")));
            }
        }
    }
    let mut notes = Vec::new();
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

/// The application an app server is given: the first positional with a `:`, else the first.
fn app_spec(args: &[String]) -> Option<String> {
    let pos = positionals(args);
    pos.iter()
        .find(|p| p.contains(':'))
        .or_else(|| pos.first())
        .cloned()
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

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `console_scripts` of every installed distribution: script name to `module`.
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
                    out.entry(k.trim().to_string())
                        .or_insert_with(|| app_module(v.trim()));
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

/// Reads Entrypoint/Cmd (after the model's unwrapping) into the first modules to run.
pub(crate) fn entry(vfs: &Vfs, config: &ImageConfig, rt: &Runtime, argv: &[String]) -> Entry {
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
    match &rt.launch {
        Launch::Script { path } => {
            let abs = abspath(&rt.cwd, path);
            let file = vfs.realpath(&abs).unwrap_or(abs);
            e.files.push((file.clone(), basename(path).to_string()));
            if basename(path) == "manage.py" {
                e.django_settings = env_settings.clone().or_else(|| {
                    vfs.read_to_string(&file)
                        .and_then(|t| django_settings_in(&t))
                });
            }
        }
        Launch::Module { module } => {
            e.modules.push(module.clone());
            if module == "flask" {
                flask(vfs, config, &rt.cwd, args, &mut e);
            }
            if module == "celery" {
                celery(args, &mut e);
            }
        }
        Launch::Command => {
            e.understood = false;
            e.notes
                .push("`python -c` runs code that is not analysed for the startup path".into());
        }
        Launch::ConsoleScript { path } => {
            e.files.push((path.clone(), basename(path).to_string()));
            if let Some(module) = console_entry_points(vfs, rt).get(basename(path)) {
                e.modules.push(module.clone());
            }
            match basename(path) {
                "flask" => flask(vfs, config, &rt.cwd, args, &mut e),
                "celery" => celery(args, &mut e),
                "django-admin" => e.django_settings = env_settings.clone(),
                _ => {}
            }
        }
        Launch::AppServer { server, .. } => {
            // The server's console script imports its own entry point module before the app.
            if let Some(module) = console_entry_points(vfs, rt).get(server.as_str()) {
                e.modules.push(module.clone());
            }
            match app_spec(args) {
                Some(spec) => {
                    let module = app_module(&spec);
                    e.notes
                        .push(format!("{server} imports `{module}` ({spec}) at startup"));
                    e.modules.push(module);
                }
                None => {
                    e.understood = false;
                    e.notes.push(format!(
                        "no application given to {server} on the command line (a config file?)"
                    ));
                }
            }
            if let Some(p) = which_server(vfs, rt, server) {
                e.files.push((p, server.clone()));
            }
        }
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

fn which_server(vfs: &Vfs, rt: &Runtime, server: &str) -> Option<String> {
    rt.sys_path
        .iter()
        .filter(|p| matches!(p.origin, Origin::ScriptBinDir { .. }))
        .map(|p| format!("{}/{server}", p.path.trim_end_matches('/')))
        .chain(["/usr/local/bin", "/usr/bin"].map(|d| format!("{d}/{server}")))
        .find(|p| vfs.is_file(p))
}

/// Flask's app discovery: `--app`, else `FLASK_APP`, else `wsgi.py` or `app.py` in the working
/// directory, imported as [`flask_import`] names it.
fn flask(vfs: &Vfs, config: &ImageConfig, cwd: &str, args: &[String], e: &mut Entry) {
    let spec = flask_spec(config, args);
    let (_, m) = flask_import(vfs, cwd, spec.as_deref());
    if spec.is_none() {
        e.notes
            .push("flask looks for `wsgi` or `app` in the working directory".into());
    }
    e.notes.push(format!("flask imports `{m}` at startup"));
    e.modules.push(m);
}

/// `celery -A proj` imports `proj` (and `proj.celery` when `proj` is a package without an app).
fn celery(args: &[String], e: &mut Entry) {
    match option(args, &["-A", "--app"]) {
        Some(spec) => {
            let m = app_module(&spec);
            e.notes.push(format!("celery imports `{m}` at startup"));
            e.modules.push(m);
        }
        None => {
            e.understood = false;
            e.notes
                .push("celery without -A: the app is not known".into());
        }
    }
}

/// Whether an import site executes while its module is being imported.
pub(crate) fn runs_at_import(site: &ImportSite, target: &TargetEnv) -> bool {
    !matches!(site.context.scope, Scope::Function(_))
        && !site.context.type_checking
        && !site.context.lazy
        && !site
            .context
            .conditions
            .iter()
            .any(|c| c.reaches(target) == Some(false))
}

/// Whether every enclosing condition of the site is known to hold here (or there is none).
pub(crate) fn unconditional(site: &ImportSite, target: &TargetEnv) -> bool {
    site.context
        .conditions
        .iter()
        .all(|c| c.reaches(target) == Some(true))
}

/// Follows the startup path. `known` holds files already parsed (the application's).
pub(crate) struct Walker<'a, 'r> {
    pub resolver: &'a Resolver<'r>,
    pub vfs: &'a Vfs,
    pub target: &'a TargetEnv,
    /// Directories whose modules are not followed (the standard library).
    pub skip_prefixes: Vec<String>,
    /// Directories followed even when inside a skipped one (site-packages).
    pub follow_prefixes: Vec<String>,
    pub identity: &'a dyn Fn(&str) -> Identity,
    pub cache: &'a mut BTreeMap<String, Arc<ParsedModule>>,
    pub reached: Reached,
    frontier: Vec<usize>,
}

impl<'a, 'r> Walker<'a, 'r> {
    pub fn new(
        resolver: &'a Resolver<'r>,
        vfs: &'a Vfs,
        target: &'a TargetEnv,
        (skip_prefixes, follow_prefixes): (Vec<String>, Vec<String>),
        identity: &'a dyn Fn(&str) -> Identity,
        cache: &'a mut BTreeMap<String, Arc<ParsedModule>>,
    ) -> Self {
        Walker {
            resolver,
            vfs,
            target,
            skip_prefixes,
            follow_prefixes,
            identity,
            cache,
            reached: Reached::default(),
            frontier: Vec::new(),
        }
    }

    /// Files in site directories: installed distributions, not the application.
    pub fn is_third_party(&self, file: &str) -> bool {
        self.follow_prefixes
            .iter()
            .any(|p| file.starts_with(&format!("{}/", p.trim_end_matches('/'))))
    }

    /// Python sources outside the standard library; site directories inside the stdlib
    /// directory (`lib/python3.12/site-packages`) are followed.
    fn followed(&self, file: &str) -> bool {
        let under = |p: &String| file.starts_with(&format!("{}/", p.trim_end_matches('/')));
        file.ends_with(".py")
            && (self.follow_prefixes.iter().any(under) || !self.skip_prefixes.iter().any(under))
    }

    /// Adds a file as reached; returns its node.
    pub fn add_file(&mut self, file: &str, module: &str, parent: Option<usize>) -> Option<usize> {
        let real = self.vfs.realpath(file).unwrap_or_else(|| file.to_string());
        if let Some(&i) = self.reached.by_file.get(&real) {
            return Some(i);
        }
        if !self.followed(&real) {
            return None;
        }
        let i = self.reached.nodes.len();
        self.reached.nodes.push(Node {
            module: module.to_string(),
            file: real.clone(),
            parent,
        });
        self.reached.by_file.insert(real, i);
        self.frontier.push(i);
        Some(i)
    }

    /// Adds what importing `module` executes (each package on the way, then the module):
    /// the node of the deepest one reached, whether the whole name resolved, and every node
    /// the import executes.
    pub fn add_module_nodes(
        &mut self,
        module: &str,
        parent: Option<usize>,
    ) -> (Option<usize>, bool, Vec<usize>) {
        let res = self.resolver.resolve(module);
        let mut last = parent;
        let mut all = Vec::new();
        for (name, found) in &res.found {
            if let Some(file) = found.file()
                && let Some(i) = self.add_file(file, name, last)
            {
                last = Some(i);
                all.push(i);
            }
        }
        (last, res.failure.is_none(), all)
    }

    /// Replays the imports depth-first, as CPython executes them, from the roots in the order
    /// they were added: fills [`Reached::dfs_parent`] and [`Reached::rank`].
    pub fn order(&mut self) {
        let n = self.reached.nodes.len();
        let mut seen = vec![false; n];
        let mut dfs_parent = vec![None; n];
        let mut rank = BTreeMap::new();
        let mut counter = 0usize;
        for root in 0..n {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            // (node, next site, next child of that site)
            let mut stack: Vec<(usize, usize, usize)> = vec![(root, 0, 0)];
            while let Some(&mut (node, ref mut site, ref mut child)) = stack.last_mut() {
                let Some(edges) = self.reached.edges.get(node) else {
                    stack.pop();
                    continue;
                };
                let Some(Edge { at, children, .. }) = edges.get(*site) else {
                    stack.pop();
                    continue;
                };
                if *child == 0 {
                    let file = self.reached.nodes[node].file.clone();
                    rank.entry((file, at.0, at.1)).or_insert_with(|| {
                        counter += 1;
                        counter
                    });
                }
                match children.get(*child).copied() {
                    Some(next) => {
                        *child += 1;
                        if next < n && !seen[next] {
                            seen[next] = true;
                            dfs_parent[next] = Some(node);
                            stack.push((next, 0, 0));
                        }
                    }
                    None => {
                        *site += 1;
                        *child = 0;
                    }
                }
            }
        }
        self.reached.dfs_parent = dfs_parent;
        self.reached.rank = rank;
        // Hard reachability: from the roots over unguarded edges only.
        let mut hard = vec![false; n];
        // Roots: entry files and modules, `__main__`, framework configuration, each with the
        // packages its import executes first.
        let mut queue: Vec<usize> = (0..n)
            .filter(|&i| self.reached.nodes[i].parent.is_none())
            .chain(self.reached.config_roots.iter().copied().filter(|&i| i < n))
            .collect();
        for &i in &queue {
            hard[i] = true;
        }
        while let Some(i) = queue.pop() {
            for e in self.reached.edges.get(i).into_iter().flatten() {
                if e.guarded {
                    continue;
                }
                for &c in &e.children {
                    if c < n && !hard[c] {
                        hard[c] = true;
                        queue.push(c);
                    }
                }
            }
        }
        self.reached.hard = hard;
    }

    /// `python -m pkg` runs `pkg/__main__.py` after importing `pkg`.
    pub fn add_main_module(&mut self, module: &str) {
        let res = self.resolver.resolve(module);
        let (last, _, nodes) = self.add_module_nodes(module, None);
        self.reached.config_roots.extend(nodes);
        if let Some(found @ (Found::RegularPackage { .. } | Found::NamespacePackage { .. })) =
            res.last_found()
            && let Some(main) = found.search_path().and_then(|p| {
                p.iter()
                    .map(|d| format!("{d}/__main__.py"))
                    .find(|f| self.vfs.is_file(f))
            })
            && let Some(i) = self.add_file(&main, &format!("{module}.__main__"), last)
        {
            self.reached.config_roots.push(i);
        }
    }

    /// Parses the frontier in parallel and follows its imports until nothing new is reached.
    pub fn run(&mut self) {
        while !self.frontier.is_empty() {
            let frontier = std::mem::take(&mut self.frontier);
            let need: Vec<(String, Arc<str>)> = frontier
                .iter()
                .filter_map(|&i| self.reached.nodes.get(i))
                .map(|n| n.file.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|f| !self.cache.contains_key(f))
                .filter_map(|f| {
                    let text = self.vfs.read_to_string(&f)?;
                    Some((f, Arc::<str>::from(text)))
                })
                .collect();
            self.reached.parsed_outside_app += need.len();
            for (file, parsed) in importgate_source::parse_many(need) {
                self.cache.insert(file, Arc::new(parsed));
            }
            for i in frontier {
                self.follow(i);
            }
        }
    }

    fn follow(&mut self, i: usize) {
        let Some(node) = self.reached.nodes.get(i) else {
            return;
        };
        let file = node.file.clone();
        let Some(parsed) = self.cache.get(&file).cloned() else {
            return;
        };
        if !parsed.syntax_errors.is_empty() {
            return;
        }
        let id = (self.identity)(&file);
        let third_party = self.is_third_party(&file);
        let mut edges = Vec::new();
        for site in &parsed.imports {
            if !runs_at_import(site, self.target) {
                continue;
            }
            // A dependency's branches on its own state (`if PYDANTIC_V2:`) and its fallbacks
            // in `except` handlers are not ours to guess: only what runs whatever the test
            // says is followed.
            if third_party && (!unconditional(site, self.target) || site.context.handler) {
                continue;
            }
            let Some((Ok(module), name)) = site_target(site, &id) else {
                continue;
            };
            let (last, ok, mut children) = self.add_module_nodes(&module, Some(i));
            if let (true, Some(name)) = (ok, name.filter(|n| n != "*")) {
                let res = self.resolver.resolve(&module);
                if let Some(found) = res.last_found()
                    && self.resolver.submodule_exists(found, &name)
                {
                    let (_, _, more) =
                        self.add_module_nodes(&format!("{module}.{name}"), last.or(Some(i)));
                    children.extend(more);
                }
            }
            edges.push(Edge {
                at: (site.line, site.column),
                guarded: site.context.guarded,
                children,
            });
        }
        if self.reached.edges.len() <= i {
            self.reached.edges.resize(i + 1, Vec::new());
        }
        self.reached.edges[i] = edges;
    }
}

/// The settings Django reads at startup and the dotted strings in them it imports.
const DJANGO_SETTINGS: &[&str] = &[
    "INSTALLED_APPS",
    "MIDDLEWARE",
    "ROOT_URLCONF",
    "WSGI_APPLICATION",
    "ASGI_APPLICATION",
];

/// Dotted strings of the Django settings in `text`, with their line and column: the value
/// of each setting up to the end of its (possibly bracketed) expression.
pub(crate) fn django_strings(text: &str) -> Vec<(String, String, u32, u32)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let setting = DJANGO_SETTINGS.iter().find(|s| {
            line.strip_prefix(**s).is_some_and(|r| {
                r.trim_start().starts_with('=') || r.trim_start().starts_with("+=")
            })
        });
        let Some(setting) = setting else {
            i += 1;
            continue;
        };
        let mut depth = 0i32;
        let mut j = i;
        loop {
            let l = lines[j];
            let code = l.split('#').next().unwrap_or_default();
            depth += code.matches(['[', '(']).count() as i32;
            depth -= code.matches([']', ')']).count() as i32;
            for (col, s) in quoted(code) {
                if !s.is_empty()
                    && s.chars()
                        .all(|c| c == '.' || c == '_' || c.is_alphanumeric())
                    && !s.starts_with('.')
                {
                    out.push((setting.to_string(), s, (j + 1) as u32, (col + 1) as u32));
                }
            }
            if depth <= 0 || j + 1 >= lines.len() {
                break;
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// String literals on one line, with the character column of their opening quote.
fn quoted(line: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        if c == '"' || c == '\'' {
            let start = k;
            let mut s = String::new();
            k += 1;
            while k < chars.len() && chars[k] != c {
                s.push(chars[k]);
                k += 1;
            }
            out.push((start, s));
        }
        k += 1;
    }
    out
}

/// What Django imports for one settings string: the app module (an `AppConfig` path names its
/// module), its `models`, or the module of a class or attribute path (middleware, WSGI app).
pub(crate) fn django_targets(
    resolver: &Resolver<'_>,
    setting: &str,
    value: &str,
) -> Vec<(String, bool)> {
    match setting {
        "INSTALLED_APPS" => {
            let mut module = value.to_string();
            if resolver.resolve(&module).failure.is_some()
                && let Some((parent, _)) = value.rsplit_once('.')
                && resolver.resolve(parent).failure.is_none()
            {
                // `app.apps.AppConfig`: the module is `app.apps`, the app itself its package.
                module = parent.to_string();
            }
            let mut out = vec![(module.clone(), true)];
            let app = module.strip_suffix(".apps").unwrap_or(&module).to_string();
            if app != module {
                out.push((app.clone(), false));
            }
            let models = format!("{app}.models");
            if resolver.resolve(&models).failure.is_none() {
                out.push((models, false));
            }
            out
        }
        "ROOT_URLCONF" => vec![(value.to_string(), true)],
        _ => match value.rsplit_once('.') {
            Some((module, _)) => vec![(module.to_string(), true)],
            None => vec![(value.to_string(), true)],
        },
    }
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

    #[test]
    fn django_settings_strings() {
        let text = "import os\nINSTALLED_APPS = [\n    'django.contrib.auth',\n    \"shop.apps.ShopConfig\",  # the shop\n]\nMIDDLEWARE = ['a.b.C']\nROOT_URLCONF = 'site.urls'\nDEBUG = 'x.y'\n";
        let got: Vec<(String, String, u32)> = django_strings(text)
            .into_iter()
            .map(|(s, v, l, _)| (s, v, l))
            .collect();
        assert_eq!(
            got,
            vec![
                ("INSTALLED_APPS".into(), "django.contrib.auth".into(), 3),
                ("INSTALLED_APPS".into(), "shop.apps.ShopConfig".into(), 4),
                ("MIDDLEWARE".into(), "a.b.C".into(), 6),
                ("ROOT_URLCONF".into(), "site.urls".into(), 7),
            ]
        );
        assert_eq!(
            django_settings_in(
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')"
            ),
            Some("mysite.settings".into())
        );
    }
}
