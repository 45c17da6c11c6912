//! Just enough of the shell to find the commands of a `RUN` line: split on `&&`, `||`, `;`,
//! `|` and newlines outside quotes, then into words with quotes removed. `$(...)` and
//! backquotes stay whole words, so their contents are known to be unreadable. Unquoted
//! redirections become marker words ([`REDIRECT_OUT`], [`REDIRECT_APPEND`], [`REDIRECT_IN`])
//! that no Dockerfile text can spell, so a quoted `">"` stays an argument.

/// Marks `>`: the next word is the file written.
pub const REDIRECT_OUT: &str = "\u{0}>";
/// Marks `>>`: the next word is the file appended to.
pub const REDIRECT_APPEND: &str = "\u{0}>>";
/// Marks `<` and `>&` (a duplicated descriptor): the next word is read, not written.
pub const REDIRECT_IN: &str = "\u{0}<";

/// How a command is joined to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    /// The first command, or after `;`, `&&` or a newline: it runs when the line gets there.
    Seq,
    /// After `||`: it runs only when the command before fails.
    Or,
    /// After `|`: its input is the output of the command before.
    Pipe,
    /// After `&`: the command before runs in the background.
    Background,
}

/// The words of a shell line that open a compound command: what follows them runs zero or
/// more times, so no effect of theirs is certain.
pub fn is_control(word: &str) -> bool {
    matches!(
        word,
        "if" | "then"
            | "else"
            | "elif"
            | "fi"
            | "for"
            | "while"
            | "until"
            | "do"
            | "done"
            | "case"
            | "esac"
            | "function"
            | "{"
            | "}"
            | "("
            | ")"
            | "!"
            | "[["
    ) || word.starts_with('(')
        || word.ends_with("()")
}

/// The simple commands of a shell line, each as words.
pub fn commands(line: &str) -> Vec<Vec<String>> {
    commands_with_sep(line)
        .into_iter()
        .map(|(_, w)| w)
        .collect()
}

/// The simple commands of a shell line with how each is joined to the one before.
pub fn commands_with_sep(line: &str) -> Vec<(Sep, Vec<String>)> {
    let mut out = Vec::new();
    let mut sep = Sep::Seq;
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut backquote = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let flush_word = |words: &mut Vec<String>, cur: &mut String, any: &mut bool| {
        if *any || !cur.is_empty() {
            words.push(std::mem::take(cur));
            *any = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if depth > 0 || backquote {
            cur.push(c);
            match c {
                '(' if depth > 0 => depth += 1,
                ')' if depth > 0 => depth -= 1,
                '`' if backquote => backquote = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
            }
            Some('"') if c == '$' && chars.get(i + 1) == Some(&'(') => {
                cur.push_str("$(");
                depth = 1;
                i += 1;
            }
            Some(_) => cur.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    any = true;
                }
                '\\' if chars.get(i + 1) == Some(&'\n') => i += 1,
                '\\' => {
                    if let Some(n) = chars.get(i + 1) {
                        cur.push(*n);
                        i += 1;
                    }
                }
                '$' if chars.get(i + 1) == Some(&'(') => {
                    cur.push_str("$(");
                    depth = 1;
                    i += 1;
                }
                '`' => {
                    cur.push('`');
                    backquote = true;
                }
                '>' | '<' => {
                    // A descriptor number in front (`2>`) belongs to the redirection.
                    if !any && !cur.is_empty() && cur.chars().all(|d| d.is_ascii_digit()) {
                        cur.clear();
                    }
                    flush_word(&mut words, &mut cur, &mut any);
                    let marker = match (c, chars.get(i + 1)) {
                        ('>', Some('>')) => {
                            i += 1;
                            REDIRECT_APPEND
                        }
                        ('>', Some('&')) => {
                            i += 1;
                            REDIRECT_IN
                        }
                        ('>', Some('|')) => {
                            i += 1;
                            REDIRECT_OUT
                        }
                        ('>', _) => REDIRECT_OUT,
                        _ => REDIRECT_IN,
                    };
                    words.push(marker.to_string());
                }
                '&' | '|' | ';' | '\n' => {
                    flush_word(&mut words, &mut cur, &mut any);
                    if !words.is_empty() {
                        out.push((sep, std::mem::take(&mut words)));
                    }
                    let next = chars.get(i + 1).copied();
                    sep = match (c, next) {
                        ('&', Some('&')) => Sep::Seq,
                        ('|', Some('|')) => Sep::Or,
                        ('|', _) => Sep::Pipe,
                        ('&', _) => Sep::Background,
                        _ => Sep::Seq,
                    };
                    if matches!(next, Some('&') | Some('|')) && next == Some(c) {
                        i += 1;
                    }
                }
                c if c.is_whitespace() => flush_word(&mut words, &mut cur, &mut any),
                c => cur.push(c),
            },
        }
        i += 1;
    }
    flush_word(&mut words, &mut cur, &mut any);
    if !words.is_empty() {
        out.push((sep, words));
    }
    out
}

