//! A content-addressed cache of layer indexes on disk, so that a re-check reads again only the
//! layers that changed: a layer named by the digest of its stored blob (an OCI blob, a
//! `blobs/sha256/…` archive member, a registry layer) is looked up before its bytes are read,
//! and on a hit they are neither inflated nor hashed.
//!
//! Trust is the content store's: an entry is written only after its blob was hashed to the
//! digest it is filed under and its diff id checked, and a later blob of the same digest is
//! taken to be the same bytes (containerd skips a blob it holds on the same ground).
//! `--no-cache` reads and verifies everything again.
//!
//! Entries live under `layers/<salt>/<hex>.layer`, where the salt covers importgate's version,
//! the format and the capture policy, so a binary never reads another's entries. Each entry is
//! written to a temporary file and renamed into place (concurrent runs race harmlessly), and
//! carries the crc32 of its body: a torn, corrupt or foreign file is ignored, removed and
//! rebuilt. The total size is capped; the least recently used entries (by mtime, touched on
//! every hit) go first.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::ElfSummary;
use crate::layer::{EntryKind, LayerEntry, LayerIndex};
use crate::vfs::FileData;

/// Bumped whenever the encoding or what a [`LayerIndex`] means changes.
const FORMAT: u32 = 9;
/// Length of the checksum trailer (crc32 of the body).
const SUM_LEN: usize = 4;
const MAGIC: &[u8] = b"importgate-layer-index\0";
/// The default cap on the cache's size.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// A layer index cache rooted at one directory.
#[derive(Debug)]
pub struct LayerCache {
    root: PathBuf,
    salt: String,
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of small entries ([`LayerCache::put_entry`]) added since the last eviction: they
    /// come by the hundred in one run, so their eviction waits for the cache to be dropped.
    grown: std::sync::atomic::AtomicU64,
}

