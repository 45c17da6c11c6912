//! Import cycles on the startup path. While a module runs, it sits in `sys.modules` holding only
//! the names its code has bound so far; an import that comes back to it (`a` imports `b`, which
//! says `from a import g`) gets that partial module. A plain `import a` is content with it, and
//! so is `from pkg import sub` for a submodule (the import system falls back to `sys.modules`),
//! but a `from a import g` that runs before `a` has reached the line binding `g` raises
//! `ImportError: cannot import name 'g' from partially initialized module 'a' (most likely due
//! to a circular import)`. Which import meets the partial module depends on the order CPython
//! executes them, so the startup path is replayed depth-first from the entry, as
//! [`crate::closure::Walker::order`] does, with the statement each running module is at.
//!
//! The script the container runs is `__main__`: an import of it by its own name executes the
//! file again as a fresh module (`python main.py` whose `models` does `from main import db`),
//! which the replay follows as a second instance of the same file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use importgate_image::Vfs;
use importgate_python::Resolver;
use importgate_source::{ImportKind, ImportSite, ParsedModule, Scope};

use crate::checker::{Identity, site_target};
use crate::closure::Reached;

/// The first `from` import on the startup path that meets a partially initialised module
/// without the name it asks for.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    /// The failing statement.
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Exclusive end column of the statement on its first line, for underlining.
    pub end_column: u32,
    /// The partially initialised module and the name it does not hold yet.
    pub module: String,
    pub name: String,
    /// The partial module's file, the statement it is running, and where it binds the name.
    pub module_file: String,
    pub running: (u32, u32),
    pub bound_on: u32,
    /// Modules from the entry to the failing statement's, then the partial one again.
    pub chain: Vec<String>,
}

/// What the replay reads: the resolver, the parsed modules by file, the application's files
/// (only cycles between them are reported) and each file's identity (`__main__` or not).
pub(crate) struct Inputs<'a, 'r> {
    pub resolver: &'a Resolver<'r>,
    pub vfs: &'a Vfs,
    pub parsed: &'a BTreeMap<String, Arc<ParsedModule>>,
    pub app_files: &'a BTreeSet<String>,
    pub identity: &'a dyn Fn(&str) -> Identity,
}

/// Where each name of a file is first bound ([`importgate_source::first_bindings`]), read once
/// per file; `None` when it does not parse.
type FirstBindings = BTreeMap<String, Option<BTreeMap<String, (u32, u32)>>>;

/// One module being executed: its node, whether it is the second instance of the `__main__`
/// file, and the import site (with the child of it) it has reached.
struct Frame {
    node: usize,
    copy: bool,
    edge: usize,
    child: usize,
}

/// Replays the startup path and returns the first import that fails on a partial module.
/// CPython stops there (unless a handler catches it, which is then not reported); what would
/// follow depends on that failure, so nothing after it is judged.
pub(crate) fn first_cycle(inputs: &Inputs<'_, '_>, reached: &Reached) -> Option<Cycle> {
    let n = reached.nodes.len();
    let main: Vec<bool> = reached
        .nodes
        .iter()
        .map(|node| (inputs.identity)(&node.file).main)
        .collect();
    let mut seen = vec![[false; 2]; n];
    let mut running: Vec<[Option<usize>; 2]> = vec![[None; 2]; n];
    let mut bindings = FirstBindings::new();
    for root in 0..n {
        if seen[root][0] {
            continue;
        }
        seen[root][0] = true;
        running[root][0] = Some(0);
        let mut stack = vec![Frame {
            node: root,
            copy: false,
            edge: 0,
            child: 0,
        }];
        while let Some(top) = stack.last_mut() {
            let edge = reached
                .edges
                .get(top.node)
                .and_then(|edges| edges.get(top.edge));
            let Some(edge) = edge else {
                running[top.node][usize::from(top.copy)] = None;
                stack.pop();
                continue;
            };
            let Some(&child) = edge.children.get(top.child) else {
                top.edge += 1;
                top.child = 0;
                continue;
            };
            top.child += 1;
            if child >= n {
                continue;
            }
            // The `__main__` file imported by its name runs again as another module.
            let slot = usize::from(main[child]);
            if let Some(frame) = running[child][slot] {
                match check(inputs, reached, &stack, frame, &mut bindings) {
                    Some((cycle, None)) => return Some(cycle),
                    Some((_, Some(k))) => {
                        // A `try/except ImportError` around the import at frame `k` catches
                        // the failure: the modules above it fail, leave `sys.modules`, and
                        // run again from the start when imported again later.
                        for f in stack.drain(k + 1..) {
                            let slot = usize::from(f.copy);
                            running[f.node][slot] = None;
                            seen[f.node][slot] = false;
                        }
                        if let Some(top) = stack.last_mut() {
                            top.edge += 1;
                            top.child = 0;
                        }
                    }
                    None => {}
                }
            } else if !seen[child][slot] {
                seen[child][slot] = true;
                running[child][slot] = Some(stack.len());
                stack.push(Frame {
                    node: child,
                    copy: slot == 1,
                    edge: 0,
                    child: 0,
                });
            }
        }
    }
    None
}

