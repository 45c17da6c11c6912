//! Test support: base images built from host interpreters, scenario images built from literal
//! file lists, the `importgate` binary, and the truth oracle (`tests/support/probe.py`) that asks
//! the image's own CPython what an import statement does.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository root: the `importgate` package that declares this test target.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("repository root")
}

pub fn support_script(name: &str) -> PathBuf {
    repo_root().join("tests/support").join(name)
}

/// `examples/NAME` in the repository.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// A path as the `&str` a command-line argument takes.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Where tests keep what they fetch once (tool venvs, wheels, schemas): `~/.cache/importgate-tests`.
pub fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/importgate-tests")
}

/// An exclusive lock on `NAME` in the test target's temporary directory, held until dropped:
/// serialises a one-time setup across test processes and threads.
pub fn lock_file(name: &str) -> fs::File {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    lock.lock().expect("lock");
    lock
}

/// `~/.cache/importgate-tests/wheels/NAME`: `pip download` of `reqs` (each pinned) as wheels
/// for CPython `python` on manylinux x86_64, without their dependencies (a test lists its
/// whole closure, so pip in the image resolves against exactly these), filled once under a
/// lock and marked `.complete`. A directory per test rather than one shared by all, which
/// would decide what it holds by distribution name alone: another test's copy of a
/// dependency there would stand in for the pin.
pub fn pinned_wheels(name: &str, python: &str, reqs: &[&str]) -> PathBuf {
    download_wheels(name, python, reqs, true)
}

/// [`pinned_wheels`] with the dependencies pip resolves for `reqs` (the first run's
/// resolution is kept).
pub fn resolved_wheels(name: &str, python: &str, reqs: &[&str]) -> PathBuf {
    download_wheels(name, python, reqs, false)
}

fn download_wheels(name: &str, python: &str, reqs: &[&str], no_deps: bool) -> PathBuf {
    let dir = cache_dir().join("wheels").join(name);
    let marker = dir.join(".complete");
    if marker.exists() {
        return dir;
    }
    let _lock = lock_file(&format!(
        "importgate-wheels-{}.lock",
        name.replace('/', "-")
    ));
    if !marker.exists() {
        fs::create_dir_all(&dir).expect("mkdir wheels");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "-q"]);
        if no_deps {
            cmd.arg("--no-deps");
        }
        run_ok(
            cmd.args(["--only-binary=:all:", "--implementation", "cp"])
                .args(["--python-version", python])
                .args(["--platform", "manylinux2014_x86_64"])
                .args(["--platform", "manylinux_2_17_x86_64"])
                .args(["--platform", "manylinux_2_28_x86_64"])
                .arg("-d")
                .arg(&dir)
                .args(reqs),
            &format!("pip download ({name})"),
        );
        fs::write(&marker, "").expect("write marker");
    }
    dir
}

/// An image kept between runs (like the interpreter bases): `build(tag)` makes it once, under
/// a lock, when `docker image inspect` does not find it. Tests running at the same time all
/// start FROM it. Bump the tag's version when what `build` puts in it changes.
pub fn base_once(tag: &str, build: impl FnOnce(&str)) -> String {
    let _lock = lock_file(&format!(
        "importgate-base-{}.lock",
        tag.replace(['/', ':'], "-")
    ));
    let exists = docker()
        .args(["image", "inspect", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        build(tag);
    }
    tag.to_string()
}

/// What a test base of wheels holds besides its Dockerfile lines.
pub struct WheelBase<'a> {
    /// The wheel files, put under `/wheels/` of the build (the Dockerfile installs them from
    /// there and removes them).
    pub wheels: Vec<PathBuf>,
    /// Host libraries copied into the image's multiarch directory: what C extensions link
    /// that the minimal test bases lack (python:3.12-slim has them).
    pub libs: &'a [&'a str],
    /// Files of the build's `rootfs/` (for a `COPY rootfs/ /` the Dockerfile places).
    pub rootfs: &'a [(&'a str, &'a str)],
}

