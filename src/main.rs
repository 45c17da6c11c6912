//! The `importgate` command: argument parsing, wiring of the library stages, exit codes.
//! Exit status: 0 no import errors, 1 import errors found, 2 bad input or infrastructure failure.

mod build;
mod docs;
mod explain;
mod predict;
mod progress;
mod results;
mod tree;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use importgate_check::{CheckOptions, Mode, Report, Severity, capture_policy, check};
use importgate_image::{
    Image, LayerCache, LoadOptions, Platform, RegistryOptions, Secret, Source, SourceMode, load,
    load_from, parse_source,
};
use importgate_report::{
    HumanOptions, render_github, render_human, render_json, render_junit, render_sarif,
};

/// Parsing the startup closure allocates and frees millions of small syntax-tree nodes across
/// threads; glibc's allocator spent a tenth of a cold check's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "importgate",
    version,
    about = "Prove, before deploy, that a container image's Python application can import everything it imports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of `check`'s arguments does not matter.
/// Where layer indexes are kept between runs (`importgate_image::cache`).
#[derive(clap::Args, Clone)]
pub(crate) struct CacheArgs {
    /// Read and verify every layer again; keep nothing for the next run.
    #[arg(long)]
    no_cache: bool,
    /// The cache directory [default: $IMPORTGATE_CACHE_DIR, else $XDG_CACHE_HOME/importgate,
    /// else ~/.cache/importgate]. `IMPORTGATE_CACHE_MAX_MB` caps its size (default 2048).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Read the image even when the report of an earlier run on the same image with the same
    /// options is stored (its layers may still come from the cache).
    #[arg(
        long,
        env = "IMPORTGATE_NO_RESULT_CACHE",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    no_result_cache: bool,
}

