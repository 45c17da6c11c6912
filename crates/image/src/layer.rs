//! One layer tar (plain, gzip or zstd, decided by its first bytes) turned into a flat, ordered
//! list of entries with cleaned paths, ready for the sequential merge. Indexing is independent
//! per layer, which is what lets several layers be read at once.

use std::io::{self, Chain, Cursor, Read};

use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::elf::{ELF_MAGIC, ElfSummary, ReadAt, Streamed};
use crate::vfs::{FileData, clean_member_name};
use crate::{Capture, Keep};

/// Contents above this are never kept, whatever the capture predicate says: one hostile member
/// must not be able to take the memory of the whole run.
pub(crate) const MAX_CAPTURE: u64 = 64 << 20;
/// Linux `PATH_MAX`; longer names cannot exist in a running container anyway.
const MAX_PATH: usize = 4096;
/// A bound on the index of one layer, so that a tar bomb of empty entries cannot exhaust memory.
const MAX_ENTRIES: usize = 1 << 23;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Names and media types lie (a `.tar.gz` that is plain, a `+gzip` that is zstd); the magic
/// bytes do not.
pub(crate) fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A ustar/GNU header carries `ustar` at offset 257; an all-zero block is the end marker, which
/// is all an empty layer (the well-known 1024 zero bytes) consists of.
pub(crate) fn looks_like_tar(block: &[u8]) -> bool {
    block.len() >= 512 && (&block[257..262] == b"ustar" || block[..512].iter().all(|b| *b == 0))
}

pub(crate) type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads up to `n` bytes and hands back a reader that still yields them: streams cannot seek
/// back, and one short `read` must not be mistaken for the end.
pub(crate) fn peek<R: Read>(mut reader: R, n: usize) -> io::Result<(Vec<u8>, Peeked<R>)> {
    let mut buf = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut buf)?;
    Ok((buf.clone(), Cursor::new(buf).chain(reader)))
}

/// Wraps `reader` in the decoder its first bytes call for.
pub(crate) fn decompress<'a, R: Read + 'a>(
    reader: R,
) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let (prefix, reader) = peek(reader, 4)?;
    let compression = sniff(&prefix);
    let out: Box<dyn Read + 'a> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        Compression::None => Box::new(reader),
    };
    Ok((compression, out))
}