/// [`base_once`] for a base built from wheels: a build context with `wheels/`, `libs/` (copied
/// by the Dockerfile's first line to the multiarch directory) and `rootfs/`, and `FROM from`
/// followed by `dockerfile`, built without network.
pub fn wheel_base(tag: &str, from: &str, parts: &WheelBase<'_>, dockerfile: &str) -> String {
    base_once(tag, |tag| {
        let ctx = tempdir();
        fs::create_dir_all(ctx.path().join("wheels")).expect("mkdir wheels");
        fs::create_dir_all(ctx.path().join("libs")).expect("mkdir libs");
        for w in &parts.wheels {
            let name = w.file_name().expect("wheel file name");
            fs::copy(w, ctx.path().join("wheels").join(name)).expect("copy wheel");
        }
        for lib in parts.libs {
            let src = fs::canonicalize(PathBuf::from(MULTIARCH).join(lib)).expect(lib);
            fs::copy(&src, ctx.path().join("libs").join(lib)).expect("copy library");
        }
        write_entries(
            &ctx.path().join("rootfs"),
            &parts
                .rootfs
                .iter()
                .map(|(p, t)| file(*p, *t))
                .collect::<Vec<_>>(),
        );
        fs::write(
            ctx.path().join("Dockerfile"),
            format!("FROM {from}\nCOPY libs/ {MULTIARCH}/\n{dockerfile}\n"),
        )
        .expect("write Dockerfile");
        // Not an `Image`: it is kept, for the tests building on it now and for the next run.
        run_ok(
            docker()
                .args(["build", "-q", "--network", "none", "-t", tag])
                .arg(ctx.path()),
            &format!("docker build ({tag})"),
        );
    })
}

/// The `docker` CLI, with the classic builder.
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    // The classic builder: Docker Engine 20.10 without buildx.
    cmd.env("DOCKER_BUILDKIT", "0");
    cmd
}

/// Runs a command to its end, panicking only if it cannot be started.
pub fn output_of(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"))
}

/// Runs a command, panicking with its output if it fails; its stdout.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = output_of(cmd, what);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True when a Docker engine answers. Otherwise prints `skipped: no Docker engine reachable`
/// and returns false, or panics when `IMPORTGATE_REQUIRE_DOCKER=1` (CI).
pub fn require_docker() -> bool {
    static ANSWER: Mutex<Option<bool>> = Mutex::new(None);
    let mut answer = ANSWER.lock().unwrap_or_else(|e| e.into_inner());
    let ok = *answer.get_or_insert_with(|| {
        docker()
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    if !ok {
        if std::env::var("IMPORTGATE_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!(
                "IMPORTGATE_REQUIRE_DOCKER=1 but `docker info` fails: no Docker engine reachable"
            );
        }
        eprintln!("skipped: no Docker engine reachable");
    }
    ok
}

/// Makes sure a base image exists (`mkbase.py`), serialised across test processes and threads
/// with a file lock. `layout` is `slim` (version `3.6`..`3.13`), `debian` (version `3.11`), or
/// one of the image families: `rhel`, `alpine`, `distroless`, `arm64` (version `3.11`),
/// `conda`, `uv` (version `3.12`). Returns the tag.
pub fn ensure_base(layout: &str, version: &str) -> String {
    static DONE: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let tag = match layout {
        "slim" => format!("importgate-test/python:{version}-slim"),
        "debian" => format!("importgate-test/debian-python3:{version}"),
        "rhel" => format!("importgate-test/rhel-python3:{version}"),
        "alpine" => format!("importgate-test/python:{version}-alpine"),
        "conda" => format!("importgate-test/conda:py{version}"),
        "uv" => format!("importgate-test/uv-python:{version}"),
        "distroless" => format!("importgate-test/distroless-python3:{version}"),
        "arm64" => format!("importgate-test/debian-python3:{version}-arm64"),
        other => panic!("unknown base layout {other}"),
    };
    if (layout, version) == ("slim", "3.12") {
        // The examples start FROM the official name; tests that build them come through here.
        ensure_official_slim();
    }
    {
        let done = DONE.lock().unwrap_or_else(|e| e.into_inner());
        if done.as_ref().is_some_and(|d| d.contains(&tag)) {
            return tag;
        }
    }
    let lock = lock_file("importgate-mkbase.lock");
    run_ok(
        Command::new("python3")
            .arg(support_script("mkbase.py"))
            .args(["--layout", layout, "--python", version, "--tag", &tag]),
        &format!("mkbase.py --layout {layout} --python {version}"),
    );
    drop(lock);
    DONE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(tag.clone());
    tag
}

/// The name the examples start `FROM`.
pub const OFFICIAL_SLIM: &str = "python:3.12-slim";

/// Makes sure the engine has [`OFFICIAL_SLIM`]: the official image when it was pulled, else the
/// stand-in `mkbase.py --official` builds (the official layout and environment, this machine's
/// CPython 3.12). Never removed: tests running at the same time build on it.
pub fn ensure_official_slim() -> String {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let lock = lock_file("importgate-mkbase.lock");
        run_ok(
            Command::new("python3")
                .arg(support_script("mkbase.py"))
                .args(["--layout", "slim", "--python", "3.12", "--official"]),
            "mkbase.py --official",
        );
        drop(lock);
        *done = true;
    }
    OFFICIAL_SLIM.to_string()
}

