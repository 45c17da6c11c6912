//! The Dockerfile: parsing (parse-dockerfile) and [`plan`], the evaluation of its stages.
//!
//! Evaluation follows what the builder does before running anything: global `ARG`s (before the
//! first `FROM`) expand `FROM` lines only, unless a stage declares them again with `ARG NAME`;
//! `--build-arg` values override `ARG` defaults of declared arguments; `ENV` wins over an `ARG`
//! of the same name; `$VAR`/`${VAR}`/`${VAR:-x}`/`${VAR:+x}` are expanded in `FROM`, `ARG`,
//! `ENV`, `WORKDIR`, `USER`, `COPY`/`ADD` sources, destination and flags — not in `RUN`, `CMD`
//! and `ENTRYPOINT`, which the shell expands at run time; a relative `WORKDIR` is joined to the
//! previous one; a relative destination is joined to the `WORKDIR`; `FROM <stage>` inherits that
//! stage's state (env, workdir, user, cmd, entrypoint, shell); stage names are compared without
//! case as Docker does.

use parse_dockerfile as pd;

use crate::ContextError;
use crate::shell::{parse_words, process_word};

/// A parsed Dockerfile (an owned summary of the instructions that shape the image layout).
#[derive(Debug, Clone)]
pub struct Dockerfile {
    instrs: Vec<Instr>,
    escape: char,
}

