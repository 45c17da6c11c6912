//! Parsing ahead of the check, while the layers are still being read. Loading a cold image
//! keeps one core inflating its biggest layer for most of the load while the other has time to
//! spare; the startup closure, which parses hundreds of installed modules, can only start once
//! the image is merged. [`ParseAhead`] is a capture policy that hears of every kept `.py` file
//! as it streams past and, on one thread, parses the ones the startup path will probably reach:
//! it guesses that path from what it has parsed so far (the application's files, then every
//! module their module-level imports name, under any `site-packages` or `dist-packages`
//! directory). The guess need not be right: the check asks for each parse by the sha256 of the
//! file's path and bytes in the merged tree (a [`ParseStore`]), so a parse of bytes a later layer
//! replaced is never used, and a module not parsed ahead is parsed then.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use importgate_image::{Capture, CapturePolicy, Keep};
use importgate_source::{ImportKind, ParseStore, ParsedModule, Scope};

/// A kept file: its path in the image and its bytes.
type Kept = (String, Arc<[u8]>);

/// A capture policy that parses ahead; see the module comment.
pub struct ParseAhead {
    policy: Arc<Capture>,
    tx: Mutex<Option<mpsc::Sender<Kept>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Parses by [`importgate_source::parse_key`].
    done: Mutex<HashMap<String, ParsedModule>>,
    used: AtomicUsize,
}

impl std::fmt::Debug for ParseAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseAhead").finish_non_exhaustive()
    }
}

impl ParseAhead {
    /// Wraps `policy` (which decides what is kept, as before) and starts the parsing thread;
    /// without a thread it only wraps.
    pub fn new(policy: Arc<Capture>) -> Arc<ParseAhead> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("importgate-parse-ahead".into())
            .stack_size(importgate_source::WORKER_STACK)
            .spawn(move || {
                idle_priority();
                Guess::default().run(&rx, &worker)
            })
            .map_err(|error| tracing::debug!(%error, "no parse-ahead thread"))
            .ok();
        Arc::new(ParseAhead {
            policy,
            tx: Mutex::new(thread.is_some().then_some(tx)),
            shared,
            thread: Mutex::new(thread),
        })
    }

    /// Stops the guessing and hands what was parsed to the check: called when the image is
    /// merged and the check starts. The thread is not waited for (at its priority it may not
    /// run again while the check keeps the cores busy); whatever it finishes now is dropped.
    pub fn finish(&self) -> Arc<dyn ParseStore> {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut thread) = self.thread.lock() {
            thread.take();
        }
        let done = self
            .shared
            .done
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default();
        tracing::debug!(
            "parse ahead: {} modules parsed while the layers were read",
            done.len()
        );
        Arc::new(Ready {
            done: Mutex::new(done),
            used: self.shared.clone(),
        })
    }
    /// How many of the parses made ahead the check took.
    pub fn used(&self) -> usize {
        self.shared.used.load(Ordering::Relaxed)
    }
}

impl Drop for ParseAhead {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl CapturePolicy for ParseAhead {
    fn keep(&self, path: &str, size: u64) -> Keep {
        self.policy.keep(path, size)
    }

    fn kept(&self, path: &str, contents: &Arc<[u8]>) {
        if !path.ends_with(".py") || self.shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send((path.to_string(), contents.clone()));
        }
    }
}

/// The parses handed to the check, out of the thread's reach.
struct Ready {
    done: Mutex<HashMap<String, ParsedModule>>,
    used: Arc<Shared>,
}

