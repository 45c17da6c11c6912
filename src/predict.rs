//! `check --context DIR --no-build`: the final stage predicted from the Dockerfile and the
//! context by `importgate_predict`, instead of built; the normal check then runs on it.

use std::path::Path;

use anyhow::Context;
use importgate_context::{BuildContext, PathMap};
use importgate_image::LoadOptions;

use crate::CheckArgs;

/// A predicted image and how to relate it to the context.
pub struct Predicted {
    pub image: importgate_image::Image,
    pub mode: importgate_check::Mode,
    pub path_map: Option<PathMap>,
    /// `RUN` commands not modelled: the findings they could change become uncertain.
    pub unmodelled: Vec<importgate_predict::Unmodelled>,
}

pub async fn predict_from_context(
    args: &CheckArgs,
    dir: &Path,
    opts: &LoadOptions,
) -> anyhow::Result<Predicted> {
    let build_args = crate::build::parse_build_args(&args.build_arg)?;
    let ctx =
        BuildContext::open(dir, args.file.as_deref()).context("cannot read the build context")?;
    let dockerfile = match &args.file {
        Some(f) => f.display().to_string(),
        None => dir.join("Dockerfile").display().to_string(),
    };
    let predict_opts = importgate_predict::PredictOptions {
        platform: opts.platform.clone(),
        capture: opts.capture.clone(),
        context_name: importgate_check::display_dir(dir, std::env::current_dir().ok().as_deref()),
        dockerfile_name: dockerfile,
    };
    let prediction =
        importgate_predict::predict(&ctx, &build_args, args.target.as_deref(), &predict_opts)
            .await?;
    Ok(Predicted {
        path_map: prediction
            .plan
            .as_ref()
            .map(|plan| PathMap::new(&ctx, plan)),
        image: prediction.image,
        mode: prediction.mode,
        unmodelled: prediction.unmodelled,
    })
}
