//! The file-system chores every part of Rolecall shares: the durable write (a temporary
//! file, flushed, renamed, and the folder flushed after the rename), the durable move, a
//! batch of both that flushes them together ([`Batch`]: per file and folder, or one
//! `syncfs` for the contents and one for the names, as [`Flush`] says), the
//! content hash of a file, the one file-name sanitiser (capped in bytes, at a character
//! boundary), and the clean-up of temporary files a killed run left behind.
//!
//! One place, so that every output gets the same guarantees: a name appears whole or not at
//! all, survives a power cut once the call returns, and is never longer than a file system
//! takes (255 bytes on ext4, XFS, APFS and NTFS alike, counted in bytes, not characters).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest name most file systems take, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The longest extension [`safe_name`] keeps when it has to shorten a name (`.xlsx`).
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// What a sanitised name may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Any printable character: a person's file name (an attachment), with its folders,
    /// control characters and leading dots removed.
    Printable,
    /// Letters and digits of any script, `-` and `_`; anything else becomes `-`. Folder names
    /// made from file names (`clean-batch.xlsx` → `clean-batch-xlsx`).
    Word,
    /// ASCII letters and digits, `-` and `_`; anything else becomes `-`. Names that also go
    /// into a Message-ID or an outbox key.
    AsciiWord,
}

/// The one file-name sanitiser: `name` made safe as a single path component of at most
/// `max_bytes` bytes (cut at a character boundary, keeping a short extension), or
/// `fallback` when nothing is left.
pub fn safe_name(name: &str, charset: Charset, max_bytes: usize, fallback: &str) -> String {
    let clean = match charset {
        Charset::Printable => {
            let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
            let kept: String = last.chars().filter(|c| !c.is_control()).collect();
            kept.trim().trim_start_matches('.').trim().to_string()
        }
        Charset::Word | Charset::AsciiWord => {
            let ascii = charset == Charset::AsciiWord;
            let mapped: String = name
                .chars()
                .map(|c| {
                    let letter = if ascii {
                        c.is_ascii_alphanumeric()
                    } else {
                        c.is_alphanumeric()
                    };
                    if letter || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            mapped.trim_matches('-').to_string()
        }
    };
    let capped = cap_bytes(&clean, max_bytes);
    if capped.is_empty() {
        fallback.to_string()
    } else {
        capped
    }
}

/// `name` cut to at most `max` bytes at a character boundary; a short extension (`.xlsx`)
/// is kept, so that the file is still recognised by its name.
fn cap_bytes(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= MAX_KEPT_EXTENSION_BYTES && e.len() < max);
    let ext = ext.unwrap_or("");
    let stem_max = max - ext.len();
    let mut end = stem_max.min(name.len() - ext.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", name[..end].trim_end())
}

/// The temporary name [`write_durably`] uses for `path`: `.<name>.<pid>.tmp` beside it.
fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The temporary name is longer than the final one: keep it under the limit too.
    let name = cap_bytes(&name, MAX_NAME_BYTES - 24);
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// True for a name [`write_durably`] (or the outbox) gives its temporary files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// How outputs are made durable, `[output] flush` in the configuration: one setting for the
/// whole process ([`set_flush`], called once by the command line), like the reader pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flush {
    /// On Linux, the files of one [`Batch`] (a submission's outputs) are flushed together:
    /// their contents by one `syncfs(2)` of their file system before they take their names,
    /// the names by a second one after. Two flushes a submission, however many files and
    /// folders it writes; but a flush of a file system writes out everything waiting on it,
    /// other programs' data too. A batch of one file or one folder is flushed alone, as
    /// with `File`. Elsewhere, as `File`.
    #[default]
    Submission,
    /// Each file flushed (`fsync`) before it takes its name, each folder once after: our
    /// files only, one flush per file and per folder.
    File,
}

/// The process's [`Flush`]: true for [`Flush::File`].
static PER_FILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets how every later [`Batch`] of the process flushes (`[output] flush`).
pub fn set_flush(flush: Flush) {
    PER_FILE.store(flush == Flush::File, std::sync::atomic::Ordering::Relaxed);
}

/// How a new [`Batch`] flushes.
pub fn flush_setting() -> Flush {
    if PER_FILE.load(std::sync::atomic::Ordering::Relaxed) {
        Flush::File
    } else {
        Flush::Submission
    }
}

/// Outputs that could not be made durable: the file or folder, and what the system said.
#[derive(Debug, thiserror::Error)]
#[error("cannot make {} durable: {source}", path.display())]
pub struct FlushError {
    /// The file or folder.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

impl FlushError {
    fn new(path: &Path, source: std::io::Error) -> FlushError {
        FlushError {
            path: path.to_path_buf(),
            source,
        }
    }

    /// As an I/O error of the same kind, for callers that report one.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::new(self.source.kind(), self)
    }
}

/// Writes through a temporary file, flushed to disk, then renamed, and flushes the folder:
/// the name appears whole or not at all, and survives a crash or a power cut once this
/// returns. Several files at once: a [`Batch`], which flushes them together.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut batch = Batch::default();
    batch.write(path, bytes)?;
    batch.commit().map_err(FlushError::into_io)?;
    Ok(())
}

