//! The Python an image will really run: the interpreter facts (version, prefixes, extension
//! suffixes, builtin modules), the `sys.path` it computes at startup with the reason for each
//! entry, and a resolver that follows CPython's import system over the image's [`Vfs`].

pub mod syspath;

pub use syspath::{Origin, SysPathEntry};
