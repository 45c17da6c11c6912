//! `RUN` commands whose effect on the filesystem follows from their words alone, applied to the
//! predicted stage as GNU coreutils and dash would apply them: `ln`, `mkdir`, `cp`, `mv`, `rm`,
//! `chmod`, `chown`, `touch`, `echo`/`printf`/`cat` redirected into a file, `unzip` and
//! `tar -x` of archives already in the stage.
//!
//! A command is applied only when its outcome is certain: known options only, globs that match
//! in the predicted filesystem, sources that exist. Anything else is [`Op::Unsure`] with the
//! paths the command may write, so the report can call the imports that depend on them
//! uncertain instead of wrong.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use importgate_image::{ElfSummary, FileData, Keep, Meta, NewNode, NodeId, NodeKind};
use importgate_python::runtime::abspath;

use crate::shell::{REDIRECT_APPEND, REDIRECT_IN, REDIRECT_OUT};
use crate::stage::{Predictor, State};

/// The umask of a `RUN` step (the builder's default).
const UMASK: u32 = 0o022;

/// What became of one command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Not a file operation: the caller decides.
    NotFiles,
    /// Applied to the stage.
    Done,
    /// A file operation whose outcome is not certain: not applied; these paths may change.
    Unsure(Vec<String>),
}

/// The commands [`Predictor::file_op`] models.
pub(crate) fn is_file_command(word: &str) -> bool {
    matches!(
        base_name(word),
        "ln" | "mkdir"
            | "cp"
            | "mv"
            | "rm"
            | "chmod"
            | "chown"
            | "chgrp"
            | "touch"
            | "unzip"
            | "tar"
            | "echo"
            | "printf"
            | "cat"
    )
}

/// A redirection of a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub append: bool,
    pub target: String,
}

/// Splits the redirection markers of [`crate::shell`] off a command's words: the words, and the
/// files its output is written to (input redirections and duplicated descriptors are dropped).
pub(crate) fn split_redirects(words: &[String]) -> (Vec<String>, Vec<Redirect>) {
    let mut out = Vec::new();
    let mut redirects = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if w == REDIRECT_OUT || w == REDIRECT_APPEND {
            if let Some(t) = words.get(i + 1) {
                redirects.push(Redirect {
                    append: w == REDIRECT_APPEND,
                    target: t.clone(),
                });
            }
            i += 2;
        } else if w == REDIRECT_IN {
            i += 2;
        } else {
            out.push(words[i].clone());
            i += 1;
        }
    }
    (out, redirects)
}

/// Parsed options of one command: short flags, option values, operands.
#[derive(Default, Debug)]
struct Opts {
    flags: BTreeSet<char>,
    values: Vec<(char, String)>,
    operands: Vec<String>,
}

impl Opts {
    fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    fn value(&self, c: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses GNU-style options: `known` short flags, `valued` short options taking a value, and
/// long options mapped to a short letter. An option outside these makes the outcome unknown.
fn parse_opts(args: &[String], known: &str, valued: &str, long: &[(&str, char)]) -> Option<Opts> {
    let mut o = Opts::default();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_operands || a == "-" || !a.starts_with('-') {
            o.operands.push(a.clone());
            continue;
        }
        if a == "--" {
            only_operands = true;
            continue;
        }
        if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let &(_, c) = long.iter().find(|(n, _)| *n == name)?;
            if valued.contains(c) {
                let v = match value {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i - 1)?.clone()
                    }
                };
                o.values.push((c, v));
            } else {
                o.flags.insert(c);
            }
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        for (j, &c) in chars.iter().enumerate() {
            if valued.contains(c) {
                let rest: String = chars[j + 1..].iter().collect();
                let v = if rest.is_empty() {
                    i += 1;
                    args.get(i - 1)?.clone()
                } else {
                    rest
                };
                o.values.push((c, v));
                break;
            }
            if !known.contains(c) {
                return None;
            }
            o.flags.insert(c);
        }
    }
    Some(o)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// A chmod mode (octal or symbolic, comma-separated clauses) applied to `old`.
