//! Single-pass reading of an image archive (`docker save` output, legacy or OCI, from a file or
//! the Engine's export stream). Blobs come before the manifests that name them, so every member
//! that looks like a layer is indexed as it passes, compressed ones on worker threads, and the
//! manifests pick from the indexes at the end. Nothing is spooled to disk.
//!
//! Indexing is speculative: `docker save` writes `manifest.json` last, and OCI archives list
//! `index.json` wherever their producer put it (skopeo and containerd after the blobs), so which
//! layers the chosen image needs is known only once the stream has ended, and a stream cannot
//! go back. Every layer member is indexed (and its stored digest taken) as it passes; once an
//! image is selected, [`ArchiveStore::retain_layers`] drops the indexes of the others before the
//! merge, and their read errors and digests never matter. An OCI layout *directory* has no such
//! problem: it reads `index.json` and the manifests first and opens only the chosen layers.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, mpsc};

use crate::Capture;
use crate::cache::LayerCache;
use crate::error::ImageError;
use crate::layer::{
    Compression, EMPTY_SHA256, LayerIndex, Region, copy_error, decompress, hash_region,
    index_stored, index_tar, index_tar_in_place, index_tar_unhashed, looks_like_tar, peek, sniff,
};
use crate::load::PendingHash;
use crate::select::{BlobSource, MAX_SMALL};

/// Compressed layers up to this size are copied into memory and indexed on a worker while the
/// archive stream goes on; bigger ones are indexed in the stream. With at most `cores + 1` blobs
/// in flight, this caps the buffering at a few hundred MiB whatever the image.
const MAX_BUFFERED_BLOB: u64 = 64 << 20;
use crate::vfs::clean_member_name;

/// Legacy archives chain `layer.tar` symlinks; more hops than this is a loop.
const MAX_LINK_HOPS: usize = 32;

type LayerResult = Result<Arc<LayerIndex>, Arc<io::Error>>;

/// Everything kept from one pass over an archive.
#[derive(Debug, Default)]
pub(crate) struct ArchiveStore {
    name: String,
    small: HashMap<String, Vec<u8>>,
    layers: HashMap<String, LayerResult>,
    /// Member → member it links to (symlinks resolved against the member's directory).
    links: HashMap<String, String>,
    /// Diff ids of layers indexed in place, still being hashed.
    pending: HashMap<String, Arc<PendingHash>>,
    /// Layer tars of the engine's export, by their length, left unhashed: the engine checks
    /// each layer against its diff id as it writes it (moby's layer store hands out only
    /// verified tar streams), so hashing them again here would only take a core from it.
    attested: HashMap<String, u64>,
}

impl ArchiveStore {
    pub(crate) fn resolve(&self, path: &str) -> Result<String, ImageError> {
        let mut cur = path.to_string();
        for _ in 0..MAX_LINK_HOPS {
            match self.links.get(&cur) {
                Some(next) => cur = next.clone(),
                None => return Ok(cur),
            }
        }
        Err(ImageError::LinkLoop {
            archive: self.name.clone(),
            member: path.to_string(),
        })
    }

    /// Drops the indexes of every layer member the selected image does not use (`paths` as in
    /// the selection, links resolved), so that their captured contents are freed before the
    /// merge. Returns how many were dropped.
    pub(crate) fn retain_layers(&mut self, paths: &[String]) -> usize {
        let keep: std::collections::HashSet<String> =
            paths.iter().filter_map(|p| self.resolve(p).ok()).collect();
        let before = self.layers.len();
        self.layers.retain(|member, _| keep.contains(member));
        let dropped = before - self.layers.len();
        if dropped > 0 {
            tracing::debug!(
                "{}: dropped the indexes of {dropped} layer members of other images",
                self.name
            );
        }
        dropped
    }
}

