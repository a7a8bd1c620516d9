//! The steps for one submission, inside the watcher: a loose file through the pipeline, an
//! email fanned out into its attachments, the same bytes again ("already processed"), and
//! the reply written to the outbox. Each step returns what to record; the loop in
//! [`super`] records it and files the original.

use super::*;
use crate::parallel::Turns;

/// A reply captured instead of sent: the watcher queues it.
pub(super) struct Capture(RefCell<Vec<Mail>>);

impl Transport for Capture {
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError> {
        self.0.borrow_mut().push(mail.clone());
        Ok(Delivery::Written(PathBuf::from(format!(
            "outbox/{}.eml",
            mail.file_stem()
        ))))
    }

    /// Nothing leaves: the watcher writes the reply with the results, in one batch.
    fn hands_over(&self) -> bool {
        false
    }
}

/// An attachment saved in the archive that may be a submission.
pub(super) struct Saved {
    /// Its name in `attachments/` (and as a submission).
    name: String,
    /// Where it was saved.
    path: PathBuf,
    /// Its content hash.
    sha256: String,
    /// What it is, by content, or why it is none of the formats read.
    format: Result<crate::document::Format, String>,
}

/// Reads and parses an `.eml` file; the inner `Err` says in words why it is not a message
/// Rolecall reads. Sized before it is read: a huge file is never loaded into memory.
fn read_email(path: &Path) -> Result<Result<email::Email, String>, WatchError> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if let Some(why) = email::too_large(len) {
        return Ok(Err(why));
    }
    let bytes = std::fs::read(path).map_err(|source| WatchError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(email::parse(&bytes))
}

/// What one submission's steps work with: the data folder, the settings, the services and
/// a ledger connection of their own. The watcher's thread makes one from its own fields
/// ([`Watcher::steps`]); each intake worker makes one with its own connection.
pub(super) struct Steps<'s, 'a> {
    pub(super) layout: &'s Layout,
    pub(super) settings: &'s Settings,
    pub(super) services: &'s Services<'a>,
    pub(super) ledger: &'s mut Ledger,
    /// On an intake worker: this submission's turn among those of the pass, so that the
    /// per-sender limit counts replies in input order, as a serial run does.
    pub(super) turn: Option<(&'s Turns<String>, usize)>,
}

/// What the first look at a settled inbox file found.
pub(super) enum Admit {
    /// It changed while it was hashed: the next pass takes it.
    Later,
    /// The same bytes were processed before: "already processed" (this arrival).
    Duplicate(Submission, String),
    /// A submission to process (just recorded `received`, or left so by a crash).
    Process(Submission),
}

/// A reply written to the outbox, and the mail row to record for it.
type Queued = (Mail, NewMail);

/// What one submission came to, before it is recorded.
pub(super) struct Finished {
    pub(super) recorded: Recorded,
    pub(super) mails: Vec<NewMail>,
    /// The change set whose operations go into the lifecycle with the outcome.
    pub(super) changeset: Option<Arc<crate::changeset::ChangeSet>>,
}

impl Steps<'_, '_> {
    /// A file nobody can be answered about, filed in `quarantine/` with `words` beside it;
    /// `rule` when a rule code names why (a refused sender).
    fn quarantined(
        &mut self,
        s: &Submission,
        words: &str,
        (reason, rule): (&str, Option<crate::finding::Rule>),
        processed_at: String,
    ) -> Result<Finished, WatchError> {
        let kept = self.quarantine(s, words)?;
        let mut outcome = serde_json::json!({ "reason": reason });
        if let Some(rule) = rule {
            outcome["rule"] = rule.code().into();
        }
        Ok(Finished {
            recorded: Recorded {
                status: Some(Status::Quarantined),
                outcome: outcome.to_string(),
                original: Some(kept),
                processed_at,
                ..Recorded::default()
            },
            mails: Vec::new(),
            changeset: None,
        })
    }

