//! One submission through every stage: read → validate → change set → report → deliver.
//!
//! [`Processor::process`] never fails for a bad submission: an unreadable file still gets a
//! result workbook and an email that say what happened. Only output that cannot be written
//! is reported as an error, on that submission alone, and the run goes on.

use crate::catalog::Catalog;
use crate::changeset::{self, SubmissionInfo};
use crate::deliver::{self, Delivery, Envelope, Mail, MailContext, Transport};
use crate::document::{Document, Format, Value, ValueKind};
use crate::finding::{Finding, Rule};
/// Results are written durably (the folder is flushed after the rename: a power cut never
/// leaves half a file, nor loses a renamed one); the watcher records an outcome only after.
pub use crate::fsx::write_durably as write_atomically;
use crate::fsx::{Batch, hash_file};
use crate::intake;
use crate::layout::RequesterField;
use crate::location::Location;
use crate::read::{self, Isolation};
use crate::report;
use crate::state::touched::Touched;
use crate::validate::{self, SubmissionStatus};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one processed submission produced; one entry of `process --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Processed {
    /// The file as given.
    pub source: PathBuf,
    /// Submission id.
    pub submission_id: String,
    /// Verdict.
    pub status: SubmissionStatus,
    /// Accepted lines.
    pub accepted: usize,
    /// Lines waiting for approval.
    pub needs_approval: usize,
    /// Rejected lines.
    pub rejected: usize,
    /// Request lines past the line cap, counted but not read.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_read: usize,
    /// The result workbook, once written.
    pub workbook: Option<PathBuf>,
    /// The change set, once written.
    pub changeset: Option<PathBuf>,
    /// The change set itself, for a caller that records it (the watcher's lifecycle):
    /// kept only when [`Processor::keeping_changeset`] asks, instead of read back.
    #[serde(skip)]
    pub changeset_kept: Option<Arc<changeset::ChangeSet>>,
    /// Emails written to the outbox (or copies of those sent by SMTP).
    pub emails: Vec<PathBuf>,
    /// The account state the change set was diffed against (file and version), or `null`.
    pub state: Option<crate::changeset::StateRef>,
    /// Output that could not be written or sent (in `--json`, in words).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<OutputError>,
    /// When the file could not be read: why, in the words of the first error (for the
    /// watcher's quarantine reason file).
    #[serde(skip)]
    pub unreadable_reason: Option<String>,
}

/// Where a submission came from when an email brought it: the watcher passes this so that
/// the sender is the requester and the reply joins the sender's thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Origin {
    /// The email's `From` address: who the requester is.
    pub from: Option<String>,
    /// Where the reply goes: `Reply-To`, else `From`.
    pub reply_to: Option<String>,
    /// The email's Message-ID (the reply's `In-Reply-To`).
    pub message_id: Option<String>,
    /// The reply's `References`, oldest first.
    pub references: Vec<String>,
    /// The email's subject.
    pub subject: Option<String>,
    /// What the reply should also say about the message's other attachments (a picture, a
    /// `winmail.dat`, a nested message) and why they were not read.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Where the watcher wants a submission's outputs: one fixed folder and a known id, instead
/// of a folder named after the file in the output folder.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The folder for the result workbook, change set and reply copy.
    pub folder: PathBuf,
    /// The submission id (kept across reprocessing).
    pub submission_id: String,
    /// The file name as received (an email attachment's name), for the reply and outputs.
    pub file_name: String,
    /// The file's SHA-256 when the caller has it already (the watcher's ledger key, taken
    /// when the file was admitted); `None`: the pipeline hashes the file itself.
    pub sha256: Option<String>,
}

/// Runs submissions through the pipeline with one catalog, one output folder and one mail
/// transport.
pub struct Processor<'a> {
    catalog: &'a Catalog,
    out_dir: PathBuf,
    isolation: Isolation,
    transport: &'a dyn Transport,
    from: String,
    now: jiff::Zoned,
    folder_names: FolderNames,
    /// The account state to diff requests against, when one is given.
    state: Option<(&'a crate::state::State, crate::state::diff::DiffOptions)>,
    /// Most request lines read from one worksheet (`[limits] max_lines`).
    max_lines: usize,
    /// The result workbook's parts that are the same for every submission of the catalog:
    /// built on first use, or shared by [`Processor::with_kit`].
    kit: std::sync::OnceLock<Arc<report::Kit>>,
    /// Keep the change set in [`Processed::changeset_kept`].
    keep_changeset: bool,
}

impl<'a> Processor<'a> {
    /// A processor writing under `out_dir`. `now` is passed in so that runs can be
    /// reproduced (`ROLECALL_NOW`) and tests never depend on the clock.
    pub fn new(
        catalog: &'a Catalog,
        out_dir: PathBuf,
        isolation: Isolation,
        transport: &'a dyn Transport,
        from: String,
        now: jiff::Zoned,
    ) -> Self {
        Processor {
            catalog,
            out_dir,
            isolation,
            transport,
            from,
            now,
            folder_names: FolderNames::default(),
            state: None,
            max_lines: read::DEFAULT_MAX_LINES,
            kit: std::sync::OnceLock::new(),
            keep_changeset: false,
        }
    }

    /// Keeps each change set in [`Processed::changeset_kept`] besides writing it: for the
    /// watcher, which records its operations in the lifecycle.
    pub fn keeping_changeset(mut self) -> Self {
        self.keep_changeset = true;
        self
    }

    /// Shares the result workbook's fixed parts, built once from the same catalog, with
    /// other processors (the watcher makes one processor per submission).
    pub fn with_kit(self, kit: Arc<report::Kit>) -> Self {
        let _ = self.kit.set(kit);
        self
    }

    /// The result workbook's fixed parts for this processor's catalog, built once.
    pub fn kit(&self) -> Arc<report::Kit> {
        Arc::clone(
            self.kit
                .get_or_init(|| Arc::new(report::Kit::new(self.catalog))),
        )
    }

    /// Reads at most `max_lines` request lines of a worksheet (`[limits] max_lines`); the
    /// verdict counts the rest as not read.
    pub fn with_max_lines(mut self, max_lines: usize) -> Self {
        self.max_lines = max_lines;
        self
    }

    /// Diffs every submission against the account state: change sets say what must
    /// change, and result workbooks show each person's roles before and after.
    pub fn with_state(
        mut self,
        state: &'a crate::state::State,
        options: crate::state::diff::DiffOptions,
    ) -> Self {
        self.state = Some((state, options));
        self
    }

    /// Processes one file already recognised as `format`.
    pub fn process(&mut self, path: &Path, format: Format) -> Processed {
        let document = self.read(path, Ok(format));
        self.finish(path, document)
    }

    /// Processes one file for the watcher: `format` is what sniffing said (or why the file
    /// is not a submission), `origin` the email that brought it, `placement` where the
    /// outputs go. The outputs are written into `batch`, which the caller commits (with
    /// the files of its own it adds) before it records anything that refers to them.
    pub fn process_in(
        &mut self,
        path: &Path,
        (format, origin): (Result<Format, &str>, Option<&Origin>),
        placement: &Placement,
        batch: &mut Batch,
    ) -> Processed {
        let document = self.read(path, format);
        let document = match &placement.sha256 {
            Some(sha256) => Hashed::Known(document, sha256.clone()),
            None => Hashed::Not(document),
        };
        self.finish_hashed(path, document, (origin, Some(placement)), batch)
    }

    /// The document of a file sniffed as `format`, or of one that is not a submission.
    fn read(&self, path: &Path, format: Result<Format, &str>) -> Document {
        match format {
            Ok(format) => {
                read::read_submission(path, format, &self.isolation, self.catalog, self.max_lines)
            }
            Err(reason) => unrecognised(reason),
        }
    }

    /// [`Self::process_as`] for a file already hashed: `sha256` is the hash of its bytes,
    /// or `None` when they could not be read (the submission then says so). `process
    /// --jobs` hashes first, to know the submission id before the reply is written.
    pub fn process_hashed(
        &mut self,
        path: &Path,
        format: Result<Format, &str>,
        placement: &Placement,
        sha256: Option<String>,
    ) -> Processed {
        let document = self.read(path, format);
        let document = match sha256 {
            Some(sha256) => Hashed::Known(document, sha256),
            None => Hashed::Not(document),
        };
        self.finish_durably(path, document, Some(placement))
    }

    /// Answers a file that was sent as a submission (it is named like a workbook or form)
    /// but is not one: the sender still gets a result and an email saying why.
    pub fn process_unrecognised(&mut self, path: &Path, reason: &str) -> Processed {
        self.finish(path, unrecognised(reason))
    }

    /// The account state to diff against, if there is one that knows something: a state
    /// nothing was ever imported into or applied to knows no account, and diffing against it
    /// would call every Modify "unknown account".
    fn known_state(&self) -> Option<(&'a crate::state::State, crate::state::diff::DiffOptions)> {
        self.state
            .filter(|(state, _)| state.version().is_ok_and(|v| v > 0))
    }

    /// What only the state can add to a change set built from the diffed outcome: the name
    /// and email updates of internal accounts, the roles a Restore puts back, the state
    /// version; returns each person's roles before and after, for the result workbook.
    /// `touched` is what the diff read of the state (read again if the diff failed).
    fn complete_against(
        &self,
        state: &crate::state::State,
        touched: Option<Touched>,
        outcome: &mut crate::validate::Outcome,
        changeset: &mut crate::changeset::ChangeSet,
    ) -> Result<Vec<crate::report::PersonRoles>, crate::state::StateError> {
        let mut touched = match touched {
            Some(touched) => touched,
            None => Touched::of_outcome(state, outcome)?,
        };
        let updates = crate::state::diff::account_updates(&touched, outcome);
        changeset.operations.extend(updates);
        crate::changeset::Operation::sort(&mut changeset.operations);
        crate::state::diff::complete(state, &mut touched, changeset, self.catalog)
    }

    /// The pipeline for one submission, as named steps: hash, adopt the sender, validate,
    /// diff against the state, build the change set, write the outputs, compose and send.
    /// Each step's failure is reported on this submission only.
    fn finish(&mut self, path: &Path, document: Document) -> Processed {
        self.finish_durably(path, Hashed::Not(document), None)
    }

    /// [`Self::finish_hashed`], its outputs made durable before it returns: the
    /// submission's one flush (`[output] flush`), after its last output is written and
    /// before it is reported.
    fn finish_durably(
        &mut self,
        path: &Path,
        document: Hashed,
        placement: Option<&Placement>,
    ) -> Processed {
        let mut batch = Batch::default();
        let mut processed = self.finish_hashed(path, document, (None, placement), &mut batch);
        if let Err(e) = batch.commit() {
            processed.errors.push(OutputError::Flush(Arc::new(e)));
        }
        processed
    }

    /// [`Self::finish`], the hash perhaps already known, the outputs written into `batch`.
    fn finish_hashed(
        &mut self,
        path: &Path,
        document: Hashed,
        (origin, placement): (Option<&Origin>, Option<&Placement>),
        batch: &mut Batch,
    ) -> Processed {
        let (document, sha256) = match document {
            Hashed::Known(document, sha256) => (document, sha256),
            Hashed::Not(document) => hash_step(path, document),
        };
        let names = self.names(path, placement, &sha256);
        let document = adopt_sender(document, origin);
        let state = self.known_state();
        // The diff's many small reads as one read of the state (see `State::read_together`).
        let together = state.map(|(state, _)| state.read_together());
        let (mut outcome, ahead) =
            validate_step(document, self.catalog, self.now.date(), state.map(|s| s.0));
        let mut errors = Vec::new();
        let mut touched = None;
        if let Some((state, options)) = &state {
            match diff_step(state, ahead, &mut outcome, self.catalog, options) {
                Ok(read) => touched = Some(read),
                Err(e) => errors.push(e),
            }
        }
        let info = self.submission_info(&names, sha256, &outcome);
        let mut changeset = changeset::build(&outcome, info, &self.catalog.version);
        let roles = state.and_then(|(state, _)| {
            self.complete_against(state, touched, &mut outcome, &mut changeset)
                .map_err(|e| errors.push(OutputError::state(e)))
                .ok()
        });
        drop(together);
        let mut processed = processed(path, &names, &outcome, errors);
        processed.state = changeset.state.clone();
        let folder = self.folder(placement, &names.file_name);
        let outputs = Outputs {
            folder: &folder,
            stem: names.stem(),
        };
        let kit = self.kit();
        let written = outputs.write(
            (&outcome, &changeset, roles.as_deref()),
            (self.catalog, &kit),
            batch,
        );
        let long = outcome.lines.len() >= FREED_ASIDE_LINES;
        if self.keep_changeset {
            processed.changeset_kept = Some(Arc::new(changeset));
        } else {
            // Written: what is left to do (the reply) does not need it; at 100,000 lines
            // the change set alone is some 120 MB.
            free_aside(changeset, long);
        }
        free_aside(roles, long);
        let workbook = match written {
            Ok(written) => processed.take(written),
            Err(e) => {
                processed.errors.push(e);
                return processed;
            }
        };
        let (context, envelope) = self.reply(&names, &outcome, origin, &outputs.workbook_name());
        // The reply's words are made: the lines are not needed while it is composed and sent.
        free_aside(outcome, long);
        match deliver::compose(&context, &envelope, workbook, self.now.timestamp())
            .map_err(|e| OutputError::Compose(Arc::new(e)))
            .and_then(|mail| self.send_step(&mail, &outputs, batch))
        {
            Ok(email) => processed.emails.push(email),
            Err(e) => processed.errors.push(e),
        }
        processed
    }

    /// The submission's folder: the watcher's, else one named after the file in the output
    /// folder.
    fn folder(&mut self, placement: Option<&Placement>, file_name: &str) -> PathBuf {
        match placement {
            Some(p) => p.folder.clone(),
            None => {
                let name = self.folder_names.next(file_name);
                self.out_dir.join(name)
            }
        }
    }

    /// The submission's id and file name: the watcher's, or made from the file.
    fn names(&self, path: &Path, placement: Option<&Placement>, sha256: &str) -> Names {
        match placement {
            Some(p) => Names {
                submission_id: p.submission_id.clone(),
                file_name: p.file_name.clone(),
            },
            None => Names {
                submission_id: intake::submission_id(self.now.date(), sha256),
                file_name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
        }
    }

    /// The change set's provenance.
    fn submission_info(
        &self,
        names: &Names,
        sha256: String,
        outcome: &validate::Outcome,
    ) -> SubmissionInfo {
        SubmissionInfo {
            id: names.submission_id.clone(),
            source: names.file_name.clone(),
            sha256,
            processed_at: self.now.timestamp().to_string(),
            requester_name: outcome.requester_name.clone(),
            requester_email: outcome.requester_email.clone(),
        }
    }

    /// What the reply says and who gets it: the requester (the email's Reply-To, else the
    /// requester block), the institution's coordinators in copy, in the sender's thread.
    fn reply(
        &self,
        names: &Names,
        outcome: &validate::Outcome,
        origin: Option<&Origin>,
        workbook_name: &str,
    ) -> (MailContext, Envelope) {
        let institution = outcome
            .institution
            .as_deref()
            .and_then(|code| self.catalog.institution(code));
        // Only the people the reply names are put in words (a 10,000-line batch's took
        // 65 M instructions); the rest are counted.
        let (accepted, all) = outcome.accepted_people(crate::deliver::LISTED_ACCEPTED);
        let accepted_unlisted = all - accepted.len();
        let context = MailContext {
            submission_id: names.submission_id.clone(),
            source_name: names.file_name.clone(),
            status: outcome.status(),
            counts: outcome.counts(),
            requester_name: outcome.requester_name.clone(),
            institution_code: institution.map(|i| i.code.clone()),
            institution_name: institution.map(|i| i.name.clone()),
            problems: outcome.all_findings().cloned().collect(),
            help_desk_name: self.catalog.policy.help_desk_name.clone(),
            help_desk_email: self.catalog.policy.help_desk_email.clone(),
            workbook_name: workbook_name.to_string(),
            notes: origin.map(|o| o.notes.clone()).unwrap_or_default(),
            places: outcome
                .all_findings()
                .map(|f| {
                    (
                        f.location.to_string(),
                        crate::layout::form::place(&f.location, self.catalog),
                    )
                })
                .collect(),
            accepted,
            accepted_unlisted,
        };
        let reply_to = origin
            .and_then(|o| o.reply_to.clone())
            .or_else(|| outcome.requester_email.clone());
        let cc = institution
            .map(|i| {
                self.catalog
                    .coordinators_for(&i.code)
                    .map(|c| c.email.clone())
                    .collect()
            })
            .unwrap_or_default();
        let envelope = Envelope {
            from: self.from.clone(),
            to: reply_to.into_iter().collect(),
            cc,
            in_reply_to: origin.and_then(|o| o.message_id.clone()),
            references: origin.map(|o| o.references.clone()).unwrap_or_default(),
        };
        (context, envelope)
    }

    /// Sends the reply; returns the `.eml` written to the outbox, or for a message sent by
    /// SMTP the copy kept beside the results, so the help desk can see what went out.
    /// A message that leaves (SMTP) leaves only once the outputs it names are on disk; one
    /// written to the outbox is one more file of `batch`.
    fn send_step(
        &self,
        mail: &Mail,
        outputs: &Outputs<'_>,
        batch: &mut Batch,
    ) -> Result<PathBuf, OutputError> {
        if self.transport.hands_over() {
            std::mem::take(batch)
                .commit()
                .map_err(|e| OutputError::Flush(Arc::new(e)))?;
        }
        match self.transport.send_in(mail, batch) {
            Ok(Delivery::Written(path)) => Ok(path),
            Ok(Delivery::Sent { .. }) => {
                let copy = outputs.path("reply.eml");
                batch
                    .write(&copy, &mail.to_eml())
                    .map_err(|e| OutputError::KeepCopy(Arc::new(e)))?;
                Ok(copy)
            }
            Err(e) => Err(OutputError::Send(Arc::new(e))),
        }
    }
}