impl BlobSource for ArchiveStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn pending_hash(&self, path: &str) -> Option<Arc<PendingHash>> {
        let path = self.resolve(path).ok()?;
        self.pending.get(&path).cloned()
    }

    fn attested_len(&self, path: &str) -> Option<u64> {
        let path = self.resolve(path).ok()?;
        self.attested.get(&path).copied()
    }

    fn small(&self, path: &str) -> Result<Option<Vec<u8>>, ImageError> {
        let path = self.resolve(path)?;
        Ok(self.small.get(&path).cloned())
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path)
            .is_ok_and(|p| self.small.contains_key(&p) || self.layers.contains_key(&p))
    }

    fn layers(
        &self,
        paths: &[String],
        _capture: &Arc<Capture>,
    ) -> Vec<Result<Arc<LayerIndex>, io::Error>> {
        paths
            .iter()
            .map(|p| {
                let resolved = self
                    .resolve(p)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                match self.layers.get(&resolved) {
                    Some(Ok(index)) => Ok(index.clone()),
                    Some(Err(e)) => Err(copy_error(e)),
                    // An empty member is an empty layer to Docker.
                    None if self.small.get(&resolved).is_some_and(Vec::is_empty) => {
                        Ok(Arc::new(LayerIndex {
                            blob: Some((EMPTY_SHA256.to_string(), 0)),
                            ..LayerIndex::default()
                        }))
                    }
                    None if self.small.contains_key(&resolved) => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "not a tar archive",
                    )),
                    None => Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "member not in the archive",
                    )),
                }
            })
            .collect()
    }
}

/// Joins a symlink target to the directory of the member that holds it.
fn link_target(member: &str, target: &str) -> Option<String> {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        match member.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{target}"),
            None => target.to_string(),
        }
    };
    clean_member_name(&joined).ok()
}

/// `sha256:HEX` for a member named `blobs/sha256/HEX` (OCI archives, Engine ≥ 25 saves).
fn digest_member(member: &str) -> Option<String> {
    let hex = member.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// A stream that can pass over bytes nobody reads: an uncompressed archive file seeks over a
/// cached layer's blob, anything else (a compressed archive, the engine's export) reads them.
pub(crate) trait Skip: Read {
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// Skips by reading through.
struct ReadThrough<R>(R);

impl<R: Read> Read for ReadThrough<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Skip for ReadThrough<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if copied < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside a member",
            ));
        }
        Ok(())
    }
}

/// Skips by seeking.
struct Seeking<R>(R);

impl<R: Read> Read for Seeking<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Seek> Skip for Seeking<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "member size out of range"))?;
        self.0.seek(SeekFrom::Current(n)).map(|_| ())
    }
}

/// The archive as `tar` reads it: `Seek` only forward from the current position, which is
/// all `tar` asks of it to pass over a member's unread bytes. Keeps the position `tar`
/// counts, from the start of the archive.
struct Outer<'a> {
    inner: Box<dyn Skip + 'a>,
    pos: u64,
}

impl Read for Outer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Outer<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match pos {
            SeekFrom::Current(n) if n >= 0 => {
                self.inner.skip(n as u64)?;
                self.pos += n as u64;
                Ok(self.pos)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an archive stream only moves forward",
            )),
        }
    }
}

/// What an I/O error while reading archive `name` is reported as.
fn corrupt(name: &str) -> impl Fn(io::Error) -> ImageError + Copy + '_ {
    move |source| ImageError::CorruptArchive {
        archive: name.to_string(),
        source,
    }
}

/// Reads a whole archive stream. `name` is only for messages.
pub(crate) fn collect<R: Read + Send>(
    reader: R,
    name: &str,
    capture: &Arc<Capture>,
    cache: Option<&Arc<LayerCache>>,
) -> Result<ArchiveStore, ImageError> {
    collect_stream(reader, name, capture, cache, false)
}

/// [`collect`] over the engine's export stream, whose legacy `<v1 id>/layer.tar` members are
/// looked up in `cache` by the aliases earlier exports left ([`LayerCache::export_alias`]): a
/// layer seen before is passed over, neither indexed nor hashed. Only the engine's own stream
/// is trusted to name its layers so; a `docker save` file could name them anything.
pub(crate) fn collect_export<R: Read + Send>(
    reader: R,
    name: &str,
    capture: &Arc<Capture>,
    cache: Option<&Arc<LayerCache>>,
) -> Result<ArchiveStore, ImageError> {
    collect_stream(reader, name, capture, cache, true)
}

fn collect_stream<R: Read + Send>(
    reader: R,
    name: &str,
    capture: &Arc<Capture>,
    cache: Option<&Arc<LayerCache>>,
    export: bool,
) -> Result<ArchiveStore, ImageError> {
    let corrupt = corrupt(name);
    let (_, outer) = decompress(reader).map_err(corrupt)?;
    let (head, outer) = peek(outer, 512).map_err(corrupt)?;
    collect_from(
        Box::new(ReadThrough(outer)),
        &head,
        name,
        capture,
        cache,
        None,
        export,
    )
    .map(|(store, _)| store)
}