    /// A loose file: through the pipeline; unreadable ones end in quarantine.
    pub(super) fn file(&mut self, s: &Submission, path: &Path) -> Result<Finished, WatchError> {
        let now = (self.services.now)();
        let folder = folder_of(s);
        let format = intake::sniff(path).map_err(|r| r.to_string());
        if let Err(reason) = &format
            && !has_extension(path, SUBMISSION_EXTENSIONS)
        {
            // Not a submission and not named like one: nobody to answer, nothing to read.
            return self.quarantined(
                s,
                &format!("This file is {reason}."),
                (reason, None),
                now.timestamp().to_string(),
            );
        }
        let (mut result, mails, reply_to) = self.run_pipeline(
            path,
            format.as_ref().map(|f| *f).map_err(String::as_str),
            None,
            &Placement {
                folder: self.layout.root.join(&folder),
                submission_id: s.id.clone(),
                // The outputs add a suffix to the name (`-changeset.json`): keep it short
                // enough in bytes for that.
                file_name: fsx::safe_name(
                    &s.file_name,
                    Charset::Printable,
                    email::MAX_ATTACHMENT_NAME_BYTES,
                    "submission",
                ),
                // Hashed once, when the file was admitted.
                sha256: Some(s.sha256.clone()),
            },
            &format!("{}-reply", s.id),
        )?;
        let original = if result.status == SubmissionStatus::Unreadable {
            self.quarantine(s, &result.reason)?
        } else {
            format!("{folder}/{}", s.file_name)
        };
        Ok(Finished {
            recorded: Recorded {
                status: Some(result.status.into()),
                outcome: serde_json::to_string(&result).unwrap_or_default(),
                original: Some(original),
                folder: Some(folder),
                reply_to,
                processed_at: now.timestamp().to_string(),
            },
            mails,
            changeset: result.changeset.take(),
        })
    }

    /// Runs the pipeline with the reply captured, writes the reply to `outbox/<key>.eml`
    /// (and a copy beside the results), and returns what to record.
    pub(super) fn run_pipeline(
        &self,
        path: &Path,
        format: Result<crate::document::Format, &str>,
        origin: Option<&Origin>,
        placement: &Placement,
        key: &str,
    ) -> Result<(PipelineResult, Vec<NewMail>, Option<String>), WatchError> {
        self.run_pipeline_inner(path, format, origin, placement, key, true)
    }

    /// [`Self::run_pipeline`]; without `queue` the reply is only kept beside the results.
    pub(super) fn run_pipeline_inner(
        &self,
        path: &Path,
        format: Result<crate::document::Format, &str>,
        origin: Option<&Origin>,
        placement: &Placement,
        key: &str,
        queue: bool,
    ) -> Result<(PipelineResult, Vec<NewMail>, Option<String>), WatchError> {
        let capture = Capture(RefCell::new(Vec::new()));
        let now = (self.services.now)();
        let mut processor = Processor::new(
            self.services.catalog,
            placement.folder.clone(),
            self.services.isolation.clone(),
            &capture,
            self.services.from.clone(),
            now.clone(),
        )
        .with_max_lines(self.services.max_lines)
        .with_kit(std::sync::Arc::clone(&self.services.kit))
        .keeping_changeset();
        if let Some((state, options)) = self.services.state {
            processor = processor.with_state(state, options);
        }
        // The results, the reply's copy and its outbox file flushed together, once, before
        // anything that points at them is recorded.
        let mut batch = fsx::Batch::default();
        let mut processed = processor.process_in(path, (format, origin), placement, &mut batch);
        if let Some(e) = processed.errors.first() {
            // Our own output could not be written (disk full, permissions): not the
            // sender's fault; leave the file in the inbox and try again later.
            return Err(WatchError::Io {
                path: placement.folder.clone(),
                source: std::io::Error::other(e.clone()),
            });
        }
        let replies = capture.0.into_inner();
        let (queued, reply_to) =
            self.keep_replies(replies, placement, (key, &now, queue), batch)?;
        let mails = self.take_turns(queued, &placement.submission_id)?;
        let result = PipelineResult {
            status: processed.status,
            accepted: processed.accepted,
            needs_approval: processed.needs_approval,
            rejected: processed.rejected,
            reason: first_error_message(&processed),
            // Recorded with the outcome; only what is queued is in the lifecycle.
            changeset: processed.changeset_kept.take().filter(|_| queue),
        };
        Ok((result, mails, reply_to))
    }