impl ParseStore for Ready {
    fn load(&self, key: &str) -> Option<ParsedModule> {
        let hit = self.done.lock().ok()?.remove(key);
        if hit.is_some() {
            self.used.used.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    fn store(&self, _key: &str, _module: &ParsedModule) {}
}

/// Runs the calling thread only when a core would otherwise be idle (`SCHED_IDLE` on Linux,
/// the lowest priority elsewhere): parsing ahead must never slow the layers it runs beside,
/// such as the hashing of a `docker save` archive, which keeps both cores busy.
fn idle_priority() {
    use thread_priority::*;
    #[cfg(target_os = "linux")]
    let set = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    );
    #[cfg(not(target_os = "linux"))]
    let set = set_current_thread_priority(ThreadPriority::Min);
    if let Err(error) = set {
        tracing::debug!(?error, "parse ahead: cannot lower the thread's priority");
    }
}

/// Where a kept `.py` file sits, as far as the guess is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// Under a `site-packages` or `dist-packages` directory: the module it would be there, and
    /// its `__package__` (itself for an `__init__.py`, else its parent's name).
    Installed(String, String),
    /// The standard library: not followed by the startup path.
    Stdlib,
    /// Anywhere else: probably the application's.
    Application,
}

fn place(path: &str) -> Place {
    for marker in ["/site-packages/", "/dist-packages/"] {
        if let Some((_, rest)) = path.rsplit_once(marker) {
            let rest = rest.strip_suffix(".py").unwrap_or(rest).replace('/', ".");
            return match rest.strip_suffix(".__init__") {
                Some(package) => Place::Installed(package.to_string(), package.to_string()),
                None => {
                    let package = rest.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
                    Place::Installed(rest.clone(), package.to_string())
                }
            };
        }
    }
    let stdlib = ["/lib/python", "/lib64/python", "/lib/pypy"]
        .iter()
        .any(|m| path.contains(m));
    if stdlib {
        Place::Stdlib
    } else {
        Place::Application
    }
}

/// The guessing thread's state: which module names the startup path probably imports, and
/// the installed files that arrived before anything asked for them.
#[derive(Default)]
struct Guess {
    wanted: HashSet<String>,
    /// Installed files by module name, with their `__package__`.
    waiting: HashMap<String, Vec<(Kept, String)>>,
    /// Files to parse, with their `__package__` when installed.
    queue: VecDeque<(String, Arc<[u8]>, Option<String>)>,
}