/// A document, and its content hash when the caller already has it.
enum Hashed {
    Known(Document, String),
    Not(Document),
}

/// The submissions' folder names of one run: one per submission, named after the file
/// (`clean-batch.xlsx` → `clean-batch-xlsx`), unique within the run (a second file of the
/// same name gets `-2`). Given out in input order, so the same inputs get the same names
/// however many run at once.
#[derive(Debug, Default)]
pub struct FolderNames {
    used: HashSet<String>,
}

impl FolderNames {
    /// The folder name for the next submission called `file_name`.
    pub fn next(&mut self, file_name: &str) -> String {
        // Room for the `-NN` a second file of the same name gets.
        let base = crate::fsx::safe_name(file_name, crate::fsx::Charset::Word, 200, "submission");
        let mut name = base.clone();
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
    }
}

/// A submission's id and its file name as received.
struct Names {
    submission_id: String,
    file_name: String,
}

impl Names {
    /// The stem every output is named after (`clean-batch.xlsx` → `clean-batch`).
    fn stem(&self) -> String {
        Path::new(&self.file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Why one submission's outputs could not be made, written or sent: reported on that
/// submission (`errors` in `process --json`), and the run goes on. The causes are shared
/// (`Arc`) so that a [`Processed`] can be cloned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutputError {
    /// The account state could not be read for the diff.
    #[error("cannot compare with the account state: {0}")]
    State(Arc<crate::state::StateError>),
    /// The submission's folder could not be made.
    #[error("cannot create {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: Arc<std::io::Error>,
    },
    /// The result workbook could not be built.
    #[error("cannot write the result workbook: {0}")]
    Workbook(Arc<report::ReportError>),
    /// A result file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: Arc<std::io::Error>,
    },
    /// The reply could not be composed.
    #[error("cannot compose the reply: {0}")]
    Compose(Arc<deliver::DeliverError>),
    /// The reply could not be sent.
    #[error("cannot send the reply: {0}")]
    Send(Arc<deliver::DeliverError>),
    /// The reply went out, but its copy beside the results could not be written.
    #[error("sent, but cannot keep a copy: {0}")]
    KeepCopy(Arc<std::io::Error>),
    /// The outputs were written but could not be made durable (the flush failed).
    #[error("{0}")]
    Flush(Arc<crate::fsx::FlushError>),
}

