//! The stages of a build plan evaluated without an engine: each starts from its base (an image
//! from the local engine, the bundled model, an earlier stage, or nothing) and applies its steps
//! to an in-memory filesystem and config, as the classic builder would.
//!
//! `COPY`/`ADD` follow the builder's rules: a directory source copies its contents, a file goes
//! into a destination that ends in `/` or is an existing directory, wildcards match context
//! paths component by component, and only what the context sends (after `.dockerignore`) can
//! be copied. File contents are read from the context only when the capture policy keeps them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use importgate_context::{
    Base, BaseConfig, BuildContext, BuildPlan, Command, ContextEntry, CopyFrom, CopyStep,
    EntryKind, Step,
};
use importgate_image::{
    FileData, Image, ImageConfig, LoadOptions, Meta, NewNode, NodeKind, Source, Vfs, load,
};
use importgate_python::runtime::abspath;

use crate::model::{self, STUB_SOURCE};
use crate::{PredictError, PredictOptions, Prediction};

/// A base image and where it was read from.
pub struct LoadedBase {
    pub image: Image,
    /// In words, for the report (`... from the local engine`, `bundled model of ...`).
    pub origin: String,
    /// Synthesised from the model: it has no system libraries, so extension modules copied
    /// into it are not summarised for the shared-library checks.
    pub modelled: bool,
}

/// Indexes of the stages the final stage depends on (bases and `COPY --from`).
fn needed_stages(plan: &BuildPlan) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![plan.target];
    while let Some(i) = todo.pop() {
        if i >= plan.stages.len() || !seen.insert(i) {
            continue;
        }
        let stage = &plan.stages[i];
        if let Base::Stage(j) = stage.base {
            todo.push(j);
        }
        for step in &stage.steps {
            if let Step::Copy(CopyStep {
                from: CopyFrom::Stage(j),
                ..
            }) = step
            {
                todo.push(*j);
            }
        }
    }
    seen
}

/// Loads every image the needed stages start from or copy from: from the local engine when it
/// has it, else from the bundled model.
pub async fn load_bases(
    plan: &BuildPlan,
    opts: &PredictOptions,
) -> Result<HashMap<String, LoadedBase>, PredictError> {
    let mut refs = BTreeSet::new();
    for i in needed_stages(plan) {
        let stage = &plan.stages[i];
        if let Base::Image(r) = &stage.base {
            refs.insert(r.clone());
        }
        for step in &stage.steps {
            if let Step::Copy(CopyStep {
                from: CopyFrom::Image(r),
                ..
            }) = step
            {
                refs.insert(r.clone());
            }
        }
    }
    let mut out = HashMap::new();
    for reference in refs {
        let source = Source::Daemon {
            reference: reference.clone(),
        };
        let load_opts = LoadOptions {
            platform: opts.platform.clone(),
            capture: opts.capture.clone(),
            ..LoadOptions::default()
        };
        let base = match load(&source, &load_opts).await {
            Ok(image) => LoadedBase {
                image,
                origin: format!("{reference} from the local engine"),
                modelled: false,
            },
            Err(err) => {
                tracing::debug!("base {reference} not loaded from the engine: {err}");
                let Some(official) = model::parse_official(&reference) else {
                    return Err(PredictError::UnknownBase { reference });
                };
                LoadedBase {
                    image: model::synthesize(&official, &opts.platform),
                    origin: format!("bundled model of {reference}"),
                    modelled: true,
                }
            }
        };
        out.insert(reference, base);
    }
    Ok(out)
}

/// What a base image contributes to the plan of a stage that starts from it.
pub fn base_config(config: &ImageConfig) -> BaseConfig {
    BaseConfig {
        env: config
            .env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        workdir: (!config.working_dir.is_empty()).then(|| config.working_dir.clone()),
        user: (!config.user.is_empty()).then(|| config.user.clone()),
        cmd: config.cmd.clone().map(Command::Exec),
        entrypoint: config.entrypoint.clone().map(Command::Exec),
        shell: None,
    }
}

/// One stage's predicted state.
#[derive(Clone)]
pub struct State {
    pub fs: Vfs,
    pub config: ImageConfig,
    /// Layer index for the next step.
    pub layer: u32,
    /// Image path -> context path of the files copied from the context (also through
    /// `COPY --from`), to read what the capture policy did not keep (requirements files, wheels).
    pub origins: BTreeMap<String, String>,
    pub modelled: bool,
    pub base: String,
    /// `RUN` commands of this stage (and the stages it starts from) that were not applied,
    /// with the paths they may write here; `COPY --from` carries them to the copies.
    pub unmodelled: Vec<crate::Unmodelled>,
}

