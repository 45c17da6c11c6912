//! End-to-end tests of the `importgate` binary against real images.
//!
//! Tests that need Docker print `skipped: no Docker engine reachable` and pass when no engine
//! answers, unless `IMPORTGATE_REQUIRE_DOCKER=1`. Base images come from
//! `tests/support/mkbase.py`; every import the binary decides is replayed in the image by the
//! image's own CPython (`tests/support/probe.py`) and the two must agree.

// Test code: panicking on a failed setup step and printing skips is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

mod action;
mod bad_input;
mod build;
mod cache;
mod ci;
mod cli_docs;
mod context;
mod corpus;
mod ctypes_loads;
mod cycles;
mod demo;
mod differential;
mod dockerignore;
mod engine;
mod entry;
mod explain;
mod families;
mod generated;
mod install;
mod lambda;
mod launchers;
mod native;
mod predict;
mod predict_run;
mod progress;
mod registry;
mod seed;
mod servers;
mod sources;
mod stdlib;
mod tree;
mod wheels;
mod zip_pyc;