#[derive(Debug, Clone)]
enum Instr {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
        line: usize,
    },
    Arg {
        words: Vec<String>,
        line: usize,
    },
    /// `(key, value)` as written (quotes kept), expanded at plan time.
    Env {
        pairs: Vec<(String, String)>,
        line: usize,
    },
    Copy(RawCopy),
    Run {
        command: Command,
        line: usize,
    },
    Cmd {
        command: Command,
        line: usize,
    },
    Entrypoint {
        command: Command,
        line: usize,
    },
    Shell {
        args: Vec<String>,
        line: usize,
    },
    User {
        raw: String,
        line: usize,
    },
    Workdir {
        raw: String,
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct RawCopy {
    add: bool,
    flags: Vec<(String, Option<String>)>,
    sources: Vec<String>,
    dest: String,
    line: usize,
}

fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn df_err(line: usize, message: impl Into<String>) -> ContextError {
    ContextError::Dockerfile {
        line,
        message: message.into(),
    }
}

/// Shell-form text as the builder sees it: line continuations (escape at the end of a line)
/// joined, comment lines inside a continuation dropped.
fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::new();
    let mut continuing = false;
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if continuing && line.trim_start().starts_with('#') {
            continue;
        }
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix(escape) {
            out.push_str(body);
            continuing = true;
        } else {
            out.push_str(line);
            continuing = false;
            out.push('\n');
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn command(c: &pd::Command<'_>, here_docs: &[pd::HereDoc<'_>], escape: char) -> Command {
    match c {
        pd::Command::Exec(v) => {
            Command::Exec(v.value.iter().map(|s| s.value.to_string()).collect())
        }
        pd::Command::Shell(s) => {
            let mut text = join_continuations(s.value, escape);
            for h in here_docs {
                text.push('\n');
                text.push_str(&h.value);
            }
            Command::Shell(text)
        }
        _ => Command::Shell(String::new()),
    }
}

impl Dockerfile {
    /// Parses Dockerfile text; errors name the line (`Dockerfile:3: unknown instruction 'COPPY'`).
    pub fn parse(text: &str) -> Result<Dockerfile, ContextError> {
        let parsed = pd::parse(text).map_err(|e| df_err(e.line().max(1), format!("{e:#}")))?;
        let escape = parsed
            .parser_directives
            .escape
            .as_ref()
            .map(|d| d.value.value)
            .unwrap_or('\\');
        let mut instrs = Vec::new();
        for i in &parsed.instructions {
            match i {
                pd::Instruction::From(f) => {
                    let platform = f
                        .options
                        .iter()
                        .find(|o| o.name.value.eq_ignore_ascii_case("platform"))
                        .and_then(|o| o.value.as_ref())
                        .map(|v| v.value.to_string());
                    instrs.push(Instr::From {
                        image: f.image.value.to_string(),
                        name: f.as_.as_ref().map(|(_, n)| n.value.to_lowercase()),
                        platform,
                        line: line_of(text, f.from.span.start),
                    });
                }
                pd::Instruction::Arg(a) => instrs.push(Instr::Arg {
                    words: parse_words(&a.arguments.value, escape),
                    line: line_of(text, a.arg.span.start),
                }),
                pd::Instruction::Env(e) => {
                    let line = line_of(text, e.env.span.start);
                    instrs.push(Instr::Env {
                        pairs: env_pairs(&e.arguments.value, escape, line)?,
                        line,
                    });
                }
                pd::Instruction::Copy(c) => {
                    instrs.push(Instr::Copy(raw_copy(
                        false,
                        &c.options,
                        &c.src,
                        &c.dest,
                        line_of(text, c.copy.span.start),
                    )));
                }
                pd::Instruction::Add(c) => {
                    instrs.push(Instr::Copy(raw_copy(
                        true,
                        &c.options,
                        &c.src,
                        &c.dest,
                        line_of(text, c.add.span.start),
                    )));
                }
                pd::Instruction::Run(r) => instrs.push(Instr::Run {
                    command: command(&r.arguments, &r.here_docs, escape),
                    line: line_of(text, r.run.span.start),
                }),
                pd::Instruction::Cmd(c) => instrs.push(Instr::Cmd {
                    command: command(&c.arguments, &[], escape),
                    line: line_of(text, c.cmd.span.start),
                }),
                pd::Instruction::Entrypoint(c) => instrs.push(Instr::Entrypoint {
                    command: command(&c.arguments, &[], escape),
                    line: line_of(text, c.entrypoint.span.start),
                }),
                pd::Instruction::Shell(s) => instrs.push(Instr::Shell {
                    args: s.arguments.iter().map(|a| a.value.to_string()).collect(),
                    line: line_of(text, s.shell.span.start),
                }),
                pd::Instruction::User(u) => instrs.push(Instr::User {
                    raw: u.arguments.value.to_string(),
                    line: line_of(text, u.user.span.start),
                }),
                pd::Instruction::Workdir(w) => instrs.push(Instr::Workdir {
                    raw: w.arguments.value.to_string(),
                    line: line_of(text, w.workdir.span.start),
                }),
                _ => {}
            }
        }
        Ok(Dockerfile { instrs, escape })
    }
}

fn raw_copy(
    add: bool,
    options: &[pd::Flag<'_>],
    src: &[pd::Source<'_>],
    dest: &pd::UnescapedString<'_>,
    line: usize,
) -> RawCopy {
    RawCopy {
        add,
        flags: options
            .iter()
            .map(|o| {
                (
                    o.name.value.to_lowercase(),
                    o.value.as_ref().map(|v| v.value.to_string()),
                )
            })
            .collect(),
        // Here-documents are inline content, not context paths.
        sources: src
            .iter()
            .filter_map(|s| match s {
                pd::Source::Path(p) => Some(p.value.to_string()),
                _ => None,
            })
            .collect(),
        dest: dest.value.to_string(),
        line,
    }
}

/// `parseNameVal`: `ENV k=v k2="v 2"`, or the legacy `ENV k the rest`.
fn env_pairs(rest: &str, escape: char, line: usize) -> Result<Vec<(String, String)>, ContextError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(df_err(line, "ENV requires at least one argument"));
    };
    if !first.contains('=') {
        let rest = rest.trim_start();
        let Some(split) = rest.find(char::is_whitespace) else {
            return Err(df_err(line, "ENV must have two arguments"));
        };
        let (k, v) = rest.split_at(split);
        return Ok(vec![(k.to_string(), v.trim_start().to_string())]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(df_err(
                line,
                format!("Syntax error - can't find = in \"{w}\". Must be of the form: name=value"),
            )),
        })
        .collect()
}

/// The evaluated Dockerfile.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub stages: Vec<Stage>,
    /// Index in `stages` of the final stage (the `--target` one, else the last).
    pub target: usize,
}

impl BuildPlan {
    /// The final stage.
    pub fn final_stage(&self) -> &Stage {
        &self.stages[self.target]
    }
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image reference, expanded.
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
    /// `FROM scratch`.
    Scratch,
}