/// The import sites of `file` at `at` (a statement importing several names has one each).
fn sites_at(parsed: &ParsedModule, at: (u32, u32)) -> impl Iterator<Item = &ImportSite> {
    parsed
        .imports
        .iter()
        .filter(move |s| (s.line, s.column) == at)
}

/// Where a running module is, as the position its bindings are compared with: the statement
/// it runs, or, for an import inside a function its module-level code calls, that call.
/// `None` when that cannot be told (a function called from elsewhere).
fn position(parsed: &ParsedModule, at: (u32, u32)) -> Option<(u32, u32)> {
    let sites: Vec<&ImportSite> = sites_at(parsed, at).collect();
    let in_function = sites.iter().find_map(|s| s.context.in_function.as_deref());
    match in_function {
        None => Some(at),
        Some(function) => parsed
            .calls
            .iter()
            .filter(|c| {
                c.callee == function
                    && c.context.in_function.is_none()
                    && matches!(c.context.scope, Scope::Module)
            })
            .map(|c| (c.line, c.column))
            .min(),
    }
}

/// Whether a star import the partial module `file` ran before `running` may have bound
/// `name`: the star-imported module's `__all__` lists it or, without one, it binds the name
/// (not private). A module whose names cannot be told (not parsed, a dynamic namespace, no
/// `__all__` but star imports of its own or `__getattr__`, a failed resolution) may bind
/// anything.
fn star_may_bind(
    inputs: &Inputs<'_, '_>,
    owner: &ParsedModule,
    file: &str,
    running: (u32, u32),
    name: &str,
) -> bool {
    let id = (inputs.identity)(file);
    owner
        .imports
        .iter()
        .filter(|s| (s.line, s.column) < running && matches!(s.context.scope, Scope::Module))
        .filter(|s| matches!(&s.kind, ImportKind::From { name, .. } if name == "*"))
        .any(|site| {
            let Some((Ok(module), _)) = site_target(site, &id) else {
                return true;
            };
            let res = inputs.resolver.resolve(&module);
            let Some(star_file) = res.last_found().and_then(|f| f.file()) else {
                return res.failure.is_none();
            };
            // A package's submodules imported by then are attributes that `*` exports too.
            if res
                .last_found()
                .is_some_and(|f| inputs.resolver.submodule_exists(f, name))
            {
                return true;
            }
            let real = inputs
                .vfs
                .realpath(star_file)
                .unwrap_or_else(|| star_file.to_string());
            let Some(parsed) = inputs.parsed.get(&real) else {
                return true;
            };
            let b = &parsed.bindings;
            match &b.dunder_all {
                _ if b.dynamic_namespace => true,
                Some(all) => all.iter().any(|n| n == name),
                None if b.has_getattr || !b.star_imports.is_empty() => true,
                None => !name.starts_with('_') && b.names.contains(name),
            }
        })
}

