//! Just enough of the shell to find the commands of a `RUN` line: split on `&&`, `||`, `;`,
//! `|` and newlines outside quotes, then into words with quotes removed. `$(...)` and
//! backquotes stay whole words, so their contents are known to be unreadable.

/// The simple commands of a shell line, each as words.
pub fn commands(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
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
                '&' | '|' | ';' | '\n' => {
                    flush_word(&mut words, &mut cur, &mut any);
                    if !words.is_empty() {
                        out.push(std::mem::take(&mut words));
                    }
                    if matches!(chars.get(i + 1), Some('&') | Some('|')) {
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
        out.push(words);
    }
    out
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
}
