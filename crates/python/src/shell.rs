//! Entrypoint shell scripts and `sh -c` lines, read the way `sh` would run them as far as that
//! can be told without running anything: which command the script finally `exec`s (its
//! `if`/`case` branches decided where their tests can be: arguments, the script's own
//! variables, the image's environment, files in the image), with which arguments (`set --`,
//! `shift`), in which directory (`cd`) and with which exported variables; and the
//! argument-count guard that stops a script before it starts anything.

use importgate_image::{ImageConfig, Vfs};

use crate::runtime::{abspath, basename};

/// What a shell entrypoint script hands the process to: the words of the command it `exec`s,
/// the variables it exports on the way (`export _HANDLER="$1"`) and where it `cd`s.
pub(crate) struct ShellExec {
    pub(crate) words: Vec<String>,
    pub(crate) exports: Vec<(String, String)>,
    /// Where the script `cd`s before that command (`None`: where it started).
    pub(crate) cwd: Option<String>,
}

/// Whether a statement runs, as far as can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    Yes,
    No,
    Maybe,
}

impl Reach {
    fn and(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::No, _) | (_, Reach::No) => Reach::No,
            (Reach::Yes, Reach::Yes) => Reach::Yes,
            _ => Reach::Maybe,
        }
    }

    fn or(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::Yes, _) | (_, Reach::Yes) => Reach::Yes,
            (Reach::No, Reach::No) => Reach::No,
            _ => Reach::Maybe,
        }
    }

    fn not(self) -> Reach {
        match self {
            Reach::Yes => Reach::No,
            Reach::No => Reach::Yes,
            Reach::Maybe => Reach::Maybe,
        }
    }

    fn of(b: bool) -> Reach {
        if b { Reach::Yes } else { Reach::No }
    }
}

/// A variable the script sets: name, value, exported.
type Var = (String, String, bool);

/// One simple statement of the script and the state it runs in.
struct Step {
    text: String,
    reach: Reach,
    args: Vec<String>,
    vars: Vec<Var>,
    /// The working directory after the `cd`s before it.
    dir: String,
}

/// An open `if`, `case`, loop or function body.
struct Frame {
    kind: FrameKind,
    /// Whether the branch being read runs.
    branch: Reach,
    /// Whether an earlier branch of the same `if`/`case` ran.
    done: Reach,
    /// Inside a `case` arm (else between arms, where `PATTERN)` starts one).
    in_arm: bool,
}

enum FrameKind {
    If,
    /// `case WORD in`: the word, when it can be told.
    Case(Option<String>),
    Loop,
    Function,
}

/// The statements of a script: its logical lines split at top-level `;` (`;;` kept as one).
fn statements(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    cur.push(c);
                }
                Some(_) => cur.push(c),
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                None if c == ';' => {
                    if chars.peek() == Some(&';') {
                        chars.next();
                        out.push(std::mem::take(&mut cur));
                        out.push(";;".to_string());
                    } else {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                None => cur.push(c),
            }
        }
        out.push(cur);
    }
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The assignment `NAME=value` (or `export NAME=value`) a statement makes.
fn assignment(text: &str) -> Option<(String, String, bool)> {
    let (exported, rest) = match text.strip_prefix("export ") {
        Some(r) => (true, r.trim()),
        None => (false, text),
    };
    let words = shell_words(rest);
    let [word] = words.as_slice() else {
        return None;
    };
    let (name, value) = word.split_once('=')?;
    is_shell_name(name).then(|| (name.to_string(), value.to_string(), exported))
}