impl OutputError {
    fn state(e: crate::state::StateError) -> Self {
        OutputError::State(Arc::new(e))
    }

    fn write(path: PathBuf, e: std::io::Error) -> Self {
        OutputError::Write {
            path,
            source: Arc::new(e),
        }
    }
}

/// In `process --json`, an error is its message.
impl Serialize for OutputError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where one submission's outputs go: its folder, and the stem they are named after.
struct Outputs<'a> {
    folder: &'a Path,
    stem: String,
}

/// The result workbook (its bytes, for the reply) and the files written.
struct Written {
    workbook_bytes: Vec<u8>,
    workbook: Result<PathBuf, OutputError>,
    changeset: Result<PathBuf, OutputError>,
}

impl Outputs<'_> {
    /// `STEM-SUFFIX` in the submission's folder.
    fn path(&self, suffix: &str) -> PathBuf {
        self.folder.join(format!("{}-{suffix}", self.stem))
    }

    fn workbook_name(&self) -> String {
        format!("{}-result.xlsx", self.stem)
    }

    /// Writes the result workbook and the change set into `batch` (durable once the caller
    /// commits it). Without a folder or a workbook there is nothing to send (`Err`); a file
    /// that cannot be written is reported, and the reply still goes.
    fn write(
        &self,
        (outcome, changeset, roles): (
            &validate::Outcome,
            &changeset::ChangeSet,
            Option<&[report::PersonRoles]>,
        ),
        (catalog, kit): (&Catalog, &report::Kit),
        batch: &mut Batch,
    ) -> Result<Written, OutputError> {
        batch
            .create_dir(self.folder)
            .map_err(|e| OutputError::Folder {
                path: self.folder.to_path_buf(),
                source: Arc::new(e),
            })?;
        let path = self.path("changeset.json");
        // Written as it is made: held whole, the JSON was the largest thing in memory.
        // Through a buffer of a known type: serde_json's pretty printer makes some six
        // writes per value (quotes, key, indent), and each went through `dyn Write`'s
        // vtable to the file's buffer.
        let json = |w: &mut dyn std::io::Write| {
            use std::io::Write as _;
            let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, w);
            serde_json::to_writer_pretty(&mut buffered, changeset)?;
            buffered.write_all(b"\n")?;
            buffered.flush()
        };
        // The change set's JSON needs nothing from the workbook: a long result's is written
        // on the other core while the workbook is saved (`result_bytes_with_kit_beside`).
        let write_json = || batch.write_with(&path, json);
        let saved = report::result_bytes_with_kit_beside(
            outcome, changeset, catalog, roles, kit, write_json,
        );
        let (bytes, json_written) = match saved {
            Ok(saved) => saved,
            Err((e, written)) => {
                // A workbook that cannot be built leaves no change set beside it (the
                // JSON may wait in `batch` for its name, or have it already).
                if let Some(Ok(())) = written {
                    batch.discard(&path);
                }
                return Err(OutputError::Workbook(Arc::new(e)));
            }
        };
        let workbook = self.folder.join(self.workbook_name());
        let workbook = match batch.write(&workbook, &bytes) {
            Ok(()) => Ok(workbook),
            Err(e) => Err(OutputError::write(workbook, e)),
        };
        let changeset = match json_written {
            Ok(()) => Ok(path),
            Err(e) => Err(OutputError::write(path, e)),
        };
        Ok(Written {
            workbook_bytes: bytes,
            workbook,
            changeset,
        })
    }
}

