//! `.dockerignore` files, matched exactly as Docker matches them.
//!
//! Reading follows `moby/patternmatcher/ignorefile.ReadAll` (v0.6.0, the version Docker CLI 28
//! vendors): a UTF-8 BOM is dropped, a line whose first byte is `#` is a comment (`  # x` is a
//! pattern), lines are trimmed, `!` marks an exception (the text after it is trimmed again), the
//! pattern is cleaned like Go's `filepath.Clean` and one leading `/` is dropped.
//!
//! Matching follows `moby/patternmatcher` (v0.6.0): each pattern becomes an exact, prefix,
//! suffix or regular-expression match (`*` → `[^/]*`, `?` → `[^/]`, `**/` → `(.*/)?`, a
//! trailing `**` → `.*`, `[...]` classes with `^` negation, `\` escapes the next character),
//! a pattern matches a path when it matches the path or one of its parent directories, every
//! pattern is evaluated in order and the last one that matches decides. Three evaluation orders
//! exist in Docker and all three are kept here because they differ on corner cases:
//! [`Matcher::matches_using_parent`] (the context walk, `archive.TarWithOptions`),
//! [`Matcher::matches_or_parent_matches`] (engines ≥ 23 removing the Dockerfile and the ignore
//! file) and [`Matcher::matches_one_parent`] (the Docker CLI's `TrimBuildFilesFromExcludes`,
//! and with [`Flavor::Engine2010`] the 20.10 engine's removal step).

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::ContextError;

/// One `.dockerignore` line that holds a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as Docker uses it: trimmed, without `!`, cleaned like Go's `filepath.Clean`,
    /// one leading `/` dropped.
    pub text: String,
    /// 1-based line number in the ignore file (0 for the exceptions the Docker CLI adds itself
    /// to always send the Dockerfile and `.dockerignore`; those never reach callers as the
    /// reason for an exclusion).
    pub line: usize,
    /// `!pattern`: re-includes what earlier patterns excluded.
    pub exception: bool,
}

/// A parsed ignore file.
#[derive(Debug, Clone)]
pub struct IgnoreFile {
    /// Where it was read from, on disk.
    pub path: PathBuf,
    /// Its patterns, in file order (comments and blank lines dropped).
    pub patterns: Vec<Pattern>,
}

impl IgnoreFile {
    /// Parses ignore-file text as `ignorefile.ReadAll` and `patternmatcher.New` do; a pattern
    /// Docker rejects (`!` alone, an unterminated `[`, a trailing `\`) is an error naming the
    /// line.
    pub fn parse(path: &Path, text: &str) -> Result<IgnoreFile, ContextError> {
        let mut patterns = Vec::new();
        for (line, raw) in read_all(text) {
            match new_pattern(&raw, line) {
                Ok(Some(p)) => patterns.push(p),
                Ok(None) => {}
                Err(reason) => {
                    return Err(ContextError::BadPattern {
                        path: path.to_path_buf(),
                        line,
                        pattern: raw,
                        reason,
                    });
                }
            }
        }
        // Compile once to surface patterns whose regular expression does not compile.
        Matcher::for_file(path, &patterns)?;
        Ok(IgnoreFile {
            path: path.to_path_buf(),
            patterns,
        })
    }

    /// The pattern that excludes `rel` when it is evaluated on its own with its parents
    /// (`MatchesOrParentMatches`, last match wins), `None` when `rel` is kept. This ignores the
    /// context walk's directory pruning; [`crate::BuildContext::excluded_by`] accounts for it.
    pub fn excluded_by(&self, rel: &str) -> Option<&Pattern> {
        let m = Matcher::new(&self.patterns, Flavor::Current).ok()?;
        let (excluded, decider) = m.matches_or_parent_matches(rel);
        if excluded {
            decider.map(|i| &self.patterns[i])
        } else {
            None
        }
    }
}

/// `ignorefile.ReadAll`: the raw pattern lines (with a leading `!` for exceptions) and their
/// 1-based line numbers.
pub(crate) fn read_all(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in split_scanner_lines(text).enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim_matches(go_space).to_string();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim_matches(go_space).to_string();
        }
        if !p.is_empty() {
            p = clean(&p);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        if invert {
            p.insert(0, '!');
        }
        out.push((i + 1, p));
    }
    out
}

/// `bufio.ScanLines`: lines split at `\n`, one trailing `\r` dropped, no empty last line.
fn split_scanner_lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    body.split('\n')
        .filter(move |_| !empty)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// Go's `unicode.IsSpace`, which `strings.TrimSpace` uses.