impl State {
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config.env_var(key)
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.config
            .env
            .retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(key));
        self.config.env.push(format!("{key}={value}"));
    }

    pub fn workdir(&self) -> String {
        abspath("/", self.config.working_dir())
    }

    pub fn meta(&self, mode: u32) -> Meta {
        Meta {
            mode,
            uid: 0,
            gid: 0,
            layer: self.layer,
        }
    }
}

pub struct Predictor<'a> {
    pub(crate) ctx: &'a BuildContext,
    plan: &'a BuildPlan,
    pub(crate) opts: &'a PredictOptions,
    bases: HashMap<String, LoadedBase>,
    states: Vec<Option<State>>,
    in_progress: Vec<bool>,
    pub(crate) warnings: Vec<String>,
    pub(crate) stubs: BTreeMap<String, String>,
    /// Context entries by path.
    entries: BTreeMap<&'a str, &'a ContextEntry>,
    /// `RUN` lines not executed (other than installs), for one warning.
    pub(crate) skipped_runs: Vec<usize>,
}

/// Cleans a context source path: no leading `/` or `./`, `..` cannot climb above the root.
fn clean_rel(src: &str) -> String {
    abspath("/", src).trim_start_matches('/').to_string()
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A wildcard source against a `/`-separated path, as the builder matches it
/// (`filepath.Match`: no wildcard crosses a `/`).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    importgate_context::glob_match(pattern, path)
}

fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn dirname(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((d, _)) => d.to_string(),
    }
}

fn join(dir: &str, rel: &str) -> String {
    if rel.is_empty() {
        return dir.trim_end_matches('/').to_string();
    }
    format!("{}/{rel}", dir.trim_end_matches('/'))
}

/// argv of a CMD/ENTRYPOINT as the builder stores it.
fn argv(cmd: &Command, shell: &[String]) -> Vec<String> {
    match cmd {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = if shell.is_empty() {
                vec!["/bin/sh".to_string(), "-c".to_string()]
            } else {
                shell.to_vec()
            };
            v.push(s.clone());
            v
        }
    }
}

impl<'a> Predictor<'a> {
    pub fn new(
        ctx: &'a BuildContext,
        plan: &'a BuildPlan,
        opts: &'a PredictOptions,
        bases: HashMap<String, LoadedBase>,
    ) -> Self {
        let entries = ctx.entries().iter().map(|e| (e.path.as_str(), e)).collect();
        Predictor {
            ctx,
            plan,
            opts,
            bases,
            states: vec![None; plan.stages.len()],
            in_progress: vec![false; plan.stages.len()],
            warnings: Vec::new(),
            stubs: BTreeMap::new(),
            entries,
            skipped_runs: Vec::new(),
        }
    }

    pub(crate) fn error(&self, line: usize, message: impl Into<String>) -> PredictError {
        PredictError::Step {
            dockerfile: self.opts.dockerfile_name.clone(),
            line,
            message: message.into(),
        }
    }

    pub fn run(mut self) -> Result<Prediction, PredictError> {
        let target = self.plan.target;
        let state = self.stage(target)?;
        let mut image = Image {
            reference: format!("{} (prediction)", self.opts.context_name),
            id: None,
            config: state.config.clone(),
            fs: state.fs,
            layers: Vec::new(),
            warnings: Vec::new(),
            pending: Default::default(),
        };
        if !self.skipped_runs.is_empty() {
            let lines: Vec<String> = self.skipped_runs.iter().map(|l| l.to_string()).collect();
            self.warnings.push(format!(
                "prediction: some RUN commands are not modelled (Dockerfile line{} {}); imports that could depend on what they write are reported as uncertain",
                if lines.len() > 1 { "s" } else { "" },
                lines.join(", ")
            ));
        }
        image.warnings = self.warnings;
        Ok(Prediction {
            image,
            mode: importgate_check::Mode::Image,
            base: state.base,
            stubs: self.stubs,
            plan: None,
            unmodelled: state.unmodelled,
        })
    }