/// Runs through the script's statements without running any, keeping what decides where it
/// goes: arguments, variables, directory, and which branches run.
fn walk(
    stmts: &[String],
    args: &[String],
    cwd: &str,
    vfs: &Vfs,
    config: &ImageConfig,
) -> Vec<Step> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut args = args.to_vec();
    let mut vars: Vec<Var> = Vec::new();
    let mut dir = cwd.to_string();
    let mut steps = Vec::new();
    for raw in stmts {
        let mut text = raw.as_str();
        for kw in ["then", "do", "{"] {
            if text == kw {
                text = "";
            } else if let Some(rest) = text.strip_prefix(kw).filter(|r| r.starts_with(' ')) {
                text = rest.trim();
            }
        }
        if text.is_empty() {
            continue;
        }
        let first = text.split_whitespace().next().unwrap_or_default();
        let test = |cond: &str, args: &[String], vars: &[Var], dir: &str| {
            eval_test(cond, args, vars, config, vfs, dir)
        };
        match first {
            "if" => {
                let branch = test(text[2..].trim(), &args, &vars, &dir);
                stack.push(Frame {
                    kind: FrameKind::If,
                    branch,
                    done: branch,
                    in_arm: false,
                });
                continue;
            }
            "elif" => {
                let cond = test(text[4..].trim(), &args, &vars, &dir);
                if let Some(f) = stack.last_mut() {
                    let branch = f.done.not().and(cond);
                    f.branch = branch;
                    f.done = f.done.or(branch);
                }
                continue;
            }
            "else" => {
                if let Some(f) = stack.last_mut() {
                    f.branch = f.done.not();
                    f.done = Reach::Yes;
                }
                text = text[4..].trim();
                if text.is_empty() {
                    continue;
                }
            }
            "fi" | "esac" | "done" => {
                stack.pop();
                continue;
            }
            "}" => {
                if stack
                    .last()
                    .is_some_and(|f| matches!(f.kind, FrameKind::Function))
                {
                    stack.pop();
                }
                continue;
            }
            "case" => {
                let words = shell_words(text);
                let word = words
                    .get(1)
                    .and_then(|w| expand_shell_word(w, &args, &vars, config, true));
                stack.push(Frame {
                    kind: FrameKind::Case(word),
                    branch: Reach::No,
                    done: Reach::No,
                    in_arm: false,
                });
                continue;
            }
            ";;" => {
                if let Some(f) = stack.last_mut() {
                    f.branch = Reach::No;
                    f.in_arm = false;
                }
                continue;
            }
            "while" | "until" | "for" | "select" => {
                stack.push(Frame {
                    kind: FrameKind::Loop,
                    branch: Reach::Maybe,
                    done: Reach::Maybe,
                    in_arm: false,
                });
                continue;
            }
            _ => {}
        }
        // `name() {` / `function name {`: a body that runs only when called.
        let function = text.starts_with("function ")
            || text.split_once("()").is_some_and(|(n, rest)| {
                is_shell_name(n.trim()) && matches!(rest.trim(), "" | "{")
            });
        if function {
            stack.push(Frame {
                kind: FrameKind::Function,
                branch: Reach::No,
                done: Reach::No,
                in_arm: false,
            });
            continue;
        }
        // A `case` arm: `PATTERN|PATTERN) statement`, where an arm can start.
        if let Some(Frame {
            kind: FrameKind::Case(word),
            branch,
            done,
            in_arm,
        }) = stack.last_mut()
            && !*in_arm
            && let Some((pats, rest)) = text.split_once(')')
            && !pats.trim().is_empty()
            && !pats.trim().contains(char::is_whitespace)
        {
            let matched = pats
                .trim()
                .trim_start_matches('(')
                .split('|')
                .map(|p| p.trim_matches(['"', '\'']))
                .fold(Reach::No, |acc, p| {
                    acc.or(match (p, word.as_deref()) {
                        ("*", _) => Reach::Yes,
                        (_, Some(w)) if !p.contains(['*', '?', '[']) => Reach::of(p == w),
                        _ => Reach::Maybe,
                    })
                });
            let arm = done.not().and(matched);
            *branch = arm;
            *done = done.or(arm);
            *in_arm = true;
            text = rest.trim();
            if text.is_empty() {
                continue;
            }
        }
        let reach = stack.iter().fold(Reach::Yes, |acc, f| acc.and(f.branch));
        steps.push(Step {
            text: text.to_string(),
            reach,
            args: args.clone(),
            vars: vars.clone(),
            dir: dir.clone(),
        });
        if reach == Reach::No {
            continue;
        }
        if let Some((name, value, exported)) = assignment(text) {
            // An unset variable in a value is empty, as the shell has it.
            if let Some(v) = expand_shell_word(&value, &args, &vars, config, true) {
                vars.retain(|(n, _, _)| *n != name);
                vars.push((name, v, exported));
            }
            continue;
        }
        for part in chain(text) {
            if let Some(to) = cd_target(part, &args, &vars, config) {
                dir = abspath(&dir, &to);
            }
        }
        if reach == Reach::Yes {
            let words = shell_words(text);
            if words.first().is_some_and(|w| w == "set") && words.get(1).is_some_and(|w| w == "--")
            {
                let mut new = Vec::new();
                for w in &words[2..] {
                    if w == "$@" || w == "$*" {
                        new.extend(args.iter().cloned());
                    } else if let Some(v) = expand_shell_word(w, &args, &vars, config, true) {
                        new.push(v);
                    }
                }
                args = new;
            } else if words.first().is_some_and(|w| w == "shift") && !args.is_empty() {
                args.remove(0);
            }
        }
    }
    steps
}