/// `HEX` of a member named `HEX/layer.tar`: a layer of a legacy archive, under its v1 id.
pub(crate) fn v1_layer_member(member: &str) -> Option<&str> {
    let (dir, file) = member.split_once('/')?;
    (file == "layer.tar" && dir.len() == 64 && dir.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(dir)
}

/// [`collect`] over an archive file: when it is not compressed, the blobs of cached layers are
/// seeked over instead of read.
pub(crate) fn collect_seekable<R: Read + Seek + Send>(
    mut reader: R,
    file: &std::fs::File,
    name: &str,
    capture: &Arc<Capture>,
    cache: Option<&Arc<LayerCache>>,
) -> Result<ArchiveStore, ImageError> {
    let corrupt = corrupt(name);
    let mut head = Vec::with_capacity(512);
    (&mut reader)
        .take(512)
        .read_to_end(&mut head)
        .map_err(corrupt)?;
    reader.seek(SeekFrom::Start(0)).map_err(corrupt)?;
    if sniff(&head) != Compression::None {
        return collect(reader, name, capture, cache);
    }
    let (store, lost) = collect_from(
        Box::new(Seeking(&mut reader)),
        &head,
        name,
        capture,
        cache,
        Some(file),
        false,
    )?;
    if !lost {
        return Ok(store);
    }
    // A cache entry that existed when the stream passed its blob turned out unusable (and
    // is gone now): read the archive again, this time every blob.
    tracing::debug!("{name}: a cached layer could not be read; reading the archive again");
    reader.seek(SeekFrom::Start(0)).map_err(corrupt)?;
    collect_from(
        Box::new(Seeking(&mut reader)),
        &head,
        name,
        capture,
        None,
        Some(file),
        false,
    )
    .map(|(store, _)| store)
}

/// Layers indexed on worker threads while the archive stream goes on, their results coming
/// back by member name.
struct Workers {
    tx: mpsc::Sender<(String, LayerResult)>,
    rx: mpsc::Receiver<(String, LayerResult)>,
    in_flight: usize,
    /// A worker may hold a compressed blob in memory; bounding them bounds that memory.
    max: usize,
}

impl Workers {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Workers {
            tx,
            rx,
            in_flight: 0,
            max: rayon::current_num_threads().max(1) + 1,
        }
    }

    /// Runs `job` on a worker for `member`; with the most jobs in flight, first takes one
    /// result back.
    fn run(
        &mut self,
        store: &mut ArchiveStore,
        member: String,
        job: impl FnOnce() -> LayerResult + Send + 'static,
    ) {
        if self.in_flight >= self.max
            && let Ok((m, r)) = self.rx.recv()
        {
            self.in_flight -= 1;
            store.layers.insert(m, r);
        }
        self.in_flight += 1;
        let tx = self.tx.clone();
        rayon::spawn(move || {
            // The receiver only goes away when the archive failed.
            let _ = tx.send((member, job()));
        });
    }

    /// Waits for every worker still running, so none outlives the archive.
    fn finish(self, store: &mut ArchiveStore) {
        drop(self.tx);
        for (m, r) in self.rx.iter() {
            store.layers.insert(m, r);
        }
    }
}