pub(crate) fn apply_mode(spec: &str, old: u32, is_dir: bool) -> Option<u32> {
    if !spec.is_empty() && spec.chars().all(|c| c.is_digit(8)) {
        let m = u32::from_str_radix(spec, 8).ok()?;
        if m > 0o7777 {
            return None;
        }
        // GNU chmod keeps a directory's set-id bits unless the mode names them (5 digits).
        let keep = if is_dir && spec.len() < 5 {
            old & 0o6000
        } else {
            0
        };
        return Some(m | keep);
    }
    let mut mode = old & 0o7777;
    for clause in spec.split(',') {
        let chars: Vec<char> = clause.chars().collect();
        let mut i = 0;
        let mut who = 0u32;
        while i < chars.len() && "ugoa".contains(chars[i]) {
            who |= match chars[i] {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        let implicit = who == 0;
        if implicit {
            who = 0o7777;
        }
        if i >= chars.len() {
            return None;
        }
        while i < chars.len() {
            let op = chars[i];
            if !"+-=".contains(op) {
                return None;
            }
            i += 1;
            let mut perm = 0u32;
            while i < chars.len() && !"+-=".contains(chars[i]) {
                perm |= match chars[i] {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || mode & 0o111 != 0 => 0o111,
                    'X' => 0,
                    's' => 0o6000,
                    't' => 0o1000,
                    'u' => {
                        let u = (mode >> 6) & 7;
                        u | (u << 3) | (u << 6)
                    }
                    'g' => {
                        let g = (mode >> 3) & 7;
                        g | (g << 3) | (g << 6)
                    }
                    'o' => {
                        let o = mode & 7;
                        o | (o << 3) | (o << 6)
                    }
                    _ => return None,
                };
                i += 1;
            }
            let mut bits = perm & who;
            if implicit {
                // Without a `who`, the umask's bits are left alone.
                bits &= !UMASK;
            }
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => {
                    let clear = if implicit { who & !UMASK } else { who };
                    // `=` leaves a directory's set-id bits unless named.
                    let clear = if is_dir { clear & !0o6000 } else { clear };
                    mode = (mode & !clear) | bits;
                }
            }
        }
    }
    Some(mode)
}

/// dash's `echo`: `-n` only, backslash escapes always interpreted.
fn dash_echo(args: &[String]) -> Vec<u8> {
    let (newline, args) = match args.first() {
        Some(a) if a == "-n" => (false, &args[1..]),
        _ => (true, args),
    };
    let text = args.join(" ");
    let (mut out, stopped) = unescape(&text, true);
    if newline && !stopped {
        out.push(b'\n');
    }
    out
}

/// Backslash escapes as dash's `echo` and `printf %b` read them. The bool says `\c` stopped
/// the output.
fn unescape(text: &str, octal_zero: bool) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' || i >= chars.len() {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars[i];
        i += 1;
        match e {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            'c' => return (out, true),
            d if d.is_digit(8) && (!octal_zero || d == '0') => {
                let mut v = if octal_zero {
                    0
                } else {
                    d.to_digit(8).unwrap_or(0)
                };
                let mut n = 0;
                while n < 3 && i < chars.len() && chars[i].is_digit(8) {
                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    (out, false)
}

/// `printf FORMAT ARGS...` with `%s`, `%b`, `%d` and `%%`; the format is reused while arguments
/// remain. `None` for other conversions.
fn printf(args: &[String]) -> Option<Vec<u8>> {
    let format = args.first()?;
    let mut rest = args[1..].iter();
    let mut out = Vec::new();
    loop {
        let mut consumed = false;
        let chars: Vec<char> = format.chars().collect();
        let mut i = 0;
        let mut literal = String::new();
        while i < chars.len() {
            if chars[i] != '%' {
                literal.push(chars[i]);
                i += 1;
                continue;
            }
            out.extend(unescape(&std::mem::take(&mut literal), false).0);
            let conv = *chars.get(i + 1)?;
            i += 2;
            match conv {
                '%' => out.push(b'%'),
                's' | 'b' | 'd' => {
                    let arg = rest.next().map(|s| s.as_str());
                    consumed |= arg.is_some();
                    let arg = arg.unwrap_or("");
                    match conv {
                        's' => out.extend_from_slice(arg.as_bytes()),
                        'b' => out.extend(unescape(arg, true).0),
                        _ => {
                            let n: i64 = if arg.is_empty() { 0 } else { arg.parse().ok()? };
                            out.extend_from_slice(n.to_string().as_bytes());
                        }
                    }
                }
                _ => return None,
            }
        }
        out.extend(unescape(&literal, false).0);
        if !consumed || rest.len() == 0 {
            break;
        }
    }
    Some(out)
}

/// A node to copy, read before the stage changes.
struct Copied {
    rel: String,
    node: NewNode,
    meta: Meta,
    src: String,
}

impl Predictor<'_> {
    /// Applies `words` (expanded, redirections split off) when they are a file operation whose
    /// outcome is certain.
    pub(crate) fn file_op(
        &mut self,
        state: &mut State,
        words: &[String],
        redirects: &[Redirect],
    ) -> Op {
        let Some(first) = words.first() else {
            return Op::NotFiles;
        };
        let cmd = base_name(first).to_string();
        let args = &words[1..];
        let cwd = state.workdir();
        let written: Vec<String> = redirects
            .iter()
            .filter(|r| r.target != "/dev/null")
            .map(|r| abspath(&cwd, &r.target))
            .collect();
        let produces_output = matches!(cmd.as_str(), "echo" | "printf" | "cat");
        if produces_output && !redirects.is_empty() {
            return self.write_output(state, &cmd, args, redirects);
        }
        let result = match cmd.as_str() {
            "ln" => self.ln(state, args),
            "mkdir" => self.mkdir(state, args),
            "cp" => self.cp(state, args, false),
            "mv" => self.cp(state, args, true),
            "rm" => self.rm(state, args),
            "chmod" => self.chmod(state, args),
            "chown" | "chgrp" => self.chown(state, args, cmd == "chgrp"),
            "touch" => self.touch(state, args),
            "unzip" => self.unzip(state, args),
            "tar" => self.untar(state, args),
            _ => return Op::NotFiles,
        };
        match result {
            Ok(()) if written.is_empty() => Op::Done,
            // The command's own output lands in a file whose contents are unknown.
            Ok(()) => Op::Unsure(written),
            Err(()) => {
                let mut paths = self.path_words(&cwd, args);
                paths.extend(written);
                Op::Unsure(paths)
            }
        }
    }

    /// The words of a command that may name a file it writes, as absolute paths.
    pub(crate) fn path_words(&self, cwd: &str, args: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for a in args {
            for token in a.split_whitespace() {
                let token = match token.split_once('=') {
                    Some((k, v)) if k.starts_with('-') => v,
                    _ => token,
                };
                if token.starts_with('-') || token.contains("://") || token.is_empty() {
                    continue;
                }
                let token = token.trim_matches(|c| c == '"' || c == '\'' || c == ';');
                if token.contains('/') || token.starts_with('.') {
                    // A glob names its fixed directory part.
                    let fixed = match token.find(['*', '?', '[', '$', '`']) {
                        Some(i) => match token[..i].rsplit_once('/') {
                            Some((d, _)) if !d.is_empty() => d,
                            Some(_) => "/",
                            None => ".",
                        },
                        None => token,
                    };
                    out.push(abspath(cwd, fixed));
                }
            }
        }
        out
    }

    /// The owner of what a `RUN` step creates: its `USER`.
    fn runner(&self, state: &State) -> (u32, u32) {
        let user = state.config.user.clone();
        if user.is_empty() {
            return (0, 0);
        }
        self.owner(state, Some(&user))
    }

    fn new_meta(&self, state: &State, mode: u32) -> Meta {
        let (uid, gid) = self.runner(state);
        Meta {
            mode,
            uid,
            gid,
            layer: state.layer,
        }
    }

    /// A file with these bytes at `path`, kept as the image loader would keep it there.
    pub(crate) fn data_node(&self, state: &State, path: &str, bytes: &[u8]) -> NewNode {
        let size = bytes.len() as u64;
        let keep = self.opts.capture.keep(path, size);
        let (content, elf) = kept(keep, state.modelled, || Some(bytes));
        NewNode::File(FileData { size, content, elf })
    }

    /// Operands expanded like the shell expands globs against the predicted filesystem;
    /// `Err` for a glob that matches nothing (the shell would pass it as written).
    fn expand_globs(&self, state: &State, cwd: &str, words: &[String]) -> Result<Vec<String>, ()> {
        let mut out = Vec::new();
        for w in words {
            if !has_glob(w) {
                out.push(abspath(cwd, w));
                continue;
            }
            let abs = abspath(cwd, w);
            let mut found = vec!["/".to_string()];
            for part in abs.split('/').filter(|p| !p.is_empty()) {
                let mut next = Vec::new();
                for dir in &found {
                    if has_glob(part) {
                        let mut names: Vec<&str> = state.fs.read_dir(dir).unwrap_or_default();
                        names.sort_unstable();
                        for n in names {
                            if (n.starts_with('.') && !part.starts_with('.'))
                                || !crate::stage::path_matches(part, n)
                            {
                                continue;
                            }
                            next.push(join(dir, n));
                        }
                    } else {
                        let p = join(dir, part);
                        if state.fs.lookup(&p, false).is_some() {
                            next.push(p);
                        }
                    }
                }
                found = next;
            }
            if found.is_empty() {
                return Err(());
            }
            out.extend(found);
        }
        Ok(out)
    }

    fn ln(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        let o = parse_opts(
            args,
            "sfnvT",
            "t",
            &[
                ("symbolic", 's'),
                ("force", 'f'),
                ("no-dereference", 'n'),
                ("verbose", 'v'),
                ("no-target-directory", 'T'),
                ("target-directory", 't'),
            ],
        )
        .ok_or(())?;
        let cwd = state.workdir();
        let (targets, dir): (Vec<String>, Option<String>) = match (o.value('t'), &o.operands[..]) {
            (Some(d), ops) if !ops.is_empty() => (ops.to_vec(), Some(abspath(&cwd, d))),
            (None, [t]) => (vec![t.clone()], Some(cwd.clone())),
            (None, [t, link]) => {
                let link_abs = abspath(&cwd, link);
                let into = !o.has('T')
                    && if o.has('n') {
                        state
                            .fs
                            .lookup(&link_abs, false)
                            .is_some_and(|id| matches!(state.fs.kind(id), NodeKind::Dir(_)))
                    } else {
                        state.fs.is_dir(&link_abs)
                    };
                if into {
                    (vec![t.clone()], Some(link_abs))
                } else {
                    return self.link_one(state, t, &link_abs, &o);
                }
            }
            (None, [ts @ .., d]) if !ts.is_empty() => (ts.to_vec(), Some(abspath(&cwd, d))),
            _ => return Err(()),
        };
        let dir = dir.ok_or(())?;
        if !state.fs.is_dir(&dir) {
            return Err(());
        }
        for t in &targets {
            if has_glob(t) {
                return Err(());
            }
            let link = join(&dir, base_name(t));
            self.link_one(state, t, &link, &o)?;
        }
        Ok(())
    }

    fn link_one(
        &mut self,
        state: &mut State,
        target: &str,
        link: &str,
        o: &Opts,
    ) -> Result<(), ()> {
        if state.fs.lookup(link, false).is_some() {
            if !o.has('f') {
                return Err(());
            }
            if state
                .fs
                .lookup(link, false)
                .is_some_and(|id| matches!(state.fs.kind(id), NodeKind::Dir(_)))
            {
                return Err(());
            }
            state.fs.remove(link).map_err(|_| ())?;
        }
        if o.has('s') {
            let meta = self.new_meta(state, 0o777);
            state
                .fs
                .insert(link, NewNode::Symlink(target.to_string()), meta)
                .map_err(|_| ())?;
        } else {
            let cwd = state.workdir();
            let abs = abspath(&cwd, target);
            // A hard link to a directory is refused.
            if state.fs.is_dir(&abs) {
                return Err(());
            }
            if !state.fs.hardlink(link, &abs, state.layer).map_err(|_| ())? {
                return Err(());
            }
        }
        Ok(())
    }

    fn mkdir(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        let o = parse_opts(
            args,
            "pv",
            "m",
            &[("parents", 'p'), ("verbose", 'v'), ("mode", 'm')],
        )
        .ok_or(())?;
        let cwd = state.workdir();
        if o.operands.is_empty() {
            return Err(());
        }
        for d in &o.operands {
            let path = abspath(&cwd, d);
            if state.fs.lookup(&path, true).is_some() {
                if o.has('p') && state.fs.is_dir(&path) {
                    continue;
                }
                return Err(());
            }
            let parent = abspath(&path, "..");
            if !state.fs.is_dir(&parent) {
                if !o.has('p') {
                    return Err(());
                }
                // Missing parents are made with the default mode.
                let mut missing = Vec::new();
                let mut p = parent.clone();
                while state.fs.lookup(&p, true).is_none() {
                    missing.push(p.clone());
                    p = abspath(&p, "..");
                }
                if !state.fs.is_dir(&p) {
                    return Err(());
                }
                for m in missing.iter().rev() {
                    let meta = self.new_meta(state, 0o755);
                    state.fs.insert(m, NewNode::Dir, meta).map_err(|_| ())?;
                }
            }
            let mode = match o.value('m') {
                Some(spec) => apply_mode(spec, 0o777 & !UMASK, true).ok_or(())?,
                None => 0o755,
            };
            let meta = self.new_meta(state, mode);
            state.fs.insert(&path, NewNode::Dir, meta).map_err(|_| ())?;
        }
        Ok(())
    }

    /// The subtree at `id` as nodes to write below a new root, dirs before their contents.
    fn read_tree(&self, state: &State, id: NodeId, src: &str, out: &mut Vec<Copied>, rel: &str) {
        let kind = state.fs.kind(id);
        let node = match kind {
            NodeKind::Dir(_) => NewNode::Dir,
            NodeKind::File(d) => NewNode::File(d.clone()),
            NodeKind::Symlink(t) => NewNode::Symlink(t.to_string()),
            NodeKind::Other => NewNode::Other,
        };
        out.push(Copied {
            rel: rel.to_string(),
            node,
            meta: state.fs.meta(id),
            src: src.to_string(),
        });
        if matches!(kind, NodeKind::Dir(_)) {
            let children: Vec<(String, NodeId)> = state
                .fs
                .children(id)
                .map(|(n, c)| (n.to_string(), c))
                .collect();
            for (name, child) in children {
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                self.read_tree(state, child, &join(src, &name), out, &child_rel);
            }
        }
    }

    /// `cp` (and `mv`, which keeps modes and owners and removes the source).
    fn cp(&mut self, state: &mut State, args: &[String], mv: bool) -> Result<(), ()> {
        let o = if mv {
            parse_opts(
                args,
                "fvnT",
                "t",
                &[
                    ("force", 'f'),
                    ("verbose", 'v'),
                    ("no-clobber", 'n'),
                    ("no-target-directory", 'T'),
                    ("target-directory", 't'),
                ],
            )
        } else {
            parse_opts(
                args,
                "rRapfvdPLHnT",
                "t",
                &[
                    ("recursive", 'r'),
                    ("archive", 'a'),
                    ("force", 'f'),
                    ("verbose", 'v'),
                    ("no-dereference", 'P'),
                    ("dereference", 'L'),
                    ("no-clobber", 'n'),
                    ("no-target-directory", 'T'),
                    ("target-directory", 't'),
                ],
            )
        }
        .ok_or(())?;
        let cwd = state.workdir();
        let recursive = mv || o.has('r') || o.has('R') || o.has('a');
        let archive = mv || o.has('a');
        let preserve = archive || o.has('p');
        // With -R, symlinks are copied as links unless -L/-H; without, they are followed.
        let follow_top = !mv && (!recursive || o.has('L') || o.has('H'));
        let (sources, dest) = match o.value('t') {
            Some(d) => (o.operands.clone(), abspath(&cwd, d)),
            None => {
                let (d, s) = o.operands.split_last().ok_or(())?;
                (s.to_vec(), abspath(&cwd, d))
            }
        };
        if sources.is_empty() {
            return Err(());
        }
        // `DIR/.` names the directory's contents: they go into DEST itself.
        let contents_of: Vec<bool> = sources
            .iter()
            .map(|s| s == "." || s.ends_with("/."))
            .collect();
        let sources = self.expand_globs(state, &cwd, &sources)?;
        if (mv || sources.len() != contents_of.len()) && contents_of.iter().any(|c| *c) {
            return Err(());
        }
        let into = !o.has('T') && (o.value('t').is_some() || state.fs.is_dir(&dest));
        if sources.len() > 1 && !into {
            return Err(());
        }
        for (i, src) in sources.into_iter().enumerate() {
            let id = state.fs.lookup(&src, follow_top).ok_or(())?;
            let is_dir = matches!(state.fs.kind(id), NodeKind::Dir(_));
            if is_dir && !recursive {
                return Err(());
            }
            let target = if into && !contents_of.get(i).copied().unwrap_or(false) {
                join(&dest, base_name(&src))
            } else {
                dest.clone()
            };
            if target == src || target.starts_with(&format!("{}/", src.trim_end_matches('/'))) {
                return Err(());
            }
            if o.has('n') && state.fs.lookup(&target, false).is_some() {
                continue;
            }
            let mut nodes = Vec::new();
            self.read_tree(state, id, &src, &mut nodes, "");
            if !is_dir {
                // An existing file (or a link to one) is overwritten in place.
                if let Some(tid) = state.fs.lookup(&target, true)
                    && matches!(state.fs.kind(tid), NodeKind::Dir(_))
                {
                    return Err(());
                }
            } else if state
                .fs
                .lookup(&target, true)
                .is_some_and(|tid| !matches!(state.fs.kind(tid), NodeKind::Dir(_)))
            {
                return Err(());
            }
            let runner = self.runner(state);
            for c in nodes {
                let path = if c.rel.is_empty() {
                    target.clone()
                } else {
                    join(&target, &c.rel)
                };
                let mut meta = c.meta;
                meta.layer = state.layer;
                if !preserve {
                    meta.uid = runner.0;
                    meta.gid = runner.1;
                    meta.mode &= !UMASK;
                } else if !archive && !mv {
                    meta.uid = runner.0;
                    meta.gid = runner.1;
                }
                let node = match c.node {
                    NewNode::File(data) => self.recapture(state, &c.src, &path, data),
                    other => other,
                };
                if let Some(origin) = state.origins.get(&c.src).cloned() {
                    state.origins.insert(path.clone(), origin);
                }
                let write_path = if c.rel.is_empty() && !is_dir {
                    // cp writes through a link at the destination.
                    state.fs.realpath(&path).unwrap_or(path)
                } else {
                    path
                };
                state.fs.insert(&write_path, node, meta).map_err(|_| ())?;
            }
            if mv {
                state.fs.remove(&src).map_err(|_| ())?;
            }
        }
        Ok(())
    }

    /// A copied file's data as the capture policy keeps it at its new path.
    fn recapture(&self, state: &State, src: &str, dest: &str, data: FileData) -> NewNode {
        let keep = self.opts.capture.keep(dest, data.size);
        let have = data.content.is_some();
        match keep {
            Keep::Contents if !have => match self.read_image_file(state, src) {
                Some(bytes) => self.data_node(state, dest, &bytes),
                None => NewNode::File(data),
            },
            Keep::Contents => NewNode::File(data),
            Keep::Nothing => NewNode::File(FileData {
                size: data.size,
                content: None,
                elf: data.elf,
            }),
            Keep::ElfSummary | Keep::ElfExports => NewNode::File(FileData {
                size: data.size,
                content: None,
                elf: data.elf,
            }),
        }
    }

    fn rm(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        let o = parse_opts(
            args,
            "rRfvd",
            "",
            &[
                ("recursive", 'r'),
                ("force", 'f'),
                ("verbose", 'v'),
                ("dir", 'd'),
            ],
        )
        .ok_or(())?;
        let cwd = state.workdir();
        let mut paths = Vec::new();
        for w in &o.operands {
            match self.expand_globs(state, &cwd, std::slice::from_ref(w)) {
                Ok(p) => paths.extend(p),
                // `rm -f` of a glob that matches nothing removes nothing.
                Err(()) if o.has('f') => {}
                Err(()) => return Err(()),
            }
        }
        for p in paths {
            if p == "/" {
                return Err(());
            }
            match state.fs.lookup(&p, false) {
                None if o.has('f') => {}
                None => return Err(()),
                Some(id) => {
                    if let NodeKind::Dir(children) = state.fs.kind(id)
                        && !(o.has('r') || o.has('R') || (o.has('d') && children.is_empty()))
                    {
                        return Err(());
                    }
                    state.fs.remove(&p).map_err(|_| ())?;
                }
            }
        }
        Ok(())
    }

    /// Every node below `id` (not through symlinks), `id` included.
    fn subtree(&self, state: &State, id: NodeId, out: &mut Vec<NodeId>) {
        out.push(id);
        if matches!(state.fs.kind(id), NodeKind::Dir(_)) {
            let children: Vec<NodeId> = state.fs.children(id).map(|(_, c)| c).collect();
            for c in children {
                self.subtree(state, c, out);
            }
        }
    }

    /// The nodes a `chmod`/`chown` operand names: the path (followed when it is a link) and,
    /// with `-R`, everything below it; links inside are left alone (chmod) or changed
    /// themselves (chown -R changes a link, not its target).
    fn targets(
        &self,
        state: &State,
        operands: &[String],
        recursive: bool,
    ) -> Result<Vec<NodeId>, ()> {
        let cwd = state.workdir();
        let paths = self.expand_globs(state, &cwd, operands)?;
        if paths.is_empty() {
            return Err(());
        }
        let mut out = Vec::new();
        for p in paths {
            let id = state.fs.lookup(&p, true).ok_or(())?;
            if recursive {
                self.subtree(state, id, &mut out);
            } else {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn chmod(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        // A symbolic mode starting with `-` (`chmod -x f`) is the mode, not an option.
        let mut rest: Vec<String> = Vec::new();
        let mut mode: Option<String> = None;
        let mut recursive = false;
        for a in args {
            if mode.is_none() {
                match a.as_str() {
                    "-R" | "--recursive" => {
                        recursive = true;
                        continue;
                    }
                    "-v" | "-f" | "-c" | "--verbose" | "--silent" | "--quiet" | "--changes" => {
                        continue;
                    }
                    s if s.starts_with("--") => return Err(()),
                    _ => {
                        mode = Some(a.clone());
                        continue;
                    }
                }
            }
            rest.push(a.clone());
        }
        let mode = mode.ok_or(())?;
        for id in self.targets(state, &rest, recursive)? {
            if matches!(state.fs.kind(id), NodeKind::Symlink(_)) {
                continue;
            }
            let is_dir = matches!(state.fs.kind(id), NodeKind::Dir(_));
            let mut meta = state.fs.meta(id);
            meta.mode = apply_mode(&mode, meta.mode, is_dir).ok_or(())?;
            state.fs.set_meta(id, meta);
        }
        Ok(())
    }

    fn chown(&mut self, state: &mut State, args: &[String], chgrp: bool) -> Result<(), ()> {
        let o = parse_opts(
            args,
            "Rvfch",
            "",
            &[
                ("recursive", 'R'),
                ("verbose", 'v'),
                ("no-dereference", 'h'),
            ],
        )
        .ok_or(())?;
        let (spec, operands) = o.operands.split_first().ok_or(())?;
        let spec = if chgrp {
            format!(":{spec}")
        } else {
            spec.clone()
        };
        let (user, group) = match spec.split_once(':').or_else(|| spec.split_once('.')) {
            Some((u, g)) => (u.to_string(), Some(g.to_string())),
            None => (spec.clone(), None),
        };
        let uid = if user.is_empty() {
            None
        } else {
            Some(self.lookup_id(state, "/etc/passwd", &user)?)
        };
        let gid = match &group {
            Some(g) if g.is_empty() => match &user {
                // `user:` is the user's login group.
                u if !u.is_empty() => Some(self.owner(state, Some(u)).1),
                _ => None,
            },
            Some(g) => Some(self.lookup_id(state, "/etc/group", g)?),
            None => None,
        };
        for id in self.targets(state, operands, o.has('R'))? {
            let mut meta = state.fs.meta(id);
            if let Some(u) = uid {
                meta.uid = u;
            }
            if let Some(g) = gid {
                meta.gid = g;
            }
            state.fs.set_meta(id, meta);
        }
        Ok(())
    }

    /// A user or group name (or number) as its id, from the stage's account files.
    fn lookup_id(&self, state: &State, file: &str, name: &str) -> Result<u32, ()> {
        if let Ok(n) = name.parse() {
            return Ok(n);
        }
        let text = state.fs.read_to_string(file).ok_or(())?;
        text.lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name)).then(|| f.get(2).and_then(|v| v.parse().ok()))?
            })
            .ok_or(())
    }

    fn touch(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        let o = parse_opts(args, "cam", "", &[("no-create", 'c')]).ok_or(())?;
        let cwd = state.workdir();
        for f in &o.operands {
            let path = abspath(&cwd, f);
            if state.fs.lookup(&path, true).is_some() || o.has('c') {
                continue;
            }
            if !state.fs.is_dir(&abspath(&path, "..")) {
                return Err(());
            }
            let node = self.data_node(state, &path, b"");
            let meta = self.new_meta(state, 0o644);
            let write = state.fs.realpath(&abspath(&path, "..")).ok_or(())?;
            state
                .fs
                .insert(&join(&write, base_name(&path)), node, meta)
                .map_err(|_| ())?;
        }
        Ok(())
    }

    /// `echo`/`printf`/`cat` with their output redirected into files.
    fn write_output(
        &mut self,
        state: &mut State,
        cmd: &str,
        args: &[String],
        redirects: &[Redirect],
    ) -> Op {
        let cwd = state.workdir();
        let targets: Vec<String> = redirects.iter().map(|r| abspath(&cwd, &r.target)).collect();
        let bytes = match cmd {
            "echo" => Some(dash_echo(args)),
            "printf" => printf(args),
            _ => {
                let mut all = Vec::new();
                let mut ok = !args.is_empty();
                for a in args {
                    if a.starts_with('-') || has_glob(a) {
                        ok = false;
                        break;
                    }
                    match self.read_image_file(state, &abspath(&cwd, a)) {
                        Some(b) => all.extend(b),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                ok.then_some(all)
            }
        };
        let Some(bytes) = bytes else {
            return Op::Unsure(targets);
        };
        // Every redirection opens its file; only the last one gets the output.
        for (i, r) in redirects.iter().enumerate() {
            let path = abspath(&cwd, &r.target);
            if path == "/dev/null" {
                continue;
            }
            let last = i + 1 == redirects.len();
            let existing = state.fs.lookup(&path, true);
            if existing.is_some_and(|id| !matches!(state.fs.kind(id), NodeKind::File(_))) {
                return Op::Unsure(targets);
            }
            let real = match state.fs.realpath(&path) {
                Some(p) => p,
                None => match state.fs.realpath(&abspath(&path, "..")) {
                    Some(d) if state.fs.is_dir(&d) => join(&d, base_name(&path)),
                    _ => return Op::Unsure(targets),
                },
            };
            let mut data = Vec::new();
            if r.append && existing.is_some() {
                match self.read_image_file(state, &real) {
                    Some(old) => data = old,
                    None => return Op::Unsure(targets),
                }
            }
            if last {
                data.extend_from_slice(&bytes);
            } else if !r.append && existing.is_some() {
                data.clear();
            }
            let meta = match existing {
                Some(id) => Meta {
                    layer: state.layer,
                    ..state.fs.meta(id)
                },
                None => self.new_meta(state, 0o644),
            };
            let node = self.data_node(state, &real, &data);
            state.origins.remove(&real);
            if state.fs.insert(&real, node, meta).is_err() {
                return Op::Unsure(targets);
            }
        }
        Op::Done
    }

    /// Writes an archive member below `dir`; members that would leave it are refused, as the
    /// tools refuse them.
    fn extract_member(
        &mut self,
        state: &mut State,
        dir: &str,
        name: &str,
        node: Member,
        mode: Option<u32>,
    ) -> Result<(), ()> {
        let clean = abspath("/", name);
        if clean == "/" {
            return Ok(());
        }
        if name.split('/').any(|c| c == "..") {
            return Err(());
        }
        let path = join(dir, clean.trim_start_matches('/'));
        let (new, default_mode) = match node {
            Member::Dir => (NewNode::Dir, 0o755),
            Member::File(bytes) => (self.data_node(state, &path, &bytes), 0o644),
            Member::Symlink(t) => (NewNode::Symlink(t), 0o777),
        };
        if !matches!(new, NewNode::Dir)
            && let Some(id) = state.fs.lookup(&path, false)
        {
            if matches!(state.fs.kind(id), NodeKind::Dir(_)) {
                return Err(());
            }
            state.fs.remove(&path).map_err(|_| ())?;
        }
        state.origins.remove(&path);
        let meta = self.new_meta(state, mode.unwrap_or(default_mode) & 0o7777);
        state.fs.insert(&path, new, meta).map_err(|_| ())?;
        Ok(())
    }

    fn unzip(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        let o = parse_opts(args, "qon", "d", &[]).ok_or(())?;
        let cwd = state.workdir();
        let [archive] = &o.operands[..] else {
            return Err(());
        };
        let dir = abspath(&cwd, o.value('d').unwrap_or("."));
        let bytes = self
            .read_image_file(state, &abspath(&cwd, archive))
            .ok_or(())?;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| ())?;
        let mut members = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).map_err(|_| ())?;
            let name = f.name().map_err(|_| ())?.to_string();
            let mode = f.unix_mode();
            let is_link = mode.is_some_and(|m| m & 0o170000 == 0o120000);
            let member = if f.is_dir() {
                Member::Dir
            } else {
                let mut data = Vec::new();
                f.read_to_end(&mut data).map_err(|_| ())?;
                if is_link {
                    Member::Symlink(String::from_utf8(data).map_err(|_| ())?)
                } else {
                    Member::File(data)
                }
            };
            // Info-ZIP applies the stored permissions less the umask.
            members.push((name, member, mode.map(|m| m & !UMASK)));
        }
        if !state.fs.is_dir(&dir) {
            // unzip makes the last directory of `-d` only.
            if !state.fs.is_dir(&abspath(&dir, "..")) {
                return Err(());
            }
            let meta = self.new_meta(state, 0o755);
            state.fs.insert(&dir, NewNode::Dir, meta).map_err(|_| ())?;
        }
        for (name, member, mode) in members {
            if o.has('n') && state.fs.lookup(&join(&dir, &name), false).is_some() {
                continue;
            }
            self.extract_member(state, &dir, &name, member, mode)?;
        }
        Ok(())
    }

    fn untar(&mut self, state: &mut State, args: &[String]) -> Result<(), ()> {
        // The first word may be old-style bundled flags without a dash (`tar xzf a.tgz`).
        let mut args = args.to_vec();
        if let Some(first) = args.first_mut()
            && !first.starts_with('-')
            && first.chars().all(|c| "xzfvjJop".contains(c))
            && first.contains('x')
        {
            *first = format!("-{first}");
        }
        let o = parse_opts(
            &args,
            "xzjJvop",
            "fC",
            &[
                ("extract", 'x'),
                ("get", 'x'),
                ("gzip", 'z'),
                ("verbose", 'v'),
                ("file", 'f'),
                ("directory", 'C'),
                ("no-same-owner", 'o'),
            ],
        )
        .ok_or(())?;
        if !o.has('x') || o.has('j') || o.has('J') || !o.operands.is_empty() {
            return Err(());
        }
        let cwd = state.workdir();
        let archive = abspath(&cwd, o.value('f').ok_or(())?);
        let dir = abspath(&cwd, o.value('C').unwrap_or("."));
        if !state.fs.is_dir(&dir) {
            return Err(());
        }
        let bytes = self.read_image_file(state, &archive).ok_or(())?;
        let gz = bytes.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> = if gz {
            Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
        } else {
            Box::new(std::io::Cursor::new(bytes))
        };
        let mut tar = tar::Archive::new(reader);
        let mut members = Vec::new();
        for entry in tar.entries().map_err(|_| ())? {
            let mut e = entry.map_err(|_| ())?;
            let name = e.path().map_err(|_| ())?.to_string_lossy().into_owned();
            let mode = e.header().mode().ok();
            let member = match e.header().entry_type() {
                tar::EntryType::Directory => Member::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut data = Vec::new();
                    e.read_to_end(&mut data).map_err(|_| ())?;
                    Member::File(data)
                }
                tar::EntryType::Symlink => Member::Symlink(
                    e.link_name()
                        .map_err(|_| ())?
                        .ok_or(())?
                        .to_string_lossy()
                        .into_owned(),
                ),
                _ => return Err(()),
            };
            // As root, GNU tar keeps the stored mode; as another user, it applies the umask.
            let mode = match (
                mode,
                state.config.user.is_empty() || state.config.user == "root",
            ) {
                (Some(m), true) => Some(m),
                (Some(m), false) => Some(m & !UMASK),
                (None, _) => None,
            };
            members.push((name, member, mode));
        }
        for (name, member, mode) in members {
            self.extract_member(state, &dir, &name, member, mode)?;
        }
        Ok(())
    }
}