/// The parts of a `&&`/`;` chain (outside quotes), trimmed, empty ones dropped.
pub(crate) fn chain(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b';' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            None if b == b'&' && bytes.get(i + 1) == Some(&b'&') => {
                parts.push(&text[start..i]);
                i += 1;
                start = i + 1;
            }
            None => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// `[ … ]`, `[[ … ]]` or `test …` (with `!`): string and integer comparisons, `-z`/`-n`,
/// and `-f`/`-d`/`-e`/`-x`/`-s` against the image's files; anything else (a command's status,
/// `&&`/`||` inside) cannot be told.
fn eval_test(
    cond: &str,
    args: &[String],
    vars: &[Var],
    config: &ImageConfig,
    vfs: &Vfs,
    dir: &str,
) -> Reach {
    if cond.contains("&&") || cond.contains("||") || cond.contains("$(") || cond.contains('`') {
        return Reach::Maybe;
    }
    let mut words = shell_words(cond);
    let mut negate = false;
    while words.first().is_some_and(|w| w == "!") {
        words.remove(0);
        negate = !negate;
    }
    let inner: Vec<String> = match (
        words.first().map(String::as_str),
        words.last().map(String::as_str),
    ) {
        (Some("["), Some("]")) | (Some("[["), Some("]]")) if words.len() >= 2 => {
            words[1..words.len() - 1].to_vec()
        }
        (Some("test"), _) => words[1..].to_vec(),
        _ => return Reach::Maybe,
    };
    let mut inner = inner;
    while inner.first().is_some_and(|w| w == "!") {
        inner.remove(0);
        negate = !negate;
    }
    let value = |w: &str| expand_shell_word(w, args, vars, config, true);
    let result = match inner.as_slice() {
        [] => Some(false),
        [x] => value(x).map(|v| !v.is_empty()),
        [op, x] if op == "-z" => value(x).map(|v| v.is_empty()),
        [op, x] if op == "-n" => value(x).map(|v| !v.is_empty()),
        [op, p] if matches!(op.as_str(), "-f" | "-d" | "-e" | "-x" | "-s" | "-r") => {
            value(p).map(|p| {
                let path = abspath(dir, &p);
                match op.as_str() {
                    "-d" => vfs.is_dir(&path),
                    "-f" | "-s" => vfs.is_file(&path),
                    _ => vfs.exists(&path),
                }
            })
        }
        [a, op, b] => match (value(a), value(b)) {
            (Some(a), Some(b)) => match op.as_str() {
                "=" | "==" => Some(a == b),
                "!=" => Some(a != b),
                "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                    match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                        (Ok(a), Ok(b)) => Some(match op.as_str() {
                            "-eq" => a == b,
                            "-ne" => a != b,
                            "-lt" => a < b,
                            "-le" => a <= b,
                            "-gt" => a > b,
                            _ => a >= b,
                        }),
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    match result {
        Some(b) => Reach::of(b != negate),
        None => Reach::Maybe,
    }
}

/// For a shell script (`entrypoint.sh`), the command it hands the process to: the first
/// `exec` (also `cd src && exec …`) on the path it surely takes, its branches decided where
/// their tests can be ([`walk`]); when an `exec` that may or may not run comes first, the last
/// one not in a branch that surely does not run, as the usual wrapper ends in its own `exec`.
/// `"$@"` is the script's arguments (after `set --`/`shift`). An `exec` whose program stays
/// unknown after expansion (`exec "$wrapper" …` of an unset variable) is a branch not taken.
/// Without an `exec`, its last command: a script that runs migrations and then `gunicorn
/// app:app` as a child stays up as long as that command does. A last command that is not a
/// program importgate understands leaves the launch not understood.
pub(crate) fn shell_script_exec(
    vfs: &Vfs,
    config: &ImageConfig,
    path: &str,
    interp: &[String],
    args: &[String],
    cwd: &str,
) -> Option<ShellExec> {
    if !matches!(basename(interp.first()?), "sh" | "bash" | "dash" | "ash") {
        return None;
    }
    let text = vfs.read_to_string(path)?;
    let steps = walk(&statements(&logical_lines(&text)), args, cwd, vfs, config);
    // Where a step's chain goes: its tests (`[ "$1" = web ] && exec …`) decide too.
    let reach_of = |step: &Step| {
        let parts = chain(&step.text);
        parts[..parts.len().saturating_sub(1)]
            .iter()
            .filter(|p| p.starts_with("[ ") || p.starts_with("[[ ") || p.starts_with("test "))
            .fold(step.reach, |acc, p| {
                acc.and(eval_test(p, &step.args, &step.vars, config, vfs, &step.dir))
            })
    };
    let expand = |step: &Step| -> Option<ShellExec> {
        let mut raw = last_command(&step.text);
        if raw.first().is_some_and(|w| w == "--") {
            raw.remove(0);
        }
        let mut words = Vec::new();
        for (i, w) in raw.into_iter().enumerate() {
            if w == "$@" || w == "$*" {
                words.extend(step.args.iter().cloned());
                continue;
            }
            match expand_shell_word(&w, &step.args, &step.vars, config, false) {
                Some(v) => words.push(v),
                // The program itself unknown: not a branch this image takes.
                None if i == 0 && w.contains('$') => return None,
                None => words.push(w),
            }
        }
        // `cd DIR && exec …` in the step itself.
        let mut dir = step.dir.clone();
        let parts = chain(&step.text);
        for part in &parts[..parts.len().saturating_sub(1)] {
            if let Some(to) = cd_target(part, &step.args, &step.vars, config) {
                dir = abspath(&dir, &to);
            }
        }
        let exports = step
            .vars
            .iter()
            .filter(|(_, _, e)| *e)
            .map(|(n, v, _)| (n.clone(), v.clone()))
            .collect();
        (!words.is_empty()).then_some(ShellExec {
            words,
            exports,
            cwd: (dir != cwd).then_some(dir),
        })
    };
    let execs: Vec<(&Step, Reach)> = steps
        .iter()
        .filter(|s| {
            chain(&s.text)
                .last()
                .is_some_and(|p| p.starts_with("exec "))
        })
        .map(|s| (s, reach_of(s)))
        .filter(|(_, r)| *r != Reach::No)
        .collect();
    let surely = execs
        .iter()
        .position(|(_, r)| *r == Reach::Yes)
        .filter(|&i| i == 0);
    let found = match surely {
        Some(i) => expand(execs[i].0),
        None => execs.iter().rev().find_map(|(s, _)| expand(s)),
    };
    if found.is_some() {
        return found;
    }
    let step = steps
        .iter()
        .rev()
        .find(|s| s.reach != Reach::No && is_command_line(&s.text))?;
    let mut words = Vec::new();
    for w in last_command(&step.text) {
        if w == "$@" || w == "$*" {
            words.extend(step.args.iter().cloned());
        } else {
            words.push(w);
        }
    }
    (!words.is_empty()).then_some(ShellExec {
        words,
        exports: Vec::new(),
        cwd: None,
    })
}

/// Splits a shell command line the simple way (quotes honoured, no expansion); enough for the
/// `sh -c "exec uvicorn app:app"` wrappers seen in Dockerfiles.
pub(crate) fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            None => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The directory of a `cd DIR` command (one part of a `&&`/`;` chain), expanded; `None` for
/// anything else or a directory that cannot be told (`cd "$(dirname "$0")"`, `cd -`).
fn cd_target(
    part: &str,
    args: &[String],
    vars: &[(String, String, bool)],
    config: &ImageConfig,
) -> Option<String> {
    let words = shell_words(part);
    let [cd, dir] = words.as_slice() else {
        return None;
    };
    if cd != "cd" || dir == "-" {
        return None;
    }
    expand_shell_word(dir, args, vars, config, false)
}

/// Where a `sh -c` line's last command runs: its `cd DIR && …` parts applied in order.
pub(crate) fn chain_cwd(line: &str, cwd: &str, config: &ImageConfig) -> String {
    let parts = chain(line);
    let mut dir = cwd.to_string();
    for part in &parts[..parts.len().saturating_sub(1)] {
        if let Some(to) = cd_target(part, &[], &[], config) {
            dir = abspath(&dir, &to);
        }
    }
    dir
}

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `$NAME`, `${NAME}`, `${NAME:-default}` and `$1`… in one (unquoted) word, from the script's
/// own assignments, then the image's environment. `None` when a variable is unknown or empty:
/// the word's value cannot be told.
fn expand_shell_word(
    word: &str,
    args: &[String],
    vars: &[(String, String, bool)],
    config: &ImageConfig,
    unset_empty: bool,
) -> Option<String> {
    let lookup = |name: &str| -> Option<String> {
        let value = if let Ok(n) = name.parse::<usize>() {
            n.checked_sub(1).and_then(|i| args.get(i)).cloned()
        } else {
            vars.iter()
                .rev()
                .find(|(n, _, _)| n == name)
                .map(|(_, v, _)| v.clone())
                .or_else(|| config.env_var(name).map(str::to_string))
        };
        match value.filter(|v| !v.is_empty()) {
            Some(v) => Some(v),
            None if unset_empty => Some(String::new()),
            None => None,
        }
    };
    let mut out = String::new();
    let mut rest = word;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}')?;
            let inner = &braced[..end];
            let value = if let Some((name, default)) = inner.split_once(":-") {
                lookup(name)
                    .filter(|v| !v.is_empty())
                    .or_else(|| expand_shell_word(default, args, vars, config, unset_empty))
            } else if let Some((name, pat)) = inner.split_once('#').filter(|(n, _)| !n.is_empty()) {
                // `${1#-}`: a literal prefix removed.
                lookup(name).map(|v| v.strip_prefix(pat).map(str::to_string).unwrap_or(v))
            } else if let Some((name, pat)) = inner.split_once('%') {
                lookup(name).map(|v| v.strip_suffix(pat).map(str::to_string).unwrap_or(v))
            } else {
                lookup(inner)
            };
            out.push_str(&value?);
            rest = &braced[end + 1..];
        } else if let Some(rest_after) = after.strip_prefix('#') {
            // `$#`: how many arguments.
            out.push_str(&args.len().to_string());
            rest = rest_after;
        } else {
            let len = if after.starts_with(|c: char| c.is_ascii_digit()) {
                1
            } else {
                after
                    .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                    .unwrap_or(after.len())
            };
            if len == 0 {
                return None;
            }
            out.push_str(&lookup(&after[..len])?);
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// A shell script's guard on its arguments that stops it before it `exec`s anything:
/// `if [ $# -ne 1 ]; then echo "…" >&2; exit 142; fi` given another number of arguments, or
/// `if [ -z "$1" ]; then … exit 1; fi` given none. Only tests of the arguments count: what
/// they are is in the image (Entrypoint + Cmd), while a variable may still be set when the
/// container is run. The exit status and the message the script prints.
pub fn shell_guard_exit(vfs: &Vfs, path: &str, args: &[String]) -> Option<(i32, String)> {
    let text = vfs.read_to_string(path)?;
    let stmts = statements(&logical_lines(&text));
    let config = ImageConfig::default();
    let mut depth = 0usize;
    for (i, st) in stmts.iter().enumerate() {
        let first = st.split_whitespace().next().unwrap_or_default();
        match first {
            "if" | "case" | "while" | "until" | "for" | "select" => depth += 1,
            "fi" | "esac" | "done" => depth = depth.saturating_sub(1),
            _ => {}
        }
        // The script hands over: a guard after that never runs.
        if depth == 0 && chain(st).last().is_some_and(|p| p.starts_with("exec ")) {
            return None;
        }
        if first != "if" || depth != 1 || !only_arguments(&st[2..]) {
            continue;
        }
        if eval_test(st[2..].trim(), args, &[], &config, vfs, "/") != Reach::Yes {
            continue;
        }
        let mut message = String::new();
        for body in &stmts[i + 1..] {
            let body = body.strip_prefix("then").map_or(body.as_str(), str::trim);
            let first = body.split_whitespace().next().unwrap_or_default();
            if matches!(first, "fi" | "else" | "elif" | "if" | "exec") {
                break;
            }
            if matches!(first, "echo" | "printf") && message.is_empty() {
                let w = shell_words(body);
                message = w
                    .iter()
                    .skip(1)
                    .filter(|w| !w.contains('>') && !w.starts_with('-'))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            if first == "exit" {
                let status = body
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<i32>().ok())
                    .unwrap_or(1);
                return (status != 0).then_some((status, message));
            }
        }
    }
    None
}

/// Whether a test names nothing but the arguments (`$1`, `$#`, `"$@"`, `${1:-}`) and no file.
fn only_arguments(cond: &str) -> bool {
    let words = shell_words(cond);
    if words.iter().any(|w| {
        matches!(
            w.as_str(),
            "-f" | "-d" | "-e" | "-x" | "-s" | "-r" | "-L" | "-h"
        )
    }) {
        return false;
    }
    let mut any = false;
    let mut rest = cond;
    while let Some(pos) = rest.find('$') {
        let after = rest[pos + 1..].trim_start_matches('{');
        if !after.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '#' | '@' | '*')) {
            return false;
        }
        any = true;
        rest = &rest[pos + 1..];
    }
    any
}

