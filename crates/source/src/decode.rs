//! From a file's bytes to the text the parser sees, the way CPython reads a module: a UTF-8
//! byte-order mark, else a PEP 263 declaration on the first two lines, else UTF-8; and where the
//! bytes refuse to decode. The image reader hands over raw bytes so that a replacement
//! character the file really contains is never taken for an undecodable byte.

/// A file's text and what went wrong turning its bytes into it.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// The text; undecodable UTF-8 sequences each become one U+FFFD.
    pub text: String,
    /// Undecodable UTF-8 sequences, in file order (empty when a declared codec was used).
    pub(crate) bad: Vec<BadSequence>,
    /// The whole file is refused before tokenizing (unknown declaration combination, a byte
    /// the declared codec has no character for): the message CPython gives.
    pub(crate) refused: Option<String>,
}

/// One invalid UTF-8 sequence: where its U+FFFD sits in the text and where it was in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BadSequence {
    pub(crate) text_at: usize,
    pub(crate) raw_at: usize,
    pub(crate) len: usize,
}

impl Decoded {
    /// Offset in the file of an offset in the text.
    pub(crate) fn raw_offset(&self, text_at: usize) -> usize {
        let mut raw = text_at;
        for bad in self.bad.iter().take_while(|b| b.text_at < text_at) {
            // The three bytes of U+FFFD stood for a shorter sequence.
            raw = raw + bad.len - '\u{fffd}'.len_utf8();
        }
        raw
    }
}

/// Decodes a Python source file as CPython does before tokenizing.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (bom, body) = match bytes.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let declared = declared_encoding(body);
    let codec = declared.as_deref().map(normal_name);
    match codec.as_deref() {
        None | Some("utf-8") => utf8(body),
        Some(other) if bom => Decoded {
            text: String::from_utf8_lossy(body).into_owned(),
            refused: Some(format!("encoding problem: {other} with BOM")),
            ..Decoded::default()
        },
        Some("iso-8859-1") => Decoded {
            text: body.iter().map(|&b| char::from(b)).collect(),
            ..Decoded::default()
        },
        Some("ascii") => single_byte(body, "ascii", |b| (b < 0x80).then_some(char::from(b))),
        Some("cp1252") => single_byte(body, "charmap", cp1252),
        Some(other) => {
            // A codec we do not model: its bytes are taken as they come and not judged.
            tracing::debug!(
                codec = other,
                "source declares an encoding that is not modelled"
            );
            Decoded {
                text: String::from_utf8_lossy(body).into_owned(),
                ..Decoded::default()
            }
        }
    }
}

fn utf8(body: &[u8]) -> Decoded {
    // Nearly every file is valid: validating is much faster than walking it chunk by chunk.
    if let Ok(text) = std::str::from_utf8(body) {
        return Decoded {
            text: text.to_owned(),
            ..Decoded::default()
        };
    }
    let mut out = Decoded {
        text: String::with_capacity(body.len()),
        ..Decoded::default()
    };
    let mut raw_at = 0;
    for chunk in body.utf8_chunks() {
        out.text.push_str(chunk.valid());
        raw_at += chunk.valid().len();
        if !chunk.invalid().is_empty() {
            out.bad.push(BadSequence {
                text_at: out.text.len(),
                raw_at,
                len: chunk.invalid().len(),
            });
            out.text.push('\u{fffd}');
            raw_at += chunk.invalid().len();
        }
    }
    out
}

/// A codec with one character per byte; `name` is how Python's error names it.
fn single_byte(body: &[u8], name: &str, map: impl Fn(u8) -> Option<char>) -> Decoded {
    let mut text = String::with_capacity(body.len());
    for (at, &b) in body.iter().enumerate() {
        match map(b) {
            Some(c) => text.push(c),
            None => {
                let why = if name == "ascii" {
                    "ordinal not in range(128)"
                } else {
                    "character maps to <undefined>"
                };
                return Decoded {
                    text: String::from_utf8_lossy(body).into_owned(),
                    refused: Some(format!(
                        "'{name}' codec can't decode byte 0x{b:02x} in position {at}: {why}"
                    )),
                    ..Decoded::default()
                };
            }
        }
    }
    Decoded {
        text,
        ..Decoded::default()
    }
}

/// Windows-1252 as Python's `cp1252` codec has it: five bytes have no character.
fn cp1252(b: u8) -> Option<char> {
    const HIGH: [u16; 32] = [
        0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc,
        0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
    ];
    match b {
        0x80..=0x9f => {
            let code = HIGH[usize::from(b - 0x80)];
            (code != 0)
                .then(|| char::from_u32(u32::from(code)))
                .flatten()
        }
        _ => Some(char::from(b)),
    }
}

/// The declared codec's canonical name as far as we model it: Python's tokenizer folds the
/// UTF-8 and Latin-1 spellings itself, the rest goes through the codec registry's aliases.
fn normal_name(name: &str) -> String {
    let folded = name.to_ascii_lowercase().replace('_', "-");
    let is = |base: &str| folded == base || folded.starts_with(&format!("{base}-"));
    if is("utf-8") || folded == "utf8" {
        return "utf-8".into();
    }
    if is("latin-1") || is("iso-8859-1") || is("iso-latin-1") {
        return "iso-8859-1".into();
    }
    match folded.replace('-', "").as_str() {
        "latin1" | "iso88591" | "l1" | "cp819" | "8859" | "latin" | "iso8859" => {
            "iso-8859-1".into()
        }
        "ascii" | "usascii" | "646" | "ansix3.41968" | "cp367" | "us" => "ascii".into(),
        "cp1252" | "windows1252" => "cp1252".into(),
        _ => folded,
    }
}

/// The PEP 263 declaration (`coding[:=]name` in a comment) of the first line, or of the
/// second when the first is blank or a comment.
pub(crate) fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next()?;
    let mut candidates = vec![first];
    let blank_or_comment = first
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\x0c' | b'\r'))
        .is_none_or(|&b| b == b'#');
    if blank_or_comment && let Some(second) = lines.next() {
        candidates.push(second);
    }
    candidates.into_iter().find_map(coding_spec)
}

fn coding_spec(line: &[u8]) -> Option<String> {
    let start = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))?;
    let comment = line.get(start..)?.strip_prefix(b"#")?;
    let at = comment.windows(6).position(|w| w == b"coding")?;
    let rest = comment.get(at + 6..)?;
    let rest = rest
        .strip_prefix(b":")
        .or_else(|| rest.strip_prefix(b"="))?;
    let name: Vec<u8> = rest
        .iter()
        .skip_while(|b| matches!(b, b' ' | b'\t'))
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .copied()
        .collect();
    (!name.is_empty()).then(|| String::from_utf8_lossy(&name).into_owned())
}

/// Why Python's UTF-8 decoder stops at the start of `seg` (which begins with a bad byte).
pub(crate) fn utf8_reason(seg: &[u8]) -> &'static str {
    let Some(&first) = seg.first() else {
        return "unexpected end of data";
    };
    if (0x80..=0xc1).contains(&first) || first >= 0xf5 {
        return "invalid start byte";
    }
    match std::str::from_utf8(seg) {
        Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => "unexpected end of data",
        _ => "invalid continuation byte",
    }
}
