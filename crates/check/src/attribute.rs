//! Attribution: a failure raised inside a dependency (a transitive dependency missing, an
//! extension that cannot load) is shown where the application raises because of it. The
//! finding moves to the first application statement that raises (what the user edits and
//! CI annotates), keeps the dependency's frame as a related location, and lists every
//! application statement that raises for the same root cause; those statements' `imports[]`
//! entries become errors pointing at it. Also places `python -c` findings on the image
//! configuration and gives findings their ids.

use std::collections::{BTreeMap, BTreeSet};

use importgate_python::Resolver;

use crate::closure::Reached;
use crate::entry::CONFIG_FILE;
use crate::{CheckedImport, ConfigLoc, Finding, ImportStatus, Kind, Location, Severity};

/// Where executing a module first raises because of a failing dependency site: the failing
/// module's name, and the node whose import site raises.
type Failure = Option<(String, usize)>;

/// For every node of the closure, the first failing dependency site its execution reaches
/// (depth first, in source order, over imports whose failure is not caught), as a fresh
/// interpreter importing that module alone would meet it. A module already being imported
/// (a cycle) counts as importable, as `sys.modules` makes it.
fn node_failures(
    reached: &Reached,
    failing: &BTreeMap<(String, u32, u32), String>,
) -> Vec<Failure> {
    let n = reached.nodes.len();
    let mut result: Vec<Failure> = vec![None; n];
    // 0 unvisited, 1 in progress, 2 done.
    let mut state = vec![0u8; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        // (node, next edge, next child of that edge)
        let mut stack: Vec<(usize, usize, usize)> = vec![(root, 0, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut edge, ref mut child)) = stack.last_mut() {
            let edges = reached
                .edges
                .get(node)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let file = &reached.nodes[node].file;
            let mut finished: Option<Failure> = None;
            let mut descend = None;
            loop {
                let Some(e) = edges.get(*edge) else {
                    finished = Some(None);
                    break;
                };
                if e.guarded {
                    *edge += 1;
                    *child = 0;
                    continue;
                }
                if *child == 0 {
                    if let Some(module) = failing.get(&(file.clone(), e.at.0, e.at.1)) {
                        finished = Some(Some((module.clone(), node)));
                        break;
                    }
                } else if let Some(&prev) = e.children.get(*child - 1)
                    && prev < n
                    && state[prev] == 2
                    && result[prev].is_some()
                {
                    finished = Some(result[prev].clone());
                    break;
                }
                match e.children.get(*child).copied() {
                    Some(c) => {
                        *child += 1;
                        if c < n && state[c] == 0 {
                            descend = Some(c);
                            break;
                        }
                    }
                    None => {
                        *edge += 1;
                        *child = 0;
                    }
                }
            }
            if let Some(r) = finished {
                result[node] = r;
                state[node] = 2;
                stack.pop();
            } else if let Some(c) = descend {
                state[c] = 1;
                stack.push((c, 0, 0));
            }
        }
    }
    result
}

/// The closure nodes an import statement executes: each package on the way to the module,
/// the module, and the submodule a `from` import names.
pub(crate) fn executed_nodes(
    resolver: &Resolver<'_>,
    reached: &Reached,
    imp: &CheckedImport,
) -> Vec<usize> {
    let vfs = resolver.vfs();
    let mut names = vec![imp.module.clone()];
    if let Some(name) = &imp.name {
        names.push(format!("{}.{name}", imp.module));
    }
    let mut out = Vec::new();
    for (k, module) in names.iter().enumerate() {
        let res = resolver.resolve(module);
        if k > 0 && res.failure.is_some() {
            continue;
        }
        for (_, found) in &res.found {
            if let Some(file) = found.file() {
                let real = vfs.realpath(file).unwrap_or_else(|| file.to_string());
                if let Some(&i) = reached.by_file.get(&real)
                    && !out.contains(&i)
                {
                    out.push(i);
                }
            }
        }
    }
    out
}