/// The words of the last command of a shell line: of an `a && b` or `a; b` chain the last one
/// is the long-running one, without its `exec`.
pub(crate) fn last_command(line: &str) -> Vec<String> {
    let last = chain(line).last().copied().unwrap_or_default();
    let mut words = shell_words(last);
    if words.first().is_some_and(|w| w == "exec") {
        words.remove(0);
    }
    words
}

/// The script's lines, trimmed, with `\`-continued lines joined and comments dropped.
pub(crate) fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    // The delimiter of a here-document being passed over (`python << END` … `END`): its
    // lines are the command's input, not commands.
    let mut heredoc: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(end) = &heredoc {
            if line == end {
                heredoc = None;
            }
            continue;
        }
        if cur.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some((_, after)) = line.split_once("<<").filter(|(_, a)| !a.starts_with('<')) {
            let delim = after
                .trim_start_matches('-')
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches(['\'', '"']);
            if !delim.is_empty() {
                heredoc = Some(delim.to_string());
            }
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head.trim_end());
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push(std::mem::take(&mut cur).trim().to_string());
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A line that runs a command in the foreground: not a shell keyword or block end, not an
/// assignment alone, not sent to the background.
pub(crate) fn is_command_line(line: &str) -> bool {
    const NOT_COMMANDS: &[&str] = &[
        "fi", "done", "esac", "then", "else", "elif", "do", "}", ";;", "exit", "wait", "if",
        "while", "until", "for", "case", "[", "[[", "test", "set", "export", "cd", "echo",
        "printf", "trap", "shift", "return", "true", ":", "sleep", "unset", "umask", "source", ".",
    ];
    let first = line.split_whitespace().next().unwrap_or_default();
    let background = line.ends_with('&');
    let block = first.ends_with(')') || line.ends_with('{');
    let assignment = first.contains('=') && line.split_whitespace().count() == 1;
    !(line.is_empty() || background || block || assignment || NOT_COMMANDS.contains(&first))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command the script at `/e.sh` (text `script`) hands over to when given `args`,
    /// with `env` in the image and `files` in it.
    fn handed(script: &str, args: &[&str], env: &[&str], files: &[&str]) -> Option<String> {
        let mut all = vec![("e.sh", script)];
        all.extend(files.iter().map(|f| (*f, "")));
        let vfs = Vfs::from_files(&all);
        let config = ImageConfig {
            env: env.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        shell_script_exec(&vfs, &config, "/e.sh", &["/bin/sh".into()], &args, "/app")
            .map(|e| e.words.join(" "))
    }

    const DISPATCH: &str = "#!/bin/sh\nset -e\nif [ \"$1\" = \"web\" ]; then\n  exec gunicorn app:app\nelif [ \"$1\" = worker ]; then\n  exec celery -A app worker\nfi\nexec \"$@\"\n";

    #[test]
    fn if_branches_are_decided_by_the_arguments() {
        assert_eq!(
            handed(DISPATCH, &["web"], &[], &[]).as_deref(),
            Some("gunicorn app:app")
        );
        assert_eq!(
            handed(DISPATCH, &["worker"], &[], &[]).as_deref(),
            Some("celery -A app worker")
        );
        assert_eq!(
            handed(DISPATCH, &["python", "x.py"], &[], &[]).as_deref(),
            Some("python x.py")
        );
    }

    #[test]
    fn case_arms_functions_and_set() {
        let case = "#!/bin/sh\nstart() {\n  exec never-run\n}\ncase \"$ROLE\" in\n  web|http) exec uvicorn main:app ;;\n  worker)\n    exec celery -A main worker\n    ;;\n  *) exec python main.py ;;\nesac\n";
        assert_eq!(
            handed(case, &[], &["ROLE=worker"], &[]).as_deref(),
            Some("celery -A main worker")
        );
        assert_eq!(
            handed(case, &[], &["ROLE=http"], &[]).as_deref(),
            Some("uvicorn main:app")
        );
        assert_eq!(
            handed(case, &[], &[], &[]).as_deref(),
            Some("python main.py")
        );
        // The official images' entrypoint: an option as the first argument means "python".
        let official = "#!/bin/sh\nset -e\nif [ \"${1#-}\" != \"$1\" ]; then\n  set -- python \"$@\"\nfi\nexec \"$@\"\n";
        assert_eq!(
            handed(official, &["-m", "app"], &[], &[]).as_deref(),
            Some("python -m app")
        );
        assert_eq!(
            handed(official, &["gunicorn", "a:b"], &[], &[]).as_deref(),
            Some("gunicorn a:b")
        );
        let shifted = "#!/bin/sh\nif [ $# -gt 1 ]; then shift; fi\nexec \"$@\"\n";
        assert_eq!(
            handed(shifted, &["x", "python", "y.py"], &[], &[]).as_deref(),
            Some("python y.py")
        );
    }

    #[test]
    fn guards_on_the_arguments() {
        let guard = |script: &str, args: &[&str]| {
            let vfs = Vfs::from_files(&[("e.sh", script)]);
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            shell_guard_exit(&vfs, "/e.sh", &args)
        };
        let count = "#!/bin/sh\nif [ $# -ne 1 ]; then\n  echo \"one argument\" 1>&2\n  exit 142\nfi\nexec python \"$1\"\n";
        assert_eq!(guard(count, &["a.py"]), None);
        assert_eq!(guard(count, &[]), Some((142, "one argument".to_string())));
        let empty = "#!/bin/sh\nif [ -z \"$1\" ]; then echo usage; exit 2; fi\nexec \"$@\"\n";
        assert_eq!(guard(empty, &[]), Some((2, "usage".to_string())));
        assert_eq!(guard(empty, &["python"]), None);
        // A variable may be given when the container runs; a guard after the exec never runs.
        let env = "#!/bin/sh\nif [ -z \"$DATABASE_URL\" ]; then exit 1; fi\nexec \"$@\"\n";
        assert_eq!(guard(env, &[]), None);
        let late = "#!/bin/sh\nexec \"$@\"\nif [ $# -eq 0 ]; then exit 1; fi\n";
        assert_eq!(guard(late, &[]), None);
    }

    #[test]
    fn tests_on_files_and_chains() {
        let files = "#!/bin/sh\nif [ -f /app/manage.py ]; then\n  exec gunicorn proj.wsgi\nfi\n[ -d /app/api ] && exec uvicorn api.main:app\nexec python main.py\n";
        assert_eq!(
            handed(files, &[], &[], &["app/manage.py"]).as_deref(),
            Some("gunicorn proj.wsgi")
        );
        assert_eq!(
            handed(files, &[], &[], &["app/api/main.py"]).as_deref(),
            Some("uvicorn api.main:app")
        );
        assert_eq!(
            handed(files, &[], &[], &[]).as_deref(),
            Some("python main.py")
        );
        // A here-document is input, not commands; a default names other variables.
        let heredoc = "#!/bin/bash\npython << END\nimport sys\nif True:\n    exec('x')\nEND\nMODULE=${MODULE:-$NAME:app}\nexec gunicorn \"$MODULE\"\n";
        assert_eq!(
            handed(heredoc, &[], &["NAME=main"], &[]).as_deref(),
            Some("gunicorn main:app")
        );
        // `;` inside quotes is not a separator.
        let quoted = "#!/bin/sh\ncd /srv && exec python -c \"import a; import b\"\n";
        assert_eq!(
            handed(quoted, &[], &[], &[]).as_deref(),
            Some("python -c import a; import b")
        );
        // A test that cannot be told (a command's status): the last exec, as before.
        let unknown =
            "#!/bin/sh\nif python -c 'import x'; then\n  exec python a.py\nfi\nexec python b.py\n";
        assert_eq!(
            handed(unknown, &[], &[], &[]).as_deref(),
            Some("python b.py")
        );
    }
}