    /// Writes each captured reply beside the results and, with `queue`, into the outbox,
    /// all in `batch` with the results, and commits it; returns the mail rows to record
    /// (with their mail) and the last reply's recipients.
    fn keep_replies(
        &self,
        replies: Vec<Mail>,
        placement: &Placement,
        (key, now, queue): (&str, &jiff::Zoned, bool),
        mut batch: fsx::Batch,
    ) -> Result<(Vec<Queued>, Option<String>), WatchError> {
        let mut reply_to = None;
        let mut queued = Vec::new();
        for mail in replies {
            // Formatted once for both files: formatting base64-encodes the workbook.
            let eml = mail.to_eml();
            let stem = Path::new(&placement.file_name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "submission".into());
            batch
                .write(&placement.folder.join(format!("{stem}-reply.eml")), &eml)
                .map_err(|source| WatchError::Io {
                    path: placement.folder.clone(),
                    source,
                })?;
            reply_to = Some(serde_json::json!({ "to": mail.to(), "cc": mail.cc() }).to_string());
            if !queue {
                continue;
            }
            let row = super::queue_file_in(
                &mut batch,
                &self.layout.root,
                key,
                Some(&placement.submission_id),
                (&mail, &eml),
                now,
            )?;
            queued.push((mail, row));
        }
        // Flushed before the turn: the flushes run beside other submissions', and only the
        // count of replies ([`Self::take_turns`]) needs the order of a serial run.
        batch.commit().map_err(|e| WatchError::Io {
            path: placement.folder.clone(),
            source: e.into_io(),
        })?;
        Ok((queued, reply_to))
    }

    /// Counts each queued reply against its sender's hourly limit, in its turn (the order
    /// of a serial run); one past the limit is held.
    fn take_turns(
        &self,
        queued: Vec<Queued>,
        submission: &str,
    ) -> Result<Vec<NewMail>, WatchError> {
        let mut mails = Vec::with_capacity(queued.len());
        for (mail, mut row) in queued {
            self.wait_turn(&mail);
            if self.rate_limited(&mail)? {
                // Not dropped: held in the outbox for a person to release (`outbox retry`).
                tracing::warn!(submission = %submission, to = %mail.to().join(", "),
                    "reply held back: too many replies to this sender in the last hour");
                row.held = true;
            }
            mails.push(row);
        }
        Ok(mails)
    }

    /// Records an outcome and its mail and, when the pipeline made a change set to queue,
    /// its operations in the lifecycle, all in one transaction (one flush of the database):
    /// after a crash either all are there or none is, and the submission is processed
    /// again; a reprocess supersedes what still waits. The change set is the processor's,
    /// as written to the change set file (not read back).
    pub(super) fn record(
        &mut self,
        id: &str,
        (recorded, mails): (&Recorded, &[NewMail]),
        changeset: Option<&crate::changeset::ChangeSet>,
    ) -> Result<(), WatchError> {
        let stamp = (self.services.now)().timestamp().to_string();
        let db = self.layout.root.join(crate::db::FILE_NAME);
        let catalog = self.services.catalog;
        self.ledger
            .record_outcome_with(id, (recorded, mails), |tx| {
                if let Some(cs) = changeset {
                    crate::lifecycle::record_in(tx, &db, id, (cs, catalog, &stamp))?;
                }
                Ok::<(), WatchError>(())
            })
    }

    /// Writes a message into `outbox/<key>.eml` and returns the row to record with the
    /// outcome.
    pub(super) fn queue_file(
        &self,
        key: &str,
        submission: Option<&str>,
        mail: &Mail,
        now: &jiff::Zoned,
    ) -> Result<NewMail, WatchError> {
        queue_file(&self.layout.root, key, submission, mail, now)
    }

    /// On an intake worker, waits until every earlier submission of the pass that replies
    /// to the same address has recorded its reply: only then is the count of replies to it
    /// the one a serial run sees.
    fn wait_turn(&self, mail: &Mail) {
        if let Some((turns, i)) = self.turn {
            let key = mail
                .to()
                .first()
                .map(|a| a.to_lowercase())
                .unwrap_or_default();
            turns.declare(i, Some(key.clone()));
            turns.wait(i, &key);
        }
    }

    /// On an intake worker, lets the submissions after this one that reply to the same
    /// address take their turn (the worker's guard ends it too, on every other path).
    fn end_turn(&self) {
        if let Some((turns, i)) = self.turn {
            turns.done(i);
        }
    }

    pub(super) fn rate_limited(&self, mail: &Mail) -> Result<bool, WatchError> {
        let Some(first) = mail.to().first() else {
            return Ok(false);
        };
        let since = wall_ms() - 3_600_000;
        Ok(self.ledger.mails_to_since(first, since)? >= i64::from(self.settings.replies_per_hour))
    }