/// One build stage after evaluation.
#[derive(Debug, Clone)]
pub struct Stage {
    /// `AS name`, lowercased as Docker compares it.
    pub name: Option<String>,
    /// 1-based line of its `FROM`.
    pub line: usize,
    pub base: Base,
    pub platform: Option<String>,
    /// In order.
    pub steps: Vec<Step>,
    /// State after the last step (inherits from a [`Base::Stage`] parent, or from the
    /// [`BaseConfig`] of a [`Base::Image`] when [`plan_with_base`] supplies one):
    pub env: Vec<(String, String)>,
    /// Absolute; `None` when no `WORKDIR` applies (the image's default, `/` for scratch).
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub cmd: Option<Command>,
    pub entrypoint: Option<Command>,
    /// Lines of the `CMD` / `ENTRYPOINT` that set them (in this stage or the stage it is
    /// built `FROM`); `None` when they come from a base image or are unset.
    pub cmd_line: Option<usize>,
    pub entrypoint_line: Option<usize>,
    /// `SHELL`, default `["/bin/sh", "-c"]`.
    pub shell: Vec<String>,
}

/// CMD / ENTRYPOINT / RUN in exec (JSON) or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    /// The text with line continuations joined (and, for `RUN`, here-document bodies appended
    /// after a newline).
    Shell(String),
}

/// A step of a stage that matters for the image layout.
#[derive(Debug, Clone)]
pub enum Step {
    Copy(CopyStep),
    /// Not expanded: Docker leaves `RUN` to the shell.
    Run {
        command: Command,
        line: usize,
        /// The `ARG`s in scope with their values: the shell sees them as variables, beside
        /// the stage's `ENV`.
        args: Vec<(String, String)>,
    },
    /// Absolute after resolution.
    Workdir {
        path: String,
        line: usize,
    },
    /// Expanded values.
    Env {
        vars: Vec<(String, String)>,
        line: usize,
    },
    /// Expanded.
    User {
        user: String,
        line: usize,
    },
}

/// Where a COPY/ADD reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    Context,
    /// An earlier stage (by name or index).
    Stage(usize),
    /// `--from=<image>`.
    Image(String),
}

/// A COPY or ADD.
#[derive(Debug, Clone)]
pub struct CopyStep {
    pub add: bool,
    pub from: CopyFrom,
    /// As written after expansion (may contain wildcards; `ADD` may name URLs). Here-document
    /// sources are left out.
    pub sources: Vec<String>,
    /// Absolute (WORKDIR applied); a trailing `/` kept, and added for `.`-style destinations
    /// (`COPY x .`), which always name a directory.
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub line: usize,
}

/// What a [`Base::Image`] contributes to a stage, when known (from the local engine or a model
/// of the image).
#[derive(Debug, Clone, Default)]
pub struct BaseConfig {
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub cmd: Option<Command>,
    pub entrypoint: Option<Command>,
    pub shell: Option<Vec<String>>,
}

/// Evaluates ARG/ENV expansion, stages, WORKDIR for relative destinations, `--target`. Base
/// images contribute nothing (their `ENV` is unknown here); see [`plan_with_base`].
pub fn plan(
    df: &Dockerfile,
    build_args: &[(String, String)],
    target: Option<&str>,
) -> Result<BuildPlan, ContextError> {
    plan_with_base(df, build_args, target, &|_| None)
}

fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
    if let Some(e) = env.iter_mut().find(|(ek, _)| ek == k) {
        e.1 = v;
    } else {
        env.push((k.to_string(), v));
    }
}

/// `path.Join` on `/`-separated paths followed by `path.Clean`.
fn join_clean(base: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    };
    crate::ignore::clean(&joined)
}