/// What one layer member does to the tree below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    File(FileData),
    Symlink(String),
    /// Target as a cleaned path inside the image.
    Hardlink(String),
    Other,
    /// `.wh.NAME`: `path` is the removed lower entry.
    Whiteout,
    /// `.wh..wh..opq`: `path` is the directory whose lower children vanish.
    Opaque,
    /// A file under AUFS's `.wh..wh.plnk/`: never visible, but a hardlink target.
    AufsLinkTarget(FileData),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerEntry {
    /// Cleaned, relative to the image root, never empty.
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LayerIndex {
    pub entries: Vec<LayerEntry>,
    /// Members skipped as unsafe or malformed.
    pub warnings: Vec<String>,
    /// Every member seen, including skipped ones, for `LayerInfo::entries`.
    pub members: u64,
    /// `sha256:` of the uncompressed tar, to check against the config's diff id.
    pub diff_id: Option<String>,
    /// `sha256:` and length of the blob as stored (compressed or not), to check against the
    /// manifest's descriptor; hashed while it streams past, like the diff id.
    pub blob: Option<(String, u64)>,
}

impl LayerIndex {
    pub(crate) fn push(
        &mut self,
        path: String,
        kind: EntryKind,
        (mode, uid, gid): (u32, u32, u32),
    ) {
        self.entries.push(LayerEntry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
}

/// sha256 of a stream, computed on a thread of its own once the stream is big enough to be
/// worth one: the reading thread (which inflates and indexes) then only copies the bytes into
/// chunks, and the hash costs a second core instead of a third of the first one's time.
pub(crate) struct Sha256Pipe {
    state: PipeState,
    pending: Vec<u8>,
    seen: u64,
}

enum PipeState {
    Inline(Sha256),
    Thread {
        tx: std::sync::mpsc::SyncSender<Vec<u8>>,
        handle: std::thread::JoinHandle<Sha256>,
    },
}

/// Streams shorter than this are hashed where they are read.
const OFFLOAD_AFTER: u64 = 4 << 20;
const HASH_CHUNK: usize = 256 << 10;

impl Sha256Pipe {
    pub(crate) fn new() -> Self {
        Sha256Pipe {
            state: PipeState::Inline(Sha256::new()),
            pending: Vec::new(),
            seen: 0,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.seen += data.len() as u64;
        match &mut self.state {
            PipeState::Inline(h) => {
                h.update(data);
                if self.seen >= OFFLOAD_AFTER {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
                    let mut moved = h.clone();
                    let spawned = std::thread::Builder::new()
                        .name("importgate-hash".into())
                        .spawn(move || {
                            for chunk in rx {
                                moved.update(&chunk);
                            }
                            moved
                        });
                    // No thread: go on hashing here.
                    if let Ok(handle) = spawned {
                        self.state = PipeState::Thread { tx, handle };
                        self.pending = Vec::with_capacity(HASH_CHUNK);
                    }
                }
            }
            PipeState::Thread { tx, .. } => {
                self.pending.extend_from_slice(data);
                if self.pending.len() >= HASH_CHUNK {
                    let chunk =
                        std::mem::replace(&mut self.pending, Vec::with_capacity(HASH_CHUNK));
                    // The thread only stops when the sender is dropped.
                    let _ = tx.send(chunk);
                }
            }
        }
    }

    /// The digest; empty (so matching nothing) if the hashing thread was lost.
    pub(crate) fn finalize(self) -> Vec<u8> {
        match self.state {
            PipeState::Inline(h) => h.finalize().to_vec(),
            PipeState::Thread { tx, handle } => {
                if !self.pending.is_empty() {
                    let _ = tx.send(self.pending);
                }
                drop(tx);
                handle
                    .join()
                    .map(|h| h.finalize().to_vec())
                    .unwrap_or_default()
            }
        }
    }
}

/// Hashes what passes through, so the diff id costs no second pass.
struct Hashing<R> {
    inner: R,
    hasher: Sha256Pipe,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Counts, and hashes unless told not to, the stored bytes on their way to the decoder.
struct Stored<R> {
    inner: R,
    hasher: Option<Sha256Pipe>,
    len: u64,
}

impl<R: Read> Read for Stored<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }
}

pub(crate) fn hex_digest(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(7 + 2 * digest.len());
    s.push_str("sha256:");
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A compressed blob that failed to index, with the digest and length it has as stored.
#[derive(Debug)]
pub(crate) struct UndecodableBlob {
    pub digest: String,
    pub len: u64,
    pub source: io::Error,
}

impl std::fmt::Display for UndecodableBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for UndecodableBlob {}

/// A copy of a shared layer error (kept behind an `Arc` by the archive reader), keeping what
/// [`UndecodableBlob`] knows.
pub(crate) fn copy_error(e: &io::Error) -> io::Error {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<UndecodableBlob>())
    {
        Some(u) => io::Error::new(
            e.kind(),
            UndecodableBlob {
                digest: u.digest.clone(),
                len: u.len,
                source: io::Error::new(u.source.kind(), u.source.to_string()),
            },
        ),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The digest of an empty blob, which Docker takes for an empty layer.
pub(crate) const EMPTY_SHA256: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// [`index_blob`] that also records the stored blob's digest and length ([`LayerIndex::blob`])
/// in the same pass. An uncompressed blob is its own diff id, so it is not hashed twice.
pub(crate) fn index_stored<R: Read>(reader: R, capture: &Capture) -> io::Result<LayerIndex> {
    let (prefix, reader) = peek(reader, 4)?;
    let plain = sniff(&prefix) == Compression::None;
    let mut stored = Stored {
        inner: reader,
        hasher: (!plain).then(Sha256Pipe::new),
        len: 0,
    };
    let mut index = match index_blob(&mut stored, capture) {
        Ok(index) => index,
        // A blob that does not decode may just not be the blob the manifest names; say which
        // it is, so that the caller can tell a tampered blob from a broken one.
        Err(e) => {
            let Some(hasher) = stored.hasher.take() else {
                return Err(e);
            };
            if io::copy(&mut stored, &mut io::sink()).is_err() {
                return Err(e);
            }
            return Err(io::Error::new(
                e.kind(),
                UndecodableBlob {
                    digest: hex_digest(&hasher.finalize()),
                    len: stored.len,
                    source: e,
                },
            ));
        }
    };
    // Whatever follows the compressed stream is part of the blob too.
    io::copy(&mut stored, &mut io::sink())?;
    let digest = match stored.hasher {
        Some(h) => Some(hex_digest(&h.finalize())),
        None => index.diff_id.clone(),
    };
    index.blob = digest.map(|d| (d, stored.len));
    Ok(index)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Decompresses (by sniffing) and indexes one layer blob.
pub(crate) fn index_blob<R: Read>(reader: R, capture: &Capture) -> io::Result<LayerIndex> {
    let (_, tar) = decompress(reader)?;
    let (head, tar) = peek(tar, 512)?;
    if !head.is_empty() && !looks_like_tar(&head) {
        return Err(invalid("not a tar archive".into()));
    }
    index_tar(tar, capture)
}

/// Indexes an uncompressed layer tar, reading it to the end for its digest. An empty stream is
/// an empty layer, as Go's tar reader (and so Docker) takes it.
pub(crate) fn index_tar<R: Read>(reader: R, capture: &Capture) -> io::Result<LayerIndex> {
    let mut hashing = Hashing {
        inner: reader,
        hasher: Sha256Pipe::new(),
    };
    let mut index = index_entries(&mut hashing, capture)?;
    // The tar reader stops at the end marker; the digest covers the padding after it too.
    io::copy(&mut hashing, &mut io::sink())?;
    index.diff_id = Some(hex_digest(&hashing.hasher.finalize()));
    Ok(index)
}

/// [`index_tar`] for a stream whose digest its source vouches for: read to its end (so that
/// the outer stream goes on), never hashed; the diff id is left to the caller.
pub(crate) fn index_tar_unhashed<R: Read>(
    mut reader: R,
    capture: &Capture,
) -> io::Result<LayerIndex> {
    let index = index_entries(&mut reader, capture)?;
    io::copy(&mut reader, &mut io::sink())?;
    Ok(index)
}

/// A layer tar stored uncompressed inside an archive file, read in place: the tar reader seeks
/// over the contents the capture policy does not keep instead of reading them, and the diff id
/// is left for [`hash_region`] to compute (on another core).
pub(crate) fn index_tar_in_place(
    file: &std::fs::File,
    start: u64,
    len: u64,
    capture: &Capture,
) -> io::Result<LayerIndex> {
    let region = io::BufReader::with_capacity(IN_PLACE_BUFFER, Region::new(file, start, len)?);
    let mut archive = tar::Archive::new(SeekInBuffer(region));
    index_from(archive.entries_with_seek()?, capture, Some((file, start)))
}

/// The read size of a layer read in place: a few small members' headers and contents per read,
/// and not much read in vain before a big member is seeked over.
const IN_PLACE_BUFFER: usize = 32 << 10;

/// A buffered reader whose forward seeks stay inside its buffer when they can. `BufReader`'s
/// own `seek` drops the buffer every time, and the tar reader seeks past every member it does
/// not read: each small file then cost a whole buffer's read again.
struct SeekInBuffer<R>(io::BufReader<R>);

impl<R: Read + io::Seek> Read for SeekInBuffer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + io::Seek> io::Seek for SeekInBuffer<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match pos {
            io::SeekFrom::Current(n) => {
                self.0.seek_relative(n)?;
                self.0.stream_position()
            }
            other => self.0.seek(other),
        }
    }
}

/// `sha256:` of `len` bytes of `file` from `start`: the diff id of a layer read in place.
pub(crate) fn hash_region(file: &std::fs::File, start: u64, len: u64) -> io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from((len - done).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = file.read_at(&mut buf[..want], start + done)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside a layer",
            ));
        }
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hex_digest(&hasher.finalize()))
}

