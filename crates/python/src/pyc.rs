//! The names a sourceless module (`mod.pyc` with no `mod.py`, which CPython's
//! `SourcelessFileLoader` imports) may bind, read from its marshalled code object: the union of
//! `co_names` over the module's code and every code object nested in it. A module-level store
//! (`STORE_NAME`), a `global` store in a function (`STORE_GLOBAL`) and a `from . import x`
//! (`IMPORT_FROM`) all name their target in `co_names`, so a name missing from the union is
//! not bound; a name present may be only read, which makes the answer an over-approximation
//! (never a false "missing"). The header's magic number decides the layout (3.8–3.13); any
//! other is undecidable.

use std::collections::BTreeSet;

/// What the bytecode says about the module's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PycNames {
    /// Every name in `co_names` of the module and its nested code.
    pub names: BTreeSet<String>,
    /// The module star-imports something (`from x import *`): its names are not all listed.
    pub star_import: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PycError {
    #[error("magic number {0} is not CPython 3.8-3.13")]
    UnknownMagic(u16),
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("unknown marshal type {0:#x} at byte {1}")]
    BadType(u8, usize),
    #[error("marshal data nested too deeply")]
    TooDeep,
}

/// The code object layout per minor version, chosen by the magic number's range
/// (`Lib/importlib/_bootstrap_external.py` lists them).
fn minor_for_magic(magic: u16) -> Option<u32> {
    match magic {
        3400..=3419 => Some(8),
        3420..=3429 => Some(9),
        3430..=3449 => Some(10),
        3450..=3499 => Some(11),
        3500..=3549 => Some(12),
        3550..=3599 => Some(13),
        _ => None,
    }
}

/// A marshalled value, as far as names are concerned.
#[derive(Debug, Clone)]
enum Value {
    Other,
    Str(String),
    Tuple(Vec<Value>),
    Code(Box<Code>),
}