/// Renames `from` to `to` (creating `to`'s folder) and flushes both folders, so that the
/// move survives a power cut as well as a crash.
pub fn rename_durably(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut batch = Batch::default();
    batch.rename(from, to)?;
    batch.commit().map_err(FlushError::into_io)?;
    Ok(())
}

/// Several writes and moves made durable together, so that a name is never on disk before
/// its content, and every name is on disk once [`Batch::commit`] returns.
///
/// With [`Flush::File`], each file is flushed as it is written and renamed at once, and
/// each folder a name appeared in or left is flushed once at commit: a submission's three
/// outputs in one folder cost four flushes. With [`Flush::Submission`] (Linux), files are
/// written under their temporary names and nothing is flushed until [`Batch::settle`]: one
/// flush of the file system for all their contents, then the renames; commit flushes the
/// names with a second one. Two flushes, however many files.
///
/// Until `commit` returns, a name written here survives a crash of this process (the
/// kernel has it) but maybe not a power cut; nothing may be recorded, reported or sent that
/// refers to it before. A batch dropped before it is settled removes its temporary files.
#[derive(Debug)]
#[must_use = "the names are durable only after commit"]
pub struct Batch {
    /// Whole-file-system flushes ([`Flush::Submission`] on Linux).
    together: bool,
    dirs: Vec<PathBuf>,
    /// Written, not yet flushed (only when `together`).
    staged: Vec<Staged>,
}

/// A temporary file written whole, waiting for [`Batch::settle`].
#[derive(Debug)]
struct Staged {
    file: std::fs::File,
    tmp: PathBuf,
    /// The name it takes once flushed; `None`: the caller gives it one (the outbox).
    dest: Option<PathBuf>,
}

impl Default for Batch {
    /// A batch that flushes as the process is set to ([`set_flush`]).
    fn default() -> Self {
        Batch::new(flush_setting())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for s in &self.staged {
            let _ = std::fs::remove_file(&s.tmp);
        }
    }
}

impl Batch {
    /// A batch that flushes as `flush` says (per file where the system has no `syncfs`).
    pub fn new(flush: Flush) -> Batch {
        Batch {
            together: flush == Flush::Submission && cfg!(target_os = "linux"),
            dirs: Vec::new(),
            staged: Vec::new(),
        }
    }