/// The base image for a test that needs Docker ([`require_docker`], then [`ensure_base`]);
/// `None` when the test is skipped.
pub fn docker_base(layout: &str, version: &str) -> Option<String> {
    require_docker().then(|| ensure_base(layout, version))
}

/// `docker run --rm --network none OPTS IMAGE ARGS`, run to its end.
pub fn docker_run(image: &str, opts: &[&str], args: &[&str]) -> Output {
    output_of(
        docker()
            .args(["run", "--rm", "--network", "none"])
            .args(opts)
            .arg(image)
            .args(args),
        &format!("docker run {image}"),
    )
}

/// As [`docker_run`] with `-i`, writing `input` to the container's stdin.
pub fn docker_run_stdin(image: &str, opts: &[&str], args: &[&str], input: &[u8]) -> Output {
    let mut child = docker()
        .args(["run", "--rm", "-i", "--network", "none"])
        .args(opts)
        .arg(image)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("docker run {image}: cannot run: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .unwrap_or_else(|e| panic!("docker run {image}: write stdin: {e}"));
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("docker run {image}: output: {e}"))
}

/// A tagged test image, removed when dropped (also when the test panics). Its untagged parents
/// stay (`--no-prune`): they are build cache that a test building the same steps at the same
/// time may be using as the parent of its next step.
pub struct Image {
    pub tag: String,
}

