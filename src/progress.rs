//! Progress of the library's long steps (reading an image, merging its layers, parsing the
//! startup path) drawn on stderr with indicatif. Only when stderr is a terminal and `--quiet`
//! is not given: in a pipe or a CI log a redrawn line is noise.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use importgate_image::{Progress, ProgressSink, Step, Unit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The sink the library reports to: drawn on a terminal, silent otherwise.
pub fn sink(quiet: bool) -> ProgressSink {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressSink::default();
    }
    ProgressSink::new(Arc::new(Bar::default()))
}

/// One bar at a time (steps do not overlap); replaced at each `begin`, cleared at `finish`
/// so that the report starts on a clean line.
#[derive(Default)]
struct Bar(Mutex<Option<ProgressBar>>);

impl Bar {
    fn with(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        let mut bar = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut bar);
    }
}

fn style(unit: Unit, known_total: bool) -> ProgressStyle {
    let template = match (unit, known_total) {
        (Unit::Bytes, true) => "{spinner} {msg} {bytes}/{total_bytes} ({bytes_per_sec})",
        (Unit::Bytes, false) => "{spinner} {msg} {bytes} ({bytes_per_sec})",
        (Unit::Layers, true) => "{spinner} {msg} {pos}/{len} layers",
        (Unit::Layers, false) => "{spinner} {msg} {pos} layers",
        (Unit::Modules, true) => "{spinner} {msg} {pos}/{len} modules",
        (Unit::Modules, false) => "{spinner} {msg} {pos} modules parsed",
    };
    // The templates are constants; a bad one would be a bug caught by the pty test.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress for Bar {
    fn begin(&self, step: &Step) {
        self.with(|slot| {
            if let Some(old) = slot.take() {
                old.finish_and_clear();
            }
            let bar = ProgressBar::with_draw_target(step.total, ProgressDrawTarget::stderr());
            bar.set_style(style(step.unit, step.total.is_some()));
            bar.set_message(step.label.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar.tick();
            *slot = Some(bar);
        });
    }

    fn advance(&self, n: u64) {
        self.with(|slot| {
            if let Some(bar) = slot {
                bar.inc(n);
            }
        });
    }

    fn finish(&self) {
        self.with(|slot| {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        });
    }
}