    /// Moves a copy of the submission's file's reason into `quarantine/` and returns where
    /// the original will go: `quarantine/<id>-<name>` with `<id>-<name>.reason.txt` beside.
    pub(super) fn quarantine(&self, s: &Submission, reason: &str) -> Result<String, WatchError> {
        const REASON: &str = ".reason.txt";
        let name = fsx::safe_name(
            &format!("{}-{}", s.id, s.file_name),
            Charset::Printable,
            fsx::MAX_NAME_BYTES - REASON.len(),
            &s.id,
        );
        let reason_path = self
            .layout
            .dir("quarantine")
            .join(format!("{name}{REASON}"));
        let text = format!(
            "{}\n\nsubmission: {}\nreceived: {}\nfile: {}\n",
            reason.trim(),
            s.id,
            s.received_at,
            s.file_name
        );
        // Durable before the outcome that names it is recorded (the move follows).
        write_durably(&reason_path, text.as_bytes()).map_err(|source| WatchError::Io {
            path: reason_path.clone(),
            source,
        })?;
        Ok(format!("quarantine/{name}"))
    }

    /// A whole email: each attachment becomes a submission of its own; the sender gets one
    /// reply per attachment, or one short note when there is nothing usable. A message that
    /// cannot be read, or whose sender is in doubt, is quarantined; an automatic one is
    /// archived unanswered.
    pub(super) fn email(&mut self, s: &Submission, path: &Path) -> Result<Finished, WatchError> {
        let now = (self.services.now)();
        let stamp = now.timestamp().to_string();
        let folder = folder_of(s);
        let message = match read_email(path)? {
            Ok(m) => m,
            Err(reason) => {
                let words = format!("This .eml file is {reason}.");
                return self.quarantined(s, &words, (&reason, None), stamp);
            }
        };
        if let Some(refusal) = &message.refused {
            return self.refuse_sender(s, refusal, stamp);
        }
        let original = Some(format!("{folder}/{}", s.file_name));
        if let Some(why) = &message.automatic {
            tracing::info!(submission = %s.id, reason = %why, "automatic message: no reply");
            return Ok(Finished {
                recorded: Recorded {
                    status: Some(Status::Ignored),
                    outcome: serde_json::json!({ "reason": format!("not answered: {why}") })
                        .to_string(),
                    original,
                    folder: Some(folder),
                    processed_at: stamp,
                    ..Recorded::default()
                },
                mails: Vec::new(),
                changeset: None,
            });
        }
        // First every attachment is saved and sorted out, so that each reply can also say
        // what else the message held and why it was not read (a screenshot, a note).
        let (saved, notes) = self.save_attachments(&message, &folder)?;
        let origin = Origin {
            from: message.from.clone(),
            reply_to: message.reply_to.clone(),
            message_id: message.message_id.clone(),
            references: message.references.clone(),
            subject: message.subject.clone(),
            notes: notes.clone(),
        };
        let mut mails = Vec::new();
        let mut results = Vec::new();
        for att in saved {
            results.push(self.attachment(s, &folder, &origin, att, (&now, &mut mails))?);
        }
        let status = if results.is_empty() {
            let text = no_attachment_text(message.subject.as_deref(), &notes);
            self.no_attachment(s, &origin, &text, (&now, &mut mails))?;
            Status::NoAttachment
        } else {
            Status::Email
        };
        let reply_to = serde_json::json!({ "to": [origin.reply_to], "cc": [] }).to_string();
        Ok(Finished {
            recorded: Recorded {
                status: Some(status),
                outcome: serde_json::json!({
                    "from": origin.from,
                    "subject": origin.subject,
                    "attachments": results,
                    "notes": notes,
                })
                .to_string(),
                original,
                folder: Some(folder),
                reply_to: Some(reply_to),
                processed_at: stamp,
            },
            mails,
            changeset: None,
        })
    }

    /// A message whose sender is in doubt: quarantined with the rule and the reason, nothing
    /// of it read, nobody answered (a reply to a forged address reaches the person it
    /// imitates).
    fn refuse_sender(
        &mut self,
        s: &Submission,
        refusal: &crate::intake::sender::Refusal,
        stamp: String,
    ) -> Result<Finished, WatchError> {
        tracing::warn!(submission = %s.id, rule = %refusal.rule, reason = %refusal.reason,
            "sender refused: quarantined");
        let words = format!(
            "{}\n\nNo attachment of this message was read and no reply was sent. If the message is genuine, ask the sender to send it again from their own mailbox, with one address in From.",
            refusal.reason
        );
        self.quarantined(s, &words, (&refusal.reason, Some(refusal.rule)), stamp)
    }