/// Removes the image with this tag (or id) at the end of the test, also when it panics: for
/// images a test has something else build.
pub fn tagged(tag: &str) -> Image {
    Image {
        tag: tag.to_string(),
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rmi", "-f", "--no-prune", &self.tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `docker build -q -t TAG DIR` (no network for RUN steps).
pub fn build_image(tag: &str, dir: &Path) -> Image {
    run_ok(
        docker()
            .args(["build", "-q", "--network", "none", "-t", tag])
            .arg(dir),
        &format!("docker build -t {tag} {}", dir.display()),
    );
    tagged(tag)
}

pub fn docker_save(tag: &str, path: &Path) {
    run_ok(
        docker().args(["save", "-o"]).arg(path).arg(tag),
        &format!("docker save {tag}"),
    );
}

/// `docker save` archive -> OCI image archive (`save2oci.py`).
pub fn to_oci(save_path: &Path, oci_path: &Path) {
    run_ok(
        Command::new("python3")
            .arg(support_script("save2oci.py"))
            .arg(save_path)
            .arg(oci_path),
        "save2oci.py",
    );
}

/// `docker save` archive -> OCI layout directory.
pub fn to_oci_dir(save_path: &Path, oci_dir: &Path) {
    run_ok(
        Command::new("python3")
            .arg(support_script("save2oci.py"))
            .arg(save_path)
            .arg(oci_dir)
            .arg("--dir"),
        "save2oci.py --dir",
    );
}

/// One file of a scenario image, at an absolute path inside the image.
pub enum Entry {
    File(String, String),
    Symlink(String, String),
    /// The contents of a host directory (`cp -a`), at an image directory.
    Tree(String, PathBuf),
}

pub fn file(path: impl Into<String>, content: impl Into<String>) -> Entry {
    Entry::File(path.into(), content.into())
}

pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
    Entry::Symlink(path.into(), target.into())
}

/// The files below the host directory `from`, in the image directory `path`.
pub fn tree(path: impl Into<String>, from: &Path) -> Entry {
    Entry::Tree(path.into(), from.to_path_buf())
}

/// Builds `FROM base` + `COPY rootfs/ /` (the entries) + `dockerfile_tail` (ENV, WORKDIR, RUN,
/// CMD, ...) from a temporary build context, which is removed afterwards.
pub fn build_scenario(tag: &str, base: &str, entries: &[Entry], dockerfile_tail: &str) -> Image {
    let ctx = tempfile::Builder::new()
        .prefix("importgate-ctx.")
        .tempdir()
        .expect("tempdir");
    write_entries(&ctx.path().join("rootfs"), entries);
    let dockerfile = format!("FROM {base}\nCOPY rootfs/ /\n{dockerfile_tail}\n");
    fs::write(ctx.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
    build_image(tag, ctx.path())
}

/// Writes scenario entries below `rootfs` (their absolute image paths made relative to it).
fn write_entries(rootfs: &Path, entries: &[Entry]) {
    fs::create_dir_all(rootfs).expect("mkdir rootfs");
    for entry in entries {
        let (path, write): (&str, &dyn Fn(&Path)) = match entry {
            Entry::File(path, content) => (path, &move |p: &Path| {
                fs::write(p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            }),
            Entry::Symlink(path, target) => (path, &move |p: &Path| {
                std::os::unix::fs::symlink(target, p)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            }),
            Entry::Tree(path, from) => (path, &move |p: &Path| {
                fs::create_dir_all(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                run_ok(
                    Command::new("cp").arg("-a").arg(from.join(".")).arg(p),
                    &format!("cp -a {}", from.display()),
                );
            }),
        };
        assert!(path.starts_with('/'), "scenario paths are absolute: {path}");
        let host = rootfs.join(path.trim_start_matches('/'));
        fs::create_dir_all(host.parent().expect("parent")).expect("mkdir");
        write(&host);
    }
}

/// The multiarch library directory of the host and of the test images.
pub const MULTIARCH: &str = "/usr/lib/x86_64-linux-gnu";

/// An image built from a base, wheels from the cache (`COPY wheels/ /wheels/`), host libraries
/// (`COPY libs/` into [`MULTIARCH`]), host directory trees, literal files (`COPY rootfs/ /`) and
/// a Dockerfile tail. The `COPY` lines come right after `FROM`, in the order their kind was
/// first added; the tail lines after them. The build context is removed when dropped.
pub struct ImageBuilder {
    ctx: tempfile::TempDir,
    base: String,
    copies: Vec<String>,
    lines: Vec<String>,
}

impl ImageBuilder {
    pub fn new(base: &str) -> ImageBuilder {
        ImageBuilder {
            ctx: tempfile::Builder::new()
                .prefix("importgate-image.")
                .tempdir()
                .expect("tempdir"),
            base: base.to_string(),
            copies: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The context directory `dir`, copied to `image_dir` (`""` is `/`).
    fn dir(&mut self, dir: &str, image_dir: &str) -> PathBuf {
        let copy = format!("COPY {dir}/ {image_dir}/");
        if !self.copies.contains(&copy) {
            self.copies.push(copy);
        }
        let path = self.ctx.path().join(dir);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// A wheel file, under `/wheels/` in the image.
    pub fn wheel(mut self, w: &Path) -> ImageBuilder {
        let to = self
            .dir("wheels", "/wheels")
            .join(w.file_name().expect("wheel name"));
        fs::copy(w, &to).unwrap_or_else(|e| panic!("{}: {e}", w.display()));
        self
    }

    /// The host's copy of a library (followed to its real file), under its soname in
    /// [`MULTIARCH`].
    pub fn host_lib(mut self, soname: &str) -> ImageBuilder {
        let src = fs::canonicalize(Path::new(MULTIARCH).join(soname))
            .unwrap_or_else(|e| panic!("host library {soname}: {e}"));
        let to = self.dir("libs", MULTIARCH).join(soname);
        fs::copy(&src, to).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        self
    }

    /// The contents of the host directory `from` (`cp -a`: modes and symlinks kept), without
    /// its top-level entries `skip`, in the image directory `image_dir` (context directory
    /// `dir`).
    pub fn tree(mut self, dir: &str, from: &Path, image_dir: &str, skip: &[&str]) -> ImageBuilder {
        let to = self.dir(dir, image_dir);
        run_ok(
            Command::new("cp").arg("-a").arg(from.join(".")).arg(&to),
            &format!("cp -a {}", from.display()),
        );
        for s in skip {
            let _ = fs::remove_dir_all(to.join(s));
        }
        self
    }

    /// A file at an absolute image path (written again when it is already there).
    pub fn file(mut self, path: &str, text: &str) -> ImageBuilder {
        let rootfs = self.dir("rootfs", "");
        write_entries(&rootfs, &[file(path, text)]);
        self
    }

    /// A Dockerfile line (or lines) after the `COPY` lines.
    pub fn line(mut self, l: &str) -> ImageBuilder {
        self.lines.push(l.to_string());
        self
    }

    /// `docker build -t TAG` of the context as it is now (it can be changed and built again).
    pub fn build(&self, tag: &str) -> Image {
        let mut dockerfile = vec![format!("FROM {}", self.base)];
        dockerfile.extend(self.copies.iter().cloned());
        dockerfile.extend(self.lines.iter().cloned());
        fs::write(
            self.ctx.path().join("Dockerfile"),
            dockerfile.join("\n") + "\n",
        )
        .expect("write Dockerfile");
        build_image(tag, self.ctx.path())
    }
}

/// The wheel files for `reqs` (with dependencies when `deps`) for CPython `py` (`3.12`) on
/// manylinux x86_64, downloaded once with pip into `~/.cache/importgate-tests/wheels/cpXY/`
/// (the test images have no network); every wheel of that directory, sorted.
pub fn wheels(py: &str, reqs: &[&str], deps: bool) -> Vec<PathBuf> {
    let dir = cache_dir()
        .join("wheels")
        .join(format!("cp{}", py.replace('.', "")));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let have = |req: &str| {
        let stem = req
            .split(['=', '<', '>'])
            .next()
            .expect("requirement name")
            .to_lowercase()
            .replace('-', "_");
        fs::read_dir(&dir).expect("wheel cache").flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .to_lowercase()
                .starts_with(&format!("{stem}-"))
        })
    };
    if reqs.iter().any(|r| !have(r)) {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "download", "-q", "--only-binary=:all:"])
            .args(["--python-version", py, "--implementation", "cp"])
            .args(["--platform", "manylinux2014_x86_64"])
            .args(["--platform", "manylinux_2_17_x86_64"])
            .args(["--platform", "manylinux_2_28_x86_64"])
            .arg("-d")
            .arg(&dir)
            .args(reqs);
        if !deps {
            cmd.arg("--no-deps");
        }
        let status = cmd.status().expect("run pip download");
        assert!(status.success(), "pip download {reqs:?} failed");
    }
    wheel_files(&dir)
}

/// The `.whl` files of a directory, sorted.
pub fn wheel_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .expect("wheel cache")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    out.sort();
    out
}

/// The wheel of the distribution `name` (file name `name-…`, case-insensitive) among `all`.
pub fn find_wheel<'a>(all: &'a [PathBuf], name: &str) -> Option<&'a PathBuf> {
    all.iter().find(|p| {
        p.file_name()
            .expect("wheel name")
            .to_string_lossy()
            .to_lowercase()
            .starts_with(&format!("{}-", name.to_lowercase()))
    })
}