impl Guess {
    fn run(mut self, rx: &mpsc::Receiver<Kept>, shared: &Shared) {
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            // Take every file that has arrived; wait only when there is nothing to parse.
            let next = if self.queue.is_empty() {
                rx.recv().ok()
            } else {
                rx.try_recv().ok()
            };
            match next {
                Some((path, bytes)) => {
                    self.arrived(path, bytes);
                    continue;
                }
                None if self.queue.is_empty() => return,
                None => {}
            }
            let Some((path, bytes, package)) = self.queue.pop_front() else {
                continue;
            };
            let parsed = importgate_source::parse_bytes(&bytes, Some(&path));
            self.follow(&parsed, package.as_deref());
            let key = importgate_source::parse_key(&bytes, Some(&path));
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            if let Ok(mut done) = shared.done.lock() {
                done.insert(key, parsed);
            }
        }
    }

    fn arrived(&mut self, path: String, bytes: Arc<[u8]>) {
        match place(&path) {
            Place::Stdlib => {}
            Place::Application => self.queue.push_back((path, bytes, None)),
            Place::Installed(module, package) => {
                if self.wanted.contains(&module) {
                    self.queue.push_back((path, bytes, Some(package)));
                } else {
                    self.waiting
                        .entry(module)
                        .or_default()
                        .push(((path, bytes), package));
                }
            }
        }
    }

    /// Wants what the module-level imports of `parsed` name; `package` is its `__package__`
    /// when it is installed (relative imports are resolved against it).
    fn follow(&mut self, parsed: &ParsedModule, package: Option<&str>) {
        let mut names = Vec::new();
        for site in &parsed.imports {
            let c = &site.context;
            if matches!(c.scope, Scope::Function(_)) || c.type_checking || c.lazy {
                continue;
            }
            match &site.kind {
                ImportKind::Import { module } => names.push(module.clone()),
                ImportKind::From {
                    module: from,
                    level,
                    name,
                } => {
                    let base = if *level == 0 {
                        from.clone()
                    } else {
                        package.and_then(|p| {
                            let mut base = p.to_string();
                            for _ in 1..*level {
                                base = base.rsplit_once('.')?.0.to_string();
                            }
                            Some(match from {
                                Some(m) if base.is_empty() => m.clone(),
                                Some(m) => format!("{base}.{m}"),
                                None => base,
                            })
                        })
                    };
                    let Some(base) = base.filter(|b| !b.is_empty()) else {
                        continue;
                    };
                    // `from a import b`: `b` may be a submodule.
                    if name != "*" {
                        names.push(format!("{base}.{name}"));
                    }
                    names.push(base);
                }
                ImportKind::Dynamic {
                    module: Some(m), ..
                } if !m.starts_with('.') => names.push(m.clone()),
                ImportKind::Dynamic { .. } => {}
            }
        }
        for name in names {
            self.want(&name);
        }
    }

    /// Wants `name` and its parent packages (importing `a.b.c` imports `a` and `a.b` first).
    fn want(&mut self, name: &str) {
        let mut end = 0;
        loop {
            let next = name[end..].find('.').map(|i| end + i);
            let prefix = &name[..next.unwrap_or(name.len())];
            if self.wanted.insert(prefix.to_string())
                && let Some(files) = self.waiting.remove(prefix)
            {
                for ((path, bytes), package) in files {
                    self.queue.push_back((path, bytes, Some(package)));
                }
            }
            match next {
                Some(i) => end = i + 1,
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn places() {
        assert_eq!(
            place("/usr/local/lib/python3.12/site-packages/numpy/core/__init__.py"),
            Place::Installed("numpy.core".into(), "numpy.core".into())
        );
        assert_eq!(
            place("/usr/lib/python3/dist-packages/yaml/loader.py"),
            Place::Installed("yaml.loader".into(), "yaml".into())
        );
        assert_eq!(
            place("/usr/local/lib/python3.12/json/__init__.py"),
            Place::Stdlib
        );
        assert_eq!(place("/app/main.py"), Place::Application);
    }

    /// The guess follows the application's imports into installed packages, relative imports
    /// included, whichever order the files arrive in; what nothing imports is not parsed; the
    /// check gets each parse by its key once, and a file whose bytes changed is not among them.
    #[test]
    fn the_startup_path_is_guessed_and_parsed() {
        let site = "/usr/local/lib/python3.12/site-packages";
        let files = [
            (format!("{site}/pkg/sub.py"), "from .deep import x\n"),
            (format!("{site}/pkg/deep.py"), "x = 1\n"),
            (format!("{site}/unused/__init__.py"), "import pkg\n"),
            (format!("{site}/pkg/__init__.py"), "from . import sub\n"),
            (
                "/app/main.py".to_string(),
                "import pkg\ndef f():\n    import unused\n",
            ),
            (format!("{site}/lazy.py"), "x = 2\n"),
        ];
        let ahead = ParseAhead::new(Arc::new(|_: &str, _: u64| Keep::Contents));
        for (path, text) in &files {
            ahead.kept(path, &bytes(text));
        }
        // Whatever arrives after the check started is not parsed.
        let store = {
            // Give the thread the time it needs; `finish` stops it wherever it is.
            for _ in 0..200 {
                if ahead.shared.done.lock().unwrap().len() >= 4 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            ahead.finish()
        };
        ahead.kept(&format!("{site}/late.py"), &bytes("x = 3\n"));
        let key =
            |path: &str, text: &str| importgate_source::parse_key(text.as_bytes(), Some(path));
        for (path, text) in &files[..] {
            let want = !path.contains("unused") && !path.contains("lazy");
            let got = store.load(&key(path, text));
            assert_eq!(got.is_some(), want, "{path}");
            if let Some(got) = got {
                assert_eq!(
                    got,
                    importgate_source::parse_bytes(text.as_bytes(), Some(path))
                );
            }
        }
        assert_eq!(ahead.used(), 4);
        // Taken once; other bytes under the same path were never parsed.
        assert!(store.load(&key("/app/main.py", files[4].1)).is_none());
        assert!(store.load(&key("/app/main.py", "import os\n")).is_none());
    }
}