impl CacheArgs {
    pub(crate) fn open(&self) -> Option<std::sync::Arc<LayerCache>> {
        if self.no_cache {
            return None;
        }
        let root = self.cache_dir.clone().or_else(LayerCache::default_root)?;
        let max = std::env::var("IMPORTGATE_CACHE_MAX_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(importgate_image::cache::DEFAULT_MAX_BYTES, |mb| mb << 20);
        Some(std::sync::Arc::new(LayerCache::new(
            &root,
            &cache_salt(),
            max,
        )))
    }
}

/// What a cached index depends on besides the layer: this very binary (its capture policy,
/// its parsers), told apart by its size and modification time.
fn cache_salt() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default();
    format!("capture-policy:{exe}")
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SourceModeArg {
    Auto,
    Export,
    Storage,
}

impl From<SourceModeArg> for SourceMode {
    fn from(m: SourceModeArg) -> Self {
        match m {
            SourceModeArg::Auto => SourceMode::Auto,
            SourceModeArg::Export => SourceMode::Export,
            SourceModeArg::Storage => SourceMode::Storage,
        }
    }
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Check every import of the image's Python application.
    Check(CheckArgs),
    /// Show the walk CPython's import system would do for one import in the image.
    Explain(explain::ExplainArgs),
    /// Print the merged filesystem as importgate sees it (for comparing image readers).
    #[command(hide = true)]
    Tree(tree::TreeArgs),
    /// Print the shell completion script for SHELL on stdout.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write every page into a directory.
    Man(docs::ManArgs),
}

/// The platform picked from a multi-platform image when `--platform` is not given.
pub(crate) const DEFAULT_PLATFORM: &str = "linux/amd64";

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// JUnit XML, one test case per application file.
    Junit,
    /// GitHub Actions annotations (`::error file=...`).
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The image: a daemon reference (`myapp:1.2`, `docker-daemon:myapp:1.2`),
    /// `docker-archive:PATH[:REF]`, `oci:PATH[:REF]`, `oci-archive:PATH[:REF]`, or an existing
    /// path (detected). Give either IMAGE or `--context`.
    #[arg(required_unless_present = "context", conflicts_with = "context")]
    image: Option<String>,
    /// Build the image from this build context through the Docker Engine, then check it;
    /// findings name the context's files.
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
    /// The Dockerfile (default: DIR/Dockerfile), as `docker build -f`.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "DOCKERFILE",
        requires = "context"
    )]
    file: Option<PathBuf>,
    /// The build stage to check (`docker build --target`).
    #[arg(long, value_name = "STAGE", requires = "context")]
    target: Option<String>,
    /// A build argument, K=V (or K to take the value from the environment).
    #[arg(long = "build-arg", value_name = "K=V", requires = "context")]
    build_arg: Vec<String>,
    /// Tag the built image (repeatable). Without it the image is left untagged, as by
    /// `docker build`; its id is printed and in the report.
    #[arg(long, value_name = "NAME[:TAG]", requires = "context")]
    tag: Vec<String>,
    /// Predict the final stage from the Dockerfile and the context instead of building it.
    #[arg(long, requires = "context")]
    no_build: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: FormatArg,
    /// Also write the report to FILE in this format (`--format` is then used for FILE and the
    /// human form goes to stdout).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Platform to pick from a multi-platform image [default: linux/amd64]. With `--context`,
    /// also the platform to build for (without it the engine builds for its own platform).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// For an image held by the local engine: read its layers from the engine's storage
    /// directories when this user may read them and the engine is reached through its local
    /// socket (`auto`, else the export), always from the export stream (`export`), or only from
    /// the storage (`storage`: an error when it cannot be read).
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    source_mode: SourceModeArg,
    #[command(flatten)]
    cache: CacheArgs,
    /// User name for a `registry:`/`docker://` image; overrides the docker CLI's credentials.
    #[arg(long, value_name = "USER", requires = "registry_password_stdin")]
    registry_username: Option<String>,
    /// Read the registry password (or token) for `--registry-username` from stdin.
    #[arg(long, requires = "registry_username")]
    registry_password_stdin: bool,
    /// A PEM file of CA certificates trusted for registries besides the system roots.
    #[arg(long, value_name = "FILE")]
    registry_ca: Option<PathBuf>,
    /// A registry (HOST or HOST:PORT) reached without certificate checks, or over plain HTTP,
    /// as `dockerd --insecure-registry` allows. Loopback hosts may use plain HTTP anyway.
    #[arg(long, value_name = "HOST")]
    insecure_registry: Vec<String>,
    /// Extra application files to check (glob over paths inside the image).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Application files to leave out (glob over paths inside the image).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Configuration file (`pyproject.toml` with `[tool.importgate]`, or an `importgate.toml`);
    /// replaces the one found in the image's working directory. Flags override it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Report only these finding codes (comma-separated or repeated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    select: Vec<String>,
    /// Never report these finding codes (comma-separated or repeated).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    ignore: Vec<String>,
    /// Do not report failures of modules matching PATTERN (`boto3`, `optional_*`, `pkg.*`).
    #[arg(long, value_name = "PATTERN")]
    ignore_module: Vec<String>,
    /// Severity of a kind of finding: KIND=LEVEL, KIND one of startup, module-level, lazy,
    /// dynamic, guarded, undecidable; LEVEL one of error, warning, info, off.
    #[arg(long, value_name = "KIND=LEVEL")]
    severity: Vec<String>,
    /// Show sys.path with origins, info findings and every note.
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// No summary when no import fails, and no progress or build steps on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// When to use colours (NO_COLOR is honoured in `auto`).
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorArg,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IMPORTGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn use_color(arg: ColorArg) -> bool {
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

fn render(
    report: &Report,
    format: FormatArg,
    human: &HumanOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        FormatArg::Human => render_human(report, human, out),
        FormatArg::Json => render_json(report, out),
        FormatArg::Sarif => render_sarif(report, out),
        FormatArg::Junit => render_junit(report, out),
        FormatArg::Github => render_github(report, out),
    }
}

/// Where the image to check comes from, and what maps its paths back to the user's files.
struct Subject {
    image: Image,
    /// What the user named, for error messages.
    name: String,
    mode: Mode,
    /// For an image built or predicted from a context: image path → context path.
    path_map: Option<importgate_context::PathMap>,
    /// For a prediction: the `RUN` commands it did not model.
    unmodelled: Vec<importgate_predict::Unmodelled>,
}