impl Processed {
    /// Records the files written (or why not); returns the workbook's bytes for the reply.
    fn take(&mut self, written: Written) -> Vec<u8> {
        match written.workbook {
            Ok(path) => self.workbook = Some(path),
            Err(e) => self.errors.push(e),
        }
        match written.changeset {
            Ok(path) => self.changeset = Some(path),
            Err(e) => self.errors.push(e),
        }
        written.workbook_bytes
    }
}

/// The step before reading anything else: the content hash the submission id and the change
/// set's provenance come from. A file that cannot be read from disk becomes a document that
/// says so.
fn hash_step(path: &Path, document: Document) -> (Document, String) {
    match hash_file(path) {
        Ok(hash) => (document, hash),
        Err(e) => (
            unreadable(format!("The file could not be read from disk: {e}.")),
            intake::sha256_hex(&[]),
        ),
    }
}

/// A submission read and validated again, as [`Processor`] did before the diff: the lines,
/// their statuses and locations for the "done" email's workbook (the state has changed
/// since, so diffing again would call every line carried out "already held").
pub fn revalidate(
    path: &Path,
    format: Format,
    origin: Option<&Origin>,
    (catalog, isolation, max_lines): (&Catalog, &Isolation, usize),
    today: jiff::civil::Date,
) -> validate::Outcome {
    let document = read::read_submission(path, format, isolation, catalog, max_lines);
    validate::validate(adopt_sender(document, origin), catalog, today)
}

