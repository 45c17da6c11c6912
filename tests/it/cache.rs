//! The layer cache (`importgate_image::cache`) end to end: a re-check reads no layer it has
//! indexed before, an image that shares layers with one checked before reads only its own, and
//! whatever the cache holds (nothing, garbage, entries of a concurrent run) the report is the
//! one a run without the cache gives.

use std::fs;
use std::path::Path;

use crate::support::*;

/// `check --format json` of `image` with this cache directory (or `--no-cache`), and the
/// number of layers the run read from the cache and stored into it.
fn check_cached(image: &str, cache: Option<&Path>) -> (Run, usize, usize) {
    let (run, hits, stored, _) = check_cached_parses(image, cache);
    (run, hits, stored)
}

/// [`check_cached`], and the parsed modules the run took from the cache and stored (stored
/// reports are not used: the harness sets `IMPORTGATE_NO_RESULT_CACHE`).
fn check_cached_parses(image: &str, cache: Option<&Path>) -> (Run, usize, usize, (usize, usize)) {
    let mut args = vec!["check", "--format", "json"];
    let dir;
    match cache {
        Some(c) => {
            dir = c.display().to_string();
            args.extend(["--cache-dir", &dir]);
        }
        None => args.push("--no-cache"),
    }
    args.push(image);
    let run = importgate_env(
        &args,
        &[(
            "IMPORTGATE_LOG",
            "importgate_image::cache=debug,importgate_check=debug,importgate=debug",
        )],
    );
    let hits = run.stderr.matches("layer cache: hit").count();
    let stored = run.stderr.matches("layer cache: stored").count();
    let parses = run
        .stderr
        .lines()
        .find_map(|l| {
            let rest = l.split("parse cache: ").nth(1)?;
            let mut words = rest.split_whitespace();
            let from = words.next()?.parse().ok()?;
            let stored = words.nth(4)?.parse().ok()?;
            Some((from, stored))
        })
        .unwrap_or((0, 0));
    (run, hits, stored, parses)
}

/// Sets the modification time of an `oci-archive:PATH` to now.
fn touch(image: &str) {
    let path = image.strip_prefix("oci-archive:").unwrap_or(image);
    let f = fs::File::options().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
}

/// `check` with these extra arguments and the cache, unchanged archive: stdout, and whether the
/// report came from the result cache.
fn check_result_cached(image: &str, cache: &Path, extra: &[&str]) -> (Run, bool) {
    let dir = cache.display().to_string();
    let mut args = vec!["check", "--cache-dir", &dir];
    args.extend_from_slice(extra);
    args.push(image);
    let run = importgate_env(
        &args,
        &[
            ("IMPORTGATE_LOG", "importgate=debug"),
            ("IMPORTGATE_NO_RESULT_CACHE", "0"),
        ],
    );
    let hit = run.stderr.contains("result cache: hit");
    (run, hit)
}

/// Every file below `dir`.
fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let layers = cache.join("layers");
    for sub in fs::read_dir(layers).into_iter().flatten().flatten() {
        for e in fs::read_dir(sub.path()).into_iter().flatten().flatten() {
            out.push(e.path());
        }
    }
    out
}

/// The seed app, broken and fixed, built under tags of the test's own (`name`: tests run in
/// parallel, and each removes its tags when it ends) and written as OCI archives.
fn oci_archives(dir: &Path, name: &str) -> (Image, Image, String, String) {
    ensure_base("slim", "3.12");
    let broken = build_image(
        &format!("importgate-test/cache-{name}-seed-app"),
        &repo_root().join("examples/seed-app"),
    );
    let fixed = build_image(
        &format!("importgate-test/cache-{name}-seed-app-fixed"),
        &repo_root().join("examples/seed-app-fixed"),
    );
    let mut names = Vec::new();
    for image in [&broken, &fixed] {
        let save = dir.join("image.docker.tar");
        let oci = dir.join(format!("{}.oci.tar", names.len()));
        docker_save(&image.tag, &save);
        to_oci(&save, &oci);
        names.push(format!("oci-archive:{}", oci.display()));
    }
    let fixed_name = names.pop().unwrap();
    let broken_name = names.pop().unwrap();
    (broken, fixed, broken_name, fixed_name)
}