/// Moves each dependency failure to the application statements it breaks (see the module
/// comment). `failing` holds every failing dependency site on the startup path, duplicates
/// included; `findings` only the ones kept.
pub(crate) fn attribute(
    resolver: &Resolver<'_>,
    reached: &Reached,
    app_files: &BTreeSet<String>,
    failing: &BTreeMap<(String, u32, u32), String>,
    findings: &mut [Finding],
    imports: &mut [CheckedImport],
) {
    if failing.is_empty() {
        return;
    }
    let fails = node_failures(reached, failing);
    // The kept finding of each failing module inside a dependency.
    let mut roots: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.kind == Kind::Startup && f.severity == Severity::Error && !app_files.contains(&f.file)
        {
            roots.entry(f.module.clone()).or_insert(i);
        }
    }
    // Application findings by failing module, for dependencies failing on a module the
    // application also imports itself.
    let mut app_roots: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        if f.severity == Severity::Error
            && !f.module.is_empty()
            && app_files.contains(&f.file)
            && matches!(f.kind, Kind::Startup | Kind::ModuleLevel)
        {
            app_roots.entry(f.module.clone()).or_insert(i);
        }
    }
    let mut also: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut affected: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut crossing: BTreeSet<usize> = BTreeSet::new();
    for (k, imp) in imports.iter_mut().enumerate() {
        if imp.status != ImportStatus::Ok || !app_files.contains(&imp.file) || imp.module.is_empty()
        {
            continue;
        }
        let hit = executed_nodes(resolver, reached, imp)
            .into_iter()
            .find_map(|i| {
                let failure = fails.get(i).cloned().flatten()?;
                // Whether the statement itself crosses into the dependency (`import httpx`), or
                // reaches it through another application module (`import client`).
                let boundary = reached
                    .nodes
                    .get(i)
                    .is_some_and(|n| !app_files.contains(&n.file));
                Some((failure, boundary))
            });
        let Some(((module, at), boundary)) = hit else {
            continue;
        };
        if boundary {
            crossing.insert(k);
        }
        imp.status = ImportStatus::Error;
        imp.raised_in = reached.nodes.get(at).map(|n| n.module.clone());
        match (roots.get(&module), app_roots.get(&module)) {
            (Some(&root), _) => affected.entry(root).or_default().push(k),
            // The same module also fails from an application line of its own (the app
            // imports `httpcore` too): that finding is the root cause; it stays where it is.
            (None, Some(&root)) => also.entry(root).or_default().push(k),
            (None, None) => {
                imp.status = ImportStatus::Ok;
                imp.raised_in = None;
            }
        }
    }
    for (root, ks) in also {
        let f = &mut findings[root];
        let mut locs = vec![Location {
            file: f.file.clone(),
            line: f.line,
            column: f.column,
            message: String::new(),
            statement: f
                .source_line
                .as_deref()
                .map(str::trim)
                .unwrap_or_default()
                .to_string(),
        }];
        locs.extend(ks.iter().map(|&k| statement_location(&imports[k])));
        f.affects = locs;
    }
    for (root, mut ks) in affected {
        // The statement that imports the dependency comes first (the innermost application
        // frame of the traceback, what the user edits), then the ones reaching it through
        // other application modules; each group in the order CPython runs them.
        let rank = |k: &usize| {
            let imp = &imports[*k];
            (
                !crossing.contains(k),
                reached
                    .rank
                    .get(&(imp.file.clone(), imp.line, imp.column))
                    .copied()
                    .unwrap_or(usize::MAX),
                imp.file.clone(),
                imp.line,
                imp.column,
            )
        };
        ks.sort_by_key(rank);
        let Some(&first) = ks.first() else {
            continue;
        };
        let primary = &imports[first];
        let f = &mut findings[root];
        let frame_module = f
            .chain
            .iter()
            .rev()
            .nth(1)
            .cloned()
            .unwrap_or_else(|| f.module.clone());
        f.related.push(Location {
            file: f.file.clone(),
            line: f.line,
            column: f.column,
            message: format!("`{frame_module}` raises here: {}", f.message),
            statement: String::new(),
        });
        let inside: Vec<String> = f
            .chain
            .iter()
            .skip_while(|m| {
                // The chain's application part: modules whose files are the application's.
                reached
                    .nodes
                    .iter()
                    .any(|n| &n.module == *m && app_files.contains(&n.file))
            })
            .cloned()
            .collect();
        f.notes.insert(
            0,
            format!(
                "raised inside {}: {}",
                if inside.is_empty() {
                    frame_module.clone()
                } else {
                    inside.join(" → ")
                },
                f.message
            ),
        );
        f.file = primary.file.clone();
        f.line = primary.line;
        f.column = primary.column;
        f.source_line = resolver.vfs().read_to_string(&primary.file).and_then(|t| {
            t.lines()
                .nth(primary.line.saturating_sub(1) as usize)
                .map(str::to_string)
        });
        f.span_len = u32::try_from(primary.statement.chars().count())
            .unwrap_or(1)
            .max(1);
        f.fix_path = None;
        f.affects = ks
            .iter()
            .map(|&k| statement_location(&imports[k]))
            .collect();
        if f.affects.len() > 1 {
            let files: BTreeSet<&str> = f.affects.iter().map(|a| a.file.as_str()).collect();
            f.notes.push(format!(
                "breaks {} application imports in {} files",
                f.affects.len(),
                files.len()
            ));
        }
    }
}