/// An email's sender is who is asking, whatever the worksheet's requester block says: the
/// address in the block is typed by anyone, the mailbox is the coordinator's.
fn adopt_sender(mut document: Document, origin: Option<&Origin>) -> Document {
    let Some(from) = origin.and_then(|o| o.from.as_deref()) else {
        return document;
    };
    if document.rows.is_empty() {
        return document;
    }
    let block = document.requester(RequesterField::Email).cloned();
    let location = block
        .as_ref()
        .map(|v| v.location.clone())
        .unwrap_or(Location::File);
    if let Some(block) = block.filter(|v| !v.text.eq_ignore_ascii_case(from)) {
        document.findings.push(
            Finding::warning(
                Rule::RequesterNotSender,
                location.clone(),
                format!(
                    "The requester block names {}, but this file was emailed by {from}: Rolecall takes the sender as the requester.",
                    block.text
                ),
            )
            .suggest("Put your own address in the requester block (on a form: Your email), or ask that person to send the file."),
        );
    }
    document.requester.insert(
        RequesterField::Email,
        Value {
            text: from.to_string(),
            location,
            kind: ValueKind::Text,
        },
    );
    document
}

/// Lines from which a submission's outcome and change set are freed on a thread of their
/// own: at 10,000 lines freeing them took 67 M instructions of this thread, between the
/// result workbook and the reply, with the other core idle.
const FREED_ASIDE_LINES: usize = 1_000;