    /// The state after the last step of stage `i`, memoised.
    fn stage(&mut self, i: usize) -> Result<State, PredictError> {
        if let Some(Some(s)) = self.states.get(i) {
            return Ok(s.clone());
        }
        let plan = self.plan;
        let Some(stage) = plan.stages.get(i) else {
            return Err(self.error(0, format!("no build stage {i}")));
        };
        if self.in_progress[i] {
            return Err(self.error(stage.line, "build stages depend on each other in a cycle"));
        }
        self.in_progress[i] = true;
        let mut state = match &stage.base {
            Base::Image(r) => match self.bases.get(r) {
                Some(b) => State {
                    fs: b.image.fs.clone(),
                    config: b.image.config.clone(),
                    layer: b.image.layers.len() as u32 + 1,
                    origins: BTreeMap::new(),
                    modelled: b.modelled,
                    base: b.origin.clone(),
                    unmodelled: Vec::new(),
                },
                None => {
                    return Err(PredictError::UnknownBase {
                        reference: r.clone(),
                    });
                }
            },
            Base::Stage(j) => self.stage(*j)?,
            Base::Scratch => State {
                fs: Vfs::new(),
                config: ImageConfig {
                    os: self.opts.platform.os.clone(),
                    architecture: self.opts.platform.architecture.clone(),
                    variant: self.opts.platform.variant.clone(),
                    ..ImageConfig::default()
                },
                layer: 0,
                origins: BTreeMap::new(),
                modelled: true,
                base: "scratch".to_string(),
                unmodelled: Vec::new(),
            },
        };
        for step in &stage.steps {
            match step {
                Step::Copy(copy) => self.copy(&mut state, copy)?,
                Step::Run {
                    command,
                    line,
                    args,
                } => {
                    let text = match command {
                        Command::Shell(s) => s.clone(),
                        Command::Exec(v) => v.join(" "),
                    };
                    let known = self.run_step(&mut state, &text, *line, args);
                    if !known {
                        self.skipped_runs.push(*line);
                    }
                }
                Step::Workdir { path, .. } => {
                    let path = abspath(&state.workdir(), path);
                    // The builder creates the working directory when it is missing.
                    if !state.fs.exists(&path) {
                        let m = state.meta(0o755);
                        if let Err(e) = state.fs.insert(&path, NewNode::Dir, m) {
                            tracing::debug!("WORKDIR {path}: {e}");
                        }
                    }
                    state.config.working_dir = path;
                }
                Step::Env { vars, .. } => {
                    for (k, v) in vars {
                        state.set_env(k, v);
                    }
                }
                Step::User { user, .. } => state.config.user = user.clone(),
            }
            state.layer += 1;
        }
        // CMD/ENTRYPOINT as the plan leaves them (with the base image's, and an ENTRYPOINT of
        // the Dockerfile dropping an inherited CMD).
        state.config.entrypoint = stage.entrypoint.as_ref().map(|c| argv(c, &stage.shell));
        state.config.cmd = stage.cmd.as_ref().map(|c| argv(c, &stage.shell));
        self.in_progress[i] = false;
        self.states[i] = Some(state.clone());
        Ok(state)
    }