    /// Saves every attachment under `<folder>/attachments/` (a second one of the same name
    /// gets its position in front) and returns those that may be submissions, with the notes
    /// for the others.
    fn save_attachments(
        &self,
        message: &email::Email,
        folder: &str,
    ) -> Result<(Vec<Saved>, Vec<String>), WatchError> {
        let attach_dir = self.layout.root.join(folder).join("attachments");
        let mut notes = message.notes.clone();
        let mut saved = Vec::new();
        let mut used = std::collections::HashSet::new();
        // The attachments flushed together (`fsx::Batch`) when all are there, and looked
        // at by name only then: their rows, which point at these files, are recorded after.
        let mut batch = fsx::Batch::default();
        let mut written = Vec::with_capacity(message.attachments.len());
        for (i, att) in message.attachments.iter().enumerate() {
            let mut name = att.name.clone();
            if !used.insert(name.to_lowercase()) {
                name = format!("{}-{}", i + 1, att.name);
                used.insert(name.to_lowercase());
            }
            let path = attach_dir.join(&name);
            batch
                .write(&path, &att.bytes)
                .map_err(|source| WatchError::Io {
                    path: path.clone(),
                    source,
                })?;
            written.push((name, path, att));
        }
        batch.commit().map_err(|e| WatchError::Io {
            path: attach_dir.clone(),
            source: e.into_io(),
        })?;
        for (name, path, att) in written {
            let format = intake::sniff(&path).map_err(|r| r.to_string());
            if let Err(reason) = &format
                && !has_extension(&path, SUBMISSION_EXTENSIONS)
            {
                notes.push(format!(
                    "{name} is {reason}, so it was not read. Rolecall reads the Accounts Worksheet (.xlsx, .xls, .xlsb, .ods) and the Staff User Request Form (PDF)."
                ));
                continue;
            }
            saved.push(Saved {
                sha256: intake::sha256_hex(&att.bytes),
                name,
                path,
                format,
            });
        }
        Ok((saved, notes))
    }

    /// One attachment of email `s`: processed as a submission of its own (recorded and
    /// filed), or, when the same bytes were processed before, answered "already processed".
    /// Returns the line for the email's outcome.
    fn attachment(
        &mut self,
        s: &Submission,
        folder: &str,
        origin: &Origin,
        att: Saved,
        (now, mails): (&jiff::Zoned, &mut Vec<NewMail>),
    ) -> Result<serde_json::Value, WatchError> {
        let stamp = now.timestamp().to_string();
        let child = match self.ledger.by_hash(&att.sha256)? {
            Some(c) if c.parent.as_deref() == Some(s.id.as_str()) => c,
            Some(c) => {
                // Sent before, by this email or another: say so rather than answer twice.
                let key = format!("{}-dup-{}", s.id, c.id);
                let subject = format!("[Rolecall] {}: already processed", att.name);
                let text = already_processed_text(&att.name, &c);
                let mail = self.notice(&key, &subject, &text, origin, &[], now)?;
                mails.push(self.queue_file(&key, Some(&s.id), &mail, now)?);
                return Ok(serde_json::json!({ "file": att.name, "duplicate_of": c.id }));
            }
            None => {
                let id = intake::submission_id(now.date(), &att.sha256);
                self.ledger.insert_received(&NewSubmission {
                    id: &id,
                    sha256: &att.sha256,
                    kind: Kind::Attachment,
                    parent: Some(&s.id),
                    file_name: &att.name,
                    received_at: &stamp,
                    origin: Some(&serde_json::to_string(origin).unwrap_or_default()),
                })?;
                self.ledger
                    .by_hash(&att.sha256)?
                    .ok_or(rusqlite::Error::QueryReturnedNoRows)?
            }
        };
        if child.state == Stage::Received {
            self.process_attachment(s, folder, origin, &child, &att, &stamp)?;
        }
        if child.state != Stage::Filed {
            // An attachment's copy is in the archive already: recorded is filed.
            self.ledger.mark_filed(&child.id)?;
        }
        Ok(serde_json::json!({ "file": att.name, "submission": child.id }))
    }

