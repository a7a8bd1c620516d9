//! The `Summary` sheet: the verdict in words, what to do next, and where it all came from.

use super::style::Styles;
use super::{fit_row, plain, text};
use crate::catalog::Catalog;
use crate::changeset::ChangeSet;
use crate::document::Format;
use crate::finding::Severity;
use crate::validate::{Outcome, SubmissionStatus};
use rust_xlsxwriter::{Color, Worksheet, XlsxError};

/// Name of the sheet.
pub const SUMMARY_SHEET: &str = "Summary";

/// What the requester should do after reading a verdict; `from_form` when the submission
/// was a PDF form (its lines are on the Accounts sheet, so either can be corrected).
pub fn next_step(status: SubmissionStatus, from_form: bool) -> &'static str {
    match (status, from_form) {
        (SubmissionStatus::NeedsAttention | SubmissionStatus::Rejected, true) => {
            return "Lines marked Accepted will be carried out. For lines marked Rejected, \
                    correct the form fields named on the Problems sheet and send the form \
                    again; or fix the highlighted cells on the Accounts sheet of this workbook \
                    (it holds your form's request lines) and send this workbook back: lines \
                    already carried out are recognised and answered \"Already done\".";
        }
        (SubmissionStatus::Unreadable, true) => {
            return "The form could not be read. The Problems sheet says why and what to do; \
                    then send the form again, or fill in the Accounts sheet of this workbook \
                    and send it back.";
        }
        _ => {}
    }
    match status {
        SubmissionStatus::Accepted => {
            "Nothing. Every line was accepted; the help desk will make the changes in Alma."
        }
        SubmissionStatus::NeedsAttention => {
            "Lines marked Accepted will be carried out. Lines marked Needs approval wait for \
             the help desk. For lines marked Rejected, fix the highlighted cells on the \
             Accounts sheet (each has a note saying what is wrong) and send this workbook \
             back, with the other rows as they are: lines already carried out are recognised \
             and answered \"Already done\", never done twice."
        }
        SubmissionStatus::Rejected => {
            "Nothing will be carried out yet. Fix the highlighted cells on the Accounts sheet \
             (each has a note saying what is wrong; the Problems sheet lists them all) and send \
             this workbook back."
        }
        SubmissionStatus::Unreadable => {
            "The file could not be read as an Accounts Worksheet. Fill in the Accounts sheet of \
             this workbook (or a blank worksheet from the help desk) and send it back."
        }
    }
}

/// `2026-11-24T15:00:00.7098Z` as a person reads it: the machine's local date and time to
/// the minute, with the zone (`2026-11-24 10:00 EST`); the text as it is if it is no time.
fn local_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Writes the sheet.
pub fn write(
    ws: &mut Worksheet,
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    styles: &Styles,
) -> Result<(), XlsxError> {
    ws.set_name(SUMMARY_SHEET)?;
    ws.set_column_width(0, 26)?;
    ws.set_column_width(1, 90)?;
    text(
        ws,
        0,
        0,
        &format!(
            "Result of your Alma staff accounts request — {}",
            catalog.policy.help_desk_name
        ),
        &styles.title,
    )?;
    ws.set_row_height(0, 22)?;

    let status = outcome.status();
    text(ws, 2, 0, "Verdict", &styles.label)?;
    text(
        ws,
        2,
        1,
        &capitalise(status.words()),
        &verdict_format(styles, status),
    )?;
    let mut row = 3;
    for (label, value) in facts(outcome, changeset, catalog) {
        plain(ws, row, 0, label)?;
        plain(ws, row, 1, &value)?;
        fit_row(ws, row, &[(&value, 90.0)])?;
        row += 1;
    }
    // One format per column of the facts (an empty value is a formatted blank): a format
    // is hashed on every call that names one.
    ws.set_range_format(3, 0, row - 1, 0, &styles.label)?;
    ws.set_range_format(3, 1, row - 1, 1, &styles.para)?;
    row = counts(ws, outcome, styles, row + 1)?;
    row += 1;
    text(ws, row, 0, "Questions", &styles.label)?;
    text(
        ws,
        row,
        1,
        &format!(
            "Reply to {} <{}>, quoting the submission and the rule code of the \
             problem (Problems sheet).",
            catalog.policy.help_desk_name, catalog.policy.help_desk_email
        ),
        &styles.para,
    )?;
    super::print_as_page(ws);
    ws.set_active(true);
    Ok(())
}

/// The verdict cell: green, yellow or red, in a larger type.
fn verdict_format(styles: &Styles, status: SubmissionStatus) -> rust_xlsxwriter::Format {
    let fill = match status {
        SubmissionStatus::Accepted => 0xC6EFCE,
        SubmissionStatus::NeedsAttention => 0xFFEB9C,
        SubmissionStatus::Rejected | SubmissionStatus::Unreadable => 0xFFC7CE,
    };
    styles
        .label
        .clone()
        .set_font_size(12)
        .set_background_color(Color::RGB(fill))
}

/// The labelled facts under the verdict, in the order they are shown.
fn facts(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
) -> Vec<(&'static str, String)> {
    let institution = match outcome.institution.as_deref() {
        Some(code) => match catalog.institution(code) {
            Some(i) => format!("{} — {}", i.code, i.name),
            None => code.to_string(),
        },
        None => String::new(),
    };
    let sub = &changeset.submission;
    let from_form = outcome.document.format == Some(Format::Pdf);
    vec![
        (
            "What to do next",
            next_step(outcome.status(), from_form).to_string(),
        ),
        ("Submission", sub.id.clone()),
        ("File received", sub.source.clone()),
        // The file's hash stays in the change set: a coordinator has no use for it.
        ("Processed at", local_time(&sub.processed_at)),
        (
            "Requester name",
            outcome
                .requester_name
                .clone()
                .or_else(|| sub.requester_name.clone())
                .unwrap_or_default(),
        ),
        (
            "Requester email",
            outcome
                .requester_email
                .clone()
                .or_else(|| sub.requester_email.clone())
                .unwrap_or_default(),
        ),
        ("Institution", institution),
        ("Catalog", catalog.source()),
        ("Catalog version", changeset.catalog_version.clone()),
        (
            "Account state",
            crate::changeset::state_words(changeset.state.as_ref()),
        ),
    ]
}

/// The line and finding counts from `row`; returns the row after the last one written.
fn counts(
    ws: &mut Worksheet,
    outcome: &Outcome,
    styles: &Styles,
    mut row: u32,
) -> Result<u32, XlsxError> {
    let first = row;
    let counts = outcome.counts();
    let of = |severity: Severity| {
        outcome
            .all_findings()
            .filter(|f| f.severity == severity)
            .count()
    };
    let number = styles
        .para
        .clone()
        .set_align(rust_xlsxwriter::FormatAlign::Left);
    for (label, n) in [
        ("Lines accepted", counts.accepted),
        ("Lines needing approval", counts.needs_approval),
        ("Lines rejected", counts.rejected),
        ("Lines not read", counts.not_read),
        ("Errors", of(Severity::Error)),
        ("Warnings", of(Severity::Warning)),
    ]
    .into_iter()
    // Lines not read are rare and alarming: the row is there only when there are some.
    .filter(|(label, n)| *n > 0 || *label != "Lines not read")
    {
        plain(ws, row, 0, label)?;
        ws.write_number(row, 1, n as f64)?;
        row += 1;
    }
    ws.set_range_format(first, 0, row - 1, 0, &styles.label)?;
    ws.set_range_format(first, 1, row - 1, 1, &number)?;
    Ok(row)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
