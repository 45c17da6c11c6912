//! The Docker build context as the Docker CLI sends it to the engine, and the Dockerfile that
//! turns it into an image.
//!
//! - [`ignore`]: `.dockerignore` files with Docker's own matching rules (moby/patternmatcher).
//! - [`context`]: [`BuildContext`], the walk of the context directory and its tar.
//! - [`dockerfile`]: [`Dockerfile`] parsing and [`plan`], the evaluated stages and steps.
//! - [`pathmap`]: [`PathMap`], which image path came from which context file, and why a file
//!   that exists in the context is absent from the image.

pub mod context;
pub mod dockerfile;
mod error;
pub mod ignore;
pub mod pathmap;
mod shell;

pub use context::{BuildContext, ContextEntry, EngineRules, EntryKind, IgnoreLookup};
pub use dockerfile::{
    Base, BaseConfig, BuildPlan, Command, CopyFrom, CopyStep, Dockerfile, Stage, Step, plan,
    plan_with_base,
};
pub use error::ContextError;
pub use ignore::{IgnoreFile, Pattern};
pub use pathmap::{Absence, ContextLocation, PathMap, glob_match};
