//! `importgate tree IMAGE` (hidden): the merged filesystem exactly as the checks see it, one
//! line per path, so that every way of reading an image can be compared with `docker export`
//! of a container made from it (tests/it/tree.rs).

use std::io::Write;

use anyhow::Context;
use importgate_image::{LoadOptions, NodeId, NodeKind, Vfs, load, parse_source};
use sha2::{Digest, Sha256};

#[derive(clap::Args)]
pub struct TreeArgs {
    /// The image, as for `check`.
    image: String,
    /// Platform to pick from a multi-platform image [default: linux/amd64].
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// As for `check`.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    source_mode: crate::SourceModeArg,
    #[command(flatten)]
    cache: crate::CacheArgs,
}

/// Lines of `PATH<TAB>KIND<TAB>MODE<TAB>UID<TAB>GID<TAB>SIZE<TAB>DETAIL`, sorted by path:
/// KIND is `dir`, `file`, `link` or `other`; DETAIL is a link's target, or the sha256 of a
/// file's contents when importgate keeps them (`-` otherwise).
pub async fn run(args: TreeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let platform = crate::parse_platform(args.platform.as_deref())?;
    let opts = LoadOptions {
        platform,
        capture: importgate_check::capture_policy(),
        source_mode: args.source_mode.into(),
        cache: args.cache.open(),
        ..LoadOptions::default()
    };
    let image = load(&parse_source(&args.image), &opts)
        .await
        .with_context(|| format!("cannot read image `{}`", args.image))?;
    let Some(root) = image.fs.lookup("/", false) else {
        return Ok(());
    };
    let mut lines = Vec::new();
    walk(&image.fs, root, &mut lines);
    lines.sort();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn walk(fs: &Vfs, dir: NodeId, lines: &mut Vec<String>) {
    for (_, id) in fs.children(dir) {
        let meta = fs.meta(id);
        let (kind, size, detail) = match fs.kind(id) {
            NodeKind::Dir(_) => ("dir", 0, "-".to_string()),
            NodeKind::File(data) => (
                "file",
                data.size,
                data.content.as_ref().map_or_else(
                    || "-".to_string(),
                    |c| {
                        Sha256::digest(c)
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect()
                    },
                ),
            ),
            NodeKind::Symlink(target) => ("link", 0, target.to_string()),
            NodeKind::Other => ("other", 0, "-".to_string()),
        };
        lines.push(format!(
            "{}\t{kind}\t{:o}\t{}\t{}\t{size}\t{detail}",
            fs.path_of(id),
            meta.mode,
            meta.uid,
            meta.gid
        ));
        if matches!(fs.kind(id), NodeKind::Dir(_)) {
            walk(fs, id, lines);
        }
    }
}