    /// Writes `bytes` whole (temporary file, flushed, renamed) to `path`.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        self.write_with(path, |w| w.write_all(bytes))
    }

    /// Writes what `fill` writes (buffered, to the temporary file, flushed, renamed) to
    /// `path`: for a large output made as it is written (a 100,000-line change set's JSON
    /// is 90 MB), with no copy of it in memory. With [`Flush::Submission`] the file takes
    /// its name at [`Batch::settle`].
    pub fn write_with(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        self.create_dir(dir)?;
        let tmp = temp_path(path);
        let written = (|| {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(&tmp)?);
            fill(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())
        })();
        match written {
            Ok(file) => self.stage(file, tmp, Some(path.to_path_buf())),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// A temporary file `tmp` the caller wrote whole and will give a name of its own (the
    /// outbox links it to the first free one): flushed now with [`Flush::File`], at
    /// [`Batch::settle`] otherwise; the caller names it only after that, and records the
    /// name's folder with [`Batch::named`].
    pub fn written(&mut self, file: std::fs::File, tmp: &Path) -> std::io::Result<()> {
        self.stage(file, tmp.to_path_buf(), None)
    }

    /// Takes back what this batch wrote to `path`: a file not named yet (flushed together)
    /// is removed under its temporary name and never takes `path`; one named already
    /// ([`Flush::File`]) is removed.
    pub fn discard(&mut self, path: &Path) {
        match self
            .staged
            .iter()
            .position(|s| s.dest.as_deref() == Some(path))
        {
            Some(i) => {
                let _ = std::fs::remove_file(&self.staged.remove(i).tmp);
            }
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// A name the caller made in `dir` (a link to a settled [`Batch::written`] file): the
    /// folder is flushed at commit.
    pub fn named(&mut self, dir: &Path) {
        self.touched(dir);
    }

    fn stage(
        &mut self,
        file: std::fs::File,
        tmp: PathBuf,
        dest: Option<PathBuf>,
    ) -> std::io::Result<()> {
        if self.together {
            self.staged.push(Staged { file, tmp, dest });
            return Ok(());
        }
        let done = file.sync_all().and_then(|()| match &dest {
            Some(dest) => std::fs::rename(&tmp, dest),
            None => Ok(()),
        });
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Some(dir) = dest.as_deref().and_then(Path::parent) {
            self.touched(dir);
        }
        Ok(())
    }

    /// Flushes the contents written so far (one `syncfs` for several files, an `fsync` for
    /// one) and then gives each file its name: from here on every name is whole on disk,
    /// whatever happens. The names themselves are durable once [`Batch::commit`] returns.
    /// On an error the files not yet named are removed.
    pub fn settle(&mut self) -> Result<(), FlushError> {
        let staged = std::mem::take(&mut self.staged);
        let flushed = match staged.as_slice() {
            [] => return Ok(()),
            [one] => one
                .file
                .sync_all()
                .map_err(|e| FlushError::new(&one.tmp, e)),
            many => flush_file_systems(many.iter().map(|s| s.tmp.parent())).map(drop),
        };
        let mut failed = flushed.err();
        for s in &staged {
            match (&s.dest, &failed) {
                (Some(dest), None) => match std::fs::rename(&s.tmp, dest) {
                    Ok(()) => self.touched(dest.parent().unwrap_or(Path::new("."))),
                    Err(e) => failed = Some(FlushError::new(dest, e)),
                },
                (Some(_), Some(_)) => {
                    let _ = std::fs::remove_file(&s.tmp);
                }
                (None, _) => {}
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Renames `from` to `to`, creating `to`'s folder; both folders are flushed at commit.
    pub fn rename(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        if let Some(parent) = to.parent() {
            self.create_dir(parent)?;
        }
        std::fs::rename(from, to)?;
        for dir in [to.parent(), from.parent()].into_iter().flatten() {
            self.touched(dir);
        }
        Ok(())
    }

    /// Creates `dir` and the folders above it that are missing; each folder a new one
    /// appeared in is flushed at commit, or a power cut could lose the new folder with
    /// everything written into it.
    pub fn create_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir(parent)?;
            self.touched(parent);
        }
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    }

    fn touched(&mut self, dir: &Path) {
        if !self.dirs.iter().any(|d| d == dir) {
            self.dirs.push(dir.to_path_buf());
        }
    }

    /// Settles what is written ([`Batch::settle`]), then flushes every folder touched:
    /// each once with [`Flush::File`] (best effort: some file systems cannot open a
    /// folder), with one `syncfs` per file system otherwise. Returns how many flushes
    /// that took.
    pub fn commit(mut self) -> Result<usize, FlushError> {
        let contents = usize::from(!self.staged.is_empty());
        self.settle()?;
        let dirs = std::mem::take(&mut self.dirs);
        if self.together && dirs.len() > 1 {
            return Ok(contents + flush_file_systems(dirs.iter().map(|d| Some(d.as_path())))?);
        }
        for dir in &dirs {
            sync_dir(dir);
        }
        Ok(contents + dirs.len())
    }
}

/// One `syncfs` per file system the folders are on; returns how many.
#[cfg(target_os = "linux")]
fn flush_file_systems<'p>(
    dirs: impl Iterator<Item = Option<&'p Path>>,
) -> Result<usize, FlushError> {
    use std::os::unix::fs::MetadataExt;
    let mut done = Vec::new();
    for dir in dirs {
        let dir = dir
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dev = std::fs::metadata(dir)
            .map_err(|e| FlushError::new(dir, e))?
            .dev();
        if !done.contains(&dev) {
            whole::flush(dir, dev).map_err(|e| FlushError::new(dir, e))?;
            done.push(dev);
        }
    }
    Ok(done.len())
}

/// Elsewhere there is no `syncfs`: each folder flushed ([`Batch`] never asks for this
/// there, being per file).
#[cfg(not(target_os = "linux"))]
fn flush_file_systems<'p>(
    dirs: impl Iterator<Item = Option<&'p Path>>,
) -> Result<usize, FlushError> {
    let mut n = 0;
    for dir in dirs.flatten() {
        sync_dir(dir);
        n += 1;
    }
    Ok(n)
}

#[cfg(target_os = "linux")]
mod whole {
    //! `syncfs(2)` shared by the threads of the process: a thread that asks while another's
    //! call is under way waits for the next call, which then covers every thread waiting
    //! (a group commit), so that `jobs` submissions finishing at once cost one flush, not
    //! `jobs`.

    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

    /// One file system's flushes.
    #[derive(Default)]
    struct Device {
        /// Calls started and finished; at most one runs at a time.
        started: u64,
        finished: u64,
        running: bool,
        /// A folder of the file system, kept open: `syncfs` reports the write-back errors
        /// that happened since the file it is called on was opened.
        fd: Option<Arc<std::fs::File>>,
        /// The last call that failed, and why.
        failed: Option<(u64, std::io::ErrorKind, String)>,
    }

    static DEVICES: Mutex<BTreeMap<u64, Device>> = Mutex::new(BTreeMap::new());
    static FINISHED: Condvar = Condvar::new();

    fn devices() -> MutexGuard<'static, BTreeMap<u64, Device>> {
        DEVICES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once a `syncfs` of file system `dev` (which `dir` is on) that started after
    /// this call has finished: everything written before the call is then on disk.
    pub(super) fn flush(dir: &Path, dev: u64) -> std::io::Result<()> {
        let mut all = devices();
        let need = all.entry(dev).or_default().started + 1;
        loop {
            let d = all.entry(dev).or_default();
            if d.finished >= need {
                // A failure of this call or a later one (conservative: it may have been
                // another thread's data) is this caller's too.
                return match &d.failed {
                    Some((call, kind, why)) if *call >= need => {
                        Err(std::io::Error::new(*kind, why.clone()))
                    }
                    _ => Ok(()),
                };
            }
            if d.running {
                all = FINISHED.wait(all).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let fd = match &d.fd {
                Some(fd) => Arc::clone(fd),
                None => Arc::clone(d.fd.insert(Arc::new(std::fs::File::open(dir)?))),
            };
            d.running = true;
            d.started += 1;
            let mine = d.started;
            drop(all);
            let result = rustix::fs::syncfs(&*fd).map_err(std::io::Error::from);
            all = devices();
            let d = all.entry(dev).or_default();
            d.running = false;
            d.finished = mine;
            if let Err(e) = &result {
                d.failed = Some((mine, e.kind(), e.to_string()));
            }
            FINISHED.notify_all();
        }
    }
}

/// Flushes a folder's entries (the rename itself) to disk. Best effort: some file systems
/// cannot open a folder for this, and the data is already safe in the file.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A file's bytes when it is at most `max` bytes long, else `Ok(Err(size))`: the size is
/// checked before reading, and a file that grows while it is read stops at `max + 1` bytes
/// (the caller's own check then refuses it).
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Ok(Err(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// Lower-case hex SHA-256 of a file, streamed: a huge file costs time, not memory.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// A temporary name of a process that is gone: `.<name>.<pid>.tmp` whose process no longer
/// runs (a `rolecall reprocess` at work beside the watcher keeps its own).
fn is_stale_temp(name: &str) -> bool {
    if !is_temp_name(name) {
        return false;
    }
    let pid = name
        .strip_suffix(".tmp")
        .and_then(|n| n.rsplit_once('.'))
        .and_then(|(_, pid)| pid.parse::<u32>().ok());
    !pid.is_some_and(process_runs)
}

/// True when a process with this id runs (on Linux, by `/proc`; elsewhere Rolecall cannot
/// tell without `unsafe`, and says no: its temporary files are then removed).
fn process_runs(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporary files (`.<name>.<pid>.tmp`) that a killed run left in `dir` and,
/// with `depth` above 1, in its subfolders that deep. Returns how many were removed. Only
/// for folders nobody else writes into: in the inbox a `.tmp` file is someone's copy in
/// progress.
pub fn remove_stale_temps(dir: &Path, depth: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && depth > 1 {
            removed += remove_stale_temps(&e.path(), depth - 1);
        } else if kind.is_file()
            && is_stale_temp(&e.file_name().to_string_lossy())
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_names_lose_their_folders_controls_and_hidden_dots() {
        let p = |s| safe_name(s, Charset::Printable, 200, "attachment");
        assert_eq!(p("../../etc/passwd"), "passwd");
        assert_eq!(p("C:\\x\\book.xlsx"), "book.xlsx");
        assert_eq!(p(".hidden"), "hidden");
        assert_eq!(p("a\u{0}b\r\n.xlsx"), "ab.xlsx");
        assert_eq!(p(""), "attachment");
    }

    #[test]
    fn word_names_keep_letters_of_any_script_ascii_names_only_ascii() {
        assert_eq!(
            safe_name("clean-batch.xlsx", Charset::Word, 200, "x"),
            "clean-batch-xlsx"
        );
        assert_eq!(safe_name("表格.xlsx", Charset::Word, 200, "x"), "表格-xlsx");
        assert_eq!(
            safe_name("../../etc/passwd", Charset::AsciiWord, 80, "reply"),
            "etc-passwd"
        );
        assert_eq!(safe_name("///", Charset::AsciiWord, 80, "reply"), "reply");
    }

    #[test]
    fn long_names_are_cut_in_bytes_at_a_character_boundary_keeping_the_extension() {
        // 105 Chinese characters are 315 bytes in UTF-8; each is 3 bytes.
        let name = format!("{}.xlsx", "表".repeat(105));
        let cut = safe_name(&name, Charset::Printable, 200, "attachment");
        assert!(cut.len() <= 200, "{} bytes", cut.len());
        assert!(cut.ends_with(".xlsx"), "{cut}");
        // 195 bytes are left for the stem: 65 characters of 3 bytes.
        assert_eq!(cut, format!("{}.xlsx", "表".repeat(65)));
        let ascii = "a".repeat(300);
        assert_eq!(cap_bytes(&ascii, 10), "a".repeat(10));
    }

    #[test]
    fn a_durable_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_durably(&path, b"one").unwrap();
        write_durably(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[test]
    fn a_batch_flushes_each_folder_once_whatever_it_wrote_there() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut batch = Batch::new(Flush::File);
        batch.write(&a.join("result.xlsx"), b"wb").unwrap();
        batch.write(&a.join("changeset.json"), b"{}").unwrap();
        batch.write(&b.join("reply.eml"), b"mail").unwrap();
        // Moving a file from a to b touches both folders, already counted.
        batch
            .rename(&a.join("changeset.json"), &b.join("changeset.json"))
            .unwrap();
        // a, b and the folder they appeared in.
        assert_eq!(batch.commit().unwrap(), 3);
        assert_eq!(std::fs::read(a.join("result.xlsx")).unwrap(), b"wb");
        assert_eq!(std::fs::read(b.join("changeset.json")).unwrap(), b"{}");
    }

    /// The names in a folder, temporary ones included.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_batch_flushed_together_names_its_files_only_once_their_contents_are_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut batch = Batch::new(Flush::Submission);
        batch.write(&a.join("result.xlsx"), b"wb").unwrap();
        batch.write(&b.join("reply.eml"), b"mail").unwrap();
        if cfg!(target_os = "linux") {
            // Written, not named: a power cut now leaves no name with half a file.
            assert_eq!(
                names(&a),
                [format!(".result.xlsx.{}.tmp", std::process::id())]
            );
        }
        // One flush for the two contents, one for the three folders' names (one file
        // system); per file it would be two files and three folders.
        let flushes = batch.commit().unwrap();
        assert_eq!(flushes, if cfg!(target_os = "linux") { 2 } else { 5 });
        assert_eq!(names(&a), ["result.xlsx"]);
        assert_eq!(std::fs::read(b.join("reply.eml")).unwrap(), b"mail");
    }

    #[test]
    fn a_batch_given_up_before_it_is_settled_leaves_neither_names_nor_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let mut batch = Batch::new(Flush::Submission);
        batch.write(&a.join("result.xlsx"), b"wb").unwrap();
        batch.write(&a.join("changeset.json"), b"{}").unwrap();
        drop(batch);
        // The folder was made (it is empty); what was written is gone.
        assert!(names(&a).is_empty() || !cfg!(target_os = "linux"));
    }

    #[test]
    fn a_file_taken_back_from_a_batch_is_not_there_after_commit() {
        for flush in [Flush::Submission, Flush::File] {
            let dir = tempfile::tempdir().unwrap();
            let a = dir.path().join("a");
            let mut batch = Batch::new(flush);
            batch.write(&a.join("result.xlsx"), b"wb").unwrap();
            batch.write(&a.join("changeset.json"), b"{}").unwrap();
            batch.discard(&a.join("changeset.json"));
            batch.commit().unwrap();
            assert_eq!(names(&a), ["result.xlsx"], "{flush:?}");
        }
    }

    #[test]
    fn stale_temporaries_are_removed_to_the_depth_asked_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("2026-11-24/20261124-abc");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join(".a-reply.eml.999999999.tmp"), b"half").unwrap();
        std::fs::write(deep.join("a-reply.eml"), b"whole").unwrap();
        std::fs::write(dir.path().join(".top.999999998.tmp"), b"half").unwrap();
        // One of a process that still runs (this one) is in use: it stays.
        let mine = dir
            .path()
            .join(format!(".busy.xlsx.{}.tmp", std::process::id()));
        std::fs::write(&mine, b"writing").unwrap();
        assert_eq!(remove_stale_temps(dir.path(), 1), 1);
        assert!(deep.join(".a-reply.eml.999999999.tmp").exists());
        assert_eq!(remove_stale_temps(dir.path(), 3), 1);
        assert!(deep.join("a-reply.eml").exists());
        assert!(mine.exists() || !cfg!(target_os = "linux"));
    }

    #[test]
    fn hashes_match_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        // `printf abc | sha256sum`
        assert_eq!(
            hash_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