/// `len` bytes of a file from `start`, as a reader that can seek (within them); its own handle
/// on the file, so a worker can take it.
pub(crate) struct Region {
    file: std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Region {
    pub(crate) fn new(file: &std::fs::File, start: u64, len: u64) -> io::Result<Self> {
        Ok(Region {
            file: file.try_clone()?,
            start,
            len,
            pos: 0,
        })
    }
}

impl Read for Region {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = self.len.saturating_sub(self.pos);
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for Region {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let to = match pos {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match to {
            Some(n) if n <= self.len => {
                self.pos = n;
                Ok(n)
            }
            // Past the layer's end: a member claims more bytes than the layer has.
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "layer ends inside a member",
            )),
        }
    }
}

fn index_entries<R: Read>(reader: R, capture: &Capture) -> io::Result<LayerIndex> {
    let mut archive = tar::Archive::new(reader);
    index_from(archive.entries()?, capture, None)
}

/// `in_place`: the archive file and where the layer starts in it, when the layer is read in
/// place (a member's bytes can then be read anywhere, not only in order).
fn index_from<R: Read>(
    entries: tar::Entries<'_, R>,
    capture: &Capture,
    in_place: Option<(&std::fs::File, u64)>,
) -> io::Result<LayerIndex> {
    use std::os::unix::fs::FileExt;
    let mut index = LayerIndex::default();
    for entry in entries {
        let mut entry = entry?;
        let read_at = in_place.map(|(file, start)| {
            let at = start + entry.raw_file_position();
            move |offset: u64, buf: &mut [u8]| file.read_at(buf, at + offset)
        });
        let at = read_at.as_ref().map(|f| f as ReadAt<'_>);
        let ty = entry.header().entry_type();
        if matches!(
            ty,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        index.members += 1;
        if index.entries.len() >= MAX_ENTRIES {
            return Err(invalid(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut size = entry.size();
        let mut pax_sparse = false;
        // tar-rs does not decode PAX sparse 1.0; its real name and size sit in PAX keys.
        if let Ok(Some(pax)) = entry.pax_extensions() {
            for ext in pax.flatten() {
                match (ext.key(), ext.value()) {
                    (Ok("GNU.sparse.name"), Ok(v)) => {
                        name = v.to_string();
                        pax_sparse = true;
                    }
                    (Ok("GNU.sparse.realsize"), Ok(v)) => {
                        size = v.parse().unwrap_or(size);
                        pax_sparse = true;
                    }
                    _ => {}
                }
            }
        }
        if name.len() > MAX_PATH {
            index
                .warnings
                .push(format!("member name longer than {MAX_PATH} bytes skipped"));
            continue;
        }
        let path = match clean_member_name(&name) {
            Ok(p) => p,
            Err(_) => {
                index.warnings.push(format!(
                    "member `{name}` climbs above the image root; skipped"
                ));
                continue;
            }
        };
        if path.is_empty() {
            // `./` itself: Docker skips it rather than failing (gcr#2399).
            continue;
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header
            .uid()
            .ok()
            .and_then(|u| u32::try_from(u).ok())
            .unwrap_or(0);
        let gid = header
            .gid()
            .ok()
            .and_then(|g| u32::try_from(g).ok())
            .unwrap_or(0);
        let (parent, base) = match path.rsplit_once('/') {
            Some((p, b)) => (p, b),
            None => ("", path.as_str()),
        };
        let in_aufs_meta = path
            .split('/')
            .next()
            .is_some_and(|c| c.starts_with(".wh..wh."));
        if in_aufs_meta {
            if path.starts_with(".wh..wh.plnk/") && is_file_type(ty) {
                let data = read_data(&mut entry, &path, size, capture, pax_sparse, None)?;
                index.entries.push(LayerEntry {
                    path,
                    kind: EntryKind::AufsLinkTarget(data),
                    mode,
                    uid,
                    gid,
                });
            }
            continue;
        }
        if let Some(wh) = whiteout_name(base) {
            let join = |n: &str| {
                if parent.is_empty() {
                    n.to_string()
                } else {
                    format!("{parent}/{n}")
                }
            };
            let (path, kind) = match wh {
                Whiteout::Opaque => (parent.to_string(), EntryKind::Opaque),
                Whiteout::Removes(target) => (join(target), EntryKind::Whiteout),
                Whiteout::Metadata => continue,
                Whiteout::Invalid => {
                    index
                        .warnings
                        .push(format!("invalid whiteout `{name}` skipped"));
                    continue;
                }
            };
            index.push(path, kind, (mode, uid, gid));
            continue;
        }
        let kind = match ty {
            EntryType::Directory => EntryKind::Dir,
            t if is_file_type(t) => {
                EntryKind::File(read_data(&mut entry, &path, size, capture, pax_sparse, at)?)
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                EntryKind::Symlink(target)
            }
            EntryType::Link => {
                let raw = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                match clean_member_name(&raw) {
                    Ok(t) if !t.is_empty() => EntryKind::Hardlink(t),
                    _ => {
                        index.warnings.push(format!(
                            "hardlink `{name}` -> `{raw}` points outside the image; skipped"
                        ));
                        continue;
                    }
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => EntryKind::Other,
            other => {
                index.warnings.push(format!(
                    "member `{name}` has unsupported type {:?}; skipped",
                    other.as_byte() as char
                ));
                continue;
            }
        };
        index.push(path, kind, (mode, uid, gid));
    }
    Ok(index)
}

/// What a `.wh.`-prefixed member name means (AUFS whiteout format, which image tars use).
pub(crate) enum Whiteout<'a> {
    /// `.wh..wh..opq`: the lower children of the directory vanish.
    Opaque,
    /// `.wh.NAME`: the lower `NAME` beside it vanishes.
    Removes(&'a str),
    /// Other AUFS metadata (`.wh..wh.aufs`, `.wh..wh.orph`): not part of the tree.
    Metadata,
    /// `.wh.`, `.wh..`, `.wh...`: names nothing.
    Invalid,
}

/// `None` for an ordinary name.
pub(crate) fn whiteout_name(base: &str) -> Option<Whiteout<'_>> {
    let target = base.strip_prefix(".wh.")?;
    Some(if target == ".wh..opq" {
        Whiteout::Opaque
    } else if target.starts_with(".wh.") {
        Whiteout::Metadata
    } else if target.is_empty() || target == "." || target == ".." {
        Whiteout::Invalid
    } else {
        Whiteout::Removes(target)
    })
}

fn is_file_type(ty: EntryType) -> bool {
    matches!(
        ty,
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
    )
}

/// `at` reads the member anywhere, when it can be (see [`crate::elf::summarise_at`]).
pub(crate) fn read_data<R: Read>(
    entry: &mut R,
    path: &str,
    size: u64,
    capture: &Capture,
    pax_sparse: bool,
    at: Option<ReadAt<'_>>,
) -> io::Result<FileData> {
    let abs = format!("/{path}");
    let keep = if pax_sparse {
        Keep::Nothing
    } else {
        match capture.keep(&abs, size) {
            // A summary reads headers and the dynamic segment, whatever the size: a 180 MB
            // extension (polars, torch) needs its libraries found like any other.
            Keep::ElfSummary => Keep::ElfSummary,
            _ if size > MAX_CAPTURE => Keep::Nothing,
            keep => keep,
        }
    };
    let mut content = None;
    let mut elf = None;
    match keep {
        Keep::Nothing => {}
        Keep::Contents => {
            let mut buf = Vec::with_capacity(size as usize);
            entry.take(MAX_CAPTURE).read_to_end(&mut buf)?;
            check_len(&buf, size, path)?;
            // A captured program (the interpreter, a script's target) is also summarised, for
            // the checks of what the kernel and loader need to start it.
            if buf.starts_with(ELF_MAGIC) {
                elf = ElfSummary::parse(&buf).map(std::sync::Arc::new);
            }
            let kept: std::sync::Arc<[u8]> = buf.into();
            capture.kept(&abs, &kept);
            content = Some(kept);
        }
        Keep::ElfExports => {
            elf = match at {
                Some(at) => ElfSummary::parse_with_exports_at(at, size),
                None => {
                    let mut buf = Vec::with_capacity(size as usize);
                    entry.take(MAX_CAPTURE).read_to_end(&mut buf)?;
                    check_len(&buf, size, path)?;
                    ElfSummary::parse_with_exports(&buf)
                }
            }
            .map(std::sync::Arc::new);
        }
        Keep::ElfSummary => {
            // Only the magic is read of non-ELF files; the tar reader skips the rest.
            let mut buf = Vec::with_capacity(4);
            (&mut *entry).take(4).read_to_end(&mut buf)?;
            if buf.as_slice() == ELF_MAGIC {
                let started = std::time::Instant::now();
                // Headers, first segment and dynamic segment only; the whole member only when
                // its layout is unusual.
                let summary = match at {
                    Some(at) => crate::elf::summarise_at(at, size)?,
                    None => crate::elf::summarise_stream(&mut *entry, size, &mut buf)?,
                };
                elf = match summary {
                    Streamed::Done(summary) => summary.map(std::sync::Arc::new),
                    // Too big to read whole: not summarised.
                    Streamed::ReadWhole if size > MAX_CAPTURE => None,
                    Streamed::ReadWhole => {
                        entry.take(MAX_CAPTURE).read_to_end(&mut buf)?;
                        check_len(&buf, size, path)?;
                        ElfSummary::parse(&buf).map(std::sync::Arc::new)
                    }
                };
                use std::sync::atomic::Ordering::Relaxed;
                crate::elf::stats::FILES.fetch_add(1, Relaxed);
                crate::elf::stats::BYTES.fetch_add(size, Relaxed);
                crate::elf::stats::NANOS.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
            }
        }
    }
    Ok(FileData { size, content, elf })
}

fn check_len(buf: &[u8], size: u64, path: &str) -> io::Result<()> {
    if buf.len() as u64 != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("member `{path}` is shorter than its header says"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn sniffs_and_indexes_every_compression() {
        let tar = TarBuilder::new()
            .dir("app")
            .file("app/x.py", "print(1)")
            .symlink("app/y.py", "x.py")
            .build();
        for blob in [tar.clone(), gzip(&tar), zstd_compress(&tar)] {
            let idx = index_blob(&blob[..], &capture_all).unwrap();
            assert_eq!(idx.entries.len(), 3);
            assert_eq!(idx.diff_id, Some(format!("sha256:{}", sha256_hex(&tar))));
            assert_eq!(
                idx.entries[1].kind,
                EntryKind::File(FileData {
                    size: 8,
                    content: Some(b"print(1)".to_vec().into()),
                    elf: None,
                })
            );
        }
    }

    /// A shared object bigger than anything kept whole (polars' 180 MB runtime) is still
    /// summarised: its needed libraries are what the loader looks for.
    #[test]
    fn very_large_shared_objects_are_summarised() {
        let Some(so) = [
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        ]
        .iter()
        .find_map(|p| std::fs::read(p).ok()) else {
            eprintln!("skipped: no libstdc++ on this machine to pad");
            return;
        };
        let small = ElfSummary::parse(&so).unwrap();
        assert!(small.needed.iter().any(|n| n.starts_with("libc.so")));
        let mut big = so.clone();
        big.resize((MAX_CAPTURE + (1 << 20)) as usize, 0);
        let tar = TarBuilder::new().file_bytes("usr/lib/big.so", &big).build();
        let summarise: &Capture = &|_: &str, _: u64| Keep::ElfSummary;
        for blob in [tar.clone(), gzip(&tar)] {
            let idx = index_blob(&blob[..], summarise).unwrap();
            let EntryKind::File(data) = &idx.entries[0].kind else {
                panic!("{:?}", idx.entries[0].kind);
            };
            assert_eq!(data.size, big.len() as u64);
            assert_eq!(data.elf.as_ref().map(|e| &e.needed), Some(&small.needed));
        }
        // Read in place (an archive file), too.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, &tar).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let idx = index_tar_in_place(&file, 0, tar.len() as u64, summarise).unwrap();
        let EntryKind::File(data) = &idx.entries[0].kind else {
            panic!("{:?}", idx.entries[0].kind);
        };
        assert_eq!(data.elf.as_ref().map(|e| &e.needed), Some(&small.needed));
    }

    #[test]
    fn multi_member_gzip_is_read_to_the_end() {
        let tar = TarBuilder::new().file("a", "1").file("b", "2").build();
        let (first, second) = tar.split_at(512 * 2);
        let mut blob = gzip(first);
        blob.extend(gzip(second));
        let idx = index_blob(&blob[..], &capture_all).unwrap();
        assert_eq!(idx.entries.len(), 2);
    }

    #[test]
    fn whiteouts_and_escapes_are_classified() {
        let tar = TarBuilder::new()
            .file("d/.wh..wh..opq", "")
            .file("etc/.wh.passwd", "")
            .file("../x", "evil")
            .file(".wh..wh.aufs", "")
            .build();
        let idx = index_blob(&tar[..], &capture_all).unwrap();
        let kinds: Vec<_> = idx
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("d", EntryKind::Opaque),
                ("etc/passwd", EntryKind::Whiteout)
            ]
        );
        assert_eq!(idx.warnings.len(), 1);
        assert!(idx.warnings[0].contains("../x"));
    }

    #[test]
    fn stored_digest_is_of_the_blob_as_stored() {
        let tar = TarBuilder::new().file("a", "1").build();
        for blob in [tar.clone(), gzip(&tar), zstd_compress(&tar)] {
            let idx = index_stored(&blob[..], &capture_all).unwrap();
            assert_eq!(
                idx.blob,
                Some((format!("sha256:{}", sha256_hex(&blob)), blob.len() as u64))
            );
            assert_eq!(idx.diff_id, Some(format!("sha256:{}", sha256_hex(&tar))));
        }
        // A compressed blob that does not decode still tells what it is.
        let bad = gzip(b"not a tar, long enough to fill a header block? no");
        let err = index_stored(&bad[..], &capture_all).unwrap_err();
        let inner = err
            .get_ref()
            .unwrap()
            .downcast_ref::<UndecodableBlob>()
            .unwrap();
        assert_eq!(inner.digest, format!("sha256:{}", sha256_hex(&bad)));
        assert_eq!(inner.len, bad.len() as u64);
        assert_eq!(
            index_stored(&b""[..], &capture_all).unwrap().blob,
            Some((EMPTY_SHA256.to_string(), 0))
        );
    }

    #[test]
    fn empty_layer_and_non_tar() {
        assert!(
            index_blob(&[0u8; 1024][..], &capture_all)
                .unwrap()
                .entries
                .is_empty()
        );
        assert!(
            index_blob(&b""[..], &capture_all)
                .unwrap()
                .entries
                .is_empty()
        );
        assert!(index_blob(&[7u8; 2048][..], &capture_all).is_err());
    }
}
