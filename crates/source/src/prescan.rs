//! Cheap checks run around the real parse: a nesting-depth scan that keeps
//! pathological files away from the recursive parser and AST drop, a token
//! look for Python 2 `print` statements to explain syntax errors, and the
//! tokenizer's refusal of null bytes before parsing.

use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_text_size::Ranged;

/// Nesting (brackets plus indentation levels) beyond which a file is not parsed.
/// CPython itself refuses far less (200 brackets, 100 indents), so no real module
/// is lost, while Ruff's recursive AST would need huge stacks to build and drop.
const MAX_NESTING: usize = 1_000;

/// Longest operator chain (`1+1+...`, `a.b.c...`, `not not ...`) allowed in one
/// expression: each link is one more level of AST recursion, and 50k links already
/// overflow a 64 MiB stack in debug builds.
const MAX_CHAIN: usize = 10_000;

/// Words that start a nested expression node (unary `not`, conditional
/// expressions, `lambda`, `await`).
const CHAIN_WORDS: [&[u8]; 5] = [b"not", b"if", b"else", b"lambda", b"await"];

/// True when parsing `source` would recurse deeper than is safe.
pub(crate) fn too_deep(source: &str) -> bool {
    let depth = scan_depth(source);
    depth.nesting > MAX_NESTING || depth.chain > MAX_CHAIN
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Depth {
    /// Deepest combined bracket + indentation nesting.
    pub(crate) nesting: usize,
    /// Most operators seen in one expression without a `,`/`;`/newline between them.
    pub(crate) chain: usize,
}

/// What a byte is to [`scan_depth`]. Most bytes of a file are spaces, names and
/// punctuation that change nothing: one table lookup tells, and names are skipped in one
/// tight loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Other,
    Word,
    Digit,
    Quote,
    Hash,
    Newline,
    Backslash,
    Open,
    Close,
    Separator,
    Operator,
}

const CLASSES: [Class; 256] = {
    let mut table = [Class::Other; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80..=0xff => Class::Word,
            b'0'..=b'9' => Class::Digit,
            b'\'' | b'"' => Class::Quote,
            b'#' => Class::Hash,
            b'\n' => Class::Newline,
            b'\\' => Class::Backslash,
            b'(' | b'[' | b'{' => Class::Open,
            b')' | b']' | b'}' => Class::Close,
            b',' | b';' => Class::Separator,
            b'+' | b'-' | b'*' | b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'~' | b'<' | b'>'
            | b'.' => Class::Operator,
            _ => Class::Other,
        };
        b += 1;
    }
    table
};

/// Bytes that continue a name, by byte.
const WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
        b += 1;
    }
    table
};

fn word_byte(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Measures nesting, ignoring strings and comments.
///
/// Approximate by design (f-string replacement fields with nested quotes can
/// confuse it), which is fine for a guard whose thresholds are far beyond what
/// CPython itself compiles. It runs over every byte of every file parsed, before the
/// parser: it has to cost a small part of the parse.
pub(crate) fn scan_depth(source: &str) -> Depth {
    let bytes = source.as_bytes();
    let mut indents: Vec<usize> = vec![0];
    // One operator-chain counter per open bracket, plus the statement level.
    let mut chains: Vec<usize> = vec![0];
    let mut depth = Depth::default();
    let mut i = 0;
    let mut at_line_start = true;

    while i < bytes.len() {
        if at_line_start && chains.len() == 1 {
            at_line_start = false;
            let mut width = 0;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b' ' => width += 1,
                    b'\t' => width = (width / 8 + 1) * 8,
                    b'\x0c' => width = 0,
                    _ => break,
                }
                i += 1;
            }
            // Blank and comment-only lines do not change indentation.
            if !matches!(bytes.get(i), None | Some(b'\n' | b'\r' | b'#')) {
                while indents.last().is_some_and(|&top| top > width) {
                    indents.pop();
                }
                if indents.last().is_none_or(|&top| width > top) {
                    indents.push(width);
                }
                depth.nesting = depth.nesting.max(indents.len() - 1);
            }
            continue;
        }
        let b = bytes[i];
        let link = match CLASSES[usize::from(b)] {
            Class::Other => false,
            Class::Hash => {
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                continue;
            }
            Class::Newline => {
                at_line_start = true;
                if chains.len() == 1 {
                    chains[0] = 0;
                }
                false
            }
            Class::Backslash => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                false
            }
            Class::Open => {
                chains.push(0);
                depth.nesting = depth.nesting.max(chains.len() - 1 + indents.len() - 1);
                false
            }
            Class::Close => {
                if chains.len() > 1 {
                    chains.pop();
                }
                false
            }
            Class::Separator => {
                if let Some(top) = chains.last_mut() {
                    *top = 0;
                }
                false
            }
            Class::Quote => {
                i = skip_string(bytes, i, b);
                continue;
            }
            Class::Digit => {
                // Numbers (`1.5e3`, `0x_ff`) are one atom, dots included.
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'_'))
                {
                    i += 1;
                }
                continue;
            }
            Class::Word => {
                let start = i;
                i += 1;
                while i < bytes.len() && word_byte(bytes[i]) {
                    i += 1;
                }
                let word = &bytes[start..i];
                // A string prefix (`rb"..."`) is not a word.
                let is_prefix = matches!(bytes.get(i), Some(b'\'' | b'"'));
                if (2..=6).contains(&word.len())
                    && CHAIN_WORDS.contains(&word)
                    && !is_prefix
                    && let Some(top) = chains.last_mut()
                {
                    *top += 1;
                    depth.chain = depth.chain.max(*top);
                }
                continue;
            }
            Class::Operator => true,
        };
        if link && let Some(top) = chains.last_mut() {
            *top += 1;
            depth.chain = depth.chain.max(*top);
        }
        i += 1;
    }
    depth
}

