//! The pre-build mode (`importgate check --no-build`): the final stage of a Dockerfile is
//! predicted from its plan and its build context without building, as an
//! [`importgate_image::Image`] (config and in-memory filesystem), and the normal checker runs
//! on it unchanged.
//!
//! - [`model`]: the bundled model of the official `python:X.Y` images, for bases that are not
//!   in the local engine ([`elfstub`] writes their interpreter binary).
//! - [`stage`]: the stages evaluated step by step: `COPY`/`ADD` from the context or another
//!   stage, `WORKDIR`, `ENV`, `USER`, `CMD`/`ENTRYPOINT`; [`pip`] stands in for the `RUN` steps
//!   that install Python distributions ([`requirements`], [`names`], [`wheel`], [`shell`]),
//!   and [`accounts`] for the ones that create users.
//!
//! [`fileops`] applies the `RUN` commands whose file effects are certain (`ln`, `cp`, `mv`,
//! `rm`, `chmod`, `echo > file`, `unzip`...). What cannot be predicted (other `RUN` steps,
//! installs whose names cannot be read) becomes a warning of the report, and each command not
//! modelled is kept with the paths it may write: [`uncertain`] turns the findings that depend
//! on them into uncertain warnings. The report's mode says that every verdict is a prediction.

pub mod accounts;
pub mod elfstub;
pub mod fileops;
pub mod model;
pub mod names;
pub mod pip;
pub mod requirements;
pub mod shell;
pub mod stage;
#[cfg(test)]
mod tests;
pub mod uncertain;
pub mod wheel;

pub use uncertain::mark_uncertain;

use std::collections::BTreeMap;
use std::sync::Arc;

use importgate_check::{CheckOptions, ImportStatus, Mode, Report};
use importgate_context::{BuildContext, BuildPlan, Dockerfile, plan_with_base};
use importgate_image::{Capture, Image, Platform};

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(
        "base image `{reference}` is neither in the local engine nor modelled (the pre-build mode models the official python:3.8 to python:3.13 images, plain, -slim and -alpine)"
    )]
    UnknownBase { reference: String },
    #[error("{dockerfile}:{line}: {message}")]
    Step {
        dockerfile: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Dockerfile(#[from] importgate_context::ContextError),
    #[error(transparent)]
    Check(#[from] importgate_check::CheckError),
}

/// How to predict.
#[derive(Clone)]
pub struct PredictOptions {
    pub platform: Platform,
    /// What file contents to keep, as the image loader would ([`importgate_check::capture_policy`]).
    pub capture: Arc<Capture>,
    /// The context directory as the user gave it, for the report.
    pub context_name: String,
    /// The Dockerfile as the user gave it, for the report and error messages.
    pub dockerfile_name: String,
}

/// A `RUN` command the prediction did not apply, and the absolute paths it may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmodelled {
    /// The Dockerfile line of its `RUN`.
    pub line: usize,
    /// The command as read (variables expanded).
    pub command: String,
    pub paths: Vec<String>,
}

/// A predicted final stage, ready for the checker.
pub struct Prediction {
    pub image: Image,
    /// [`Mode::Prediction`], for the report: every verdict on this image is a prediction.
    pub mode: Mode,
    /// What the final stage's base was read from, in words.
    pub base: String,
    /// Stand-in packages (no wheel in the context): top-level import name -> site directory.
    pub stubs: BTreeMap<String, String>,
    /// The plan the prediction followed (planned with the base images' config), for mapping
    /// image paths back to the context.
    pub plan: Option<BuildPlan>,
    /// `RUN` commands of the final stage's lineage that were not applied: findings that
    /// depend on what they may write are uncertain ([`mark_uncertain`]).
    pub unmodelled: Vec<Unmodelled>,
}

/// Predicts the final stage of the context's Dockerfile. Bases are looked up in the local
/// engine first, then in the bundled model; the Dockerfile is then planned with their config
/// (so `ENV PATH=/opt/venv/bin:$PATH` sees the base image's PATH).
///
/// A stand-in package has no known submodules: those the application imports
/// (`fastapi.responses`) are assumed to exist, since the distribution is declared, and are
/// added after a first check of the predicted image.
pub async fn predict(
    ctx: &BuildContext,
    build_args: &[(String, String)],
    target: Option<&str>,
    opts: &PredictOptions,
) -> Result<Prediction, PredictError> {
    let df = Dockerfile::parse(ctx.dockerfile_text())?;
    let first = importgate_context::plan(&df, build_args, target)?;
    let bases = stage::load_bases(&first, opts).await?;
    let plan = plan_with_base(&df, build_args, target, &|reference| {
        bases
            .get(reference)
            .map(|b| stage::base_config(&b.image.config))
    })?;
    let mut prediction = stage::Predictor::new(ctx, &plan, opts, bases).run()?;
    if !prediction.stubs.is_empty() {
        for _ in 0..3 {
            // An image the checker cannot model fails the same way in the caller's check.
            let Ok(report) = importgate_check::check(&prediction.image, &CheckOptions::default())
            else {
                break;
            };
            let missing: Vec<String> = report
                .imports
                .iter()
                .filter(|i| matches!(i.status, ImportStatus::Error | ImportStatus::Guarded))
                .map(|i| i.module.clone())
                .chain(report.findings.iter().map(|f| f.module.clone()))
                .collect();
            if !stage::add_stub_submodules(&mut prediction, &missing) {
                break;
            }
        }
    }
    prediction.plan = Some(plan);
    prediction.mode = Mode::Prediction {
        context: opts.context_name.clone(),
        dockerfile: opts.dockerfile_name.clone(),
        base: prediction.base.clone(),
    };
    Ok(prediction)
}

/// Predicts and checks: the report of the normal checker on the predicted image, with its mode
/// set to [`Mode::Prediction`].
pub async fn check(
    ctx: &BuildContext,
    build_args: &[(String, String)],
    target: Option<&str>,
    opts: &PredictOptions,
    check: &CheckOptions,
) -> Result<Report, PredictError> {
    let prediction = predict(ctx, build_args, target, opts).await?;
    let mut report = importgate_check::check(&prediction.image, check)?;
    mark_uncertain(
        &mut report,
        &prediction.image.config,
        &prediction.unmodelled,
    );
    report.mode = prediction.mode;
    Ok(report)
}