/// As [`find_wheel`], panicking when there is none.
pub fn wheel(all: &[PathBuf], name: &str) -> PathBuf {
    find_wheel(all, name)
        .unwrap_or_else(|| panic!("no wheel for {name} in {all:?}"))
        .clone()
}

/// A site-packages tree installed from PyPI on the host with CPython 3.12 (`$PYTHON312`),
/// once, into `~/.cache/importgate-tests/NAME`.
pub fn pypi_site(name: &str, reqs: &[&str]) -> PathBuf {
    let cache = cache_dir().join(name);
    let marker = cache.join(".complete");
    if !marker.exists() {
        let python = std::env::var("PYTHON312")
            .unwrap_or_else(|_| "/root/.pyenv/versions/3.12.1/bin/python".to_string());
        let out = Command::new(python)
            .args(["-m", "pip", "install", "--quiet", "--upgrade", "--target"])
            .arg(&cache)
            .args(reqs)
            .output()
            .expect("pip");
        assert!(
            out.status.success(),
            "pip install {reqs:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(&marker, "").expect("write marker");
    }
    cache
}

/// What running the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout as JSON, panicking with the whole run if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "importgate did not print JSON ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }
}

pub fn importgate(args: &[&str]) -> Run {
    importgate_env(args, &[])
}

pub fn importgate_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_importgate(
        Command::new(env!("CARGO_BIN_EXE_importgate")).envs(env.iter().copied()),
        args,
    )
}

/// `importgate ARGS` run in `dir`, as a user at the root of their repository runs it: context
/// paths in the report are then relative to `dir`.
pub fn importgate_in(dir: &Path, args: &[&str]) -> Run {
    run_importgate(
        Command::new(env!("CARGO_BIN_EXE_importgate")).current_dir(dir),
        args,
    )
}

/// The layer cache every run of the suite shares (unless a test names its own), so that layers
/// indexed by one test are read from the cache by the next, and every verdict the suite checks
/// also checks the cache. Stored reports are not used (`IMPORTGATE_NO_RESULT_CACHE`) unless a
/// test asks: a test means its run to read the image.
pub fn shared_layer_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layer-cache")
}

