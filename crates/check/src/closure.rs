//! The startup closure: which modules run while the container starts. From Entrypoint/Cmd we
//! take the first modules Python executes (the script, `-m` package, console script, the
//! app-server's `module:attr`, Django settings and the dotted strings Django imports, Flask's
//! app, Celery's `-A`), then follow every import that runs at import time (module level, live
//! branch, not `TYPE_CHECKING`, not inside a function) through the application and into
//! site-packages, level by level. In the application's files, the functions that run while it
//! starts (called by module-level code, by another called function, or by the server: an app
//! factory, Django's `AppConfig.ready`) run their imports too. A failure found on this path is
//! what makes the container start degraded, so it is reported with the chain of modules that
//! reaches it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use importgate_image::Vfs;
use importgate_python::{Found, Resolver};
use importgate_source::{ImportContext, ImportKind, ImportSite, ParsedModule, Scope, TargetEnv};

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
    /// The class or function named after the module (`MIDDLEWARE`'s `a.b.Class`).
    pub attr: Option<String>,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub setting: String,
    pub parent: Option<usize>,
    /// Who imports it: `Django` or `Celery`.
    pub framework: &'static str,
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
    /// The site runs whenever its module (or the function holding it) does: no `if` it sits
    /// under is in doubt, and it is not in an `except` handler.
    pub sure: bool,
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
    /// Per file of the application, the module-level functions called while the container
    /// starts (by the module's own code, a caller's, or a server's factory call), and whether
    /// every such call is guarded (a handler catches `ImportError`).
    pub called: BTreeMap<String, BTreeMap<String, bool>>,
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

/// Whether code in a function's body (or a call that runs one) surely runs when the function
/// is called: not under `TYPE_CHECKING`, not a lazy import, and every enclosing `if` known to
/// hold here. A factory's branches on its own arguments and configuration
/// (`if config_name == "development": import flask_debugtoolbar`) are not ours to guess: what
/// they import stays a lazy import.
/// A generator runs only as a lifespan, to its `yield`: what follows is shutdown code.
pub(crate) fn runs_when_called(context: &ImportContext, target: &TargetEnv) -> bool {
    !context.type_checking
        && !context.lazy
        && !context.after_yield
        && context
            .conditions
            .iter()
            .all(|c| c.reaches(target) == Some(true))
}

/// Whether an import site runs while the container starts, given which of its module's
/// functions are called then (`called`, with whether every call is guarded): `Some(guarded)`.
pub(crate) fn runs_at_startup(
    site: &ImportSite,
    target: &TargetEnv,
    called: Option<&BTreeMap<String, bool>>,
) -> Option<bool> {
    if runs_at_import(site, target) {
        return Some(site.context.guarded());
    }
    let f = site.context.in_function.as_ref()?;
    let guarded = *called?.get(f)?;
    runs_when_called(&site.context, target).then_some(guarded || site.context.guarded())
}

/// How a program calls the object it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CallMode {
    /// Called, whatever its parameters (`module:create_app()`, waitress `--call`, uvicorn
    /// `--factory`, a call in the code).
    Always,
    /// Called without arguments, the body running only when every parameter has a default
    /// (uvicorn tries every object it is given; a `TypeError` means "not a factory").
    Bare,
    /// Flask's discovery: `app` or `application` when the module binds one, else the factory
    /// `create_app`, else `make_app`.
    FlaskFind,
    /// `django.setup()` calls `ready()` of every application's `AppConfig`: each class's
    /// `ready` in the module.
    DjangoReady,
    /// Called and its coroutine run ([`importgate_source::CallSite::awaited`]): an `async
    /// def`'s body runs, which a plain call of one never does.
    Awaited,
}

/// A request to run a function of a file: `(name, mode, guarded)`.
type CallRequest = (String, CallMode, bool);