fn go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// `patternmatcher.New` for one line: trim, clean, split off `!`, check the syntax as
/// `filepath.Match` does. `Ok(None)` for a line that becomes empty.
pub(crate) fn new_pattern(raw: &str, line: usize) -> Result<Option<Pattern>, String> {
    let p = raw.trim_matches(go_space);
    if p.is_empty() {
        return Ok(None);
    }
    let mut p = clean(p);
    let mut exception = false;
    if let Some(rest) = p.strip_prefix('!') {
        if rest.is_empty() {
            return Err("illegal exclusion pattern: \"!\"".to_string());
        }
        exception = true;
        p = rest.to_string();
    }
    check_syntax(&p)?;
    Ok(Some(Pattern {
        text: p,
        line,
        exception,
    }))
}

/// Go's `path/filepath.Clean` on a `/`-separated path.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The syntax errors `filepath.Match(pattern, ".")` reports (`ErrBadPattern`): a class that is
/// not closed, empty, or has a bad range end, and a trailing `\`.
fn check_syntax(p: &str) -> Result<(), String> {
    let bad = || Err(format!("syntax error in pattern `{p}`"));
    let c: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                if i + 1 >= c.len() {
                    return bad();
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut nrange = 0;
                loop {
                    if c.get(i) == Some(&']') && nrange > 0 {
                        i += 1;
                        break;
                    }
                    // getEsc for the low end
                    match esc_char(&c, &mut i) {
                        Some(()) => {}
                        None => return bad(),
                    }
                    if c.get(i) == Some(&'-') {
                        i += 1;
                        if esc_char(&c, &mut i).is_none() {
                            return bad();
                        }
                    }
                    nrange += 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Go's `getEsc`: one possibly escaped class character; `None` for `-`, `]`, end of pattern.
fn esc_char(c: &[char], i: &mut usize) -> Option<()> {
    match c.get(*i)? {
        '-' | ']' => None,
        '\\' => {
            *i += 1;
            c.get(*i)?;
            *i += 1;
            Some(())
        }
        _ => {
            *i += 1;
            Some(())
        }
    }
}

/// Which implementation's translation rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `moby/patternmatcher` v0.6 (Docker CLI 23+, engines 23+): exact, prefix and suffix
    /// matches where the pattern allows them, `.+()|{}$` escaped.
    Current,
    /// `docker/docker/pkg/fileutils` of engine 20.10: always a regular expression, only `.` and
    /// `$` escaped.
    Engine2010,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    Prefix(String),
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Compiled {
    text: String,
    dirs: usize,
    exception: bool,
    kind: Kind,
}

impl Compiled {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Regex(r) => r.is_match(path),
        }
    }
}

/// Compiled patterns; indices returned by the match functions index the patterns given to
/// [`Matcher::new`].
#[derive(Debug, Clone)]
pub struct Matcher {
    patterns: Vec<Compiled>,
    exclusions: bool,
}

/// Per-pattern "matched" bits of a directory, handed to its children during the walk
/// (`patternmatcher.MatchInfo`).
#[derive(Debug, Clone, Default)]
pub struct MatchInfo(Vec<bool>);

impl Matcher {
    /// The current engine's matcher for patterns of the ignore file at `path`; a pattern whose
    /// regular expression does not compile is an error naming its line there.
    pub(crate) fn for_file(path: &Path, patterns: &[Pattern]) -> Result<Matcher, ContextError> {
        Matcher::new(patterns, Flavor::Current).map_err(|(i, reason)| ContextError::BadPattern {
            path: path.to_path_buf(),
            line: patterns[i].line,
            pattern: patterns[i].text.clone(),
            reason,
        })
    }

    /// Compiles the patterns; the error names the index of the pattern whose regular expression
    /// does not compile.
    pub fn new(patterns: &[Pattern], flavor: Flavor) -> Result<Matcher, (usize, String)> {
        let mut out = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let kind = compile(&p.text, flavor).map_err(|e| (i, e))?;
            out.push(Compiled {
                text: p.text.clone(),
                dirs: p.text.split('/').count(),
                exception: p.exception,
                kind,
            });
        }
        Ok(Matcher {
            exclusions: patterns.iter().any(|p| p.exception),
            patterns: out,
        })
    }

    /// Whether any pattern is an exception.
    pub fn has_exceptions(&self) -> bool {
        self.exclusions
    }

    /// `MatchesOrParentMatches`: `(excluded, index of the last pattern that matched)`.
    pub fn matches_or_parent_matches(&self, file: &str) -> (bool, Option<usize>) {
        if file == "." {
            return (false, None);
        }
        let parents = parent_dirs(file);
        let mut matched = false;
        let mut decider = None;
        for (i, p) in self.patterns.iter().enumerate() {
            if p.exception != matched {
                continue;
            }
            let mut m = p.matches(file);
            if !m {
                m = (1..=parents.len()).any(|n| p.matches(&parents[..n].join("/")));
            }
            if m {
                matched = !p.exception;
                decider = Some(i);
            }
        }
        (matched, decider)
    }

    /// `patternmatcher.Matches` (deprecated upstream, still used by the Docker CLI's
    /// `TrimBuildFilesFromExcludes`): only the parent directory as deep as the pattern is
    /// checked. With `skip_settled == false` every pattern is evaluated, as the 20.10 engine's
    /// `fileutils.Matches` does.
    pub fn matches_one_parent(&self, file: &str, skip_settled: bool) -> bool {
        if file == "." {
            return false;
        }
        let parents = parent_dirs(file);
        let mut matched = false;
        for p in &self.patterns {
            if skip_settled && p.exception != matched {
                continue;
            }
            let mut m = p.matches(file);
            if !m && !parents.is_empty() && p.dirs <= parents.len() {
                m = p.matches(&parents[..p.dirs].join("/"));
            }
            if m {
                matched = !p.exception;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`, the evaluation of the context walk: `parent` holds the
    /// per-pattern results of the parent directory (empty for a top-level entry). Returns
    /// `(excluded, index of the last pattern that matched, this entry's results)`.
    pub fn matches_using_parent(
        &self,
        file: &str,
        parent: &MatchInfo,
    ) -> (bool, Option<usize>, MatchInfo) {
        let mut info = vec![false; self.patterns.len()];
        let mut matched = false;
        let mut decider = None;
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.0.get(i).copied().unwrap_or(false);
            if !m {
                if p.exception != matched {
                    continue;
                }
                m = p.matches(file);
                if !m && parent.0.is_empty() {
                    let parents = parent_dirs(file);
                    m = (1..=parents.len()).any(|n| p.matches(&parents[..n].join("/")));
                }
            }
            info[i] = m;
            if m {
                matched = !p.exception;
                decider = Some(i);
            }
        }
        (matched, decider, MatchInfo(info))
    }

    /// Whether the walk must still enter the excluded directory `dir` because an exception
    /// pattern starts with it (`TarWithOptions`' prefix test, which is textual: `!**/x` does not
    /// count).
    pub fn must_enter(&self, dir: &str) -> bool {
        if !self.exclusions {
            return false;
        }
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exception && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

/// The context walk's verdict on any path: the patterns of the ignore file plus the exceptions
/// the CLI adds for the build files, evaluated with the walk's pruning.
#[derive(Debug, Clone)]
pub(crate) struct Excluder {
    pub(crate) matcher: Matcher,
    pub(crate) patterns: Vec<Pattern>,
}

impl Excluder {
    /// The pattern that keeps `rel` out of the context tar (last match wins; below a directory
    /// the walk skips, the pattern that excluded the directory).
    pub(crate) fn excluded_by(&self, rel: &str) -> Option<&Pattern> {
        let rel = clean(rel.trim_start_matches('/'));
        if rel == "." || rel.starts_with("../") || rel == ".." {
            return None;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        let mut info = MatchInfo::default();
        for n in 1..=parts.len() {
            let prefix = parts[..n].join("/");
            let (skip, decider, next) = self.matcher.matches_using_parent(&prefix, &info);
            if skip && (n == parts.len() || !self.matcher.must_enter(&prefix)) {
                return decider.map(|i| &self.patterns[i]);
            }
            info = next;
        }
        None
    }
}

/// `strings.Split(filepath.Dir(file), "/")`, empty when the parent is `.`.
fn parent_dirs(file: &str) -> Vec<&str> {
    match file.rfind('/') {
        Some(i) if i > 0 => file[..i].split('/').collect(),
        Some(_) => vec![""],
        None => Vec::new(),
    }
}

#[derive(Debug, PartialEq)]
enum T {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

/// `Pattern.compile`: the Go regular expression text and match kind, then that Go syntax
/// carried over to the `regex` crate.
fn compile(pattern: &str, flavor: Flavor) -> Result<Kind, String> {
    let (t, re) = translate(pattern, flavor);
    match t {
        T::Exact => Ok(Kind::Exact),
        T::Prefix => Ok(Kind::Prefix(pattern[..pattern.len() - 2].to_string())),
        T::Suffix => Ok(Kind::Suffix(pattern[2..].to_string())),
        T::Regexp => Regex::new(&go_regex_to_rust(&re))
            .map(Kind::Regex)
            .map_err(|e| {
                let msg = e.to_string();
                let last = msg
                    .lines()
                    .last()
                    .unwrap_or("invalid pattern")
                    .trim()
                    .to_string();
                format!("syntax error in pattern: {last}")
            }),
    }
}

/// The match kind and the Go regular expression `Pattern.compile` builds (the expression is
/// only used for [`T::Regexp`]).
fn translate(pattern: &str, flavor: Flavor) -> (T, String) {
    let mut re = String::from("^");
    let mut t = T::Exact;
    let c: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        if ch == '*' {
            if c.get(i) == Some(&'*') {
                i += 1;
                if c.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= c.len() {
                    if t == T::Exact && flavor == Flavor::Current {
                        t = T::Prefix;
                    } else {
                        re.push_str(".*");
                        t = T::Regexp;
                    }
                } else {
                    re.push_str("(.*/)?");
                    t = T::Regexp;
                }
                if first {
                    t = T::Suffix;
                }
            } else {
                re.push_str("[^/]*");
                t = T::Regexp;
            }
        } else if ch == '?' {
            re.push_str("[^/]");
            t = T::Regexp;
        } else if should_escape(ch, flavor) {
            re.push('\\');
            re.push(ch);
        } else if ch == '\\' {
            if i < c.len() {
                re.push('\\');
                re.push(c[i]);
                i += 1;
                t = T::Regexp;
            } else {
                re.push('\\');
            }
        } else if ch == '[' || ch == ']' {
            re.push(ch);
            t = T::Regexp;
        } else {
            re.push(ch);
        }
        first = false;
    }
    if flavor == Flavor::Engine2010 {
        t = T::Regexp;
    }
    re.push('$');
    (t, re)
}

fn should_escape(ch: char, flavor: Flavor) -> bool {
    match flavor {
        Flavor::Current => ".+()|{}$".contains(ch),
        Flavor::Engine2010 => ch == '.' || ch == '$',
    }
}

/// Rewrites a Go (RE2) regular expression for the `regex` crate. The two agree except inside a
/// bracket class, where Go takes `[` (other than `[:name:]`), `&&`, `~~` and `--` literally and
/// `regex` reads nested classes and set operations; outside a class Go takes `]` literally.
fn go_regex_to_rust(go: &str) -> String {
    let c: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' {
            out.push(ch);
            if let Some(n) = c.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        if !in_class {
            match ch {
                '[' => {
                    in_class = true;
                    out.push('[');
                    i += 1;
                    if c.get(i) == Some(&'^') {
                        out.push('^');
                        i += 1;
                    }
                    // A `]` right after `[` or `[^` is a literal in both syntaxes.
                    if c.get(i) == Some(&']') {
                        out.push_str("\\]");
                        i += 1;
                    }
                    continue;
                }
                ']' => out.push_str("\\]"),
                _ => out.push(ch),
            }
            i += 1;
            continue;
        }
        match ch {
            ']' => {
                in_class = false;
                out.push(']');
            }
            '[' => {
                // `[:alpha:]` keeps its meaning; any other `[` is literal in Go.
                let rest: String = c[i..].iter().collect();
                if let Some(end) = posix_class_len(&rest) {
                    out.push_str(&rest[..end]);
                    i += rest[..end].chars().count();
                    continue;
                }
                out.push_str("\\[");
            }
            '&' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '-' if c.get(i + 1) == Some(&'-') => {
                out.push_str("-\\-");
                i += 2;
                continue;
            }
            _ => out.push(ch),
        }
        i += 1;
    }
    out
}

fn posix_class_len(s: &str) -> Option<usize> {
    const NAMES: &[&str] = &[
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "word", "xdigit",
    ];
    let body = s.strip_prefix("[:")?;
    let body = body.strip_prefix('^').unwrap_or(body);
    NAMES.iter().find_map(|n| {
        body.strip_prefix(n)
            .filter(|r| r.starts_with(":]"))
            .map(|r| s.len() - r.len() + 2)
    })
}

#[cfg(test)]
mod tests;