    /// `--chown=user:group` as uid/gid, looked up in the stage's account files.
    pub(crate) fn owner(&self, state: &State, chown: Option<&str>) -> (u32, u32) {
        let Some(spec) = chown else {
            return (0, 0);
        };
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let lookup = |file: &str, name: &str, field: usize| -> Option<(u32, u32)> {
            if let Ok(n) = name.parse::<u32>() {
                return Some((n, n));
            }
            let text = state.fs.read_to_string(file)?;
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name)).then(|| {
                    let id = f.get(2).and_then(|v| v.parse().ok()).unwrap_or(0);
                    let gid = f.get(field).and_then(|v| v.parse().ok()).unwrap_or(id);
                    (id, gid)
                })
            })
        };
        let (uid, primary) = lookup("/etc/passwd", user, 3).unwrap_or((0, 0));
        let gid = match group {
            Some(g) => lookup("/etc/group", g, 2).map(|(g, _)| g).unwrap_or(0),
            None if chown.is_some() && user.parse::<u32>().is_ok() => uid,
            None => primary,
        };
        (uid, gid)
    }

    fn copy(&mut self, state: &mut State, step: &CopyStep) -> Result<(), PredictError> {
        let (uid, gid) = self.owner(state, step.chown.as_deref());
        let chmod = step
            .chmod
            .as_deref()
            .and_then(|m| u32::from_str_radix(m, 8).ok());
        let dest = step.dest.clone();
        let dest_is_dir_syntax = dest.ends_with('/');
        let dest = abspath(&state.workdir(), &dest);
        let multiple = step.sources.len() > 1 || step.sources.iter().any(|s| has_wildcard(s));
        if multiple && !dest_is_dir_syntax && !state.fs.is_dir(&dest) {
            return Err(self.error(
                step.line,
                "when using COPY with more than one source file, the destination must be a directory and end with a /",
            ));
        }
        let into_dir = dest_is_dir_syntax || multiple || state.fs.is_dir(&dest);
        let mut writes: Vec<Write> = Vec::new();
        match &step.from {
            CopyFrom::Context => {
                for src in &step.sources {
                    self.context_writes(src, &dest, into_dir, step, &mut writes)?;
                }
            }
            CopyFrom::Stage(j) => {
                let from = self.stage(*j)?;
                for src in &step.sources {
                    if let Err(m) = fs_writes(&from, src, &dest, into_dir, &mut writes) {
                        // A source an unmodelled step may have made is not a build error.
                        let abs = abspath("/", src);
                        let written = from
                            .unmodelled
                            .iter()
                            .flat_map(|u| u.paths.iter())
                            .any(|p| within(&abs, p) || within(p, &abs));
                        if !written {
                            return Err(self.error(step.line, m));
                        }
                        self.warn_once(format!(
                            "prediction: Dockerfile line {}: `{src}` is written by a RUN command that is not modelled; what the copy brings is not predicted",
                            step.line
                        ));
                    }
                }
                carry_unmodelled(&from, &step.sources, &dest, into_dir, state);
            }
            CopyFrom::Image(r) => {
                let Some(base) = self.bases.get(r) else {
                    return Err(PredictError::UnknownBase {
                        reference: r.clone(),
                    });
                };
                let from = State {
                    fs: base.image.fs.clone(),
                    config: base.image.config.clone(),
                    layer: 0,
                    origins: BTreeMap::new(),
                    modelled: base.modelled,
                    base: base.origin.clone(),
                    unmodelled: Vec::new(),
                };
                for src in &step.sources {
                    fs_writes(&from, src, &dest, into_dir, &mut writes)
                        .map_err(|m| self.error(step.line, m))?;
                }
            }
        }
        for w in writes {
            let mode = match (&w.node, chmod) {
                (_, Some(m)) => m,
                (_, None) => w.mode,
            };
            let meta = Meta {
                mode,
                uid,
                gid,
                layer: state.layer,
            };
            let node = match w.node {
                WriteNode::Node(n) => n,
                WriteNode::Context { rel, size } => {
                    let node = self.context_file(state, &w.path, &rel, size);
                    state.origins.insert(w.path.clone(), rel);
                    node
                }
            };
            if let Some(rel) = w.origin {
                state.origins.insert(w.path.clone(), rel);
            }
            if let Err(e) = state.fs.insert(&w.path, node, meta) {
                return Err(self.error(step.line, format!("cannot copy to {}: {e}", w.path)));
            }
        }
        Ok(())
    }

    /// A file from the context, with what the capture policy keeps of it at `path`.
    fn context_file(&self, state: &State, path: &str, rel: &str, size: u64) -> NewNode {
        let keep = self.opts.capture.keep(path, size);
        let (content, elf) = crate::fileops::kept(keep, state.modelled, || self.ctx.read(rel).ok());
        NewNode::File(FileData { size, content, elf })
    }

    /// Follows a symlink named as a COPY source inside the context (the builder resolves the
    /// source path in the context's scope).
    fn resolve_context(&self, rel: &str) -> Option<(String, &'a ContextEntry)> {
        let mut path = rel.to_string();
        for _ in 0..40 {
            let entry = *self.entries.get(path.as_str())?;
            match &entry.kind {
                EntryKind::Symlink { target } => {
                    let parent = dirname(&format!("/{path}"));
                    path = clean_rel(&abspath(&parent, target));
                }
                _ => return Some((path, entry)),
            }
        }
        None
    }

    fn context_writes(
        &mut self,
        src: &str,
        dest: &str,
        into_dir: bool,
        step: &CopyStep,
        writes: &mut Vec<Write>,
    ) -> Result<(), PredictError> {
        if src.contains("://") {
            self.warn_once(format!(
                "prediction: Dockerfile line {}: `ADD {src}` downloads at build time; its contents are not predicted",
                step.line
            ));
            return Ok(());
        }
        let rel = clean_rel(src);
        let items: Vec<String> = if has_wildcard(&rel) {
            self.entries
                .keys()
                .filter(|p| path_matches(&rel, p))
                .map(|p| p.to_string())
                .collect()
        } else {
            vec![rel.clone()]
        };
        if items.is_empty()
            || (items.len() == 1
                && !items[0].is_empty()
                && !self.entries.contains_key(items[0].as_str()))
        {
            let why = match self.ctx.excluded_by(&rel) {
                Some(p) => format!(
                    " (excluded by `{}` on line {} of the ignore file)",
                    p.text, p.line
                ),
                None => String::new(),
            };
            return Err(self.error(
                step.line,
                format!("COPY failed: `{src}` is not in the build context{why}"),
            ));
        }
        for item in items {
            if item.is_empty() {
                // The whole context.
                writes.push(Write::dir(dest.to_string(), 0o755));
                for e in self.entries.values() {
                    self.entry_write(e, &join(dest, &e.path), writes);
                }
                continue;
            }
            let Some((real, entry)) = self.resolve_context(&item) else {
                return Err(self.error(
                    step.line,
                    format!("COPY failed: `{item}` is a symbolic link leaving the build context"),
                ));
            };
            match entry.kind {
                EntryKind::Dir => {
                    writes.push(Write::dir(dest.to_string(), entry.mode & 0o7777));
                    let prefix = format!("{real}/");
                    for e in self
                        .entries
                        .values()
                        .filter(|e| e.path.starts_with(&prefix))
                    {
                        self.entry_write(e, &join(dest, &e.path[prefix.len()..]), writes);
                    }
                }
                _ => {
                    let target = if into_dir {
                        join(dest, basename(&item))
                    } else {
                        dest.to_string()
                    };
                    if step.add && is_archive(&real) {
                        self.warn_once(format!(
                            "prediction: Dockerfile line {}: `ADD {item}` unpacks an archive; its contents are not predicted",
                            step.line
                        ));
                        continue;
                    }
                    self.entry_write(entry, &target, writes);
                }
            }
        }
        Ok(())
    }

    fn entry_write(&self, e: &ContextEntry, path: &str, writes: &mut Vec<Write>) {
        let mode = e.mode & 0o7777;
        let node = match &e.kind {
            EntryKind::Dir => WriteNode::Node(NewNode::Dir),
            EntryKind::Symlink { target } => WriteNode::Node(NewNode::Symlink(target.clone())),
            EntryKind::File { size } => WriteNode::Context {
                rel: e.path.clone(),
                size: *size,
            },
        };
        writes.push(Write {
            path: path.to_string(),
            node,
            mode,
            origin: Some(e.path.clone()),
        });
    }

    pub(crate) fn warn_once(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// The bytes of a file of the image: its captured contents, else the context file it was
    /// copied from.
    pub(crate) fn read_image_file(&self, state: &State, path: &str) -> Option<Vec<u8>> {
        let real = state.fs.realpath(path).unwrap_or_else(|| path.to_string());
        if let Some(Some(data)) = state.fs.read(&real) {
            return Some(data.to_vec());
        }
        let rel = state
            .origins
            .get(&real)
            .or_else(|| state.origins.get(path))?;
        self.ctx.read(rel).ok()
    }
}

