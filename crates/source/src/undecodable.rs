//! Where undecodable bytes make CPython raise, told apart by how the file is run. An import
//! compiles the file's bytes: only a name or a string holding a bad byte fails, when that token
//! is turned into text (`(unicode error) 'utf-8' codec can't decode byte …`), so a comment may
//! hold anything. Run by path, the file reader refuses the first bad byte wherever it is
//! (`Non-UTF-8 code starting with …`).

use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_text_size::{Ranged, TextSize};

use crate::decode::Decoded;
use crate::{Locator, SyntaxErrorInfo};

/// Adds the import's error to `errors` (in source order with the parser's own) and returns the
/// error of a run by path when it differs from the import's first error.
pub(crate) fn judge(
    decoded: &Decoded,
    body: &[u8],
    tokens: &Tokens,
    locator: &Locator<'_>,
    path: Option<&str>,
    errors: &mut Vec<SyntaxErrorInfo>,
) -> Option<SyntaxErrorInfo> {
    if let Some(message) = &decoded.refused {
        // The codec refuses the whole file before tokenizing (CPython gives no line).
        errors.insert(
            0,
            SyntaxErrorInfo {
                message: message.clone(),
                line: 1,
                column: 1,
            },
        );
        return None;
    }
    let first = decoded.bad.first()?;
    let (line, column) = locator.line_column(to_size(first.text_at));
    let byte = body.get(first.raw_at).copied().unwrap_or(0);
    let script = SyntaxErrorInfo {
        message: format!(
            "Non-UTF-8 code starting with '\\x{byte:02x}' in file {} on line {line}, but no encoding declared; see https://peps.python.org/pep-0263/ for details",
            path.unwrap_or("<file>")
        ),
        line,
        column,
    };
    if let Some(error) = import_error(decoded, body, tokens, locator) {
        let at = errors
            .iter()
            .take_while(|e| (e.line, e.column) < (error.line, error.column))
            .count();
        errors.insert(at, error);
    }
    Some(script)
}

/// The first bad byte that an import turns into text, as the error CPython raises for it.
fn import_error(
    decoded: &Decoded,
    body: &[u8],
    tokens: &Tokens,
    locator: &Locator<'_>,
) -> Option<SyntaxErrorInfo> {
    for bad in &decoded.bad {
        let at = to_size(bad.text_at);
        // Tokens are in source order: the last one starting at or before `at`.
        let token = tokens
            .get(..tokens.partition_point(|t| t.range().start() <= at))
            .and_then(<[_]>::last)
            .filter(|t| at < t.range().end());
        let (segment, start) = match token {
            Some(t) if t.kind() == TokenKind::Comment => continue,
            Some(t) if t.kind() == TokenKind::String => {
                let from = decoded.raw_offset(t.range().start().to_usize());
                let to = decoded
                    .raw_offset(t.range().end().to_usize())
                    .min(body.len());
                let Some(literal) = body.get(from..to) else {
                    continue;
                };
                match string_body(literal) {
                    // Bytes literals refuse non-ASCII on their own; the parser reports that.
                    None => continue,
                    Some((body_from, body_to, raw)) => {
                        let seg = (from + body_from, from + body_to);
                        if raw || !literal.contains(&b'\\') {
                            (seg, t.range().start())
                        } else {
                            (high_run(body, bad.raw_at, seg), t.range().start())
                        }
                    }
                }
            }
            Some(t)
                if matches!(
                    t.kind(),
                    TokenKind::FStringMiddle | TokenKind::TStringMiddle
                ) =>
            {
                let from = decoded.raw_offset(t.range().start().to_usize());
                let to = decoded
                    .raw_offset(t.range().end().to_usize())
                    .min(body.len());
                (high_run(body, bad.raw_at, (from, to)), t.range().start())
            }
            // A name (CPython's tokenizer takes any byte above 0x7f as part of one).
            _ => {
                let seg = name_run(body, bad.raw_at);
                let start = to_size(bad.text_at.saturating_sub(bad.raw_at - seg.0));
                (seg, start)
            }
        };
        let (line, column) = locator.line_column(start);
        let byte = body.get(bad.raw_at).copied().unwrap_or(0);
        let rest = body.get(bad.raw_at..segment.1).unwrap_or_default();
        return Some(SyntaxErrorInfo {
            message: format!(
                "(unicode error) 'utf-8' codec can't decode byte 0x{byte:02x} in position {}: {}",
                bad.raw_at.saturating_sub(segment.0),
                crate::decode::utf8_reason(rest)
            ),
            line,
            column,
        });
    }
    None
}

/// The literal's contents between its quotes (offsets into `literal`) and whether it is raw;
/// `None` for a bytes literal.
fn string_body(literal: &[u8]) -> Option<(usize, usize, bool)> {
    let prefix = literal
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let letters = literal.get(..prefix)?;
    if letters.iter().any(|b| b.eq_ignore_ascii_case(&b'b')) {
        return None;
    }
    let raw = letters.iter().any(|b| b.eq_ignore_ascii_case(&b'r'));
    let rest = literal.get(prefix..)?;
    let quote = *rest.first()?;
    let triple = rest.len() >= 6 && rest.iter().take(3).all(|&b| b == quote);
    let q = if triple { 3 } else { 1 };
    let end = if rest.len() >= 2 * q && rest.iter().rev().take(q).all(|&b| b == quote) {
        literal.len() - q
    } else {
        literal.len()
    };
    Some((prefix + q, end.max(prefix + q), raw))
}

/// Within `seg`, the run of bytes above 0x7f holding `at`: a literal with escapes is decoded
/// run by run.
fn high_run(body: &[u8], at: usize, seg: (usize, usize)) -> (usize, usize) {
    let high = |i: &usize| body.get(*i).is_some_and(|b| *b >= 0x80);
    let mut from = at;
    while from > seg.0 && high(&(from - 1)) {
        from -= 1;
    }
    let mut to = at;
    while to < seg.1 && high(&to) {
        to += 1;
    }
    (from, to)
}

/// The name around `at`: ASCII letters, digits, `_` and any byte above 0x7f.
fn name_run(body: &[u8], at: usize) -> (usize, usize) {
    let part = |i: usize| {
        body.get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
    };
    let mut from = at;
    while from > 0 && part(from - 1) {
        from -= 1;
    }
    let mut to = at;
    while part(to) {
        to += 1;
    }
    (from, to)
}

fn to_size(n: usize) -> TextSize {
    TextSize::try_from(n).unwrap_or_default()
}
