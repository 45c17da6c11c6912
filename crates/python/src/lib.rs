//! The Python an image will really run: the interpreter facts (version, prefixes, extension
//! suffixes, builtin modules), the `sys.path` it computes at startup with the reason for each
//! entry, and a resolver that follows CPython's import system over the image's [`Vfs`].
//!
//! [`Vfs`]: importgate_image::Vfs

pub mod abi;
pub mod access;
pub mod interpreter;
pub mod ldso;
pub mod memo;
pub mod pyc;
pub mod resolve;
pub mod runtime;
pub mod shell;
pub mod syspath;
pub mod zipdir;

pub use interpreter::{Interpreter, PyVersion};
pub use resolve::{Found, Resolution, Resolver, Step, StepResult, TraceEvent};
pub use runtime::{Launch, ModelError, Runtime, model};
pub use syspath::{Origin, SysPathEntry};