/// Expands `$NAME`, `${NAME}` and `${NAME:-default}` with `lookup`. Returns the word and whether
/// every variable was known; unknown ones, `$(...)` and backquotes stay as written.
pub fn expand(word: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, bool) {
    if word.contains("$(") || word.contains('`') {
        return (word.to_string(), false);
    }
    let mut out = String::new();
    let mut certain = true;
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        let is_name = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
        if chars.get(i + 1) == Some(&'{') {
            let Some(len) = chars[i + 2..].iter().position(|&ch| ch == '}') else {
                out.extend(&chars[i..]);
                return (out, false);
            };
            let inner: String = chars[i + 2..i + 2 + len].iter().collect();
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (inner.clone(), None),
            };
            let value = if name.chars().all(is_name) && !name.is_empty() {
                match (lookup(&name), default) {
                    (Some(v), Some(d)) if v.is_empty() => Some(d),
                    (Some(v), _) => Some(v),
                    (None, Some(d)) => Some(d),
                    (None, None) => None,
                }
            } else {
                None
            };
            match value {
                Some(v) => out.push_str(&v),
                None => {
                    certain = false;
                    out.push_str(&format!("${{{inner}}}"));
                }
            }
            i += 3 + len;
            continue;
        }
        let len = chars[i + 1..].iter().take_while(|&&ch| is_name(ch)).count();
        if len == 0 {
            // `$` alone, `$?`, `$1`...: a special parameter is not known here.
            if chars.get(i + 1).is_some_and(|ch| !ch.is_whitespace()) {
                certain = false;
            }
            out.push('$');
            i += 1;
            continue;
        }
        let name: String = chars[i + 1..i + 1 + len].iter().collect();
        match lookup(&name) {
            Some(v) => out.push_str(&v),
            None => {
                certain = false;
                out.push('$');
                out.push_str(&name);
            }
        }
        i += 1 + len;
    }
    (out, certain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lines_split_into_commands_and_words() {
        let c = commands(
            "apt-get update && pip install --no-cache-dir -r requirements.txt; pip install 'a[b]>=1' \"$(cat x.txt)\" `cat y` | tee log",
        );
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], ["apt-get", "update"]);
        assert_eq!(
            c[1],
            ["pip", "install", "--no-cache-dir", "-r", "requirements.txt"]
        );
        assert_eq!(
            c[2],
            ["pip", "install", "a[b]>=1", "$(cat x.txt)", "`cat y`"]
        );
        assert_eq!(c[3], ["tee", "log"]);
        assert_eq!(commands("a \\\n  b"), vec![vec!["a", "b"]]);
    }

    #[test]
    fn redirections_and_separators_are_kept_apart() {
        let c = commands_with_sep("echo '>' x >/a.pth 2>&1 || touch b >> c | tee d");
        assert_eq!(c[0].0, Sep::Seq);
        assert_eq!(
            c[0].1,
            ["echo", ">", "x", REDIRECT_OUT, "/a.pth", REDIRECT_IN, "1"]
        );
        assert_eq!(c[1].0, Sep::Or);
        assert_eq!(c[1].1, ["touch", "b", REDIRECT_APPEND, "c"]);
        assert_eq!(c[2].0, Sep::Pipe);
    }

    #[test]
    fn variables_expand_when_known() {
        let lookup = |n: &str| match n {
            "APP" => Some("/app".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("$APP/lib", &lookup), ("/app/lib".to_string(), true));
        assert_eq!(expand("${APP}x", &lookup), ("/appx".to_string(), true));
        assert_eq!(expand("${EMPTY:-/d}", &lookup), ("/d".to_string(), true));
        assert_eq!(expand("$NOPE/x", &lookup), ("$NOPE/x".to_string(), false));
        assert!(!expand("$(pwd)", &lookup).1);
        assert_eq!(expand("a$", &lookup), ("a$".to_string(), true));
    }
}