/// A call of another module's function: `(module, function, mode, guarded)`.
type RemoteCall = (String, String, CallMode, bool);

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
    /// The application's files: what the cache held when the walk began.
    app: BTreeSet<String>,
    pub reached: Reached,
    frontier: Vec<usize>,
    /// Told the number of modules parsed, as they are.
    pub progress: Option<&'a importgate_image::progress::StepGuard>,
    /// Parses from earlier runs.
    pub store: Option<&'a dyn importgate_source::ParseStore>,
    /// Functions asked to run, per file, before or while the file is followed.
    requests: BTreeMap<String, BTreeSet<CallRequest>>,
    /// Nodes followed at least once: a new request for one of them follows it again.
    followed_nodes: BTreeSet<usize>,
    /// Sources the followed imports reach but that are not followed (the standard library's):
    /// the check parses each of them for its syntax, so they are parsed on the pool while the
    /// walk goes on, instead of one after another once it is over.
    side: Vec<String>,
    side_seen: BTreeSet<String>,
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
            app: cache.keys().cloned().collect(),
            cache,
            reached: Reached::default(),
            frontier: Vec::new(),
            progress: None,
            store: None,
            requests: BTreeMap::new(),
            followed_nodes: BTreeSet::new(),
            side: Vec::new(),
            side_seen: BTreeSet::new(),
        }
    }

    /// Asks for `function` of `module` to run at startup (a server's factory call). Only the
    /// application's functions are followed: a library's are its own business.
    pub fn add_call(&mut self, module: &str, function: &str, mode: CallMode, guarded: bool) {
        let res = self.resolver.resolve(module);
        if res.failure.is_some() {
            return;
        }
        let Some(file) = res.last_found().and_then(|f| f.file()).map(str::to_string) else {
            return;
        };
        let real = self.vfs.realpath(&file).unwrap_or(file);
        if self.is_third_party(&real) {
            return;
        }
        let request = (function.to_string(), mode, guarded);
        if self
            .requests
            .entry(real.clone())
            .or_default()
            .insert(request)
            && let Some(&i) = self.reached.by_file.get(&real)
            && self.followed_nodes.contains(&i)
        {
            self.frontier.push(i);
        }
    }

    /// Files in site directories, and any other file that is not the application's: installed
    /// distributions, also those a `pip install --target` tree holds beside the code (their
    /// `RECORD` lists them), whose branches on their own state are not ours to guess.
    pub fn is_third_party(&self, file: &str) -> bool {
        !self.app.contains(file)
            || self
                .follow_prefixes
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

    /// Adds a file the program runs by path (the script): the application's, wherever it is
    /// and whatever its name.
    pub fn add_entry_file(&mut self, file: &str, module: &str) -> Option<usize> {
        let real = self.vfs.realpath(file).unwrap_or_else(|| file.to_string());
        self.app.insert(real);
        self.add_file(file, module, None)
    }

    /// Adds a file as reached; returns its node.
    pub fn add_file(&mut self, file: &str, module: &str, parent: Option<usize>) -> Option<usize> {
        // Nodes are keyed by real path, which resolves to itself: a known file needs no
        // resolving (every import of an already reached module lands here).
        if let Some(&i) = self.reached.by_file.get(file) {
            return Some(i);
        }
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
            let Some(file) = found.file() else {
                continue;
            };
            match self.add_file(file, name, last) {
                Some(i) => {
                    last = Some(i);
                    all.push(i);
                }
                None if file.ends_with(".py") && self.side_seen.insert(file.to_string()) => {
                    self.side.push(file.to_string());
                }
                None => {}
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
    /// Nodes are followed in the order they were reached (the report depends on it), but a
    /// file is handed to the parse pool as soon as its node is reached: while this thread
    /// follows one wave, the pool parses the next.
    pub fn run(&mut self) {
        let (major, minor, _) = self.target.version;
        let (done, results) = std::sync::mpsc::channel();
        let mut side_parsed: BTreeMap<String, ParsedModule> = BTreeMap::new();
        importgate_source::parse_pipelined(self.store, &done, |parse| {
            let mut asked: BTreeSet<String> = BTreeSet::new();
            let mut side_asked = 0usize;
            while !self.frontier.is_empty() {
                let frontier = std::mem::take(&mut self.frontier);
                self.hand_over(&frontier, &mut asked, parse);
                // Every file of this wave has to be parsed before its nodes are followed.
                let mut waiting: BTreeSet<String> = frontier
                    .iter()
                    .filter_map(|&i| self.reached.nodes.get(i))
                    .map(|n| n.file.clone())
                    .filter(|f| asked.contains(f) && !self.cache.contains_key(f))
                    .collect();
                while !waiting.is_empty() {
                    let Ok((file, parsed)) = results.recv() else {
                        break;
                    };
                    if waiting.remove(&file) || asked.contains(&file) {
                        self.cache
                            .insert(file, Arc::new(parsed.for_version(major, minor)));
                    } else {
                        side_parsed.insert(file, parsed);
                    }
                }
                for i in frontier {
                    let before = self.frontier.len();
                    self.follow(i);
                    let reached = self.frontier[before..].to_vec();
                    self.hand_over(&reached, &mut asked, parse);
                    side_asked += self.hand_over_side(parse);
                }
            }
            while side_parsed.len() < side_asked {
                let Ok((file, parsed)) = results.recv() else {
                    break;
                };
                side_parsed.insert(file, parsed);
            }
        });
        for (file, parsed) in side_parsed {
            self.cache
                .entry(file)
                .or_insert_with(|| Arc::new(parsed.for_version(major, minor)));
        }
    }

    /// Hands the side files found since the last call to the parse pool; returns how many.
    fn hand_over_side(&mut self, parse: &dyn Fn(String, Arc<[u8]>)) -> usize {
        std::mem::take(&mut self.side)
            .into_iter()
            .filter(|file| self.hand_file(file, parse))
            .count()
    }

    /// Hands `file` to the parse pool unless it is parsed or cannot be read; whether it did.
    fn hand_file(&self, file: &str, parse: &dyn Fn(String, Arc<[u8]>)) -> bool {
        if self.cache.contains_key(file) {
            return false;
        }
        let Some(Some(bytes)) = self.vfs.read(file) else {
            return false;
        };
        parse(file.to_string(), bytes);
        true
    }

    /// Hands the files of `nodes` that are neither parsed nor asked for to the parse pool.
    fn hand_over(
        &mut self,
        nodes: &[usize],
        asked: &mut BTreeSet<String>,
        parse: &dyn Fn(String, Arc<[u8]>),
    ) {
        let mut count = 0;
        for &i in nodes {
            let Some(file) = self.reached.nodes.get(i).map(|n| n.file.clone()) else {
                continue;
            };
            if !asked.contains(&file) && self.hand_file(&file, parse) {
                asked.insert(file);
                count += 1;
            }
        }
        self.reached.parsed_outside_app += count;
        if let Some(step) = self.progress {
            step.advance(count as u64);
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
        if id.script && parsed.script_error.is_some() {
            // Run by path, its bytes are refused before any of it runs.
            return;
        }
        let third_party = self.is_third_party(&file);
        self.followed_nodes.insert(i);
        let (called, remote) = if third_party {
            (BTreeMap::new(), Vec::new())
        } else {
            self.functions_run(&file, &parsed, &id)
        };
        let mut edges = Vec::new();
        // A function runs after the module-level code that defines it: its imports come
        // after the module's own in the order CPython executes them.
        let in_called = parsed.imports.iter().filter(|s| {
            s.context
                .in_function
                .as_ref()
                .is_some_and(|f| called.contains_key(f))
        });
        let sites = parsed
            .imports
            .iter()
            .filter(|s| runs_at_import(s, self.target))
            .chain(in_called);
        for site in sites {
            if site.context.main_only.is_some_and(|m| m != id.main) {
                continue;
            }
            let Some(guarded) = runs_at_startup(site, self.target, Some(&called)) else {
                continue;
            };
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
                guarded,
                sure: unconditional(site, self.target) && !site.context.handler,
                children,
            });
        }
        if self.reached.edges.len() <= i {
            self.reached.edges.resize(i + 1, Vec::new());
        }
        self.reached.edges[i] = edges;
        if !called.is_empty() {
            self.reached.called.insert(file.clone(), called);
        }
        // Another module's function: followed when that module's file is (its import is
        // what binds the name called).
        for (module, function, mode, guarded) in remote {
            self.add_call(&module, &function, mode, guarded);
        }
    }

    /// The functions of an application file that run at startup: those asked for, those its
    /// module-level code calls, and those they call in turn, with whether every call is
    /// guarded; plus the calls that go to other modules' functions, as requests.
    fn functions_run(
        &self,
        file: &str,
        parsed: &ParsedModule,
        id: &Identity,
    ) -> (BTreeMap<String, bool>, Vec<RemoteCall>) {
        let mut run: BTreeMap<String, bool> = BTreeMap::new();
        let mut remote = Vec::new();
        let mut work: Vec<(Option<String>, bool)> = vec![(None, false)];
        let local = |name: &str,
                     mode: CallMode,
                     guarded: bool,
                     run: &mut BTreeMap<String, bool>,
                     work: &mut Vec<(Option<String>, bool)>| {
            let Some(def) = parsed.functions.iter().find(|d| d.name == name) else {
                return;
            };
            // An awaited generator is a lifespan (`@asynccontextmanager`): run to its `yield`.
            if ((def.generator || def.coroutine) && mode != CallMode::Awaited)
                || (mode == CallMode::Bare && !def.bare_call)
            {
                return;
            }
            match run.get(name) {
                Some(&g) if g <= guarded => {}
                _ => {
                    run.insert(name.to_string(), guarded);
                    work.push((Some(name.to_string()), guarded));
                }
            }
        };
        for (name, mode, guarded) in self.requests.get(file).into_iter().flatten() {
            let (name, mode) = match mode {
                CallMode::FlaskFind => {
                    let binds = |n: &str| parsed.bindings.names.contains(n);
                    if binds("app") || binds("application") {
                        continue;
                    }
                    match ["create_app", "make_app"].into_iter().find(|n| binds(n)) {
                        Some(n) => (n.to_string(), CallMode::Bare),
                        None => continue,
                    }
                }
                CallMode::DjangoReady => {
                    for def in parsed
                        .functions
                        .iter()
                        .filter(|d| d.name.ends_with(".ready"))
                    {
                        local(&def.name, CallMode::Always, *guarded, &mut run, &mut work);
                    }
                    continue;
                }
                m => (name.clone(), *m),
            };
            match callee(parsed, None, &name, id, self.resolver) {
                Some(Callee::Local(n)) => local(&n, mode, *guarded, &mut run, &mut work),
                Some(Callee::Remote(m, f)) => remote.push((m, f, mode, *guarded)),
                None => {}
            }
        }
        let mut seen: BTreeSet<(Option<String>, bool)> = BTreeSet::new();
        while let Some((owner, guarded)) = work.pop() {
            if !seen.insert((owner.clone(), guarded)) {
                continue;
            }
            for call in &parsed.calls {
                let c = &call.context;
                if c.in_function != owner
                    || c.handler
                    || c.main_only.is_some_and(|m| m != id.main)
                    || !runs_when_called(c, self.target)
                {
                    continue;
                }
                let g = guarded || c.guarded();
                let mode = if call.awaited {
                    CallMode::Awaited
                } else {
                    CallMode::Always
                };
                match callee(parsed, owner.as_deref(), &call.callee, id, self.resolver) {
                    Some(Callee::Local(n)) => local(&n, mode, g, &mut run, &mut work),
                    Some(Callee::Remote(m, f)) => remote.push((m, f, mode, g)),
                    None => {}
                }
            }
        }
        (run, remote)
    }
}

/// What a call in a module reaches.
enum Callee {
    /// One of the module's own functions.
    Local(String),
    /// A function of another module: `(module, function)`.
    Remote(String, String),
}

/// What the dotted `name` called in `parsed` (by module-level code when `owner` is `None`,
/// else in the body of `owner`) refers to, when it is a function we can follow: a `def` of the
/// module, or a function of a module it imports (`from .factory import create_app`,
/// `views.register(app)` after `from . import views`). A name the function imports itself
/// shadows the module's.
fn callee(
    parsed: &ParsedModule,
    owner: Option<&str>,
    name: &str,
    id: &Identity,
    resolver: &Resolver<'_>,
) -> Option<Callee> {
    let (head, rest) = match name.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
    };
    let binding = |in_function: Option<&str>| {
        parsed.imports.iter().rev().find(|s| {
            let scope_ok = match in_function {
                Some(_) => matches!(s.context.scope, Scope::Function(_)),
                None => s.context.scope == Scope::Module,
            };
            scope_ok
                && s.context.in_function.as_deref() == in_function
                && s.bound_name().as_deref() == Some(head)
        })
    };
    let site = owner.and_then(|f| binding(Some(f)));
    if site.is_none() && rest.is_none() {
        if parsed.functions.iter().any(|d| d.name == head) {
            return Some(Callee::Local(head.to_string()));
        }
        // A class of the module: instantiating it runs its `__init__`.
        let init = format!("{head}.__init__");
        if parsed.functions.iter().any(|d| d.name == init) {
            return Some(Callee::Local(init));
        }
    }
    let site = site.or_else(|| binding(None))?;
    let (Ok(module), imported) = site_target(site, id)? else {
        return None;
    };
    let is_module = |m: &str| resolver.resolve(m).failure.is_none();
    // The module the binding names, then the rest of the dotted call: `module.function`.
    let bound = match (&site.kind, imported) {
        (ImportKind::Import { .. }, _) if site.statement.contains(" as ") => module,
        (ImportKind::Import { .. }, _) => head.to_string(),
        (_, Some(n)) => {
            let sub = format!("{}.{n}", module);
            if rest.is_none() {
                // `from m import f; f()`: a function of `m`, unless `m.f` is a module.
                return (!is_module(&sub)).then_some(Callee::Remote(module, n));
            }
            if !is_module(&sub) {
                return None;
            }
            sub
        }
        _ => return None,
    };
    let rest = rest?;
    let full = format!("{bound}.{rest}");
    let (m, f) = full.rsplit_once('.')?;
    (is_module(m) && !is_module(&full)).then(|| Callee::Remote(m.to_string(), f.to_string()))
}