/// The registry flags as client options. The password is read from stdin (never from an
/// argument, which `ps` would show), one trailing newline dropped as `docker login` does.
fn registry_options(args: &CheckArgs) -> anyhow::Result<RegistryOptions> {
    let credential = match &args.registry_username {
        Some(user) if args.registry_password_stdin => {
            let mut password = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut password)
                .context("cannot read the registry password from stdin")?;
            let password = password
                .strip_suffix('\n')
                .map(|p| p.strip_suffix('\r').unwrap_or(p))
                .unwrap_or(&password);
            if password.is_empty() {
                anyhow::bail!("--registry-password-stdin: stdin is empty");
            }
            Some((user.clone(), Secret::new(password)))
        }
        _ => None,
    };
    Ok(RegistryOptions {
        credential,
        ca_file: args.registry_ca.clone(),
        insecure_registries: args.insecure_registry.clone(),
        ..RegistryOptions::default()
    })
}

/// `--platform`, or the default, as every subcommand reads it.
pub(crate) fn parse_platform(arg: Option<&str>) -> anyhow::Result<Platform> {
    let arg = arg.unwrap_or(DEFAULT_PLATFORM);
    arg.parse()
        .map_err(|e| anyhow::anyhow!("invalid --platform `{arg}`: {e}"))
}

async fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let platform = parse_platform(args.platform.as_deref())?;
    // Installed modules on the startup path are parsed while the layers are still read.
    let ahead = importgate_check::ParseAhead::new(capture_policy());
    let opts = LoadOptions {
        platform,
        capture: ahead.clone(),
        progress: progress::sink(args.quiet),
        source_mode: args.source_mode.into(),
        cache: args.cache.open(),
        // The check runs while the layers read in place are hashed; verified below.
        defer_digests: true,
    };
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read configuration {}", path.display()))?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    // An image checked before with the same options: its report, without reading a layer.
    let mut result_key = None;
    if let (Some(name), Some(cache), false) = (&args.image, &opts.cache, args.cache.no_result_cache)
        && let Some(key) = results::key(&args, name, &parse_source(name), config.as_ref()).await
    {
        if let Some(report) = results::get(cache, &key) {
            return emit(&report, &args);
        }
        result_key = Some(key);
    }
    let subject = match (&args.image, &args.context) {
        (Some(name), _) => {
            let registry = registry_options(&args)?;
            let loaded = load_from(&parse_source(name), &opts, &registry)
                .await
                .with_context(|| format!("cannot read image `{name}`"))?;
            let mode = match loaded.pulled {
                Some(p) => Mode::Registry {
                    repository: p.repository,
                    tag: p.tag,
                    manifest_digest: p.manifest_digest,
                    index_digest: p.index_digest,
                    platform: p.platform,
                },
                None => Mode::Image,
            };
            Subject {
                image: loaded.image,
                name: name.clone(),
                mode,
                path_map: None,
                unmodelled: Vec::new(),
            }
        }
        (None, Some(dir)) if args.no_build => {
            // The pre-build mode (importgate_predict): a model of the final stage instead of a
            // build; it fills the same `Subject`, with `Mode::Prediction`.
            let predicted = predict::predict_from_context(&args, dir, &opts).await?;
            Subject {
                image: predicted.image,
                name: dir.display().to_string(),
                mode: predicted.mode,
                path_map: predicted.path_map,
                unmodelled: predicted.unmodelled,
            }
        }
        (None, Some(dir)) => {
            let built = build::build_from_context(&args, dir).await?;
            let source = Source::Daemon {
                reference: built.image_id.clone(),
            };
            let image = load(&source, &opts)
                .await
                .with_context(|| format!("cannot read the built image {}", built.image_id))?;
            Subject {
                image,
                name: built.image_id.clone(),
                mode: built.mode,
                path_map: built.path_map,
                unmodelled: Vec::new(),
            }
        }
        (None, None) => anyhow::bail!("give an IMAGE or --context DIR"),
    };
    let Subject {
        mut image,
        name,
        mode,
        path_map,
        unmodelled,
    } = subject;
    if let Mode::Built { tags, .. } = &mode
        && let Some(tag) = tags.first()
    {
        image.reference = tag.clone();
    }
    let checked = check(
        &image,
        &CheckOptions {
            include: args.include.clone(),
            exclude: args.exclude.clone(),
            config,
            select: args.select.clone(),
            ignore: args.ignore.clone(),
            ignore_modules: args.ignore_module.clone(),
            severity: args.severity.clone(),
            progress: progress::sink(args.quiet),
            // A prediction runs no `RUN chmod`: its file modes are not the built image's.
            modes_unknown: matches!(mode, Mode::Prediction { .. }),
            cache: opts.cache.clone(),
            ahead: Some(ahead),
        },
    );
    // Nothing is reported about layers that are not the image's own: a hash that does not match
    // (or could not be taken) is the error, before anything the check said.
    image
        .verify()
        .with_context(|| format!("cannot read image `{name}`"))?;
    let mut report = checked.with_context(|| format!("cannot check image `{name}`"))?;
    importgate_predict::mark_uncertain(&mut report, &image.config, &unmodelled);
    report.mode = mode;
    if let Some(map) = &path_map {
        importgate_build::relocate(&mut report, map);
    }
    if let (Some(cache), Some(key)) = (&opts.cache, &result_key) {
        results::put(cache, key, &report);
    }
    let code = emit(&report, &args);
    // The process ends next and its memory with it: freeing the merged tree and the captured
    // sources first would only make the verdict later.
    std::mem::forget(image);
    code
}