    /// Runs an attachment through the pipeline and records its outcome with its reply; an
    /// unreadable one is copied into `quarantine/` with its reason.
    fn process_attachment(
        &mut self,
        s: &Submission,
        folder: &str,
        origin: &Origin,
        child: &Submission,
        att: &Saved,
        stamp: &str,
    ) -> Result<(), WatchError> {
        let child_folder = format!("{folder}/{}", child.id);
        let (mut result, child_mails, reply_to) = self.run_pipeline(
            &att.path,
            att.format.as_ref().map(|f| *f).map_err(String::as_str),
            Some(origin),
            &Placement {
                folder: self.layout.root.join(&child_folder),
                submission_id: child.id.clone(),
                file_name: att.name.clone(),
                sha256: Some(att.sha256.clone()),
            },
            &format!("{}-reply", child.id),
        )?;
        let kept = if result.status == SubmissionStatus::Unreadable {
            let q = self.quarantine(child, &result.reason)?;
            let _ = std::fs::copy(&att.path, self.layout.root.join(&q));
            q
        } else {
            format!("{folder}/attachments/{}", att.name)
        };
        let changeset = result.changeset.take();
        let recorded = Recorded {
            status: Some(result.status.into()),
            outcome: serde_json::to_string(&result).unwrap_or_default(),
            original: Some(kept),
            folder: Some(child_folder),
            reply_to,
            processed_at: stamp.to_string(),
        };
        self.record(&child.id, (&recorded, &child_mails), changeset.as_deref())?;
        tracing::info!(submission = %child.id, email = %s.id, file = %att.name,
            status = %Status::from(result.status), "processed");
        Ok(())
    }

    /// The one short reply to a message with nothing to read (unless the sender's hourly
    /// limit is reached).
    fn no_attachment(
        &mut self,
        s: &Submission,
        origin: &Origin,
        text: &str,
        (now, mails): (&jiff::Zoned, &mut Vec<NewMail>),
    ) -> Result<(), WatchError> {
        let key = format!("{}-no-attachment", s.id);
        let subject = "[Rolecall] No worksheet or form found in your message";
        let mail = self.notice(&key, subject, text, origin, &[], now)?;
        if !self.rate_limited(&mail)? {
            mails.push(self.queue_file(&key, Some(&s.id), &mail, now)?);
        }
        Ok(())
    }