impl LayerCache {
    /// `policy` names the capture policy (and anything else that changes what an index holds);
    /// entries made under another policy or by another version are never seen.
    pub fn new(root: &Path, policy: &str, max_bytes: u64) -> Self {
        let salt = hex(&Sha256::digest(
            format!("{}\0{FORMAT}\0{policy}", env!("CARGO_PKG_VERSION")).as_bytes(),
        ));
        LayerCache {
            root: root.to_path_buf(),
            dir: root.join("layers").join(&salt[..16]),
            salt: salt[..16].to_string(),
            max_bytes,
            grown: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `$IMPORTGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/importgate`, else `~/.cache/importgate`.
    pub fn default_root() -> Option<PathBuf> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("IMPORTGATE_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("importgate")))
            .or_else(|| var("HOME").map(|h| h.join(".cache").join("importgate")))
    }

    fn path_of(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
        Some(self.dir.join(format!("{}.layer", hex.to_ascii_lowercase())))
    }

    /// Whether an entry for `digest` exists (it may still turn out unusable).
    pub(crate) fn has(&self, digest: &str) -> bool {
        self.path_of(digest).is_some_and(|p| p.is_file())
    }

    /// The index of the layer whose stored blob has `digest`, if an intact entry exists.
    pub(crate) fn get(&self, digest: &str) -> Option<Arc<LayerIndex>> {
        let path = self.path_of(digest)?;
        match read_index(&path)? {
            Some(index) if index.blob.as_ref().is_some_and(|(d, _)| d == digest) => {
                touch(&path);
                tracing::debug!("layer cache: hit {digest}");
                Some(Arc::new(index))
            }
            _ => {
                tracing::debug!("layer cache: `{}` is unusable; removed", path.display());
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Files a verified index under its blob digest. Failures only cost a later re-read.
    pub(crate) fn put(&self, index: &LayerIndex) {
        let Some((digest, len)) = &index.blob else {
            return;
        };
        self.put_under(index, digest, *len, None);
    }

    /// Files the index of an uncompressed layer its source vouched for without importgate
    /// hashing it (the engine's export): under `diff_id`, which is then its blob digest too.
    pub(crate) fn put_attested(&self, index: &LayerIndex, diff_id: &str, len: u64) {
        self.put_under(index, diff_id, len, Some(diff_id));
    }

    fn put_under(&self, index: &LayerIndex, digest: &str, len: u64, attested: Option<&str>) {
        let Some(path) = self.path_of(digest) else {
            return;
        };
        let ids = Ids {
            diff_id: attested.or(index.diff_id.as_deref()),
            blob: Some((digest, len)),
        };
        match write_new(&path, |f| {
            encode_ids(index, ids, io::BufWriter::with_capacity(256 << 10, f))
        }) {
            Ok(Some(_)) => {
                tracing::debug!("layer cache: stored {digest}");
                self.evict();
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("layer cache: cannot write `{}`: {e}", path.display()),
        }
    }

    /// The entry of `kind` (a word: `parsed`, ...) filed under `key` (hex), if intact. Entries
    /// of other kinds than layer indexes are results computed from content the key hashes
    /// (a parsed module by its file's sha256), kept under `<kind>/<salt>/` beside the layers.
    pub fn get_entry(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(kind, key)?;
        let mut file = fs::File::open(&path).ok()?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).ok()?;
        let body = unframe(&data);
        if body.is_none() {
            tracing::debug!("cache: `{}` is unusable; removed", path.display());
            let _ = fs::remove_file(&path);
            return None;
        }
        // Recently used, for the eviction; touched at most once an hour.
        if let Ok(meta) = file.metadata()
            && meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600)
        {
            touch(&path);
        }
        body.map(<[u8]>::to_vec)
    }

    /// Files `body` as the entry of `kind` under `key`; failures only cost a later recompute.
    pub fn put_entry(&self, kind: &str, key: &str, body: &[u8]) {
        let Some(path) = self.entry_path(kind, key) else {
            return;
        };
        let written = write_new(&path, |f| {
            let mut w = io::BufWriter::new(f);
            w.write_all(ENTRY_MAGIC)?;
            w.write_all(&FORMAT.to_le_bytes())?;
            w.write_all(body)?;
            w.write_all(&crc32fast::hash(body).to_le_bytes())?;
            w.flush()
        });
        match written {
            Ok(Some(len)) => {
                self.grown
                    .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("cache: cannot write `{}`: {e}", path.display()),
        }
    }

    /// The diff id of the layer the engine's export stream names `<v1>/layer.tar`, as an
    /// earlier export of the same engine found it. The legacy format names layers by the v1 id
    /// the engine derives from the layer's chain id (and, for an image's top layer, its
    /// config), never by digest; this is how a re-check skips the bytes of layers it has seen.
    pub(crate) fn export_alias(&self, v1: &str) -> Option<String> {
        let body = self.get_entry(EXPORT_ALIAS, v1)?;
        let diff_id = std::str::from_utf8(&body).ok()?;
        let hex = diff_id.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| diff_id.to_string())
    }

    /// Files what [`LayerCache::export_alias`] reads: only ever from the engine's own export,
    /// after the layer's bytes were hashed to `diff_id` and the engine's config agreed.
    pub(crate) fn put_export_alias(&self, v1: &str, diff_id: &str) {
        self.put_entry(EXPORT_ALIAS, v1, diff_id.as_bytes());
    }

    /// A layer index filed under `kind`/`key` rather than under a blob digest (the engine's
    /// storage: a layer directory named by its chain id), if an intact one is there.
    pub(crate) fn get_index(&self, kind: &str, key: &str) -> Option<Arc<LayerIndex>> {
        let path = self.entry_path(kind, key)?;
        match read_index(&path)? {
            Some(index) => {
                touch(&path);
                tracing::debug!("layer cache: hit {kind} {key}");
                Some(Arc::new(index))
            }
            None => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Files a layer index under `kind`/`key`, written as it is encoded.
    pub(crate) fn put_index(&self, kind: &str, key: &str, index: &LayerIndex) {
        let Some(path) = self.entry_path(kind, key) else {
            return;
        };
        match write_new(&path, |f| {
            encode_to(index, io::BufWriter::with_capacity(256 << 10, f))
        }) {
            Ok(None) => {}
            Ok(Some(len)) => {
                tracing::debug!("layer cache: stored {kind} {key}");
                self.grown
                    .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => tracing::debug!("layer cache: cannot write `{}`: {e}", path.display()),
        }
    }

    fn entry_path(&self, kind: &str, key: &str) -> Option<PathBuf> {
        let ok = |s: &str, hex: bool| {
            !s.is_empty()
                && s.len() <= 128
                && s.bytes().all(|b| {
                    if hex {
                        b.is_ascii_hexdigit()
                    } else {
                        b.is_ascii_lowercase()
                    }
                })
        };
        (ok(kind, false) && kind != "layers" && ok(key, true)).then(|| {
            self.root
                .join(kind)
                .join(&self.salt)
                .join(&key[..2])
                .join(key)
        })
    }

    /// Removes the least recently used entries (of every version and policy) until the cache
    /// is under its cap.
    fn evict(&self) {
        self.grown.store(0, std::sync::atomic::Ordering::Relaxed);
        // When, for the next drop to tell whether a scan is due.
        let _ = fs::create_dir_all(&self.root);
        let _ = fs::write(self.root.join(EVICTED), b"");
        let mut entries = Vec::new();
        let mut total = 0u64;
        // `<root>/<kind>/<salt>/` holds files (layers) or two-letter fan-out directories.
        for kind in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            for sub in fs::read_dir(kind.path()).into_iter().flatten().flatten() {
                let mut stack = vec![(sub.path(), 0)];
                while let Some((dir, depth)) = stack.pop() {
                    for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
                        let Ok(meta) = e.metadata() else { continue };
                        if meta.is_file() {
                            total += meta.len();
                            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                            entries.push((used, meta.len(), e.path()));
                        } else if meta.is_dir() && depth == 0 {
                            stack.push((e.path(), depth + 1));
                        }
                    }
                }
            }
        }
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                tracing::debug!("layer cache: evicted `{}`", path.display());
                total = total.saturating_sub(len);
            }
        }
    }
}

/// Marks an entry as just used: the eviction goes by mtime.
fn touch(path: &Path) {
    if let Ok(f) = fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Writes a new entry at `path` through a temporary file renamed into place, so a concurrent
/// or interrupted run never leaves a torn entry there; its length, or `None` when an entry is
/// there already.
fn write_new(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> io::Result<Option<u64>> {
    if path.exists() {
        return Ok(None);
    }
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a cache entry without a directory"))?;
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    write(tmp.as_file_mut())?;
    let len = tmp.as_file().metadata()?.len();
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(Some(len))
}

/// The index an entry file holds: `None` when there is no such file, `Some(None)` when it is
/// there but not an intact entry.
fn read_index(path: &Path) -> Option<Option<LayerIndex>> {
    let file = fs::File::open(path).ok()?;
    Some(
        file.metadata()
            .ok()
            .and_then(|m| decode_from(io::BufReader::with_capacity(256 << 10, file), m.len())),
    )
}

/// Marks the last eviction (its mtime).
const EVICTED: &str = ".evicted";

impl Drop for LayerCache {
    /// Small entries added by this run are evicted for at the end of it: at once when they are
    /// a noticeable part of the cap, otherwise at most every ten minutes, so that a warm re-check
    /// storing a few parsed modules does not pay a scan of thousands of entries each time.
    fn drop(&mut self) {
        let grown = self.grown.load(std::sync::atomic::Ordering::Relaxed);
        if grown == 0 {
            return;
        }
        let recent = fs::metadata(self.root.join(EVICTED))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() < 600);
        if grown > self.max_bytes / 64 || !recent {
            self.evict();
        }
    }
}

const ENTRY_MAGIC: &[u8] = b"importgate-cache-entry\0";
/// The kind of [`LayerCache::export_alias`] entries.
const EXPORT_ALIAS: &str = "exportlayer";

/// The body of an intact entry written by [`LayerCache::put_entry`].
fn unframe(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(ENTRY_MAGIC)?;
    let rest = rest.strip_prefix(FORMAT.to_le_bytes().as_slice())?;
    let (body, sum) = rest.split_at_checked(rest.len().checked_sub(SUM_LEN)?)?;
    (crc32fast::hash(body).to_le_bytes().as_slice() == sum).then_some(body)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `MAGIC`, `FORMAT`, the body, then the body's crc32 (a check against torn and damaged
/// files, cheap enough to run over every hit; whoever can write the cache could forge a
/// stronger sum too).
#[cfg(test)]
pub(crate) fn encode(index: &LayerIndex) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let _ = encode_to(index, &mut out);
    out
}

/// [`encode`] straight into `w`: a layer's entry is written as it is encoded, never held whole
/// in memory (the site-packages layer of a scientific stack encodes to 70 MB).
pub(crate) fn encode_to<W: Write>(index: &LayerIndex, w: W) -> io::Result<()> {
    let ids = Ids {
        diff_id: index.diff_id.as_deref(),
        blob: index.blob.as_ref().map(|(d, len)| (d.as_str(), *len)),
    };
    encode_ids(index, ids, w)
}

/// The digests an entry is filed with: the index's own, or those its source vouched for.
#[derive(Clone, Copy)]
struct Ids<'a> {
    diff_id: Option<&'a str>,
    blob: Option<(&'a str, u64)>,
}

fn encode_ids<W: Write>(index: &LayerIndex, ids: Ids<'_>, w: W) -> io::Result<()> {
    let mut w = w;
    w.write_all(MAGIC)?;
    w.write_all(&FORMAT.to_le_bytes())?;
    let mut body = Enc {
        w,
        crc: crc32fast::Hasher::new(),
        err: None,
    };
    body.opt_str(ids.diff_id);
    match ids.blob {
        Some((d, len)) => {
            body.u8(1);
            body.str(d);
            body.u64(len);
        }
        None => body.u8(0),
    }
    body.u64(index.members);
    body.u64(index.warnings.len() as u64);
    for w in &index.warnings {
        body.str(w);
    }
    body.u64(index.entries.len() as u64);
    for e in &index.entries {
        body.str(&e.path);
        body.u32(e.mode);
        body.u32(e.uid);
        body.u32(e.gid);
        match &e.kind {
            EntryKind::Dir => body.u8(0),
            EntryKind::File(data) => {
                body.u8(1);
                body.file(data);
            }
            EntryKind::Symlink(t) => {
                body.u8(2);
                body.str(t);
            }
            EntryKind::Hardlink(t) => {
                body.u8(3);
                body.str(t);
            }
            EntryKind::Other => body.u8(4),
            EntryKind::Whiteout => body.u8(5),
            EntryKind::Opaque => body.u8(6),
            EntryKind::AufsLinkTarget(data) => {
                body.u8(7);
                body.file(data);
            }
        }
    }
    let Enc { mut w, crc, err } = body;
    if let Some(e) = err {
        return Err(e);
    }
    w.write_all(&crc.finalize().to_le_bytes())?;
    w.flush()
}

/// `None` for anything that is not an intact entry of this format.
#[cfg(test)]
pub(crate) fn decode(data: &[u8]) -> Option<LayerIndex> {
    decode_from(data, data.len() as u64)
}

/// Decodes an entry of `len` bytes while it streams in, so a hit costs the decoded index and
/// not also the whole file in memory; the checksum is verified before anything is returned.
pub(crate) fn decode_from<R: Read>(mut r: R, len: u64) -> Option<LayerIndex> {
    let mut head = vec![0u8; MAGIC.len() + 4];
    r.read_exact(&mut head).ok()?;
    if head[..MAGIC.len()] != *MAGIC || head[MAGIC.len()..] != FORMAT.to_le_bytes() {
        return None;
    }
    let body_len = len.checked_sub(head.len() as u64 + SUM_LEN as u64)?;
    let mut d = Dec {
        r: &mut r,
        left: body_len,
        hasher: crc32fast::Hasher::new(),
    };
    let index = d.index()?;
    if d.left != 0 {
        return None;
    }
    let sum = d.hasher.finalize();
    let mut trailer = [0u8; SUM_LEN];
    r.read_exact(&mut trailer).ok()?;
    (sum.to_le_bytes() == trailer).then_some(index)
}

impl<R: Read> Dec<'_, R> {
    fn index(&mut self) -> Option<LayerIndex> {
        let diff_id = self.opt_str()?;
        let blob = match self.u8()? {
            0 => None,
            1 => Some((self.str()?, self.u64()?)),
            _ => return None,
        };
        let members = self.u64()?;
        let mut warnings = Vec::new();
        for _ in 0..self.count()? {
            warnings.push(self.str()?);
        }
        let n = self.count()?;
        let mut entries = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = self.str()?;
            let (mode, uid, gid) = (self.u32()?, self.u32()?, self.u32()?);
            let kind = match self.u8()? {
                0 => EntryKind::Dir,
                1 => EntryKind::File(self.file()?),
                2 => EntryKind::Symlink(self.str()?),
                3 => EntryKind::Hardlink(self.str()?),
                4 => EntryKind::Other,
                5 => EntryKind::Whiteout,
                6 => EntryKind::Opaque,
                7 => EntryKind::AufsLinkTarget(self.file()?),
                _ => return None,
            };
            entries.push(LayerEntry {
                path,
                kind,
                mode,
                uid,
                gid,
            });
        }
        Some(LayerIndex {
            entries,
            warnings,
            members,
            diff_id,
            blob,
        })
    }
}

/// Writes the body, summing it on the way; the first write error is kept and reported at the
/// end.
struct Enc<W: Write> {
    w: W,
    crc: crc32fast::Hasher,
    err: Option<io::Error>,
}

impl<W: Write> Enc<W> {
    fn put(&mut self, b: &[u8]) {
        if self.err.is_none() {
            self.crc.update(b);
            if let Err(e) = self.w.write_all(b) {
                self.err = Some(e);
            }
        }
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.put(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }
    fn file(&mut self, f: &FileData) {
        self.u64(f.size);
        match &f.content {
            Some(c) => {
                self.u8(1);
                self.bytes(c);
            }
            None => self.u8(0),
        }
        match &f.elf {
            Some(e) => {
                self.u8(1);
                self.u16(e.machine);
                self.u8(e.class);
                self.u64(e.needed.len() as u64);
                for n in &e.needed {
                    self.str(n);
                }
                self.opt_str(e.rpath.as_deref());
                self.opt_str(e.runpath.as_deref());
                self.opt_str(e.soname.as_deref());
                self.opt_str(e.interp.as_deref());
                self.u64(e.init_exports.len() as u64);
                for n in &e.init_exports {
                    self.str(n);
                }
            }
            None => self.u8(0),
        }
    }
}

/// Every read is bounds-checked against what is left of the body (a length can never ask for
/// more), and hashed on the way.
struct Dec<'a, R> {
    r: &'a mut R,
    left: u64,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Dec<'_, R> {
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        if n as u64 > self.left {
            return None;
        }
        let mut buf = vec![0u8; n];
        self.r.read_exact(&mut buf).ok()?;
        self.left -= n as u64;
        self.hasher.update(&buf);
        Some(buf)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    /// A count of items, each at least one byte long.
    fn count(&mut self) -> Option<usize> {
        let n = self.u64()?;
        (n <= self.left).then_some(usize::try_from(n).ok()?)
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
    fn str(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    fn file(&mut self) -> Option<FileData> {
        let size = self.u64()?;
        let content = match self.u8()? {
            0 => None,
            1 => Some(Arc::from(self.bytes()?)),
            _ => return None,
        };
        let elf = match self.u8()? {
            0 => None,
            1 => {
                let machine = self.u16()?;
                let class = self.u8()?;
                let mut needed = Vec::new();
                for _ in 0..self.count()? {
                    needed.push(self.str()?);
                }
                let rpath = self.opt_str()?;
                let runpath = self.opt_str()?;
                let soname = self.opt_str()?;
                let interp = self.opt_str()?;
                let mut init_exports = Vec::new();
                for _ in 0..self.count()? {
                    init_exports.push(self.str()?);
                }
                Some(Arc::new(ElfSummary {
                    machine,
                    class,
                    needed,
                    rpath,
                    runpath,
                    soname,
                    interp,
                    init_exports,
                }))
            }
            _ => return None,
        };
        Some(FileData { size, content, elf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::index_stored;
    use crate::testutil::*;

    fn sample() -> LayerIndex {
        let tar = TarBuilder::new()
            .dir("app")
            .file("app/x.py", "print(1)")
            .symlink("app/y.py", "x.py")
            .file("app/.wh.gone", "")
            .build();
        let mut index = index_stored(&gzip(&tar)[..], &capture_all).unwrap();
        index.entries.push(LayerEntry {
            path: "usr/lib/libx.so".into(),
            kind: EntryKind::File(FileData {
                size: 10,
                content: None,
                elf: Some(Arc::new(ElfSummary {
                    machine: 62,
                    class: 64,
                    needed: vec!["libc.so.6".into()],
                    rpath: Some("$ORIGIN".into()),
                    runpath: None,
                    soname: Some("libx.so".into()),
                    interp: None,
                    init_exports: vec!["_abc".into(), "_io".into()],
                })),
            }),
            mode: 0o755,
            uid: 1,
            gid: 2,
        });
        index.warnings.push("a warning".into());
        index
    }

    fn same(a: &LayerIndex, b: &LayerIndex) {
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.warnings, b.warnings);
        assert_eq!(a.members, b.members);
        assert_eq!(a.diff_id, b.diff_id);
        assert_eq!(a.blob, b.blob);
    }

    #[test]
    fn entries_round_trip() {
        let index = sample();
        same(&decode(&encode(&index)).unwrap(), &index);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let data = encode(&sample());
        for n in 0..data.len() {
            assert!(decode(&data[..n]).is_none(), "truncated at {n}");
        }
        for n in (0..data.len()).step_by(7) {
            let mut bad = data.clone();
            bad[n] ^= 0x40;
            assert!(decode(&bad).is_none(), "flipped byte {n}");
        }
    }

    #[test]
    fn a_corrupt_or_foreign_entry_is_a_miss_and_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(root.path(), "p", DEFAULT_MAX_BYTES);
        let index = sample();
        let digest = index.blob.clone().unwrap().0;
        cache.put(&index);
        same(&cache.get(&digest).unwrap(), &index);
        let path = cache.path_of(&digest).unwrap();
        fs::write(&path, b"garbage").unwrap();
        assert!(cache.get(&digest).is_none());
        assert!(!path.exists());
        cache.put(&index);
        same(&cache.get(&digest).unwrap(), &index);
        // Filed under another digest (a copied file): not taken for that digest.
        let other = format!("sha256:{}", "0".repeat(64));
        fs::copy(&path, cache.path_of(&other).unwrap()).unwrap();
        assert!(cache.get(&other).is_none());
    }

    #[test]
    fn another_policy_or_version_sees_nothing() {
        let root = tempfile::tempdir().unwrap();
        let index = sample();
        let digest = index.blob.clone().unwrap().0;
        LayerCache::new(root.path(), "p", DEFAULT_MAX_BYTES).put(&index);
        assert!(
            LayerCache::new(root.path(), "q", DEFAULT_MAX_BYTES)
                .get(&digest)
                .is_none()
        );
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let root = tempfile::tempdir().unwrap();
        let one = encode(&sample()).len() as u64;
        let cache = LayerCache::new(root.path(), "p", 2 * one + one / 2);
        let mut digests = Vec::new();
        for n in 0..3u8 {
            let mut index = sample();
            let d = format!("sha256:{}", format!("{n:02x}").repeat(32));
            index.blob = Some((d.clone(), 1));
            cache.put(&index);
            digests.push(d);
            // mtimes must differ for the order to be decided.
            std::thread::sleep(std::time::Duration::from_millis(20));
            if n == 1 {
                // The first is used again, so the second is now the oldest.
                assert!(cache.get(&digests[0]).is_some());
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        assert!(cache.get(&digests[0]).is_some());
        assert!(cache.get(&digests[1]).is_none(), "the least recently used");
        assert!(cache.get(&digests[2]).is_some());
    }

    #[test]
    fn concurrent_writers_leave_one_intact_entry() {
        let root = tempfile::tempdir().unwrap();
        let index = sample();
        let digest = index.blob.clone().unwrap().0;
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| LayerCache::new(root.path(), "p", DEFAULT_MAX_BYTES).put(&index));
            }
        });
        let cache = LayerCache::new(root.path(), "p", DEFAULT_MAX_BYTES);
        same(&cache.get(&digest).unwrap(), &index);
        let files = fs::read_dir(&cache.dir).unwrap().count();
        assert_eq!(files, 1, "no temporary file left behind");
    }
}