fn is_archive(path: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ]
    .iter()
    .any(|s| path.ends_with(s))
}

enum WriteNode {
    Node(NewNode),
    Context { rel: String, size: u64 },
}

struct Write {
    path: String,
    node: WriteNode,
    mode: u32,
    origin: Option<String>,
}

impl Write {
    fn dir(path: String, mode: u32) -> Write {
        Write {
            path,
            node: WriteNode::Node(NewNode::Dir),
            mode,
            origin: None,
        }
    }
}

/// `COPY --from`: paths of another stage's (or image's) filesystem.
fn fs_writes(
    from: &State,
    src: &str,
    dest: &str,
    into_dir: bool,
    writes: &mut Vec<Write>,
) -> Result<(), String> {
    let src_abs = abspath("/", src);
    let items: Vec<String> = if has_wildcard(&src_abs) {
        let parent = dirname(&src_abs);
        let pattern = basename(&src_abs);
        from.fs
            .read_dir(&parent)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| path_matches(pattern, n))
            .map(|n| join(&parent, n))
            .collect()
    } else {
        vec![src_abs.clone()]
    };
    if items.is_empty() {
        return Err(format!(
            "COPY failed: no source files were specified by `{src}`"
        ));
    }
    for item in items {
        let Some(id) = from.fs.lookup(&item, true) else {
            return Err(format!(
                "COPY --from failed: `{item}` does not exist in that stage"
            ));
        };
        let real = from.fs.path_of(id);
        match from.fs.kind(id) {
            NodeKind::Dir(_) => {
                writes.push(Write::dir(dest.to_string(), from.fs.meta(id).mode));
                let prefix = format!("{}/", real.trim_end_matches('/'));
                for (path, nid) in from.fs.walk_files(&real) {
                    let Some(rest) = path.strip_prefix(&prefix) else {
                        continue;
                    };
                    push_node(from, nid, &path, &join(dest, rest), writes);
                }
            }
            _ => {
                let target = if into_dir {
                    join(dest, basename(&item))
                } else {
                    dest.to_string()
                };
                push_node(from, id, &real, &target, writes);
            }
        }
    }
    Ok(())
}