enum Member {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// What the image loader keeps of a file's bytes under `keep`: its contents, or its ELF summary
/// (with the `PyInit_*` exports for libpython); none for an ELF of a modelled base. `bytes` is
/// only read when something is kept.
pub(crate) fn kept<B: AsRef<[u8]>>(
    keep: Keep,
    modelled: bool,
    bytes: impl FnOnce() -> Option<B>,
) -> (Option<Arc<[u8]>>, Option<Arc<ElfSummary>>) {
    match keep {
        Keep::Nothing => (None, None),
        Keep::ElfSummary if modelled => (None, None),
        Keep::Contents => (bytes().map(|b| Arc::<[u8]>::from(b.as_ref())), None),
        Keep::ElfExports => (
            None,
            bytes()
                .and_then(|b| ElfSummary::parse_with_exports(b.as_ref()))
                .map(Arc::new),
        ),
        Keep::ElfSummary => (
            None,
            bytes()
                .and_then(|b| ElfSummary::parse(b.as_ref()))
                .map(Arc::new),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_modes_apply_like_gnu_chmod() {
        assert_eq!(apply_mode("755", 0o644, false), Some(0o755));
        assert_eq!(apply_mode("0600", 0o644, false), Some(0o600));
        assert_eq!(apply_mode("u+x", 0o644, false), Some(0o744));
        assert_eq!(apply_mode("+x", 0o644, false), Some(0o755));
        // Without a `who`, the umask (022) protects group and other write bits.
        assert_eq!(apply_mode("+w", 0o444, false), Some(0o644));
        assert_eq!(apply_mode("a+w", 0o444, false), Some(0o666));
        assert_eq!(apply_mode("go-rwx", 0o755, false), Some(0o700));
        assert_eq!(apply_mode("u=rw,go=r", 0o777, false), Some(0o644));
        assert_eq!(apply_mode("a+X", 0o644, true), Some(0o755));
        assert_eq!(apply_mode("a+X", 0o644, false), Some(0o644));
        assert_eq!(apply_mode("g=u", 0o740, false), Some(0o770));
        assert_eq!(apply_mode("u+s", 0o755, false), Some(0o4755));
        assert_eq!(apply_mode("q+x", 0o644, false), None);
        assert_eq!(apply_mode("99", 0o644, false), None);
    }

    #[test]
    fn echo_and_printf_write_what_dash_writes() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dash_echo(&w(&["/opt/lib"])), b"/opt/lib\n");
        assert_eq!(dash_echo(&w(&["-n", "a", "b"])), b"a b");
        // dash knows no `-e`: it is printed, and escapes are read anyway.
        assert_eq!(dash_echo(&w(&["-e", "a\\nb"])), b"-e a\nb\n");
        assert_eq!(printf(&w(&["%s\\n", "a", "b"])), Some(b"a\nb\n".to_vec()));
        assert_eq!(printf(&w(&["x=%d%%", "5"])), Some(b"x=5%".to_vec()));
        assert_eq!(printf(&w(&["%5s", "a"])), None);
    }

    #[test]
    fn options_outside_the_known_set_are_refused() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse_opts(&w(&["-rf", "--", "-x"]), "rf", "", &[]).unwrap();
        assert!(o.has('r') && o.has('f'));
        assert_eq!(o.operands, ["-x"]);
        assert!(parse_opts(&w(&["-Z", "a"]), "rf", "", &[]).is_none());
        let o = parse_opts(&w(&["-d/x", "a.zip"]), "q", "d", &[]).unwrap();
        assert_eq!(o.value('d'), Some("/x"));
        let o = parse_opts(
            &w(&["--target-directory=/t", "a"]),
            "",
            "t",
            &[("target-directory", 't')],
        )
        .unwrap();
        assert_eq!(o.value('t'), Some("/t"));
    }

    #[test]
    fn redirections_are_split_off() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (words, r) =
            split_redirects(&w(&["echo", "x", REDIRECT_APPEND, "f", REDIRECT_IN, "1"]));
        assert_eq!(words, ["echo", "x"]);
        assert_eq!(
            r,
            [Redirect {
                append: true,
                target: "f".to_string()
            }]
        );
    }
}