/// Returns the index just past the string starting at `start`.
fn skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let mut i = if triple { start + 3 } else { start + 1 };
    while i < bytes.len() {
        let rest = &bytes[i..];
        let next = if triple {
            memchr::memchr2(b'\\', quote, rest)
        } else {
            memchr::memchr3(b'\\', quote, b'\n', rest)
        };
        let Some(n) = next else {
            return bytes.len();
        };
        i += n;
        match bytes[i] {
            // Even raw strings cannot end on an escaped quote, so skipping is right.
            b'\\' => i += 2,
            b'\n' => return i,
            _ if !triple => return i + 1,
            _ if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) => {
                return i + 3;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// True when some logical line starts with `print` followed directly by an
/// operand (`print "x"`, `print x`, `print >>f, x`), which Python 3 rejects.
pub(crate) fn has_python2_print(tokens: &Tokens, source: &str) -> bool {
    let mut line_start = true;
    let mut previous_was_print = false;
    for token in tokens.iter() {
        let kind = token.kind();
        if kind.is_trivia() {
            continue;
        }
        if previous_was_print
            && matches!(
                kind,
                TokenKind::Name
                    | TokenKind::Int
                    | TokenKind::Float
                    | TokenKind::Complex
                    | TokenKind::String
                    | TokenKind::FStringStart
                    | TokenKind::RightShift
                    | TokenKind::True
                    | TokenKind::False
                    | TokenKind::None
            )
        {
            return true;
        }
        previous_was_print = line_start
            && kind == TokenKind::Name
            && source.get(token.range().start().to_usize()..token.range().end().to_usize())
                == Some("print");
        line_start = matches!(
            kind,
            TokenKind::Newline
                | TokenKind::Indent
                | TokenKind::Dedent
                | TokenKind::Semi
                | TokenKind::Colon
        );
    }
    false
}

/// What CPython's tokenizer refuses before any parsing, with where: a null byte (3.12+
/// `SyntaxError`, a `ValueError` before; the import fails either way). Undecodable bytes are
/// not judged here: the image reader decodes lossily, and a replacement character in the text
/// may as well be one the file really contains.
pub(crate) fn decode_error(source: &str) -> Option<(usize, String)> {
    source
        .find('\0')
        .map(|n| (n, "source code cannot contain null bytes".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan as it was first written, one byte at a time: the oracle for the table-driven
    /// one above.
    /// Measures nesting, ignoring strings and comments.
    ///
    /// Approximate by design (f-string replacement fields with nested quotes can
    /// confuse it), which is fine for a guard whose thresholds are far beyond what
    /// CPython itself compiles.
    pub(super) fn reference_scan_depth(source: &str) -> Depth {
        let bytes = source.as_bytes();
        let mut indents: Vec<usize> = vec![0];
        // One operator-chain counter per open bracket, plus the statement level.
        let mut chains: Vec<usize> = vec![0];
        let mut depth = Depth::default();
        let mut i = 0;
        let mut at_line_start = true;

        while i < bytes.len() {
            let brackets = chains.len() - 1;
            if at_line_start && brackets == 0 {
                at_line_start = false;
                let mut width = 0;
                while let Some(&b) = bytes.get(i) {
                    match b {
                        b' ' => width += 1,
                        b'\t' => width = (width / 8 + 1) * 8,
                        b'\x0c' => width = 0,
                        _ => break,
                    }
                    i += 1;
                }
                // Blank and comment-only lines do not change indentation.
                if !matches!(bytes.get(i), None | Some(b'\n' | b'\r' | b'#')) {
                    while indents.last().is_some_and(|&top| top > width) {
                        indents.pop();
                    }
                    if indents.last().is_none_or(|&top| width > top) {
                        indents.push(width);
                    }
                    depth.nesting = depth.nesting.max(indents.len() - 1);
                }
                continue;
            }
            let mut link = false;
            match bytes[i] {
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'\n' => {
                    at_line_start = true;
                    if brackets == 0 {
                        chains[0] = 0;
                    }
                }
                b'\\' if bytes.get(i + 1) == Some(&b'\n') => i += 1,
                b'(' | b'[' | b'{' => {
                    chains.push(0);
                    depth.nesting = depth.nesting.max(chains.len() - 1 + indents.len() - 1);
                }
                b')' | b']' | b'}' if chains.len() > 1 => {
                    chains.pop();
                }
                b',' | b';' => {
                    if let Some(top) = chains.last_mut() {
                        *top = 0;
                    }
                }
                quote @ (b'\'' | b'"') => {
                    i = reference_skip_string(bytes, i, quote);
                    continue;
                }
                b'0'..=b'9' => {
                    // Numbers (`1.5e3`, `0x_ff`) are one atom, dots included.
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'_'))
                    {
                        i += 1;
                    }
                    continue;
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let start = i;
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'_'
                            || bytes[i] >= 0x80)
                    {
                        i += 1;
                    }
                    let word = &bytes[start..i];
                    // A string prefix (`rb"..."`) is not a word.
                    let is_prefix = matches!(bytes.get(i), Some(b'\'' | b'"'));
                    if CHAIN_WORDS.contains(&word)
                        && !is_prefix
                        && let Some(top) = chains.last_mut()
                    {
                        *top += 1;
                        depth.chain = depth.chain.max(*top);
                    }
                    continue;
                }
                b'+' | b'-' | b'*' | b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'~' | b'<'
                | b'>' | b'.' => link = true,
                _ => {}
            }
            if link && let Some(top) = chains.last_mut() {
                *top += 1;
                depth.chain = depth.chain.max(*top);
            }
            i += 1;
        }
        depth
    }

    /// Returns the index just past the string starting at `start`.
    fn reference_skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
        let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
        let mut i = if triple { start + 3 } else { start + 1 };
        while i < bytes.len() {
            match bytes[i] {
                // Even raw strings cannot end on an escaped quote, so skipping is right.
                b'\\' => i += 2,
                b'\n' if !triple => return i,
                b if b == quote => {
                    if !triple {
                        return i + 1;
                    }
                    if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                        return i + 3;
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        bytes.len()
    }

    /// Random sequences of the tokens the scan treats specially (brackets, strings of both
    /// kinds, escapes, comments, continuations, indentation, chain words, string prefixes,
    /// numbers, non-ASCII names) measure the same with both scans.
    #[test]
    fn the_table_driven_scan_measures_what_the_byte_loop_did() {
        const TOKENS: &[&str] = &[
            "(", ")", "[", "]", "{", "}", ",", ";", "\n", "\\\n", "\\", "'", "\"", "'''", "\"\"\"",
            "#", " ", "    ", "\t", "\x0c", "\r", "not ", "if", "else", "lambda", "await", "rb",
            "1.5e3", "0x_ff", "x", "_y", "é", "+", "-", ".", "*", "<", "=", ":", "nota", "ifx",
            "\n    ", "\n\t", "'a\\'b'", "2é",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 120;
            let text: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            assert_eq!(scan_depth(&text), reference_scan_depth(&text), "{text:?}");
        }
        let deep = format!("x = {}1{}\n", "(".repeat(1_200), ")".repeat(1_200));
        assert_eq!(scan_depth(&deep), reference_scan_depth(&deep));
        assert!(too_deep(&deep));
    }
}