/// Frees `value` here, or when `long` on a thread started for it: nothing waits for that
/// thread (a process that exits first frees the memory with it).
fn free_aside<T: Send + 'static>(value: T, long: bool) {
    if long {
        // A thread that cannot start gives the value back to be dropped here.
        let _ = std::thread::Builder::new()
            .name("free".into())
            .spawn(move || drop(value));
    }
}

/// Documents from which the accounts are read from the state while the lines are
/// validated (a thread started costs more than it saves on a form's one line).
const READ_AHEAD_ROWS: usize = 100;

/// Validates the document. With an account state and a long document, this thread reads
/// the accounts its primary IDs name ([`Touched::read_ahead`]) while another validates: a
/// state's connection stays on the thread that opened it, and the two take about as long.
/// A read that fails is left to the diff, which reads everything again and reports it.
fn validate_step(
    document: Document,
    catalog: &Catalog,
    today: jiff::civil::Date,
    state: Option<&crate::state::State>,
) -> (validate::Outcome, Option<Touched>) {
    let Some(state) = state.filter(|_| document.rows.len() >= READ_AHEAD_ROWS) else {
        return (validate::validate(document, catalog, today), None);
    };
    let ids: Vec<String> = document
        .rows
        .iter()
        .filter_map(|r| r.text(crate::layout::Field::PrimaryId))
        .map(str::to_string)
        .collect();
    std::thread::scope(|scope| {
        let validated = scope.spawn(move || validate::validate(document, catalog, today));
        let ahead = Touched::read_ahead(state, ids.iter().map(String::as_str)).ok();
        match validated.join() {
            Ok(outcome) => (outcome, ahead),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Diffs the validated requests against the account state; returns what it read of the
/// state (the accounts the requests name, beside what was read `ahead`), for the change
/// set's completion.
fn diff_step(
    state: &crate::state::State,
    ahead: Option<Touched>,
    outcome: &mut validate::Outcome,
    catalog: &Catalog,
    options: &crate::state::diff::DiffOptions,
) -> Result<Touched, OutputError> {
    let touched = ahead
        .unwrap_or_default()
        .and_outcome(state, outcome)
        .map_err(OutputError::state)?;
    crate::state::diff::reconcile(state, &touched, outcome, catalog, options)
        .map_err(OutputError::state)?;
    Ok(touched)
}

/// The submission's entry of `process --json`, before any output is written.
fn processed(
    path: &Path,
    names: &Names,
    outcome: &validate::Outcome,
    errors: Vec<OutputError>,
) -> Processed {
    let counts = outcome.counts();
    let unreadable = outcome.status() == SubmissionStatus::Unreadable;
    Processed {
        source: path.to_path_buf(),
        submission_id: names.submission_id.clone(),
        status: outcome.status(),
        accepted: counts.accepted,
        needs_approval: counts.needs_approval,
        rejected: counts.rejected,
        not_read: counts.not_read,
        workbook: None,
        changeset: None,
        changeset_kept: None,
        emails: Vec::new(),
        state: None,
        errors,
        unreadable_reason: unreadable
            .then(|| {
                outcome
                    .all_findings()
                    .find(|f| f.is_error())
                    .map(|f| f.message.clone())
            })
            .flatten(),
    }
}

/// The document of a file that is named like a submission but is not one.
fn unrecognised(reason: &str) -> Document {
    unreadable(format!(
        "This file is named like a workbook or PDF form, but it is {reason}. Rolecall reads Excel (.xlsx, .xls, .xlsb) and OpenDocument (.ods) workbooks."
    ))
}

/// A document that holds only the reason it could not be read.
fn unreadable(message: String) -> Document {
    Document {
        findings: vec![Finding::error(Rule::Unreadable, Location::File, message)],
        ..Document::default()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    //! The steps that need no reader, catalog or transport, each on its own.

    use super::*;

    fn value(text: &str, location: Location) -> Value {
        Value {
            text: text.to_string(),
            location,
            kind: ValueKind::Text,
        }
    }

    /// A worksheet with one request line and `email` in its requester block at `Accounts!B3`.
    fn worksheet(email: &str) -> Document {
        let mut document = Document::default();
        document.requester.insert(
            RequesterField::Email,
            value(email, Location::cell("Accounts", 3, 2)),
        );
        document.rows.push(crate::document::RequestRow {
            location: Location::File,
            values: crate::document::Values::new(),
        });
        document
    }

    fn from(address: &str) -> Origin {
        Origin {
            from: Some(address.to_string()),
            ..Origin::default()
        }
    }

    #[test]
    fn an_emailed_file_is_asked_for_by_its_sender_and_a_different_block_is_warned_about() {
        let document = adopt_sender(worksheet("someone@else.org"), Some(&from("dana@gcsu.edu")));
        let email = document.requester(RequesterField::Email).unwrap();
        assert_eq!(email.text, "dana@gcsu.edu");
        assert_eq!(
            email.location,
            Location::cell("Accounts", 3, 2),
            "kept where it was"
        );
        assert_eq!(document.findings.len(), 1);
        assert_eq!(document.findings[0].rule, Rule::RequesterNotSender);
        assert!(document.findings[0].message.contains("someone@else.org"));
    }

    #[test]
    fn the_same_address_in_other_case_is_no_warning_and_a_loose_file_keeps_its_block() {
        let document = adopt_sender(worksheet("Dana@GCSU.edu"), Some(&from("dana@gcsu.edu")));
        assert!(document.findings.is_empty());
        let document = adopt_sender(worksheet("someone@else.org"), None);
        let email = document.requester(RequesterField::Email).unwrap();
        assert_eq!(email.text, "someone@else.org");
        // A file with no request lines has no requester to replace.
        let empty = adopt_sender(Document::default(), Some(&from("dana@gcsu.edu")));
        assert!(empty.requester.is_empty());
    }

    #[test]
    fn outputs_that_cannot_have_a_folder_are_a_typed_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("a-file");
        std::fs::write(&blocked, "not a folder").unwrap();
        let folder = blocked.join("results");
        let outputs = Outputs {
            folder: &folder,
            stem: "clean-batch".to_string(),
        };
        let outcome = validate::validate(
            Document::default(),
            &crate::catalog::bundled(),
            jiff::civil::date(2026, 11, 24),
        );
        let info = SubmissionInfo {
            id: "20261124-0000000000".into(),
            source: "clean-batch.xlsx".into(),
            sha256: intake::sha256_hex(&[]),
            processed_at: "2026-11-24T15:00:00Z".into(),
            requester_name: None,
            requester_email: None,
        };
        let changeset = changeset::build(&outcome, info, "test");
        let catalog = crate::catalog::bundled();
        let err = outputs
            .write(
                (&outcome, &changeset, None),
                (&catalog, &report::Kit::new(&catalog)),
                &mut Batch::default(),
            )
            .err()
            .expect("no folder, no outputs");
        assert!(matches!(&err, OutputError::Folder { path, .. } if *path == folder));
        assert!(err.to_string().starts_with("cannot create "), "{err}");
        assert_eq!(
            outputs.path("reply.eml"),
            folder.join("clean-batch-reply.eml")
        );
    }
}