#[test]
fn rechecks_read_only_the_layers_that_changed() {
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    let (_broken, _fixed, broken, fixed) = oci_archives(dir.path(), "rechecks");
    let cache = dir.path().join("cache");

    let (uncached, _, _) = check_cached(&broken, None);
    assert_eq!(uncached.code, 1, "{}", uncached.stderr);
    assert!(!cache.exists(), "--no-cache writes nothing");

    let (cold, hits, stored, (parse_hits, parses_stored)) =
        check_cached_parses(&broken, Some(&cache));
    assert_eq!((hits, cold.stdout.as_str()), (0, uncached.stdout.as_str()));
    assert!(stored >= 3, "{}", cold.stderr);
    assert_eq!(parse_hits, 0, "{}", cold.stderr);
    assert!(parses_stored >= 2, "{}", cold.stderr);
    let (warm, hits, stored_again, parses) = check_cached_parses(&broken, Some(&cache));
    assert_eq!(
        (hits, stored_again, warm.code, warm.stdout.as_str()),
        (stored, 0, 1, uncached.stdout.as_str())
    );
    // Nothing parsed again: every module comes from the cache.
    assert_eq!(parses, (parses_stored, 0), "{}", warm.stderr);

    // The fixed twin shares the base layer with it; only its own layers are read.
    let (fixed_uncached, _, _) = check_cached(&fixed, None);
    assert_eq!(fixed_uncached.code, 0, "{}", fixed_uncached.stderr);
    let (twin, hits, stored_twin) = check_cached(&fixed, Some(&cache));
    assert_eq!(twin.stdout, fixed_uncached.stdout);
    assert!(
        hits >= 1 && stored_twin >= 1,
        "hits {hits}, stored {stored_twin}"
    );
}

#[test]
fn an_unchanged_image_gets_its_stored_report_back() {
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    let (broken, _fixed, broken_archive, _) = oci_archives(dir.path(), "stored");
    let cache = dir.path().join("cache");
    let mut seen = std::collections::BTreeSet::new();
    let mut first_of = |image: &str| seen.insert(image.to_string());
    for (image, extra) in [
        (broken_archive.as_str(), vec!["--format", "json"]),
        (
            broken_archive.as_str(),
            vec!["--format", "human", "--color", "never"],
        ),
        (broken_archive.as_str(), vec!["--format", "sarif"]),
        (
            broken.tag.as_str(),
            vec!["--format", "human", "--color", "never"],
        ),
    ] {
        let mut uncached_args = vec!["check", "--no-cache"];
        uncached_args.extend_from_slice(&extra);
        uncached_args.push(image);
        let truth = importgate(&uncached_args);
        assert_eq!(truth.code, 1, "{}", truth.stderr);
        // The report is stored before it is rendered: another format of the same image and
        // options is already a hit.
        let (first, hit) = check_result_cached(image, &cache, &extra);
        assert_eq!(hit, !first_of(image), "{image} {extra:?}: {}", first.stderr);
        let (second, hit) = check_result_cached(image, &cache, &extra);
        assert!(hit, "{image} {extra:?}: {}", second.stderr);
        assert_eq!(
            (first.code, first.stdout.as_str()),
            (truth.code, truth.stdout.as_str())
        );
        assert_eq!(
            (second.code, second.stdout.as_str()),
            (truth.code, truth.stdout.as_str())
        );
    }
    // Other options, another report: not the stored one.
    let (run, hit) = check_result_cached(
        &broken_archive,
        &cache,
        &["--format", "json", "--ignore-module", "core.*"],
    );
    assert!(!hit, "{}", run.stderr);
    // The archive written again: read again (its layers from the layer cache).
    touch(&broken_archive);
    let (run, hit) = check_result_cached(&broken_archive, &cache, &["--format", "json"]);
    assert!(!hit, "{}", run.stderr);
    // `--no-cache` neither reads nor writes reports.
    let (run, _) = check_result_cached(&broken_archive, &cache, &["--format", "json"]);
    assert!(run.stderr.contains("result cache: hit"));
    let run = importgate_env(
        &["check", "--no-cache", "--format", "json", &broken_archive],
        &[
            ("IMPORTGATE_LOG", "importgate=debug"),
            ("IMPORTGATE_NO_RESULT_CACHE", "0"),
        ],
    );
    assert!(!run.stderr.contains("result cache"), "{}", run.stderr);
    // Nor does `--no-result-cache`, which still reads the layer cache.
    let dir_arg = cache.display().to_string();
    let run = importgate_env(
        &[
            "check",
            "--no-result-cache",
            "--cache-dir",
            &dir_arg,
            "--format",
            "json",
            &broken_archive,
        ],
        &[
            (
                "IMPORTGATE_LOG",
                "importgate=debug,importgate_image::cache=debug",
            ),
            ("IMPORTGATE_NO_RESULT_CACHE", "0"),
        ],
    );
    assert!(!run.stderr.contains("result cache"), "{}", run.stderr);
    assert!(run.stderr.contains("layer cache: hit"), "{}", run.stderr);
}

