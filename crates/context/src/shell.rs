//! Docker's word processing of Dockerfile arguments (BuildKit `frontend/dockerfile/shell`,
//! which the classic builder uses too): quotes are removed, the escape character escapes the
//! next character, and `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}` expand from the build environment. Also the
//! instruction parser's `parseWords`, which splits `ENV`/`ARG` arguments into words keeping
//! their quotes.

/// Expands one word. `env` holds the variables in effect (later entries win). Errors are one
/// line without location; the caller adds the Dockerfile line.
pub(crate) fn process_word(
    word: &str,
    env: &[(String, String)],
    escape: char,
) -> Result<String, String> {
    let mut w = Word {
        c: word.chars().collect(),
        i: 0,
        env,
        escape,
    };
    w.process_stop_on(None)
}

struct Word<'a> {
    c: Vec<char>,
    i: usize,
    env: &'a [(String, String)],
    escape: char,
}

impl Word<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.i += 1;
        }
        ch
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn process_stop_on(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some(ch) = self.peek() else {
                if let Some(s) = stop {
                    return Err(format!(
                        "unexpected end of statement while looking for matching {s}"
                    ));
                }
                return Ok(out);
            };
            if Some(ch) == stop {
                self.next();
                return Ok(out);
            }
            match ch {
                '\'' => out.push_str(&self.single_quote()?),
                '"' => out.push_str(&self.double_quote()?),
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    self.next();
                    if ch == self.escape {
                        match self.next() {
                            Some(n) => out.push(n),
                            None => return Ok(out),
                        }
                    } else {
                        out.push(ch);
                    }
                }
            }
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    );
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.escape {
                        match self.peek() {
                            None => {
                                return Err("unexpected end of statement while looking for matching double-quote".to_string());
                            }
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                out.push(n);
                            }
                            Some(_) => out.push(c),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && "$@*#?-!".contains(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.get(&name).unwrap_or_default().to_string());
        }
        self.next();
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution".to_string());
        }
        let value = self.get(&name).map(str::to_string);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let op = self.next();
                let word = self.process_stop_on(Some('}'))?;
                let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
                match op {
                    Some('-') => Ok(if set_nonempty {
                        value.unwrap_or_default()
                    } else {
                        word
                    }),
                    Some('+') => Ok(if set_nonempty { word } else { String::new() }),
                    Some('?') => {
                        if set_nonempty {
                            Ok(value.unwrap_or_default())
                        } else if word.is_empty() {
                            Err(format!("{name}: is not allowed to be unset"))
                        } else {
                            Err(format!("{name}: {word}"))
                        }
                    }
                    _ => Err(format!(
                        "unsupported modifier ({}) in substitution",
                        op.unwrap_or(' ')
                    )),
                }
            }
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.process_stop_on(Some('}'))?;
                match op {
                    '-' => Ok(value.unwrap_or(word)),
                    '+' => Ok(if value.is_some() { word } else { String::new() }),
                    _ => match value {
                        Some(v) => Ok(v),
                        None if word.is_empty() => {
                            Err(format!("{name}: is not allowed to be unset"))
                        }
                        None => Err(format!("{name}: {word}")),
                    },
                }
            }
            Some(c) => Err(format!("unsupported modifier ({c}) in substitution")),
            None => Err("syntax error: missing '}'".to_string()),
        }
    }
}

/// The instruction parser's `parseWords`: whitespace-separated words, quotes and escapes kept
/// in the word (they are removed later by [`process_word`]).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let c: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let ch = c.get(i).copied();
        if phase == Phase::Spaces {
            match ch {
                None => break,
                Some(x) if x.is_whitespace() => {
                    i += 1;
                    continue;
                }
                Some(_) => phase = Phase::Word,
            }
        }
        let Some(ch) = ch else {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        };
        // An escape keeps itself and the next character in the word (outside single quotes);
        // a trailing one is dropped.
        if ch == escape && phase != Phase::Quote('\'') {
            if let Some(&next) = c.get(i + 1) {
                word.push(ch);
                word.push(next);
            }
            i += 2;
            continue;
        }
        match phase {
            Phase::Word | Phase::Spaces => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                word.push(ch);
                i += 1;
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                }
                word.push(ch);
                i += 1;
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        [("A", "a"), ("E", ""), ("P", "/opt/app"), ("S", "x y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expansion_forms() {
        let e = env();
        for (w, want) in [
            ("$A", "a"),
            ("${A}", "a"),
            ("$A/b", "a/b"),
            ("${A}b", "ab"),
            ("$Ab", ""),
            ("$UNSET/x", "/x"),
            ("${UNSET:-dflt}", "dflt"),
            ("${E:-dflt}", "dflt"),
            ("${E-dflt}", ""),
            ("${UNSET-dflt}", "dflt"),
            ("${A:+alt}", "alt"),
            ("${E:+alt}", ""),
            ("${E+alt}", "alt"),
            ("${UNSET:-$P/x}", "/opt/app/x"),
            ("'$A'", "$A"),
            ("\"$A b\"", "a b"),
            ("\\$A", "$A"),
            ("\"\\$A\"", "$A"),
            ("\"a\\nb\"", "a\\nb"),
            ("a\\ b", "a b"),
            ("$", "$"),
            ("a$", "a$"),
            ("$S", "x y"),
        ] {
            assert_eq!(process_word(w, &e, '\\').as_deref(), Ok(want), "{w}");
        }
        assert!(
            process_word("${UNSET:?need it}", &e, '\\')
                .unwrap_err()
                .contains("need it")
        );
        assert!(process_word("${A", &e, '\\').is_err());
        assert!(process_word("'open", &e, '\\').is_err());
        assert_eq!(process_word("`$A", &e, '`').as_deref(), Ok("$A"));
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words("K=v \"Q\"=\"a b\"   L=$K/x  M=a\\ b", '\\'),
            vec!["K=v", "\"Q\"=\"a b\"", "L=$K/x", "M=a\\ b"]
        );
        assert_eq!(parse_words("A=''", '\\'), vec!["A=''"]);
        assert_eq!(parse_words("  ", '\\'), Vec::<String>::new());
        // Escapes: kept with the next character outside single quotes, a trailing one dropped.
        assert_eq!(
            parse_words("A=\"x\\\" y\" B='a\\' C", '\\'),
            vec!["A=\"x\\\" y\"", "B='a\\'", "C"]
        );
        assert_eq!(parse_words("A=b\\", '\\'), vec!["A=b"]);
        assert_eq!(parse_words("A=\"b\\", '\\'), vec!["A=\"b"]);
        assert_eq!(parse_words("A=`` B=x` y", '`'), vec!["A=``", "B=x` y"]);
    }
}