/// The store, and whether a cache entry decoded on a worker failed (its layer is then an
/// error in the store, and the archive has to be read again). `file` is the archive when it is
/// an uncompressed file: plain layer tars in it are then indexed in place, seeking over what is
/// not kept, while workers hash them, and cached layers are decoded on workers while the stream
/// goes on (a file can be read again should one of them fail; in a stream, a failed hit still
/// leaves the blob's bytes to read, so hits are decoded there). `export`: the stream is the
/// engine's, whose legacy layer members are looked up by their v1 id too.
fn collect_from<'a>(
    outer: Box<dyn Skip + 'a>,
    head: &[u8],
    name: &str,
    capture: &Arc<Capture>,
    cache: Option<&Arc<LayerCache>>,
    file: Option<&std::fs::File>,
    export: bool,
) -> Result<(ArchiveStore, bool), ImageError> {
    let corrupt = corrupt(name);
    if !looks_like_tar(head) {
        return Err(ImageError::NotAnArchive {
            archive: name.to_string(),
        });
    }
    let mut store = ArchiveStore {
        name: name.to_string(),
        ..ArchiveStore::default()
    };
    let mut workers = Workers::new();
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut archive = tar::Archive::new(Outer {
        inner: outer,
        pos: 0,
    });
    let result = (|| -> Result<(), ImageError> {
        for entry in archive.entries_with_seek().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Ok(member) = clean_member_name(&raw) else {
                tracing::debug!("{name}: member `{raw}` climbs out of the archive; ignored");
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let is_sym = entry.header().entry_type() == tar::EntryType::Symlink;
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let resolved = if is_sym {
                        link_target(&member, &target)
                    } else {
                        clean_member_name(&target).ok()
                    };
                    if let Some(t) = resolved {
                        store.links.insert(member, t);
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    // A blob named by its digest that an earlier run indexed: its bytes are
                    // skipped, neither inflated nor hashed.
                    let cached = cache.and_then(|c| {
                        let digest = digest_member(&member).or_else(|| {
                            v1_layer_member(&member)
                                .filter(|_| export)
                                .and_then(|v1| c.export_alias(v1))
                        })?;
                        Some((c, digest))
                    });
                    if file.is_some()
                        && let Some((cache, digest)) = &cached
                        && cache.has(digest)
                    {
                        let (cache, digest, lost) =
                            ((*cache).clone(), digest.clone(), lost.clone());
                        workers.run(&mut store, member, move || {
                            cache.get(&digest).ok_or_else(|| {
                                lost.store(true, std::sync::atomic::Ordering::Relaxed);
                                Arc::new(io::Error::other("cached layer index unreadable"))
                            })
                        });
                        continue;
                    }
                    if let Some(index) = cached.and_then(|(c, d)| c.get(&d)) {
                        store.layers.insert(member, Ok(index));
                        continue;
                    }
                    let size = entry.size();
                    let (head, mut body) = peek(&mut entry, 512).map_err(corrupt)?;
                    match sniff(&head) {
                        Compression::Gzip | Compression::Zstd if size > MAX_BUFFERED_BLOB => {
                            // Too big to copy into memory for a worker: decompress it in the
                            // stream. Memory stays bounded by the largest captured contents, not
                            // by the largest layer.
                            let r = index_stored(&mut body, &**capture);
                            if r.is_err() {
                                io::copy(&mut body, &mut io::sink()).map_err(corrupt)?;
                            }
                            store
                                .layers
                                .insert(member, r.map(Arc::new).map_err(Arc::new));
                        }
                        Compression::Gzip | Compression::Zstd if file.is_some() => {
                            // In an archive file the worker reads the blob where it lies:
                            // nothing is buffered, and the stream seeks past it.
                            let Some(file) = file else { continue };
                            let region = Region::new(file, entry.raw_file_position(), size)
                                .map_err(corrupt)?;
                            let capture = capture.clone();
                            workers.run(&mut store, member, move || {
                                index_stored(io::BufReader::new(region), &*capture)
                                    .map(Arc::new)
                                    .map_err(Arc::new)
                            });
                        }
                        Compression::Gzip | Compression::Zstd => {
                            let mut blob = Vec::with_capacity(size as usize);
                            body.read_to_end(&mut blob).map_err(corrupt)?;
                            let capture = capture.clone();
                            workers.run(&mut store, member, move || {
                                index_stored(&blob[..], &*capture)
                                    .map(Arc::new)
                                    .map_err(Arc::new)
                            });
                        }
                        Compression::None if looks_like_tar(&head) && file.is_some() => {
                            let Some(file) = file else { continue };
                            let start = entry.raw_file_position();
                            let (htx, hrx) = mpsc::channel();
                            let hasher = file.try_clone().map_err(corrupt)?;
                            rayon::spawn(move || {
                                let _ = htx.send(hash_region(&hasher, start, size));
                            });
                            // Its diff id comes later: the merge (or the caller, once the
                            // check has run) waits for the hash and compares.
                            let r = index_tar_in_place(file, start, size, &**capture);
                            store
                                .pending
                                .insert(member.clone(), Arc::new(PendingHash::new(hrx)));
                            store
                                .layers
                                .insert(member, r.map(Arc::new).map_err(Arc::new));
                        }
                        Compression::None if looks_like_tar(&head) => {
                            // Plain tars are memcpy-bound to index: not worth a copy.
                            let r = if export {
                                store.attested.insert(member.clone(), size);
                                index_tar_unhashed(&mut body, &**capture)
                            } else {
                                index_tar(&mut body, &**capture).map(|mut index| {
                                    // Stored as is: the blob digest is the diff id.
                                    index.blob = index.diff_id.clone().map(|d| (d, size));
                                    index
                                })
                            };
                            // A failure inside the layer may hide a broken outer stream; drain
                            // so that the outer reader reports that instead.
                            if r.is_err() {
                                io::copy(&mut body, &mut io::sink()).map_err(corrupt)?;
                            }
                            store
                                .layers
                                .insert(member, r.map(Arc::new).map_err(Arc::new));
                        }
                        Compression::None if size <= MAX_SMALL => {
                            let mut data = Vec::new();
                            body.read_to_end(&mut data).map_err(corrupt)?;
                            store.small.insert(member, data);
                        }
                        Compression::None => {
                            tracing::debug!("{name}: large non-layer member `{member}` skipped");
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })();
    workers.finish(&mut store);
    result?;
    tracing::debug!(
        "{name}: {} layer members, {} metadata members, {} links",
        store.layers.len(),
        store.small.len(),
        store.links.len()
    );
    Ok((store, lost.load(std::sync::atomic::Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn cap() -> Arc<Capture> {
        Arc::new(capture_all)
    }

    #[test]
    fn legacy_layer_symlinks_resolve() {
        let l = TarBuilder::new().file("same", "x").build();
        let img = TestImage::new(vec![l.clone(), l], "amd64");
        let mut files = img.legacy_archive(&["t:1"]);
        // Replace the second layer with a symlink to the first, as docker save does.
        let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let first = m[0]["Layers"][0].as_str().unwrap().to_string();
        let second = m[0]["Layers"][1].as_str().unwrap().to_string();
        files.remove(&second);
        let first_dir = first.split('/').next().unwrap();
        let target = format!("../{first_dir}/layer.tar");
        let tar = pack(&files, &[(second.as_str(), target.as_str())]);
        let store = collect(&tar[..], "t", &cap(), None).unwrap();
        let got = store.layers(&[first, second], &cap());
        assert!(
            got.iter()
                .all(|r| r.as_ref().is_ok_and(|i| i.entries.len() == 1))
        );
    }

    /// The layers of an archive file indexed in place (seeking over what is not kept, hashed on
    /// workers) are the layers the stream reader indexes; a member that claims more bytes than
    /// the file holds is an error, not a panic.
    #[test]
    fn layers_indexed_in_place_equal_the_streamed_ones() {
        let layers = vec![
            TarBuilder::new()
                .file("app/main.py", "import os\n")
                .file_bytes("big.bin", &vec![3u8; 300_000])
                .symlink("app/link", "main.py")
                .build(),
            TarBuilder::new()
                .file("app/.wh.main.py", "")
                .file("lib/mod.py", "x = 1\n")
                .build(),
        ];
        let img = TestImage::new(layers, "amd64");
        let tar = pack(&img.legacy_archive(&["t:1"]), &[]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        std::fs::write(&path, &tar).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = std::io::BufReader::new(file.try_clone().unwrap());
        let in_place = collect_seekable(reader, &file, "t", &cap(), None).unwrap();
        let streamed = collect(&tar[..], "t", &cap(), None).unwrap();
        assert_eq!(in_place.layers.len(), 2);
        for (member, r) in &streamed.layers {
            let (a, b) = (
                r.as_ref().unwrap(),
                in_place.layers[member].as_ref().unwrap(),
            );
            assert_eq!(a.entries, b.entries, "{member}");
            // Hashed on a worker, handed over separately.
            let hashed = in_place.pending_hash(member).expect("pending").wait();
            assert_eq!(a.diff_id.as_ref(), hashed.as_ref().ok(), "{member}");
            assert!(a.diff_id.is_some());
        }

        // Cut inside the first layer's big member: an error for that layer.
        let cut = tar.len() / 2;
        std::fs::write(&path, &tar[..cut]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = std::io::BufReader::new(file.try_clone().unwrap());
        if let Ok(store) = collect_seekable(reader, &file, "t", &cap(), None) {
            assert!(store.layers.values().any(|r| r.is_err()));
        }
    }

    /// An export member whose v1 id an earlier export aliased to a cached diff id is taken
    /// from the cache, its bytes passed over (the tampered bytes below are never indexed); a
    /// `docker save` file naming its layers the same way is read, not trusted.
    #[test]
    fn export_members_seen_before_are_passed_over() {
        let layer = TarBuilder::new().file("app/main.py", "import os\n").build();
        let img = TestImage::new(vec![layer], "amd64");
        let mut files = img.legacy_archive(&["t:1"]);
        let member = files
            .keys()
            .find(|k| k.ends_with("/layer.tar"))
            .unwrap()
            .clone();
        let v1 = v1_layer_member(&member).unwrap().to_string();
        let root = tempfile::tempdir().unwrap();
        let cache = Arc::new(LayerCache::new(
            root.path(),
            "p",
            crate::cache::DEFAULT_MAX_BYTES,
        ));

        let first = collect_export(&pack(&files, &[])[..], "t", &cap(), Some(&cache)).unwrap();
        let index = first.layers[&member].as_ref().unwrap().clone();
        // The engine verified the layer as it wrote it: left unhashed here.
        assert_eq!(index.diff_id, None);
        let len = first.attested_len(&member).unwrap();
        assert_eq!(len, files[&member].len() as u64);
        let diff_id = img.diff_ids()[0].clone();
        // What the daemon path files under the engine's config.
        cache.put_attested(&index, &diff_id, len);
        cache.put_export_alias(&v1, &diff_id);
        assert_eq!(cache.export_alias(&v1).as_deref(), Some(&diff_id[..]));

        let other = TarBuilder::new().file("app/other.py", "x = 1\n").build();
        files.insert(member.clone(), other);
        let tampered = pack(&files, &[]);
        let again = collect_export(&tampered[..], "t", &cap(), Some(&cache)).unwrap();
        let got = again.layers[&member].as_ref().unwrap();
        assert_eq!(got.entries, index.entries);
        assert_eq!(got.diff_id.as_ref(), Some(&diff_id));
        assert_eq!(got.blob, Some((diff_id.clone(), len)));

        let read = collect(&tampered[..], "t", &cap(), Some(&cache)).unwrap();
        let got = read.layers[&member].as_ref().unwrap();
        assert_ne!(got.entries, index.entries);
        assert_ne!(got.diff_id.as_ref(), Some(&diff_id));
        assert_eq!(v1_layer_member("blobs/sha256/layer.tar"), None);
        assert_eq!(v1_layer_member(&format!("{v1}/json")), None);
    }

    #[test]
    fn stored_digests_are_taken_in_the_stream_and_unused_layers_dropped() {
        let (a, b) = (
            TarBuilder::new().file("a", "1").build(),
            TarBuilder::new().file("b", "2").build(),
        );
        let mut files = std::collections::BTreeMap::new();
        let big = TarBuilder::new()
            .file_bytes("big", &vec![7u8; (MAX_BUFFERED_BLOB + 1024) as usize])
            .build();
        // A gzip of zeros-ish data stays small; store it raw so the in-stream path is taken.
        let big_gz = {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            enc.write_all(&big).unwrap();
            enc.finish().unwrap()
        };
        for (name, blob) in [
            ("plain", a.clone()),
            ("gz", gzip(&b)),
            ("big", big_gz.clone()),
        ] {
            files.insert(name.to_string(), blob);
        }
        let tar = pack(&files, &[]);
        let mut store = collect(&tar[..], "t", &cap(), None).unwrap();
        for (name, blob) in [("plain", &a), ("gz", &gzip(&b)), ("big", &big_gz)] {
            let idx = store.layers[name].as_ref().unwrap();
            assert_eq!(
                idx.blob,
                Some((format!("sha256:{}", sha256_hex(blob)), blob.len() as u64)),
                "{name}"
            );
        }
        assert_eq!(store.retain_layers(&["gz".to_string()]), 2);
        assert_eq!(store.layers.len(), 1);
        assert!(store.layers.contains_key("gz"));
    }

    #[test]
    fn link_loops_are_errors() {
        let files = std::collections::BTreeMap::new();
        let tar = pack(&files, &[("a", "b"), ("b", "a")]);
        let store = collect(&tar[..], "t", &cap(), None).unwrap();
        assert!(matches!(store.small("a"), Err(ImageError::LinkLoop { .. })));
    }

    #[test]
    fn non_archives_are_typed_errors() {
        assert!(matches!(
            collect(&b"hello world, not a tar"[..], "t", &cap(), None),
            Err(ImageError::NotAnArchive { .. })
        ));
        assert!(matches!(
            collect(&gzip(b"garbage that is not tar")[..], "t", &cap(), None),
            Err(ImageError::NotAnArchive { .. })
        ));
        assert!(matches!(
            collect(&[0x1f, 0x8b, 1, 2][..], "t", &cap(), None),
            Err(ImageError::CorruptArchive { .. })
        ));
    }
}
