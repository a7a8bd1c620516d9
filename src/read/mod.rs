//! Reading submissions into [`Document`]s.
//!
//! A workbook is hostile input. Reading is split in two:
//! - [`raw`]: calamine turns the file into sparse, already-normalised cells ([`cell`]), under
//!   size limits; this is the only part that can be made to blow up, so it can run in a child
//!   process ([`Isolation::Child`], see [`isolate`]);
//! - [`worksheet`]: the parent picks the sheet, finds the header row and the requester
//!   block, and builds the request lines, with locations as the person sees them.
//!
//! [`read_document`] never panics and never fails: every problem is a finding in the
//! document it returns.

pub mod cell;
pub mod form;
pub mod isolate;
pub mod raw;
pub mod request_form;
pub mod worksheet;

use crate::catalog::Catalog;
use crate::document::{Document, Format};
use crate::finding::{Finding, Rule};
use crate::location::Location;
use form::FormFailKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use isolate::{read_form_file, run_child_if_requested};
pub use worksheet::DEFAULT_MAX_LINES;

/// Where the dangerous part of reading (calamine) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// In this process: size checks and caps guard it, but an allocation abort inside
    /// calamine would still end the process. For tests and trusted files.
    InProcess,
    /// In a reader worker (`exe __read-cells MEMORY_MB CPU_SECONDS`, a long-lived child of
    /// a pool shared by the whole process, see [`isolate`]) with an address-space limit and
    /// a timeout per file; a crash of the worker becomes a finding for that file alone.
    Child {
        /// The `rolecall` binary (it must call [`run_child_if_requested`] first thing).
        exe: PathBuf,
        /// Address-space limit of the child, in MiB.
        memory_mb: u64,
        /// Wall-clock limit for reading one file.
        timeout: Duration,
    },
}

impl Isolation {
    /// The child-process reader using the current executable, 1024 MiB and 60 seconds; falls
    /// back to [`Isolation::InProcess`] if the current executable cannot be found.
    pub fn child_default() -> Isolation {
        match std::env::current_exe() {
            Ok(exe) => Isolation::Child {
                exe,
                memory_mb: 1024,
                timeout: Duration::from_secs(60),
            },
            Err(_) => Isolation::InProcess,
        }
    }
}

/// Reads one submission: a workbook (at most `max_lines` request lines, see
/// [`read_workbook`]), or a PDF form (see [`read_form_document`], which names roles from the
/// catalog). Never panics; problems are findings in the returned document.
pub fn read_submission(
    path: &Path,
    format: Format,
    isolation: &Isolation,
    catalog: &Catalog,
    max_lines: usize,
) -> Document {
    let mut document = match format {
        Format::Pdf => read_form_document(path, isolation, catalog),
        _ => read_workbook(path, format, isolation, max_lines),
    };
    document.format = Some(format);
    document
}

/// Reads a filled Staff User Request Form: the generic AcroForm reader ([`form`]) in the
/// isolation asked for, then the mapping to request lines ([`request_form`]). A form that
/// cannot be read becomes one finding that says what happened and what to do.
pub fn read_form_document(path: &Path, isolation: &Isolation, catalog: &Catalog) -> Document {
    match isolate::read_form_file(path, isolation) {
        Ok(form) => std::panic::catch_unwind(|| request_form::build_document(&form, catalog))
            .unwrap_or_else(|_| {
                failed(
                    Rule::Unreadable,
                    "Rolecall failed while reading this form. The help desk has been told; \
                     please wait for their reply.",
                )
            }),
        // The reader's messages already say what happened and what to do.
        Err(failure) => failed(
            match failure.kind {
                FormFailKind::NotPdf | FormFailKind::Damaged => Rule::Unreadable,
                FormFailKind::TooLarge => Rule::TooLarge,
                FormFailKind::NeedsPassword => Rule::PasswordProtected,
                FormFailKind::NoFields => Rule::NoFormFields,
                FormFailKind::XfaOnly => Rule::XfaForm,
            },
            failure.message,
        ),
    }
}

/// Reads one workbook with the default line cap ([`DEFAULT_MAX_LINES`]); see
/// [`read_workbook`].
pub fn read_document(path: &Path, format: Format, isolation: &Isolation) -> Document {
    read_workbook(path, format, isolation, DEFAULT_MAX_LINES)
}

/// Reads one workbook, at most `max_lines` request lines of it (the lines past the cap are
/// counted, and a finding says how many were not read). Never panics; problems are findings
/// in the returned document. A PDF given here is refused: use [`read_submission`].
pub fn read_workbook(
    path: &Path,
    format: Format,
    isolation: &Isolation,
    max_lines: usize,
) -> Document {
    if format == Format::Pdf {
        return failed(
            Rule::Unreadable,
            "A PDF form is read with the catalog at hand: use read_submission.",
        );
    }
    let reply = isolate::read_raw_file(path, format, isolation);
    match reply {
        Ok(wb) => {
            // The raw cells are plain data; still, nothing here may take the run down.
            std::panic::catch_unwind(move || worksheet::build_document(wb, max_lines))
                .unwrap_or_else(|_| {
                    failed(
                        Rule::Unreadable,
                        "Rolecall failed while reading this workbook. The help desk has been told; \
                     please wait for their reply.",
                    )
                })
        }
        Err(f) => failed(
            match f.kind {
                raw::FailKind::TooLarge => Rule::TooLarge,
                raw::FailKind::Unreadable => Rule::Unreadable,
            },
            f.message,
        ),
    }
}

fn failed(rule: Rule, message: impl Into<String>) -> Document {
    Document {
        findings: vec![Finding::error(rule, Location::File, message)],
        ..Default::default()
    }
}