/// An application statement as an `affects` entry.
fn statement_location(imp: &CheckedImport) -> Location {
    Location {
        file: imp.file.clone(),
        line: imp.line,
        column: imp.column,
        message: String::new(),
        statement: imp.statement.clone(),
    }
}

/// `python -c` code is checked as the pseudo-file `<image-config>`; its findings are then
/// placed on the argument that holds the code, with the line and column inside it.
pub(crate) fn place_code_findings(
    loc: &ConfigLoc,
    findings: &mut [Finding],
    imports: &mut [CheckedImport],
) {
    let place = |line: &mut u32, column: &mut u32| {
        *line = loc.argument;
        *column = 1;
    };
    for f in findings.iter_mut() {
        for a in f.affects.iter_mut().filter(|a| a.file == CONFIG_FILE) {
            place(&mut a.line, &mut a.column);
        }
        if f.file != CONFIG_FILE || f.config.is_some() {
            continue;
        }
        f.config = Some(ConfigLoc {
            code_line: Some(f.line),
            code_column: Some(f.column),
            ..loc.clone()
        });
        place(&mut f.line, &mut f.column);
    }
    for i in imports.iter_mut().filter(|i| i.file == CONFIG_FILE) {
        place(&mut i.line, &mut i.column);
    }
}

/// Numbers the findings in report order and links each failing `imports[]` entry to the
/// finding at its place (or the root cause whose `affects` lists it).
pub(crate) fn assign_ids(findings: &mut [Finding], imports: &mut [CheckedImport]) {
    for (i, f) in findings.iter_mut().enumerate() {
        f.id = format!("F{}", i + 1);
    }
    let mut at: BTreeMap<(&str, u32, u32), &str> = BTreeMap::new();
    for f in findings.iter() {
        at.entry((f.file.as_str(), f.line, f.column))
            .or_insert(f.id.as_str());
    }
    for f in findings.iter() {
        for a in &f.affects {
            at.entry((a.file.as_str(), a.line, a.column))
                .or_insert(f.id.as_str());
        }
    }
    for imp in imports.iter_mut() {
        if matches!(imp.status, ImportStatus::Error | ImportStatus::Guarded)
            && imp.finding.is_none()
        {
            imp.finding = at
                .get(&(imp.file.as_str(), imp.line, imp.column))
                .map(|s| s.to_string());
        }
    }
}