/// Whether the import at the top of the stack asks the running module `stack[frame]` for a
/// name it has not bound yet; the cycle if so, with the innermost frame whose import catches
/// the `ImportError` (`None`: nothing does, startup stops).
fn check(
    inputs: &Inputs<'_, '_>,
    reached: &Reached,
    stack: &[Frame],
    frame: usize,
    bindings: &mut FirstBindings,
) -> Option<(Cycle, Option<usize>)> {
    let top = stack.last()?;
    let partial = stack.get(frame)?;
    let (node, target) = (
        reached.nodes.get(top.node)?,
        reached.nodes.get(partial.node)?,
    );
    if !inputs.app_files.contains(&node.file) || !inputs.app_files.contains(&target.file) {
        return None;
    }
    // Every statement on the way to this one runs for sure: otherwise the cycle may not
    // happen. The innermost one under `try/except ImportError` catches the failure.
    let edge_of = |f: &Frame| reached.edges.get(f.node)?.get(f.edge);
    if !stack.iter().all(|f| edge_of(f).is_some_and(|e| e.sure)) {
        return None;
    }
    let caught = stack
        .iter()
        .rposition(|f| edge_of(f).is_some_and(|e| e.guarded));
    // An import in a function runs when the function is called: only a call by its module's
    // own code places it inside that module's run; one from elsewhere (the script calling
    // `routes.index()` once everything is imported) may come after the cycle has closed.
    let placed = |f: &Frame| {
        let file = &reached.nodes.get(f.node)?.file;
        position(inputs.parsed.get(file)?, edge_of(f)?.at)
    };
    if !stack[frame..].iter().all(|f| placed(f).is_some()) {
        return None;
    }
    let at = edge_of(top)?.at;
    let importer = inputs.parsed.get(&node.file)?;
    let owner = inputs.parsed.get(&target.file)?;
    if owner.bindings.dynamic_namespace {
        return None;
    }
    let running = placed(partial)?;
    let id = (inputs.identity)(&node.file);
    for site in sites_at(importer, at) {
        let ImportKind::From { name, .. } = &site.kind else {
            continue;
        };
        if name == "*" {
            continue;
        }
        let Some((Ok(module), _)) = site_target(site, &id) else {
            continue;
        };
        let res = inputs.resolver.resolve(&module);
        let Some(found) = res.last_found() else {
            continue;
        };
        let file = found.file().unwrap_or_default();
        if inputs.vfs.realpath(file).as_deref().unwrap_or(file) != target.file
            || inputs.resolver.submodule_exists(found, name)
        {
            continue;
        }
        let first = bindings
            .entry(target.file.clone())
            .or_insert_with(|| {
                let bytes = inputs.vfs.read(&target.file).flatten()?;
                importgate_source::first_bindings(&bytes)
            })
            .as_ref()?;
        let before = |key: &str| first.get(key).is_some_and(|&p| p < running);
        if before(name)
            || before("__getattr__")
            || before("*") && star_may_bind(inputs, owner, &target.file, running, name)
        {
            continue;
        }
        // A name bound only by a star import that has not run yet comes with it; a name bound
        // nowhere is the plain missing name, reported as such.
        let &(bound_on, _) = first.get(name.as_str()).or_else(|| first.get("*"))?;
        let name_of = |f: &Frame| -> String {
            let node = &reached.nodes[f.node];
            if f.copy {
                let stem = node.file.rsplit('/').next().unwrap_or(&node.file);
                let stem = stem.strip_suffix(".py").unwrap_or(stem);
                match (inputs.identity)(&node.file).package {
                    Some(p) => format!("{p}.{stem}"),
                    None => stem.to_string(),
                }
            } else {
                node.module.clone()
            }
        };
        let mut chain: Vec<String> = stack.iter().map(name_of).collect();
        chain.push(name_of(partial));
        return Some((
            Cycle {
                file: node.file.clone(),
                line: site.line,
                column: site.column,
                end_column: site.end_column,
                module,
                name: name.clone(),
                module_file: target.file.clone(),
                running,
                bound_on,
                chain,
            },
            caught,
        ));
    }
    None
}
