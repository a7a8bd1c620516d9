//! The outbox folder: each message written as an `.eml` file, the default when no mail
//! server is configured.
//!
//! A file appears whole or not at all: the message is written to a hidden temporary file in
//! the same folder, flushed to disk (with the rest of its submission's outputs, see
//! [`crate::fsx::Batch`]), then hard-linked to its final name. Linking fails when
//! the name is taken, so an existing message is never overwritten, even by a second run at
//! the same moment; the next free name (`-2`, `-3`, ...) is used instead.

use super::{DeliverError, Delivery, Mail, Transport};
use crate::fsx::Batch;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Gives each temporary file of this process its own name.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// After this many taken names something is wrong (a loop writing the same reply).
const MAX_SUFFIX: u32 = 10_000;

/// Writes messages as `<stem>.eml` files into one folder.
#[derive(Debug, Clone)]
pub struct OutboxFolder {
    dir: PathBuf,
}

impl OutboxFolder {
    /// An outbox in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        OutboxFolder { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io_error(&self, path: &Path) -> impl FnOnce(io::Error) -> DeliverError {
        let path = path.to_path_buf();
        move |source| DeliverError::Outbox { path, source }
    }

    /// Writes `bytes` to a new hidden file in the folder, flushed as `batch` flushes.
    fn write_temp(
        &self,
        stem: &str,
        bytes: &[u8],
        batch: &mut Batch,
    ) -> Result<PathBuf, DeliverError> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{stem}.{n}.eml.{}.tmp", std::process::id()));
        let result = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(bytes)?;
            batch.written(file, &tmp)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(self.io_error(&tmp)(e));
        }
        Ok(tmp)
    }

    /// Gives the finished temporary file its final, unused name.
    fn publish(&self, tmp: &Path, stem: &str) -> Result<PathBuf, DeliverError> {
        for n in 1..=MAX_SUFFIX {
            let name = if n == 1 {
                format!("{stem}.eml")
            } else {
                format!("{stem}-{n}.eml")
            };
            let target = self.dir.join(name);
            match fs::hard_link(tmp, &target) {
                Ok(()) => return Ok(target),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                // Some file systems (FAT, some network shares) have no hard links. There a
                // check-then-rename is the best on offer: still atomic for readers, only
                // racy against a second writer choosing the same name.
                Err(_) if !target.exists() => {
                    return fs::rename(tmp, &target)
                        .map(|()| target.clone())
                        .map_err(self.io_error(&target));
                }
                Err(_) => continue,
            }
        }
        Err(DeliverError::Outbox {
            path: self.dir.join(format!("{stem}.eml")),
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{MAX_SUFFIX} messages with this name already exist"),
            ),
        })
    }
}

impl Transport for OutboxFolder {
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError> {
        let mut batch = Batch::default();
        let delivered = self.send_in(mail, &mut batch)?;
        batch
            .commit()
            .map_err(|e| self.io_error(&self.dir)(e.into_io()))?;
        Ok(delivered)
    }

    /// Only a file in a folder: nothing leaves before the caller's batch is committed.
    fn hands_over(&self) -> bool {
        false
    }

    fn send_in(&self, mail: &Mail, batch: &mut Batch) -> Result<Delivery, DeliverError> {
        batch
            .create_dir(&self.dir)
            .map_err(self.io_error(&self.dir))?;
        let tmp = self.write_temp(mail.file_stem(), &mail.to_eml(), batch)?;
        // Its content (and that of the batch's other files) on disk before it has a name.
        batch
            .settle()
            .map_err(|e| self.io_error(&tmp)(e.into_io()))?;
        let published = self.publish(&tmp, mail.file_stem());
        // The new name survives a power cut once the caller commits the batch.
        batch.named(&self.dir);
        // After a hard link the temporary name is a second name for the same file; after a
        // rename it is gone already. Either way nothing is lost by removing it.
        let _ = fs::remove_file(&tmp);
        published.map(Delivery::Written)
    }
}
