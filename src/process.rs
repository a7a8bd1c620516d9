//! One submission through every stage: read → validate → change set → report → deliver.
//!
//! [`Processor::process`] never fails for a bad submission: an unreadable file still gets a
//! result workbook and an email that say what happened. Only output that cannot be written
//! is reported as an error, on that submission alone, and the run goes on.

use crate::catalog::Catalog;
use crate::changeset::{self, SubmissionInfo};
use crate::deliver::{self, Delivery, Envelope, MailContext, Transport};
use crate::document::{Document, Format, Value, ValueKind};
use crate::finding::{Finding, Rule};
use crate::intake;
use crate::layout::RequesterField;
use crate::location::Location;
use crate::read::{self, Isolation};
use crate::report;
use crate::validate::{self, SubmissionStatus};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
    /// Emails written to the outbox (or copies of those sent by SMTP).
    pub emails: Vec<PathBuf>,
    /// Output that could not be written or sent, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
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
    used_names: HashSet<String>,
    /// The account state to diff requests against, when one is given.
    state: Option<(&'a crate::state::State, crate::state::diff::DiffOptions)>,
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
            used_names: HashSet::new(),
            state: None,
        }
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
        let document = read::read_submission(path, format, &self.isolation, self.catalog);
        self.finish(path, document, None, None)
    }

    /// Processes one file for the watcher: `format` is what sniffing said (or why the file
    /// is not a submission), `origin` the email that brought it, `placement` where the
    /// outputs go.
    pub fn process_as(
        &mut self,
        path: &Path,
        format: Result<Format, &str>,
        origin: Option<&Origin>,
        placement: &Placement,
    ) -> Processed {
        let document = match format {
            Ok(format) => read::read_submission(path, format, &self.isolation, self.catalog),
            Err(reason) => unrecognised(reason),
        };
        self.finish(path, document, origin, Some(placement))
    }

    /// Answers a file that was sent as a submission (it is named like a workbook or form)
    /// but is not one: the sender still gets a result and an email saying why.
    pub fn process_unrecognised(&mut self, path: &Path, reason: &str) -> Processed {
        self.finish(path, unrecognised(reason), None, None)
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
    fn complete_against(
        &self,
        state: &crate::state::State,
        outcome: &mut crate::validate::Outcome,
        changeset: &mut crate::changeset::ChangeSet,
    ) -> Result<Vec<crate::report::PersonRoles>, crate::state::StateError> {
        let updates = crate::state::diff::account_updates(state, outcome)?;
        changeset.operations.extend(updates);
        crate::changeset::Operation::sort(&mut changeset.operations);
        crate::state::diff::complete(state, changeset, self.catalog)
    }

    fn finish(
        &mut self,
        path: &Path,
        document: Document,
        origin: Option<&Origin>,
        placement: Option<&Placement>,
    ) -> Processed {
        let today = self.now.date();
        let (mut document, sha256) = match hash_file(path) {
            Ok(hash) => (document, hash),
            Err(e) => (
                unreadable(format!("The file could not be read from disk: {e}.")),
                intake::sha256_hex(&[]),
            ),
        };
        let submission_id = match placement {
            Some(p) => p.submission_id.clone(),
            None => intake::submission_id(today, &sha256),
        };
        // An email's sender is who is asking, whatever the worksheet's requester block says:
        // the address in the block is typed by anyone, the mailbox is the coordinator's.
        if let Some(from) = origin.and_then(|o| o.from.as_deref())
            && !document.rows.is_empty()
        {
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
        }
        let mut outcome = validate::validate(document, self.catalog, today);
        let mut state_errors = Vec::new();
        let state = self.known_state();
        if let Some((state, options)) = &state
            && let Err(e) =
                crate::state::diff::reconcile(state, &mut outcome, self.catalog, options)
        {
            state_errors.push(format!("cannot compare with the account state: {e}"));
        }
        let file_name = match placement {
            Some(p) => p.file_name.clone(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let info = SubmissionInfo {
            id: submission_id.clone(),
            source: file_name.clone(),
            sha256,
            processed_at: self.now.timestamp().to_string(),
            requester_name: outcome.requester_name.clone(),
            requester_email: outcome.requester_email.clone(),
        };
        let mut changeset = changeset::build(&outcome, info, &self.catalog.version);
        let roles = match &state {
            Some((state, _)) => match self.complete_against(state, &mut outcome, &mut changeset) {
                Ok(roles) => Some(roles),
                Err(e) => {
                    state_errors.push(format!("cannot compare with the account state: {e}"));
                    None
                }
            },
            None => None,
        };
        let counts = outcome.counts();
        let mut processed = Processed {
            source: path.to_path_buf(),
            submission_id: submission_id.clone(),
            status: outcome.status(),
            accepted: counts.accepted,
            needs_approval: counts.needs_approval,
            rejected: counts.rejected,
            not_read: counts.not_read,
            workbook: None,
            changeset: None,
            emails: Vec::new(),
            errors: state_errors,
            unreadable_reason: (outcome.status() == SubmissionStatus::Unreadable)
                .then(|| {
                    outcome
                        .all_findings()
                        .find(|f| f.is_error())
                        .map(|f| f.message.clone())
                })
                .flatten(),
        };

        let folder = match placement {
            Some(p) => p.folder.clone(),
            None => {
                let folder_name = self.folder_name(&file_name);
                self.out_dir.join(folder_name)
            }
        };
        if let Err(e) = std::fs::create_dir_all(&folder) {
            processed
                .errors
                .push(format!("cannot create {}: {e}", folder.display()));
            return processed;
        }
        let stem = Path::new(&file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();

        let workbook_name = format!("{stem}-result.xlsx");
        let workbook = match report::result_bytes_with_roles(
            &outcome,
            &changeset,
            self.catalog,
            roles.as_deref(),
        ) {
            Ok(bytes) => bytes,
            Err(e) => {
                processed
                    .errors
                    .push(format!("cannot write the result workbook: {e}"));
                return processed;
            }
        };
        let workbook_path = folder.join(&workbook_name);
        match write_atomically(&workbook_path, &workbook) {
            Ok(()) => processed.workbook = Some(workbook_path),
            Err(e) => processed
                .errors
                .push(format!("cannot write {}: {e}", workbook_path.display())),
        }

        let changeset_path = folder.join(format!("{stem}-changeset.json"));
        let mut json = serde_json::to_vec_pretty(&changeset).unwrap_or_default();
        json.push(b'\n');
        match write_atomically(&changeset_path, &json) {
            Ok(()) => processed.changeset = Some(changeset_path),
            Err(e) => processed
                .errors
                .push(format!("cannot write {}: {e}", changeset_path.display())),
        }

        let institution = outcome
            .institution
            .as_deref()
            .and_then(|code| self.catalog.institution(code));
        let context = MailContext {
            submission_id: submission_id.clone(),
            source_name: file_name,
            status: outcome.status(),
            counts,
            requester_name: outcome.requester_name.clone(),
            institution_code: institution.map(|i| i.code.clone()),
            institution_name: institution.map(|i| i.name.clone()),
            problems: outcome.all_findings().cloned().collect(),
            help_desk_name: self.catalog.policy.help_desk_name.clone(),
            help_desk_email: self.catalog.policy.help_desk_email.clone(),
            workbook_name,
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
            accepted: outcome.accepted_people(),
        };
        let reply_to = origin
            .and_then(|o| o.reply_to.clone())
            .or_else(|| outcome.requester_email.clone());
        let envelope = Envelope {
            from: self.from.clone(),
            to: reply_to.into_iter().collect(),
            cc: institution
                .map(|i| {
                    self.catalog
                        .coordinators_for(&i.code)
                        .map(|c| c.email.clone())
                        .collect()
                })
                .unwrap_or_default(),
            in_reply_to: origin.and_then(|o| o.message_id.clone()),
            references: origin.map(|o| o.references.clone()).unwrap_or_default(),
        };
        match deliver::compose(&context, &envelope, workbook, self.now.timestamp()) {
            Err(e) => processed
                .errors
                .push(format!("cannot compose the reply: {e}")),
            Ok(mail) => match self.transport.send(&mail) {
                Ok(Delivery::Written(path)) => processed.emails.push(path),
                Ok(Delivery::Sent { .. }) => {
                    // Keep a copy beside the results: the help desk can see what went out.
                    let copy = folder.join(format!("{stem}-reply.eml"));
                    match write_atomically(&copy, &mail.to_eml()) {
                        Ok(()) => processed.emails.push(copy),
                        Err(e) => processed
                            .errors
                            .push(format!("sent, but cannot keep a copy: {e}")),
                    }
                }
                Err(e) => processed.errors.push(format!("cannot send the reply: {e}")),
            },
        }
        processed
    }

    /// One folder per submission, named after the file (`clean-batch.xlsx` →
    /// `clean-batch-xlsx`), unique within the run.
    fn folder_name(&mut self, file_name: &str) -> String {
        let base: String = file_name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let base = if base.is_empty() {
            "submission".to_string()
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while !self.used_names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
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

/// SHA-256 of a file, streamed: a huge file costs time, not memory.
fn hash_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Writes through a temporary file, flushed to disk, and a rename, so a crash (or a power
/// cut) never leaves half a file: the watcher records an outcome only after its files are
/// written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}