/// `path` is `dir` or below it.
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

/// What an unmodelled step of another stage may have written reaches this stage through
/// `COPY --from`: its paths below a copied source, moved to where the copy puts them (the
/// whole destination when the step may write the source itself).
fn carry_unmodelled(
    from: &State,
    sources: &[String],
    dest: &str,
    into_dir: bool,
    state: &mut State,
) {
    for u in &from.unmodelled {
        let mut paths = Vec::new();
        for src in sources {
            let abs = abspath("/", src);
            let (fixed, root) = if has_wildcard(&abs) {
                (dirname(&abs), dest.to_string())
            } else if from.fs.is_dir(&abs) || src.ends_with('/') || !into_dir {
                (abs.clone(), dest.to_string())
            } else {
                (abs.clone(), join(dest, basename(&abs)))
            };
            for p in &u.paths {
                if within(p, &fixed) {
                    let rest = p[fixed.trim_end_matches('/').len()..].trim_start_matches('/');
                    paths.push(join(&root, rest));
                } else if within(&fixed, p) {
                    paths.push(root.clone());
                }
            }
        }
        if !paths.is_empty() {
            state.unmodelled.push(crate::Unmodelled {
                line: u.line,
                command: u.command.clone(),
                paths,
            });
        }
    }
}

fn push_node(
    from: &State,
    id: importgate_image::NodeId,
    src: &str,
    dest: &str,
    writes: &mut Vec<Write>,
) {
    let node = match from.fs.kind(id) {
        NodeKind::Dir(_) => NewNode::Dir,
        NodeKind::File(d) => NewNode::File(d.clone()),
        NodeKind::Symlink(t) => NewNode::Symlink(t.to_string()),
        NodeKind::Other => NewNode::Other,
    };
    writes.push(Write {
        path: dest.to_string(),
        node: WriteNode::Node(node),
        mode: from.fs.meta(id).mode,
        origin: from.origins.get(src).cloned(),
    });
}

/// Adds stand-in submodules for imports below stand-in packages (`fastapi.responses` when only
/// `fastapi` is known): the distribution is declared, its layout is not. Returns whether any
/// file was added.
pub fn add_stub_submodules(prediction: &mut Prediction, modules: &[String]) -> bool {
    let mut added = false;
    for module in modules {
        let Some((top, site)) = prediction
            .stubs
            .iter()
            .filter(|(top, _)| module.starts_with(&format!("{top}.")))
            .max_by_key(|(top, _)| top.len())
            .map(|(t, s)| (t.clone(), s.clone()))
        else {
            continue;
        };
        let mut dir = join(&site, &top.replace('.', "/"));
        for part in module[top.len() + 1..].split('.') {
            dir = join(&dir, part);
            let init = join(&dir, "__init__.py");
            if prediction.image.fs.exists(&init) {
                continue;
            }
            let meta = Meta {
                mode: 0o644,
                uid: 0,
                gid: 0,
                layer: 0,
            };
            let node = model::file(STUB_SOURCE.as_bytes());
            if prediction.image.fs.insert(&init, node, meta).is_ok() {
                added = true;
            }
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_component_per_star() {
        assert!(path_matches("*.py", "main.py"));
        assert!(!path_matches("*.py", "app/main.py"));
        assert!(path_matches("app/*.py", "app/main.py"));
        assert!(path_matches("req*.txt", "requirements.txt"));
        assert!(path_matches("file?.[a-c]", "file1.b"));
        assert!(!path_matches("file?.[^a-c]", "file1.b"));
        // Go's `filepath.Match` negates with `^` only: `!` is a member of the class.
        assert!(path_matches("file?.[!a-c]", "file1.b"));
    }

    #[test]
    fn sources_are_cleaned_inside_the_context() {
        assert_eq!(clean_rel("./app/"), "app");
        assert_eq!(clean_rel("/app/../../x"), "x");
        assert_eq!(clean_rel("."), "");
    }
}