/// The settings Django reads at startup (or on the first request, login or query) and the
/// dotted strings in them it imports.
const DJANGO_SETTINGS: &[&str] = &[
    "INSTALLED_APPS",
    "MIDDLEWARE",
    "ROOT_URLCONF",
    "WSGI_APPLICATION",
    "ASGI_APPLICATION",
    "AUTHENTICATION_BACKENDS",
    "DEFAULT_AUTO_FIELD",
    "TEMPLATES",
    "DATABASES",
    "CACHES",
    "STORAGES",
];

/// When Django imports a setting's entries if not at startup (`django.setup()`, the checks,
/// the handler's middleware): on first use, so a failure there breaks requests, not the start.
pub(crate) fn django_on_first_use(setting: &str) -> Option<&'static str> {
    match setting {
        "AUTHENTICATION_BACKENDS" => Some("on the first authentication (login)"),
        "DATABASES" => Some("on the first query"),
        "CACHES" => Some("on the first cache access"),
        "STORAGES" => Some("on the first storage access"),
        _ => None,
    }
}

/// Settings that are dictionaries: only the values of these keys (and the entries of a
/// `context_processors` list) are import paths; `NAME`, `LOCATION`... are not.
const DJANGO_DICT_SETTINGS: &[&str] = &["TEMPLATES", "DATABASES", "CACHES", "STORAGES"];
const DJANGO_PATH_KEYS: &[&str] = &["BACKEND", "ENGINE"];

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
        let dict = DJANGO_DICT_SETTINGS.contains(setting);
        let mut in_processors = false;
        let mut depth = 0i32;
        let mut j = i;
        loop {
            let l = lines[j];
            let code = l.split('#').next().unwrap_or_default();
            depth += code.matches(['[', '(', '{']).count() as i32;
            depth -= code.matches([']', ')', '}']).count() as i32;
            let strings = quoted(code);
            for (k, (col, s)) in strings.iter().enumerate() {
                if dict {
                    if s == "context_processors" {
                        in_processors = true;
                        continue;
                    }
                    let after_key = k > 0 && DJANGO_PATH_KEYS.contains(&strings[k - 1].1.as_str());
                    if !(after_key || in_processors) {
                        continue;
                    }
                }
                let (col, s) = (*col, s.clone());
                if !s.is_empty()
                    && s.chars()
                        .all(|c| c == '.' || c == '_' || c.is_alphanumeric())
                    && !s.starts_with('.')
                {
                    out.push((setting.to_string(), s, (j + 1) as u32, (col + 1) as u32));
                }
            }
            if in_processors && code.contains(']') {
                in_processors = false;
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
) -> Vec<(String, Option<String>, bool)> {
    match setting {
        "INSTALLED_APPS" => {
            let mut module = value.to_string();
            let mut class = None;
            if resolver.resolve(&module).failure.is_some()
                && let Some((parent, cls)) = value.rsplit_once('.')
                && resolver.resolve(parent).failure.is_none()
            {
                // `app.apps.AppConfig`: the module is `app.apps`, the app itself its package;
                // Django then needs the class (`does not contain a 'AppConfig' class`).
                module = parent.to_string();
                class = Some(cls.to_string());
            }
            let mut out = vec![(module.clone(), class, true)];
            let app = module.strip_suffix(".apps").unwrap_or(&module).to_string();
            if app != module {
                out.push((app.clone(), None, false));
            } else if resolver.resolve(&format!("{app}.apps")).failure.is_none() {
                // Django (3.2+) imports an application's `apps` submodule to find its
                // `AppConfig`.
                out.push((format!("{app}.apps"), None, false));
            }
            let models = format!("{app}.models");
            if resolver.resolve(&models).failure.is_none() {
                out.push((models, None, false));
            }
            out
        }
        "ROOT_URLCONF" => vec![(value.to_string(), None, true)],
        // `ENGINE` names a package (`django.db.backends.postgresql`) whose `base` Django
        // imports.
        "DATABASES" => vec![(format!("{value}.base"), None, true)],
        _ => match value.rsplit_once('.') {
            Some((module, attr)) => vec![(module.to_string(), Some(attr.to_string()), true)],
            None => vec![(value.to_string(), None, true)],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