#[derive(Debug, Clone)]
struct Code {
    consts: Value,
    names: Value,
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    minor: u32,
    refs: Vec<Value>,
    depth: u32,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], PycError> {
        let b = self
            .data
            .get(self.at..self.at.saturating_add(n))
            .ok_or(PycError::Truncated(self.at))?;
        self.at += n;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, PycError> {
        Ok(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, PycError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len32(&mut self) -> Result<usize, PycError> {
        usize::try_from(self.u32()?).map_err(|_| PycError::Truncated(self.at))
    }

    fn string(&mut self, n: usize) -> Result<Value, PycError> {
        let b = self.bytes(n)?;
        Ok(Value::Str(String::from_utf8_lossy(b).into_owned()))
    }

    fn object(&mut self) -> Result<Value, PycError> {
        self.depth += 1;
        if self.depth > 200 {
            return Err(PycError::TooDeep);
        }
        let v = self.object_inner();
        self.depth -= 1;
        v
    }

    fn object_inner(&mut self) -> Result<Value, PycError> {
        let at = self.at;
        let code = self.u8()?;
        let flag = code & 0x80 != 0;
        let kind = code & 0x7f;
        // A referenced object takes its slot when it starts, before its contents.
        let slot = flag.then(|| {
            self.refs.push(Value::Other);
            self.refs.len() - 1
        });
        let value = match kind {
            b'0' | b'N' | b'F' | b'T' | b'S' | b'.' => Value::Other,
            b'i' => {
                self.bytes(4)?;
                Value::Other
            }
            b'l' => {
                let n = self.u32()? as i32;
                let digits = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                self.bytes(digits.saturating_mul(2))?;
                Value::Other
            }
            b'g' => {
                self.bytes(8)?;
                Value::Other
            }
            b'y' => {
                self.bytes(16)?;
                Value::Other
            }
            b'f' => {
                let n = self.u8()? as usize;
                self.bytes(n)?;
                Value::Other
            }
            b'x' => {
                for _ in 0..2 {
                    let n = self.u8()? as usize;
                    self.bytes(n)?;
                }
                Value::Other
            }
            b's' | b't' | b'u' | b'a' | b'A' => {
                let n = self.len32()?;
                self.string(n)?
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                self.string(n)?
            }
            b')' => {
                let n = self.u8()? as usize;
                self.tuple(n)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len32()?;
                self.tuple(n)?
            }
            b'{' => {
                loop {
                    if self.data.get(self.at) == Some(&b'0') {
                        self.at += 1;
                        break;
                    }
                    self.object()?;
                    self.object()?;
                }
                Value::Other
            }
            b'r' => {
                let i = self.len32()?;
                return Ok(self.refs.get(i).cloned().unwrap_or(Value::Other));
            }
            b'c' => self.code()?,
            other => return Err(PycError::BadType(other, at)),
        };
        if let Some(slot) = slot
            && let Some(s) = self.refs.get_mut(slot)
        {
            *s = value.clone();
        }
        Ok(value)
    }

    fn tuple(&mut self, n: usize) -> Result<Value, PycError> {
        let mut items = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            items.push(self.object()?);
        }
        Ok(Value::Tuple(items))
    }

    /// `Python/marshal.c:r_object` for `TYPE_CODE`, per version.
    fn code(&mut self) -> Result<Value, PycError> {
        // argcount, posonlyargcount, kwonlyargcount, [nlocals before 3.11], stacksize, flags
        let ints = if self.minor >= 11 { 5 } else { 6 };
        self.bytes(4 * ints)?;
        let _bytecode = self.object()?;
        let consts = self.object()?;
        let names = self.object()?;
        if self.minor >= 11 {
            // localsplusnames, localspluskinds, filename, name, qualname
            for _ in 0..5 {
                self.object()?;
            }
            self.bytes(4)?; // firstlineno
            self.object()?; // linetable
            self.object()?; // exceptiontable
        } else {
            // varnames, freevars, cellvars, filename, name
            for _ in 0..5 {
                self.object()?;
            }
            self.bytes(4)?; // firstlineno
            self.object()?; // lnotab / linetable
        }
        Ok(Value::Code(Box::new(Code { consts, names })))
    }
}

fn collect(code: &Code, out: &mut PycNames) {
    if let Value::Tuple(names) = &code.names {
        for n in names {
            if let Value::Str(s) = n {
                out.names.insert(s.clone());
            }
        }
    }
    if let Value::Tuple(consts) = &code.consts {
        for c in consts {
            match c {
                Value::Code(inner) => collect(inner, out),
                // The fromlist of `from x import *`.
                Value::Tuple(t) if matches!(&t[..], [Value::Str(s)] if s == "*") => {
                    out.star_import = true;
                }
                _ => {}
            }
        }
    }
}

/// Reads a `.pyc` file (16-byte header since 3.7, then the marshalled module code object).
pub fn names(data: &[u8]) -> Result<PycNames, PycError> {
    let header = data.get(..16).ok_or(PycError::Truncated(data.len()))?;
    let magic = u16::from_le_bytes([header[0], header[1]]);
    if header[2..4] != *b"\r\n" {
        return Err(PycError::UnknownMagic(magic));
    }
    let minor = minor_for_magic(magic).ok_or(PycError::UnknownMagic(magic))?;
    let mut reader = Reader {
        data,
        at: 16,
        minor,
        refs: Vec::new(),
        depth: 0,
    };
    let mut out = PycNames {
        names: BTreeSet::new(),
        star_import: false,
    };
    match reader.object()? {
        Value::Code(code) => collect(&code, &mut out),
        _ => return Err(PycError::BadType(0, 16)),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(out: &mut Vec<u8>, s: &str, flag: u8) {
        out.push(b'z' | flag);
        out.push(s.len() as u8);
        out.extend(s.as_bytes());
    }

    /// A 3.12 module code object whose `co_names` are `names` (the first one marked for
    /// reference and then referenced again), with one nested code object naming `inner`.
    fn pyc_312(names: &[&str]) -> Vec<u8> {
        fn code(out: &mut Vec<u8>, names: &[&str], nested: bool) {
            out.push(b'c' | 0x80);
            out.extend([0u8; 20]);
            out.extend([b's', 0, 0, 0, 0]); // co_code
            out.push(b')');
            if nested {
                out.push(1);
                code(out, &["inner"], false);
            } else {
                out.push(0);
            }
            out.push(b')');
            out.push(names.len() as u8 + 1);
            for (i, n) in names.iter().enumerate() {
                short(out, n, if i == 0 { 0x80 } else { 0 });
            }
            // A reference to the first name (ref 1: the code object took ref 0).
            out.extend([b'r', 1, 0, 0, 0]);
            out.extend([b')', 0]); // localsplusnames
            out.extend([b's', 0, 0, 0, 0]); // localspluskinds
            for s in ["<m>", "<module>", "<module>"] {
                short(out, s, 0);
            }
            out.extend([1, 0, 0, 0]);
            out.extend([b's', 0, 0, 0, 0]);
            out.extend([b's', 0, 0, 0, 0]);
        }
        let mut out = Vec::new();
        out.extend(3531u16.to_le_bytes());
        out.extend(b"\r\n");
        out.extend([0u8; 12]);
        code(&mut out, names, true);
        out
    }

    #[test]
    fn names_of_a_module_and_its_nested_code() {
        let n = names(&pyc_312(&["os", "defined"])).unwrap();
        assert_eq!(
            n.names.into_iter().collect::<Vec<_>>(),
            ["defined", "inner", "os"]
        );
        assert!(!n.star_import);
        assert!(matches!(
            names(&pyc_312(&["os"])[..40]),
            Err(PycError::Truncated(_))
        ));
    }

    #[test]
    fn unknown_magic_is_an_error_not_a_verdict() {
        let mut data = vec![0u8; 20];
        data[0..2].copy_from_slice(&3000u16.to_le_bytes());
        data[2..4].copy_from_slice(b"\r\n");
        assert_eq!(names(&data), Err(PycError::UnknownMagic(3000)));
        assert!(matches!(names(&data[..8]), Err(PycError::Truncated(_))));
    }
}