#[test]
fn corrupt_entries_concurrent_runs_and_a_full_cache_change_no_verdict() {
    if !require_docker() {
        return;
    }
    let dir = tempdir();
    let (_broken, _fixed, broken, _) = oci_archives(dir.path(), "corrupt");
    let (truth, _, _) = check_cached(&broken, None);
    assert_eq!(truth.code, 1, "{}", truth.stderr);

    // Two runs at once on an empty cache: both right, and what they leave is usable.
    let cache = dir.path().join("concurrent");
    let runs: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| check_cached(&broken, Some(&cache)));
        let b = s.spawn(|| check_cached(&broken, Some(&cache)));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    for (run, _, _) in &runs {
        assert_eq!(run.stdout, truth.stdout, "{}", run.stderr);
    }
    let (_, hits, stored) = check_cached(&broken, Some(&cache));
    assert!(hits >= 3 && stored == 0, "hits {hits}, stored {stored}");

    // Every entry overwritten (garbage, or another layer's entry): ignored, then rebuilt.
    let files = entries(&cache);
    assert!(files.len() >= 3);
    let swapped = fs::read(&files[1]).unwrap();
    fs::write(&files[0], &swapped).unwrap();
    for f in &files[1..] {
        fs::write(f, b"not an entry").unwrap();
    }
    let (run, hits, stored) = check_cached(&broken, Some(&cache));
    assert_eq!(run.stdout, truth.stdout, "{}", run.stderr);
    assert_eq!((hits, stored), (0, files.len()), "{}", run.stderr);
    let (_, hits, _) = check_cached(&broken, Some(&cache));
    assert_eq!(hits, files.len());

    // Parsed modules overwritten with garbage: parsed again and replaced, same report.
    let parsed = files_below(&cache.join("parsed"));
    assert!(!parsed.is_empty(), "no parsed modules cached");
    for f in &parsed {
        fs::write(f, b"garbage").unwrap();
    }
    let (run, _, _, (_, stored)) = check_cached_parses(&broken, Some(&cache));
    assert_eq!(run.stdout, truth.stdout, "{}", run.stderr);
    assert!(stored >= parsed.len(), "{stored} < {}", parsed.len());
    for f in &parsed {
        assert_ne!(
            fs::read(f).unwrap(),
            b"garbage",
            "{} not rebuilt",
            f.display()
        );
    }

    // A cache capped at nothing keeps nothing, and changes nothing.
    let tiny = dir.path().join("tiny");
    let tiny_arg = tiny.display().to_string();
    let run = importgate_env(
        &[
            "check",
            "--format",
            "json",
            "--cache-dir",
            &tiny_arg,
            &broken,
        ],
        &[("IMPORTGATE_CACHE_MAX_MB", "0")],
    );
    assert_eq!(run.stdout, truth.stdout, "{}", run.stderr);
    // Nothing but the mark of the last eviction.
    let left: Vec<_> = files_below(&tiny)
        .into_iter()
        .filter(|p| !p.ends_with(".evicted"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The engine's storage directories are indexed once: a layer directory is named by its chain
/// id (content) and cache id, and the engine never changes a committed layer.
#[test]
fn storage_layers_are_indexed_once() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let image = build_image(
        "importgate-test/cache-storage-seed-app",
        &repo_root().join("examples/seed-app"),
    );
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let cache_arg = cache.display().to_string();
    let truth = importgate(&[
        "check",
        "--no-cache",
        "--source-mode",
        "export",
        "--format",
        "json",
        &image.tag,
    ]);
    assert_eq!(truth.code, 1, "{}", truth.stderr);
    let run = || {
        importgate_env(
            &[
                "check",
                "--cache-dir",
                &cache_arg,
                "--source-mode",
                "storage",
                "--format",
                "json",
                &image.tag,
            ],
            &[("IMPORTGATE_LOG", "importgate_image::cache=debug")],
        )
    };
    let cold = run();
    assert_eq!(cold.stdout, truth.stdout, "{}", cold.stderr);
    assert_eq!(cold.stderr.matches("layer cache: hit").count(), 0);
    let stored = cold.stderr.matches("layer cache: stored storage").count();
    assert!(stored >= 3, "{}", cold.stderr);
    let warm = run();
    assert_eq!(warm.stdout, truth.stdout, "{}", warm.stderr);
    assert_eq!(
        warm.stderr.matches("layer cache: hit storage").count(),
        stored,
        "{}",
        warm.stderr
    );
}

/// The engine's export names its layers by v1 id, never by digest: a layer seen in an earlier
/// export (filed under the diff id the engine's config names, which the engine checked as it
/// wrote the layer) is passed over the next
/// time, in this image and in another that shares it, and the report is the uncached one.
#[test]
fn export_stream_passes_over_layers_seen_before() {
    if !require_docker() {
        return;
    }
    ensure_base("slim", "3.12");
    let broken = build_image(
        "importgate-test/cache-export-seed-app",
        &repo_root().join("examples/seed-app"),
    );
    let fixed = build_image(
        "importgate-test/cache-export-seed-app-fixed",
        &repo_root().join("examples/seed-app-fixed"),
    );
    let dir = tempdir();
    let cache = dir.path().join("cache");
    let cache_arg = cache.display().to_string();
    let check = |image: &str, cached: bool| {
        let mut args = vec!["check", "--source-mode", "export", "--format", "json"];
        if cached {
            args.extend(["--cache-dir", &cache_arg]);
        } else {
            args.push("--no-cache");
        }
        args.push(image);
        importgate_env(
            &args,
            &[("IMPORTGATE_LOG", "importgate_image::cache=debug")],
        )
    };
    let truth_broken = check(&broken.tag, false);
    let truth_fixed = check(&fixed.tag, false);
    assert_eq!(truth_broken.code, 1, "{}", truth_broken.stderr);
    assert_eq!(truth_fixed.code, 0, "{}", truth_fixed.stderr);

    let cold = check(&broken.tag, true);
    assert_eq!(cold.stdout, truth_broken.stdout, "{}", cold.stderr);
    assert_eq!(cold.stderr.matches("layer cache: hit").count(), 0);
    let stored = cold.stderr.matches("layer cache: stored sha256:").count();
    assert!(stored >= 2, "{}", cold.stderr);

    // The same image: every layer it stored is a hit.
    let warm = check(&broken.tag, true);
    assert_eq!(warm.stdout, truth_broken.stdout, "{}", warm.stderr);
    assert_eq!(
        warm.stderr.matches("layer cache: hit sha256:").count(),
        stored,
        "{}",
        warm.stderr
    );
    // The fixed app shares the base's layers (below its own, which change), so those are
    // hits; its top layers are new and indexed.
    let shared = check(&fixed.tag, true);
    assert_eq!(shared.stdout, truth_fixed.stdout, "{}", shared.stderr);
    let hits = shared.stderr.matches("layer cache: hit sha256:").count();
    assert!(
        hits >= 1 && hits < stored,
        "{hits} of {stored}: {}",
        shared.stderr
    );
}