fn run_importgate(cmd: &mut Command, args: &[&str]) -> Run {
    if !cmd.get_envs().any(|(k, _)| k == "IMPORTGATE_CACHE_DIR") {
        cmd.env("IMPORTGATE_CACHE_DIR", shared_layer_cache());
    }
    if !cmd
        .get_envs()
        .any(|(k, _)| k == "IMPORTGATE_NO_RESULT_CACHE")
    {
        cmd.env("IMPORTGATE_NO_RESULT_CACHE", "1");
    }
    cmd.args(args).stdin(Stdio::null());
    let out = cmd.output().expect("run importgate");
    Run {
        // killed by a signal: not an exit code the contract knows
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `importgate check --format json IMAGE`.
pub fn check_json(image: &str) -> (Run, Value) {
    let run = importgate(&["check", "--format", "json", image]);
    let json = run.json();
    (run, json)
}

/// `importgate check --format json IMAGE`, which must exit with `code`; the report.
pub fn check_exit(image: &str, code: i32) -> Value {
    let (run, report) = check_json(image);
    assert_eq!(run.code, code, "{report:#}");
    report
}

/// One statement for the oracle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    pub statement: String,
    pub package: Option<String>,
}

impl Case {
    pub fn new(statement: &str, package: Option<&str>) -> Case {
        Case {
            statement: statement.to_string(),
            package: package.map(str::to_string),
        }
    }
}

/// What CPython did with one case.
#[derive(Debug, Clone)]
pub struct Truth {
    /// `None`: the probe could not tell (timeout, crash).
    pub ok: Option<bool>,
    pub exc_type: Option<String>,
    pub name: Option<String>,
    pub import_error: bool,
    pub message: Option<String>,
    /// Raised while executing the code of a module being imported (a file of the image on the
    /// traceback), not by the import system resolving this statement.
    pub in_module_code: bool,
}

impl Truth {
    /// One result object of `probe.py` (or of a harness printing the same fields).
    pub fn from_json(r: &Value) -> Truth {
        Truth {
            ok: r["ok"].as_bool(),
            exc_type: r["type"].as_str().map(str::to_string),
            name: r["name"].as_str().map(str::to_string),
            import_error: r["import_error"].as_bool().unwrap_or(false),
            message: r["message"].as_str().map(str::to_string),
            in_module_code: r["in_module_code"].as_bool().unwrap_or(false),
        }
    }

    /// CPython raises an ImportError for this import itself (not for some import the imported
    /// code does): `.name` is None, the module, `module.name`, or a dotted prefix of the module,
    /// and the exception does not come out of an imported module's own code.
    pub fn fails_for(&self, module: &str, name: Option<&str>) -> bool {
        // Python < 3.9 raises ValueError for a relative import beyond the top-level package.
        let relative_value_error = self.exc_type.as_deref() == Some("ValueError")
            && self
                .message
                .as_deref()
                .is_some_and(|m| m.contains("relative import"));
        if self.ok != Some(false)
            || !(self.import_error || relative_value_error)
            || self.in_module_code
        {
            return false;
        }
        match self.name.as_deref() {
            None => true,
            Some(n) => {
                n == module
                    || name.is_some_and(|name| n == format!("{module}.{name}"))
                    || module.starts_with(&format!("{n}."))
                    // An extension module that is found but cannot be loaded (dlopen fails)
                    // raises with its short name: `_speedups` for `markupsafe._speedups`
                    // (importdl.c).
                    || module.rsplit_once('.').is_some_and(|(_, last)| last == n)
            }
        }
    }

    pub fn describe(&self) -> String {
        match self.ok {
            Some(true) => "imports fine".to_string(),
            Some(false) => format!(
                "{}(name={:?}): {}{}",
                self.exc_type.as_deref().unwrap_or("?"),
                self.name,
                self.message.as_deref().unwrap_or(""),
                if self.in_module_code {
                    " [raised in the imported module's code]"
                } else {
                    ""
                }
            ),
            None => format!(
                "probe failed: {} {}",
                self.exc_type.as_deref().unwrap_or("?"),
                self.message.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Asks the image's `python3` (with the image's User, WorkingDir and Env).
pub fn truth(image: &str, path0: Option<&str>, cases: &[Case]) -> Vec<Truth> {
    truth_with(image, "python3", path0, cases)
}

/// Asks the image's `python` (a command word resolved with the image's PATH, or a path): every
/// case in a fresh interpreter whose `sys.path[0]` is `path0`.
pub fn truth_with(image: &str, python: &str, path0: Option<&str>, cases: &[Case]) -> Vec<Truth> {
    truth_appending(image, python, path0, &[], cases)
}

/// As [`truth_with`], with `append` added at the end of `sys.path` (a server that appends its
/// working directory).
pub fn truth_appending(
    image: &str,
    python: &str,
    path0: Option<&str>,
    append: &[String],
    cases: &[Case],
) -> Vec<Truth> {
    let probe = fs::read_to_string(support_script("probe.py")).expect("read probe.py");
    let input = serde_json::json!({
        "path0": path0,
        "append": append,
        "cases": cases
            .iter()
            .map(|c| serde_json::json!({"statement": c.statement, "package": c.package}))
            .collect::<Vec<_>>(),
    });
    let out = docker_run_stdin(
        image,
        &["--entrypoint", python],
        &["-c", &probe],
        input.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "probe in {image} ({python}) failed: {}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let results = v["results"].as_array().expect("probe results");
    assert_eq!(results.len(), cases.len(), "one result per case");
    results.iter().map(Truth::from_json).collect()
}

/// What CPython says of one statement (see [`truth_with`]).
pub fn cpython_statement(image: &str, python: &str, path0: Option<&str>, statement: &str) -> Truth {
    truth_with(image, python, path0, &[Case::new(statement, None)])
        .pop()
        .expect("one result")
}

/// `sys.path[0]` as the report models it: the first entry when it is the script's directory,
/// the working directory or a console script's bin directory; otherwise nothing is prepended.
pub fn report_path0(report: &Value) -> Option<String> {
    let first = report["python"]["sys_path"].as_array()?.first()?;
    match first["origin"]["kind"].as_str()? {
        "script-dir" | "working-dir" | "script-bin-dir" => {
            first["path"].as_str().map(str::to_string)
        }
        _ => None,
    }
}

/// Replays every `ok`/`error` import of the report in the image, with the interpreter and
/// `sys.path[0]` the report names, and fails listing every disagreement.
pub fn differential(image: &str, report: &Value) {
    let python = report["python"]["executable"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("python3")
        .to_string();
    let path0 = report_path0(report);
    let append = report_appended(report);
    assert_agrees(image, &python, path0.as_deref(), &append, report);
}

/// Fails listing every import importgate and CPython disagree on.
fn assert_agrees(
    image: &str,
    python: &str,
    path0: Option<&str>,
    append: &[String],
    report: &Value,
) {
    let disagreements = disagreements_appending(image, python, path0, append, report);
    assert!(
        disagreements.is_empty(),
        "importgate and CPython ({python} in {image}, sys.path[0] = {path0:?}, appended {append:?}) disagree on {} import(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// The working directory the report models at the end of `sys.path` (waitress appends it).
pub fn report_appended(report: &Value) -> Vec<String> {
    let Some(entries) = report["python"]["sys_path"].as_array() else {
        return Vec::new();
    };
    match entries.split_last() {
        Some((last, rest))
            if !rest.is_empty() && last["origin"]["kind"].as_str() == Some("working-dir") =>
        {
            last["path"]
                .as_str()
                .map(str::to_string)
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// As [`differential`], with the interpreter and `sys.path[0]` given by the test (so a wrong
/// model of either in the report cannot make the oracle agree with it).
pub fn differential_with(image: &str, python: &str, path0: Option<&str>, report: &Value) {
    assert_agrees(image, python, path0, &[], report);
}

/// The disagreements, one line each.
pub fn disagreements(
    image: &str,
    python: &str,
    path0: Option<&str>,
    report: &Value,
) -> Vec<String> {
    disagreements_appending(image, python, path0, &[], report)
}

/// As [`disagreements`], with `append` at the end of `sys.path`.
pub fn disagreements_appending(
    image: &str,
    python: &str,
    path0: Option<&str>,
    append: &[String],
    report: &Value,
) -> Vec<String> {
    let imports = report["imports"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no `imports` array:\n{report:#}"));
    // (case, module, name, ours_error, where) for every decided import
    let mut checked = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut index: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for imp in imports {
        let status = imp["status"].as_str().unwrap_or("");
        if status != "ok" && status != "error" {
            continue;
        }
        let statement = imp["statement"].as_str().unwrap_or("").to_string();
        let package = imp["package"].as_str().map(str::to_string);
        let key = (statement.clone(), package.clone());
        let i = *index.entry(key).or_insert_with(|| {
            cases.push(Case {
                statement: statement.clone(),
                package: package.clone(),
            });
            cases.len() - 1
        });
        checked.push((
            i,
            imp["module"].as_str().unwrap_or("").to_string(),
            imp["name"].as_str().map(str::to_string),
            // A statement that resolves but raises inside a dependency it executes: CPython
            // raises an ImportError out of the imported module's code.
            imp["raised_in"].is_string(),
            status == "error",
            format!(
                "{}:{}:{}",
                imp["file"].as_str().unwrap_or("?"),
                imp["line"],
                imp["column"]
            ),
        ));
    }
    if cases.is_empty() {
        return Vec::new();
    }
    let truths = truth_appending(image, python, path0, append, &cases);
    let mut out = Vec::new();
    for (i, module, name, raised_inside, ours_error, at) in checked {
        let t = &truths[i];
        // Raised while executing what the statement imports: any exception counts (a
        // SyntaxError of a module that does not parse is not an ImportError).
        let theirs_error = if raised_inside {
            t.ok == Some(false)
        } else {
            t.fails_for(&module, name.as_deref())
        };
        if t.ok.is_none() || ours_error != theirs_error {
            let mut line = String::new();
            let _ = write!(
                line,
                "  {at}: `{}` (package {:?}, module {module:?}): importgate says {}, CPython: {}",
                cases[i].statement,
                cases[i].package,
                if ours_error { "error" } else { "ok" },
                t.describe()
            );
            out.push(line);
        }
    }
    out
}

/// The `imports` entries of a report with this module (and `from` name, when given).
pub fn imports_of<'a>(report: &'a Value, module: &str, name: Option<&str>) -> Vec<&'a Value> {
    report["imports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| {
                    i["module"].as_str() == Some(module)
                        && (name.is_none() || i["name"].as_str() == name)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Findings with this module.
pub fn findings_for<'a>(report: &'a Value, module: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["module"].as_str() == Some(module))
                .collect()
        })
        .unwrap_or_default()
}

/// The `chain` of a finding: the modules from the entry point to the failing import.
pub fn chain_of(finding: &Value) -> Vec<&str> {
    finding["chain"]
        .as_array()
        .unwrap_or_else(|| panic!("finding without a `chain` array: {finding:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// A temporary directory removed at the end of the test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("importgate-test.")
        .tempdir()
        .expect("tempdir")
}

/// Writes `(relative path, contents)` below `dir`, creating parent directories.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// A temporary build context with these files.
pub fn context_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir();
    write_files(dir.path(), files);
    dir
}

/// Copies the files and directories below `from` into `to` (created if missing).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        }
    }
}

/// A temporary copy of `examples/NAME`, for a test that changes it.
pub fn example_copy(name: &str) -> tempfile::TempDir {
    let dir = tempdir();
    copy_tree(&example(name), dir.path());
    dir
}

/// Asserts the bad-input contract: exit 2, exactly one stderr line starting `error:`, no panic.
pub fn assert_bad_input(run: &Run, what: &str) {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        run.code == 2
            && lines.len() == 1
            && lines[0].starts_with("error:")
            && !run.stderr.contains("panicked"),
        "{what}: want exit 2 and one `error: ...` line on stderr; got exit {}\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
}

/// Loads an image (`docker-archive:…`, `oci-archive:…`, or a name in the engine) through the
/// library, with the capture policy the CLI uses: for tests that check one image many times.
pub fn load_image(name: &str) -> importgate_image::Image {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let opts = importgate_image::LoadOptions {
        capture: importgate_check::capture_policy(),
        ..Default::default()
    };
    rt.block_on(importgate_image::load(
        &importgate_image::parse_source(name),
        &opts,
    ))
    .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

/// A detached container, removed when dropped.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.0]).output();
    }
}

/// What the image's own Entrypoint/Cmd did.
pub struct Started {
    /// `None`: still running when we stopped looking.
    pub exit: Option<i32>,
    pub log: String,
}

/// Starts the image's Entrypoint/Cmd (`docker run -d --network none IMAGE`) and waits up to
/// `secs` for it to end, or for its log to show one of `until`.
pub fn start_container(tag: &str, secs: u64, until: &[&str]) -> Started {
    let id = run_ok(
        docker().args(["run", "-d", "--network", "none", tag]),
        &format!("docker run -d {tag}"),
    )
    .trim()
    .to_string();
    let c = Container(id);
    let logs = || {
        let out = output_of(docker().args(["logs", &c.0]), "docker logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let state = run_ok(
            docker().args([
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                &c.0,
            ]),
            "docker inspect",
        );
        let mut words = state.split_whitespace();
        if words.next() == Some("exited") {
            return Started {
                exit: words.next().and_then(|w| w.parse().ok()),
                log: logs(),
            };
        }
        let log = logs();
        if Instant::now() > deadline || until.iter().any(|u| log.contains(u)) {
            return Started { exit: None, log };
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The file and line of a traceback's `  File "…", line N, in …` line; `None` for any other
/// line and for the import machinery's `<frozen …>` frames.
pub fn traceback_frame(line: &str) -> Option<(String, u64)> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (file, rest) = rest.split_once('"')?;
    if file.starts_with('<') {
        return None;
    }
    let line = rest
        .strip_prefix(", line ")?
        .split(',')
        .next()?
        .parse()
        .ok()?;
    Some((file.to_string(), line))
}

/// The 1-based line of `text` that contains `needle` (exactly one does).
pub fn line_of(text: &str, needle: &str) -> u64 {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:?} in\n{text}");
    hits[0] as u64
}

/// The error findings of a JSON report.
pub fn error_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no `findings` array:\n{report:#}"))
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect()
}
