//! Progress of long steps, reported to whoever drives the library (the CLI draws it on a
//! terminal). The library never prints: it calls a [`Progress`] it was given, which by default
//! does nothing. Also used by `importgate-check` for the modules it parses.

use std::fmt;
use std::sync::Arc;

/// What a step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes read from an image source (the engine's export, an archive, blobs).
    Bytes,
    /// Layers merged into the filesystem.
    Layers,
    /// Python modules parsed.
    Modules,
}

/// A step that may take more than a second, as reported to [`Progress::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What is being done, for a human: `reading docker-daemon:myapp:1.4`.
    pub label: String,
    pub unit: Unit,
    /// How many units there will be, when known in advance.
    pub total: Option<u64>,
}

/// Receives progress. Steps do not overlap: `begin`, any number of `advance`, then `finish`.
/// Implementations must be cheap: `advance` is called per chunk read.
pub trait Progress: Send + Sync {
    fn begin(&self, step: &Step);
    /// `n` more units done.
    fn advance(&self, n: u64);
    /// The step ended (successfully or not).
    fn finish(&self);
}

/// The default: nothing is reported.
struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &Step) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// A shared [`Progress`], cheap to clone into options and worker threads.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Progress>);

impl ProgressSink {
    pub fn new(progress: Arc<dyn Progress>) -> Self {
        ProgressSink(progress)
    }

    /// Starts a step; it is finished when the guard is dropped, so an error return cannot
    /// leave a progress line behind.
    pub fn step(&self, label: impl Into<String>, unit: Unit, total: Option<u64>) -> StepGuard {
        self.0.begin(&Step {
            label: label.into(),
            unit,
            total,
        });
        StepGuard(self.0.clone())
    }
}

impl Default for ProgressSink {
    fn default() -> Self {
        ProgressSink(Arc::new(Silent))
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// A running step (see [`ProgressSink::step`]).
pub struct StepGuard(Arc<dyn Progress>);

impl StepGuard {
    pub fn advance(&self, n: u64) {
        self.0.advance(n);
    }
}

impl Drop for StepGuard {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// A reader that reports the bytes read through it.
pub(crate) struct Counting<'a, R> {
    pub inner: R,
    pub step: &'a StepGuard,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.step.advance(n as u64);
        }
        Ok(n)
    }
}

/// A seek forward counts as bytes passed over.
impl<R: std::io::Seek> std::io::Seek for Counting<'_, R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let before = self.inner.stream_position()?;
        let after = self.inner.seek(pos)?;
        if after > before {
            self.step.advance(after - before);
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<String>>);

    impl Progress for Record {
        fn begin(&self, step: &Step) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!(
                    "begin {} {:?} {:?}",
                    step.label, step.unit, step.total
                ));
        }
        fn advance(&self, n: u64) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("+{n}"));
        }
        fn finish(&self) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("finish".into());
        }
    }

    #[test]
    fn a_counting_reader_reports_every_byte_and_the_guard_finishes() {
        let record = Arc::new(Record::default());
        let sink = ProgressSink::new(record.clone());
        {
            let step = sink.step("reading x", Unit::Bytes, Some(5));
            let mut r = Counting {
                inner: &b"hello"[..],
                step: &step,
            };
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap_or_default();
        }
        let seen = record.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(seen, ["begin reading x Bytes Some(5)", "+5", "finish"]);
    }
}