/// Writes the report where and how the arguments ask; the exit code says whether it has errors.
fn emit(report: &importgate_check::Report, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let human = HumanOptions {
        color: use_color(args.color),
        verbose: args.verbose,
        quiet: args.quiet,
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let written = match &args.output {
        Some(path) => {
            let mut buf = Vec::new();
            render(report, args.format, &human, &mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write {}", path.display()))?;
            render_human(report, &human, &mut lock)
        }
        None => render(report, args.format, &human, &mut lock),
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    let errors = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    Ok(if errors {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs a command that writes only to stdout; a closed pipe (`| head`) is not an error.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    write(&mut buf)?;
    match std::io::stdout().lock().write_all(&buf) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
    }
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Check(args) => runtime.block_on(run_check(args)),
        Command::Explain(args) => {
            let mut buf = Vec::new();
            runtime
                .block_on(explain::run(args, &mut buf))
                .and_then(|code| {
                    to_stdout(|out| out.write_all(&buf).map_err(Into::into))?;
                    Ok(ExitCode::from(code))
                })
        }
        Command::Tree(args) => {
            let mut buf = Vec::new();
            runtime
                .block_on(tree::run(args, &mut buf))
                .and_then(|()| to_stdout(|out| out.write_all(&buf).map_err(Into::into)))
        }
        Command::Completions(args) => to_stdout(|out| docs::completions(&args, out)),
        Command::Man(args) => to_stdout(|out| docs::man(&args, out)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line: each layer adds its own sentence.
            let mut line = format!("error: {err}");
            for cause in err.chain().skip(1) {
                // An error that already prints its source (`path: io error`) need not repeat it.
                let cause = cause.to_string();
                if !line.ends_with(&cause) {
                    line.push_str(&format!(": {cause}"));
                }
            }
            eprintln!("{}", line.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform_of(args: &[&str]) -> Option<String> {
        let cli = Cli::try_parse_from([&["importgate", "check"], args].concat());
        match cli.map(|c| c.command) {
            Ok(Command::Check(args)) => args.platform,
            Ok(_) => panic!("not `check`"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn platform_is_only_set_when_given() {
        // Not given: the build sends none; images are picked for DEFAULT_PLATFORM.
        assert_eq!(platform_of(&["--context", "."]), None);
        assert_eq!(
            platform_of(&["--context", ".", "--platform", "linux/arm64"]).as_deref(),
            Some("linux/arm64")
        );
        assert_eq!(
            platform_of(&["img", "--platform", "linux/amd64"]).as_deref(),
            Some("linux/amd64")
        );
    }
}