    /// A short plain-text message in the sender's thread.
    pub(super) fn notice(
        &self,
        key: &str,
        subject: &str,
        text: &str,
        origin: &Origin,
        cc: &[String],
        now: &jiff::Zoned,
    ) -> Result<Mail, WatchError> {
        let policy = &self.services.catalog.policy;
        let envelope = Envelope {
            from: self.services.from.clone(),
            to: origin.reply_to.iter().cloned().collect(),
            cc: cc.to_vec(),
            in_reply_to: origin.message_id.clone(),
            references: origin.references.clone(),
        };
        let notice = Notice {
            key: key.to_string(),
            subject: subject.to_string(),
            text: format!(
                "{text}\n\n-- \n{}\n{}\n",
                policy.help_desk_name, policy.help_desk_email
            ),
            help_desk_name: policy.help_desk_name.clone(),
            help_desk_email: policy.help_desk_email.clone(),
        };
        deliver::compose_notice(&notice, &envelope, now.timestamp()).map_err(|e| WatchError::Io {
            path: PathBuf::from(key),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// The same bytes again, after they were processed: tell whoever got the first reply,
    /// and keep the copy beside the first one.
    pub(super) fn duplicate(
        &mut self,
        path: &Path,
        s: &Submission,
        arrival: &str,
    ) -> Result<(), WatchError> {
        let mut arrival = arrival.to_string();
        let mut n = 1;
        // The very same arrival filed before (the file came back with the same time stamp):
        // count it as a new one.
        while self.ledger.duplicate_state(&arrival)? == Some(Stage::Filed) {
            n += 1;
            arrival = format!("{arrival}#{n}");
        }
        let tag = &intake::sha256_hex(arrival.as_bytes())[..10];
        let name = file_name(path);
        let folder = s.folder.clone().unwrap_or_else(|| folder_of(s));
        let kept = format!(
            "{folder}/duplicates/{}",
            fsx::safe_name(
                &format!("{tag}-{name}"),
                Charset::Printable,
                fsx::MAX_NAME_BYTES,
                tag
            )
        );
        if self.ledger.duplicate_state(&arrival)?.is_none() {
            let now = (self.services.now)();
            let key = format!("{}-dup-{tag}", s.id);
            let mails = self.duplicate_notice(path, s, &key, &now)?;
            self.ledger.record_duplicate(
                &arrival,
                &s.id,
                &name,
                &now.timestamp().to_string(),
                &kept,
                &mails,
            )?;
            tracing::info!(submission = %s.id, file = %name, "already processed: duplicate");
        }
        let dest = self.layout.root.join(&kept);
        if path.exists() {
            // Flushed before the arrival is marked filed, for the same reason as a
            // submission's move: a file back in the inbox must match its row.
            rename_durably(path, &dest).map_err(|source| WatchError::Io {
                path: dest.clone(),
                source,
            })?;
        }
        self.ledger.duplicate_filed(&arrival)?;
        Ok(())
    }
}

impl Steps<'_, '_> {
    /// The "already processed" notice for the same bytes again, to whoever got the first
    /// reply (none when nobody did, or the sender's hourly limit is reached).
    fn duplicate_notice(
        &self,
        path: &Path,
        s: &Submission,
        key: &str,
        now: &jiff::Zoned,
    ) -> Result<Vec<NewMail>, WatchError> {
        let reply: Option<serde_json::Value> = s
            .reply_to
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok());
        let list = |v: &serde_json::Value, k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let Some(reply) = reply.filter(|r| !list(r, "to").is_empty()) else {
            return Ok(Vec::new());
        };
        // A message dropped again is answered in its own thread.
        let threading = if s.kind == Kind::Email {
            std::fs::read(path)
                .ok()
                .and_then(|b| email::parse(&b).ok())
                .filter(|m| m.automatic.is_none() && m.refused.is_none())
        } else {
            None
        };
        let origin = Origin {
            reply_to: list(&reply, "to").first().cloned(),
            message_id: threading.as_ref().and_then(|m| m.message_id.clone()),
            references: threading.map(|m| m.references).unwrap_or_default(),
            ..Origin::default()
        };
        let name = file_name(path);
        let mail = self.notice(
            key,
            &format!("[Rolecall] {name}: already processed"),
            &already_processed_text(&name, s),
            &origin,
            &list(&reply, "cc"),
            now,
        )?;
        if self.rate_limited(&mail)? {
            return Ok(Vec::new());
        }
        Ok(vec![self.queue_file(key, Some(&s.id), &mail, now)?])
    }
}

impl Steps<'_, '_> {
    /// One inbox file, from first sight to filed.
    pub(super) fn take(&mut self, path: &Path) -> Result<(), WatchError> {
        match self.admit(path)? {
            Admit::Later => Ok(()),
            Admit::Duplicate(s, arrival) => self.duplicate(path, &s, &arrival),
            Admit::Process(s) => self.finish(path, &s),
        }
    }

    /// Hashes a settled file and looks it up: the same bytes before are a duplicate; new
    /// bytes are recorded `received` (the first step of exactly once).
    pub(super) fn admit(&mut self, path: &Path) -> Result<Admit, WatchError> {
        let io = |source| WatchError::Io {
            path: path.to_path_buf(),
            source,
        };
        let before = std::fs::metadata(path).map_err(io)?;
        let sha256 = hash_file(path).map_err(io)?;
        let after = std::fs::metadata(path).map_err(io)?;
        if (before.len(), before.modified().ok()) != (after.len(), after.modified().ok()) {
            return Ok(Admit::Later); // still being written after all: next pass
        }
        let name = file_name(path);
        let is_eml = has_extension(path, &["eml"]);
        match self.ledger.by_hash(&sha256)? {
            Some(s) if s.state == Stage::Filed || s.kind == Kind::Attachment => {
                let arrival = format!(
                    "{sha256}:{name}:{}:{}",
                    after.len(),
                    after
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos())
                );
                Ok(Admit::Duplicate(s, arrival))
            }
            Some(s) => Ok(Admit::Process(s)),
            None => {
                let now = (self.services.now)();
                let id = intake::submission_id(now.date(), &sha256);
                self.ledger.insert_received(&NewSubmission {
                    id: &id,
                    sha256: &sha256,
                    kind: if is_eml { Kind::Email } else { Kind::File },
                    parent: None,
                    file_name: &name,
                    received_at: &now.timestamp().to_string(),
                    origin: None,
                })?;
                tracing::info!(submission = %id, file = %name, "received");
                let s = self.ledger.by_hash(&sha256)?;
                Ok(Admit::Process(
                    s.ok_or(rusqlite::Error::QueryReturnedNoRows)?,
                ))
            }
        }
    }

    /// The rest of a submission's steps: processed (its outcome and reply recorded in one
    /// transaction), then filed (its file out of the inbox, then the row marked).
    pub(super) fn finish(
        &mut self,
        path: &Path,
        submission: &Submission,
    ) -> Result<(), WatchError> {
        let name = file_name(path);
        if submission.state == Stage::Received {
            let done = match submission.kind {
                Kind::Email => self.email(submission, path)?,
                _ => self.file(submission, path)?,
            };
            let changeset = done.changeset.as_deref();
            self.record(&submission.id, (&done.recorded, &done.mails), changeset)?;
            // Its replies are counted now: a later submission to the same address may take
            // its turn while this one is filed.
            self.end_turn();
            tracing::info!(
                submission = %submission.id,
                file = %name,
                status = %done.recorded.status.map_or("-", Status::as_str),
                mails = done.mails.len(),
                "processed"
            );
        }
        let s = self
            .ledger
            .by_id(&submission.id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        let kept = self.layout.root.join(s.original.as_deref().unwrap_or(""));
        if path.exists() {
            // Both folders flushed before the row says filed: after a power cut a file back
            // in the inbox with its row filed would be taken for a duplicate and answered
            // "already processed". (The outputs and the reply were made durable, in one
            // flush per folder, before the outcome was recorded.)
            rename_durably(path, &kept).map_err(|source| WatchError::Io {
                path: kept.clone(),
                source,
            })?;
        }
        self.ledger.mark_filed(&s.id)?;
        tracing::info!(submission = %s.id, to = %rel(&kept, &self.layout.root), "filed");
        Ok(())
    }
}

/// The archive folder of a submission: `archive/<received date>/<id>`.
pub(super) fn folder_of(s: &Submission) -> String {
    let date = s.received_at.get(..10).unwrap_or("undated");
    format!("archive/{date}/{}", s.id)
}

/// What the ledger keeps of a pipeline run.
#[derive(Debug, Clone, Serialize)]
pub(super) struct PipelineResult {
    pub(super) status: SubmissionStatus,
    pub(super) accepted: usize,
    pub(super) needs_approval: usize,
    pub(super) rejected: usize,
    /// Why it could not be read, for the quarantine reason file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) reason: String,
    /// The change set to record in the lifecycle with the outcome (not in the ledger's
    /// outcome words).
    #[serde(skip)]
    pub(super) changeset: Option<Arc<crate::changeset::ChangeSet>>,
}

/// Why an unreadable submission could not be read, for the quarantine reason file.
fn first_error_message(processed: &crate::process::Processed) -> String {
    if processed.status != SubmissionStatus::Unreadable {
        return String::new();
    }
    processed.unreadable_reason.clone().unwrap_or_else(|| {
        "The file could not be read as an Accounts Worksheet or a Staff User Request Form.".into()
    })
}

fn already_processed_text(name: &str, s: &Submission) -> String {
    let date = s.processed_at.as_deref().unwrap_or(&s.received_at);
    let date = date.get(..10).unwrap_or(date);
    format!(
        "Hello,\n\nThe file {name} was already processed on {date} as submission {id}, and its result was sent then. \
Rolecall does not process the same file twice.\n\nIf you meant to send a corrected version, please check that you attached the new file. \
If the same file should be processed again (after a catalog change, say), ask the help desk to reprocess submission {id}.",
        id = s.id
    )
}

fn no_attachment_text(subject: Option<&str>, notes: &[String]) -> String {
    let mut text = format!(
        "Hello,\n\nYour message{} reached the help desk's account robot, but it holds no Accounts Worksheet or Staff User Request Form, so there was nothing to process.\n",
        subject
            .map(|s| format!(" \"{}\"", s.trim()))
            .unwrap_or_default()
    );
    for note in notes {
        text.push_str(&format!("\n- {note}"));
    }
    if !notes.is_empty() {
        text.push('\n');
    }
    text.push_str(
        "\nRolecall reads these, attached to a message:\n\
- the Accounts Worksheet, as an Excel workbook (.xlsx, .xls, .xlsb) or OpenDocument spreadsheet (.ods);\n\
- the Staff User Request Form, as a filled-in PDF.\n\n\
Please attach one of them and send your message again. A person at the help desk reads questions sent to the address below.",
    );
    text
}