/// [`plan`] with the configuration of base images: `base(reference)` returns the image's
/// `ENV`, `WORKDIR`, `USER`, `CMD`, `ENTRYPOINT` and `SHELL` when known.
pub fn plan_with_base(
    df: &Dockerfile,
    build_args: &[(String, String)],
    target: Option<&str>,
    base: &dyn Fn(&str) -> Option<BaseConfig>,
) -> Result<BuildPlan, ContextError> {
    let esc = df.escape;
    let arg_override = |k: &str| {
        build_args
            .iter()
            .rev()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
    };
    // Global ARGs: name -> value (None when declared without a value and not overridden).
    let mut global: Vec<(String, Option<String>)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    // Per stage: declared ARG values (in effect for expansion), whether CMD was set.
    let mut args: Vec<(String, String)> = Vec::new();
    let mut cmd_set = false;

    let global_env = |g: &[(String, Option<String>)]| -> Vec<(String, String)> {
        g.iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    };

    for instr in &df.instrs {
        // The expansion environment of the current stage: ARGs overlaid by ENV.
        let stage_env = |stages: &[Stage], args: &[(String, String)]| -> Vec<(String, String)> {
            let mut e: Vec<(String, String)> = args.to_vec();
            if let Some(s) = stages.last() {
                e.extend(s.env.iter().cloned());
            }
            e
        };
        match instr {
            Instr::From {
                image,
                name,
                platform,
                line,
            } => {
                let genv = global_env(&global);
                let image = process_word(image, &genv, esc).map_err(|m| df_err(*line, m))?;
                let platform = platform
                    .as_deref()
                    .map(|p| process_word(p, &genv, esc).map_err(|m| df_err(*line, m)))
                    .transpose()?;
                let lower = image.to_lowercase();
                let parent = stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(lower.as_str()));
                let mut stage = Stage {
                    name: name.clone(),
                    line: *line,
                    base: Base::Scratch,
                    platform,
                    steps: Vec::new(),
                    env: Vec::new(),
                    workdir: None,
                    user: None,
                    cmd: None,
                    entrypoint: None,
                    cmd_line: None,
                    entrypoint_line: None,
                    shell: vec!["/bin/sh".to_string(), "-c".to_string()],
                };
                if image.is_empty() {
                    return Err(df_err(*line, "base name (FROM) should not be blank"));
                }
                match parent {
                    Some(i) => {
                        let p = &stages[i];
                        stage.base = Base::Stage(i);
                        stage.env = p.env.clone();
                        stage.workdir = p.workdir.clone();
                        stage.user = p.user.clone();
                        stage.cmd = p.cmd.clone();
                        stage.entrypoint = p.entrypoint.clone();
                        stage.cmd_line = p.cmd_line;
                        stage.entrypoint_line = p.entrypoint_line;
                        stage.shell = p.shell.clone();
                    }
                    None if lower == "scratch" => stage.base = Base::Scratch,
                    None => {
                        if let Some(c) = base(&image) {
                            stage.env = c.env;
                            stage.workdir = c.workdir;
                            stage.user = c.user;
                            stage.cmd = c.cmd;
                            stage.entrypoint = c.entrypoint;
                            if let Some(sh) = c.shell {
                                stage.shell = sh;
                            }
                        }
                        stage.base = Base::Image(image);
                    }
                }
                if let Some(n) = name
                    && stages.iter().any(|s| s.name.as_deref() == Some(n.as_str()))
                {
                    return Err(df_err(*line, format!("duplicate stage name '{n}'")));
                }
                stages.push(stage);
                args.clear();
                cmd_set = false;
            }
            Instr::Arg { words, line } => {
                if words.is_empty() {
                    return Err(df_err(*line, "ARG requires at least one argument"));
                }
                for w in words {
                    let (k, default) = match w.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (w.clone(), None),
                    };
                    if stages.is_empty() {
                        let genv = global_env(&global);
                        let v = match arg_override(&k) {
                            Some(v) => Some(v),
                            None => default
                                .map(|d| process_word(&d, &genv, esc).map_err(|m| df_err(*line, m)))
                                .transpose()?,
                        };
                        global.retain(|(g, _)| *g != k);
                        global.push((k, v));
                        continue;
                    }
                    let env = stage_env(&stages, &args);
                    let v = match arg_override(&k) {
                        Some(v) => Some(v),
                        None => match default {
                            Some(d) => {
                                Some(process_word(&d, &env, esc).map_err(|m| df_err(*line, m))?)
                            }
                            None => global
                                .iter()
                                .find(|(g, _)| *g == k)
                                .and_then(|(_, v)| v.clone()),
                        },
                    };
                    args.retain(|(a, _)| *a != k);
                    if let Some(v) = v {
                        args.push((k, v));
                    }
                }
            }
            Instr::Env { pairs, line } => {
                let Some(_) = stages.last() else {
                    return Err(df_err(*line, "ENV before the first FROM"));
                };
                let mut vars = Vec::new();
                // The whole instruction expands with the environment before it:
                // `ENV a=2 b=$a` sets b to the previous a.
                let env = stage_env(&stages, &args);
                for (k, v) in pairs {
                    let k = process_word(k, &env, esc).map_err(|m| df_err(*line, m))?;
                    let v = process_word(v, &env, esc).map_err(|m| df_err(*line, m))?;
                    if let Some(s) = stages.last_mut() {
                        set(&mut s.env, &k, v.clone());
                    }
                    vars.push((k, v));
                }
                if let Some(s) = stages.last_mut() {
                    s.steps.push(Step::Env { vars, line: *line });
                }
            }
            Instr::Copy(c) => {
                let env = stage_env(&stages, &args);
                let Some(cur) = stages.len().checked_sub(1) else {
                    return Err(df_err(c.line, "COPY before the first FROM"));
                };
                let ex = |w: &str| process_word(w, &env, esc).map_err(|m| df_err(c.line, m));
                let flag = |name: &str| -> Result<Option<String>, ContextError> {
                    c.flags
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, v)| v.as_deref())
                        .map(ex)
                        .transpose()
                };
                let from = match flag("from")? {
                    None => CopyFrom::Context,
                    Some(f) => {
                        let lower = f.to_lowercase();
                        if let Some(i) = stages[..cur]
                            .iter()
                            .position(|s| s.name.as_deref() == Some(lower.as_str()))
                        {
                            CopyFrom::Stage(i)
                        } else if let Ok(i) = f.parse::<usize>() {
                            if i >= cur {
                                return Err(df_err(
                                    c.line,
                                    format!(
                                        "invalid from flag value {f}: refers to current build stage"
                                    ),
                                ));
                            }
                            CopyFrom::Stage(i)
                        } else if stages[cur].name.as_deref() == Some(lower.as_str()) {
                            return Err(df_err(
                                c.line,
                                format!(
                                    "invalid from flag value {f}: refers to current build stage"
                                ),
                            ));
                        } else {
                            CopyFrom::Image(f)
                        }
                    }
                };
                let sources = c
                    .sources
                    .iter()
                    .map(|s| ex(s))
                    .collect::<Result<Vec<_>, _>>()?;
                let raw_dest = ex(&c.dest)?;
                let workdir = stages[cur]
                    .workdir
                    .clone()
                    .unwrap_or_else(|| "/".to_string());
                let dir_like = raw_dest.ends_with('/')
                    || raw_dest == "."
                    || raw_dest.ends_with("/.")
                    || raw_dest.is_empty();
                let mut dest = join_clean(&workdir, &raw_dest);
                if dir_like && !dest.ends_with('/') {
                    dest.push('/');
                }
                let step = CopyStep {
                    add: c.add,
                    from,
                    sources,
                    dest,
                    chown: flag("chown")?,
                    chmod: flag("chmod")?,
                    line: c.line,
                };
                stages[cur].steps.push(Step::Copy(step));
            }
            Instr::Run { command, line } => {
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "RUN before the first FROM"));
                };
                s.steps.push(Step::Run {
                    command: command.clone(),
                    line: *line,
                    args: args.clone(),
                });
            }
            Instr::Cmd { command, line } => {
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "CMD before the first FROM"));
                };
                s.cmd = Some(command.clone());
                s.cmd_line = Some(*line);
                cmd_set = true;
            }
            Instr::Entrypoint { command, line } => {
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "ENTRYPOINT before the first FROM"));
                };
                s.entrypoint = Some(command.clone());
                s.entrypoint_line = Some(*line);
                // Setting ENTRYPOINT drops a CMD inherited from the base.
                if !cmd_set {
                    s.cmd = None;
                    s.cmd_line = None;
                }
            }
            Instr::Shell { args: sh, line } => {
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "SHELL before the first FROM"));
                };
                s.shell = sh.clone();
            }
            Instr::User { raw, line } => {
                let env = stage_env(&stages, &args);
                let user = process_word(raw, &env, esc).map_err(|m| df_err(*line, m))?;
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "USER before the first FROM"));
                };
                s.user = Some(user.clone());
                s.steps.push(Step::User { user, line: *line });
            }
            Instr::Workdir { raw, line } => {
                let env = stage_env(&stages, &args);
                let w = process_word(raw, &env, esc).map_err(|m| df_err(*line, m))?;
                let Some(s) = stages.last_mut() else {
                    return Err(df_err(*line, "WORKDIR before the first FROM"));
                };
                let prev = s.workdir.clone().unwrap_or_else(|| "/".to_string());
                let path = join_clean(&prev, &w);
                s.workdir = Some(path.clone());
                s.steps.push(Step::Workdir { path, line: *line });
            }
        }
    }
    if stages.is_empty() {
        return Err(df_err(1, "no build stage in Dockerfile"));
    }
    let target = match target {
        None => stages.len() - 1,
        Some(t) => {
            let lower = t.to_lowercase();
            stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
                .ok_or_else(|| ContextError::UnknownTarget(t.to_string()))?
        }
    };
    Ok(BuildPlan { stages, target })
}

#[cfg(test)]
mod tests;
