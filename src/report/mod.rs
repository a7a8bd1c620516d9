//! Reports: the result workbook sent back to the requester.
//!
//! One workbook per submission (`docs/worksheet.md`): `Summary` (the verdict and what to do
//! next), `Accounts` (the lines as received, in the template's layout, with each cell at
//! fault filled and annotated, so the requester can fix it and send it back), `Problems`
//! (one row per finding), `Change set` (one row per operation) and the hidden `Lists`.
//!
//! Every text goes through `text()`, which writes a string cell: nothing a requester typed
//! (`=HYPERLINK(...)`, `+1`, `@SUM`) can come back to them as a formula.

pub(crate) mod accounts;
mod changes;
pub(crate) mod lists;
mod problems;
mod roles;
pub(crate) mod style;
mod summary;

use crate::catalog::Catalog;
use crate::changeset::ChangeSet;
use crate::document::{Document, ValueKind};
use crate::finding::Finding;
use crate::layout::{Field, HEADER_ROW, RequesterField};
use crate::location::Location;
use crate::validate::{Line, Outcome};
use accounts::{CellValue, Content, DataRow, FIRST_DATA_ROW, Mark};
use lists::Lists;
use rust_xlsxwriter::{ColNum, ExcelDateTime, Format, RowNum, Workbook, Worksheet, XlsxError};
use std::path::{Path, PathBuf};
use style::Styles;

pub use roles::{PersonRoles, ROLES_SHEET};

/// Why a workbook could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The workbook could not be built (a limit of the xlsx format was hit).
    #[error("cannot build the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The deflate level of every part of a long result workbook (see `new_workbook`).
const ZIP_LEVEL: u8 = 2;
/// The deflate level of every part of a short one (no list sheet streamed; see
/// `Book::zip_level`).
const SHORT_ZIP_LEVEL: u8 = 1;
/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;
/// Excel's last row.
const MAX_ROW: u32 = 1_048_576;
/// Lines further down than this, or than twice the number of lines read if that is more,
/// are renumbered: every row down to the last line is formatted, so a hostile file with one
/// line on row 1,000,000 must not make the result a million formatted rows, while a long
/// worksheet (up to the line cap, `[limits] max_lines`) with a few blank rows between its
/// lines keeps its rows (`Accounts!E12` in the Problems sheet stays the cell highlighted).
const MAX_KEPT_ROW: u32 = 10_000;

/// The last row a result keeps lines on, for `lines` lines: the formatted rows stay within
/// twice the lines read.
fn kept_row_limit(lines: usize) -> u32 {
    MAX_KEPT_ROW.max(u32::try_from(lines.saturating_mul(2)).unwrap_or(u32::MAX))
}

/// The text cut to what one cell can hold (a hostile ODS cell may hold more).
pub(crate) fn clip(text: &str) -> &str {
    clip_to(text, MAX_CELL_CHARS)
}

/// The text cut to `max` UTF-16 units, the unit Excel counts its limits in.
pub(crate) fn clip_to(text: &str, max: usize) -> &str {
    // A char takes at least as many UTF-8 bytes as UTF-16 units: a text of at most `max`
    // bytes fits whatever it holds.
    if text.len() <= max {
        return text;
    }
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &text[..at];
        }
    }
    text
}

/// Writes `value` as a string cell, never as a formula or a number.
pub(crate) fn text(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    value: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, col, clip(value), format)?;
    Ok(())
}

/// Writes `value` as a string cell with no format of its own, for a caller that formats
/// the range after (`accounts::format_runs`); true when a cell was written (an empty text
/// writes none: the range's format makes it a formatted blank).
pub(crate) fn plain(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    value: &str,
) -> Result<bool, XlsxError> {
    if value.is_empty() {
        return Ok(false);
    }
    ws.write_string(row, col, clip(value))?;
    Ok(true)
}

/// [`plain`] for a text the caller owns: moved into the cell, not copied, unless it must
/// be cut.
pub(crate) fn owned(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    value: String,
) -> Result<bool, XlsxError> {
    if clip(&value).len() < value.len() {
        return plain(ws, row, col, &value);
    }
    if value.is_empty() {
        return Ok(false);
    }
    ws.write_string(row, col, value)?;
    Ok(true)
}

/// Sets a row's height so that wrapped text shows whole: LibreOffice does not grow rows
/// of a file it opens, and Excel only sometimes does. `cells` holds each wrapped text of
/// the row with its column width in characters.
pub(crate) fn fit_row(
    ws: &mut Worksheet,
    row: RowNum,
    cells: &[(&str, f64)],
) -> Result<(), XlsxError> {
    fit_lines(ws, row, row_lines(cells))
}

/// [`fit_row`] for a row whose tallest cell wraps to `lines` lines.
fn fit_lines(ws: &mut Worksheet, row: RowNum, lines: usize) -> Result<(), XlsxError> {
    if lines > 1 {
        ws.set_row_height(row, 15.0 * lines.min(400) as f64)?;
    }
    Ok(())
}

/// The lines the tallest of `cells` wraps to (at least 1), for [`fit_row`].
fn row_lines(cells: &[(&str, f64)]) -> usize {
    cells
        .iter()
        .map(|(text, width)| {
            // Proportional text runs a little narrower than the width's "0" digits.
            let per_line = (width * 1.1).max(1.0) as usize;
            // Most cells are one short line: no more bytes than a line holds characters.
            if text.len() <= per_line && !text.contains('\n') {
                return 1;
            }
            text.lines()
                .map(|l| l.chars().count().div_ceil(per_line).max(1))
                .sum::<usize>()
        })
        .max()
        .unwrap_or(1)
        .max(1)
}

/// Print layout of a list sheet (Accounts, Problems, Change set): landscape, one page wide
/// and as many pages long as needed, the heading row on every page, the sheet's name and
/// page numbers in the footer, so that a printed list reads without a magnifier.
pub(crate) fn print_as_list(ws: &mut Worksheet, header: RowNum) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(header, header)?;
    ws.set_print_gridlines(true);
    ws.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
    ws.set_footer("&L&A&RPage &P of &N");
    Ok(())
}

/// Print layout of a one-page sheet (Summary): portrait, fitted onto one page.
pub(crate) fn print_as_page(ws: &mut Worksheet) {
    ws.set_portrait();
    ws.set_print_fit_to_pages(1, 1);
    ws.set_margins(0.6, 0.6, 0.75, 0.75, 0.3, 0.3);
}

/// Saves a workbook's bytes to `path`.
pub(crate) fn save(bytes: &[u8], path: &Path) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the result workbook of a submission to `path`.
pub fn write_result(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    path: &Path,
) -> Result<(), ReportError> {
    save(&result_bytes(outcome, changeset, catalog)?, path)
}

/// The result workbook of a submission, as xlsx bytes (for attaching to an email).
pub fn result_bytes(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
) -> Result<Vec<u8>, ReportError> {
    result_bytes_with_roles(outcome, changeset, catalog, None)
}

/// What is the same in every result workbook of one catalog, built once per run and shared
/// by every submission (and every thread: it is `Send + Sync`): the cell formats and the
/// drop-down lists. A worksheet cannot be copied from one rust_xlsxwriter workbook into
/// another, so each workbook still writes its own sheets from these.
pub struct Kit {
    styles: Styles,
    lists: Lists,
}

// `para` runs submissions on several threads, all sharing one kit.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Kit>();
};

impl Kit {
    /// The kit for this catalog.
    pub fn new(catalog: &Catalog) -> Kit {
        Kit {
            styles: Styles::new(),
            lists: Lists::from_catalog(catalog),
        }
    }
}

/// The result workbook with a `Roles` sheet (each person's roles before and after) when the
/// submission was diffed against the account state.
pub fn result_bytes_with_roles(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    roles: Option<&[PersonRoles]>,
) -> Result<Vec<u8>, ReportError> {
    result_bytes_with_kit(outcome, changeset, catalog, roles, &Kit::new(catalog))
}

/// [`result_bytes_with_roles`] with the parts built once per run (`kit`, made from the same
/// catalog).
pub fn result_bytes_with_kit(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    roles: Option<&[PersonRoles]>,
    kit: &Kit,
) -> Result<Vec<u8>, ReportError> {
    workbook_bytes(outcome, changeset, catalog, roles, kit, None)
}

/// The result workbook of the "done" email: the Accounts sheet with a Done column, each
/// line's text looked up by its location as received (`Accounts!A9`); a line not in `done`
/// has an empty cell.
pub fn done_bytes(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    done: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<u8>, ReportError> {
    let kit = Kit::new(catalog);
    workbook_bytes(outcome, changeset, catalog, None, &kit, Some(done))
}

/// [`result_bytes_with_kit`], with `beside` run on a second thread while a long result's
/// workbook is saved: rust_xlsxwriter deflates every part in turn on one thread (454 M
/// instructions at 10,000 lines, a fifth of a `process` run), with the other core idle.
/// A short result is saved first and `beside` runs after, on this thread, as two calls
/// would. `beside` runs only once every sheet is written: an error comes with what
/// `beside` gave if it ran (the sheets were written, but saving them failed).
pub fn result_bytes_with_kit_beside<R: Send>(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    roles: Option<&[PersonRoles]>,
    kit: &Kit,
    beside: impl FnOnce() -> R + Send,
) -> Result<(Vec<u8>, R), (ReportError, Option<R>)> {
    let (wb, long) =
        written(outcome, changeset, catalog, roles, kit, None).map_err(|e| (e, None))?;
    let (bytes, other) = if long {
        std::thread::scope(|scope| {
            let other = scope.spawn(beside);
            let bytes = save_bytes(wb);
            match other.join() {
                Ok(other) => (bytes, other),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    } else {
        let bytes = save_bytes(wb);
        (bytes, beside())
    };
    match bytes {
        Ok(bytes) => Ok((bytes, other)),
        Err(e) => Err((e, Some(other))),
    }
}

fn workbook_bytes(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    roles: Option<&[PersonRoles]>,
    kit: &Kit,
    done: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<Vec<u8>, ReportError> {
    let (wb, _) = written(outcome, changeset, catalog, roles, kit, done)?;
    save_bytes(wb)
}

fn save_bytes(mut wb: Workbook) -> Result<Vec<u8>, ReportError> {
    Ok(wb.save_to_buffer()?)
}

/// The workbook with every sheet written, not yet saved, and whether the result is long
/// (its Accounts sheet streamed, and written on two threads).
fn written(
    outcome: &Outcome,
    changeset: &ChangeSet,
    catalog: &Catalog,
    roles: Option<&[PersonRoles]>,
    kit: &Kit,
    done: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<(Workbook, bool), ReportError> {
    let content = result_content(outcome, catalog, done);
    let book = Book::new(outcome, changeset, catalog, kit);
    let mut wb = new_workbook(changeset, catalog, book.zip_level(&content));
    // A long Accounts sheet and the Change set are written on two threads (and a Roles
    // sheet on a third). The content is freed once written (`Book::write`).
    let two_threads = content.streamed;
    book.write(&mut wb, roles, content, two_threads)?;
    Ok((wb, two_threads))
}

/// The Accounts sheet of a result, with the Done column when `done` is given.
fn result_content<'a>(
    outcome: &'a Outcome,
    catalog: &Catalog,
    done: Option<&std::collections::BTreeMap<String, String>>,
) -> Content<'a> {
    let mut content = accounts_content(outcome, catalog);
    if let Some(done) = done {
        content.with_done = true;
        for (row, line) in content.rows.iter_mut().zip(&outcome.lines) {
            row.done = done
                .get(&line.row.location.to_string())
                .cloned()
                .unwrap_or_default();
        }
    }
    let last_row = content.rows.last().map_or(0, |r| r.row as usize);
    content.streamed = streams(last_row);
    content
}

/// A workbook with the result's properties and deflate `level`.
fn new_workbook(changeset: &ChangeSet, catalog: &Catalog, level: u8) -> Workbook {
    let mut wb = Workbook::new();
    wb.set_zip_compression_level(level);
    wb.set_properties(
        &created(rust_xlsxwriter::DocProperties::new(), changeset)
            .set_title(format!(
                "Result of Alma staff accounts request {}",
                changeset.submission.id
            ))
            .set_author("Rolecall")
            .set_custom_property("rolecall_catalog_version", catalog.version.as_str())
            .set_custom_property("rolecall_submission", changeset.submission.id.as_str()),
    );
    wb
}

/// Where each sheet of a result workbook is, by index.
const SUMMARY: usize = 0;
const ACCOUNTS: usize = 1;
const PROBLEMS: usize = 2;
const CHANGES: usize = 3;

/// What a result workbook's sheets are written from.
struct Book<'a> {
    outcome: &'a Outcome,
    changeset: &'a ChangeSet,
    catalog: &'a Catalog,
    kit: &'a Kit,
    /// The Problems sheet's rows: every finding, each once.
    problems: usize,
}

impl<'a> Book<'a> {
    fn new(
        outcome: &'a Outcome,
        changeset: &'a ChangeSet,
        catalog: &'a Catalog,
        kit: &'a Kit,
    ) -> Self {
        Book {
            outcome,
            changeset,
            catalog,
            kit,
            problems: outcome.all_findings().count(),
        }
    }

    /// The deflate level of this result: [`SHORT_ZIP_LEVEL`] when none of its list sheets
    /// is long enough to be streamed, else [`ZIP_LEVEL`].
    ///
    /// Level 2 is zlib-rs's greedy matcher (`deflate_fast`, dynamic trees). Level 3 (its
    /// `deflate_medium`) took 800 M of the 3.5 G instructions of a 10,000-line `process`,
    /// level 2 takes 430 M for a file 10 % larger (1.94 to 2.13 MB); level 1
    /// (`deflate_quick`, static trees only) saves 220 M more but makes it 45 % larger. A
    /// short result is 21 zip parts of 0.4 to 19 KB each, and building two Huffman trees per
    /// part was a quarter of its deflate time: level 1 makes the bench form's result
    /// 19.8 KB -> 23.6 KB and its `process` 13 % fewer instructions (docs/benchmarks.md,
    /// branch `forms`, round 5).
    fn zip_level(&self, content: &Content) -> u8 {
        let long =
            content.streamed || streams(self.problems) || streams(self.changeset.operations.len());
        if long { ZIP_LEVEL } else { SHORT_ZIP_LEVEL }
    }

    /// Adds every sheet in its place, then writes them: the body of the Accounts sheet and
    /// the Change set on two threads when `two_threads`, else one after the other. Either
    /// way the file is the same, byte for byte.
    ///
    /// The Accounts content is freed as soon as its sheet is written (some 47 MB at
    /// 100,000 lines): on one thread after all the sheets, just before saving, as before
    /// (where it is freed moves glibc's mmap threshold for the rest of a run, and with it
    /// a run of forms' CPU and peak memory: `docs/benchmarks.md`, "Latest figures: the
    /// fourth round"); on two, by the Accounts thread once its body is written.
    fn write(
        &self,
        wb: &mut Workbook,
        roles: Option<&[PersonRoles]>,
        content: Content<'_>,
        two_threads: bool,
    ) -> Result<(), XlsxError> {
        let Kit { styles, lists } = self.kit;
        let changeset = self.changeset;
        let ops = changeset.operations.len();
        wb.add_worksheet();
        let last_row = content.rows.last().map_or(0, |r| r.row as usize);
        list_sheet(wb, last_row)?;
        list_sheet(wb, self.problems)?;
        list_sheet(wb, ops)?;
        if let Some(people) = roles {
            list_sheet(wb, people.len())?;
        }
        let ws = wb.worksheet_from_index(SUMMARY)?;
        summary::write(ws, self.outcome, changeset, self.catalog, styles)?;
        let ws = wb.worksheet_from_index(ACCOUNTS)?;
        accounts::write_head(ws, self.catalog, lists, styles, &content)?;
        // A streamed sheet gives each format its index in the workbook's table when it
        // first names it, so two streamed sheets written at once would number their
        // formats in whichever order the threads ran. Registered first, in the order one
        // thread would name them, every format keeps the index it has when the sheets are
        // written one after the other (`Workbook::register_format` is there for this).
        if !two_threads {
            accounts::write_body(ws, lists, styles, &content)?;
        } else if content.streamed {
            for format in accounts::body_formats(styles, &content) {
                wb.register_format(format);
            }
        }
        let ws = wb.worksheet_from_index(PROBLEMS)?;
        problems::write(ws, self.outcome, self.catalog, styles)?;
        if !two_threads {
            changes::write(wb.worksheet_from_index(CHANGES)?, changeset, styles)?;
        } else {
            if content.streamed && streams(ops) {
                for format in changes::formats(changeset, styles) {
                    wb.register_format(format);
                }
            }
            if roles.is_some_and(|people| streams(people.len())) {
                for format in roles::formats(styles) {
                    wb.register_format(format);
                }
            }
            self.bodies(wb, content, roles)?;
            return self.kit.lists.write(wb.add_worksheet(), styles);
        }
        self.tail(wb, roles)?;
        drop(content);
        Ok(())
    }

    /// The sheets after the Change set: Roles (with a state), then Lists.
    fn tail(&self, wb: &mut Workbook, roles: Option<&[PersonRoles]>) -> Result<(), XlsxError> {
        let styles = &self.kit.styles;
        if let Some(people) = roles {
            roles::write(wb.worksheet_from_index(CHANGES + 1)?, people, styles)?;
        }
        self.kit.lists.write(wb.add_worksheet(), styles)
    }

    /// The body of the Accounts sheet and the Change set sheet, on two threads, and the
    /// Roles sheet (with a state) on a third. Writing the Change set costs more than the
    /// Accounts body (at 10,000 lines 890 M instructions against 550 M), so the Accounts
    /// thread also makes the Change set's rows (their texts and heights, `changes::Row`)
    /// and sends them to the other a chunk at a time. The Roles sheet, as long as the
    /// others with a state, would otherwise follow them.
    fn bodies(
        &self,
        wb: &mut Workbook,
        content: Content<'_>,
        roles: Option<&[PersonRoles]>,
    ) -> Result<(), XlsxError> {
        let Kit { styles, lists } = self.kit;
        let changeset = self.changeset;
        let (head, tail) = wb.worksheets_mut().split_at_mut(CHANGES);
        let (Some(accounts), Some((changes, rest))) =
            (head.get_mut(ACCOUNTS), tail.split_first_mut())
        else {
            return Err(XlsxError::UnknownWorksheetNameOrIndex(CHANGES.to_string()));
        };
        let people = roles.zip(rest.first_mut());
        let ops = &changeset.operations[..];
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(ROW_CHUNKS_AHEAD);
            let body = scope.spawn(move || {
                let body = accounts::Body::new(styles, &content);
                let written = accounts_and_rows(accounts, lists, body, ops, sender);
                drop(content);
                written
            });
            let roles = people.map(|(people, ws)| scope.spawn(|| roles::write(ws, people, styles)));
            let rows = Received::new(receiver, ops);
            // Returning drops the receiver, which stops the other thread's rows.
            let mut written = changes::write_rows(changes, changeset, styles, rows);
            for thread in std::iter::once(body).chain(roles) {
                match thread.join() {
                    Ok(sheet) => written = written.and(sheet),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            written
        })
    }
}

/// Operations in one chunk of the Change set's rows sent from the Accounts thread, and the
/// chunks that may wait to be written: enough that the Change set never waits, few enough
/// that the rows waiting stay small beside the sheet (some 500 rows of 11 short texts).
const ROW_CHUNK: usize = 128;
const ROW_CHUNKS_AHEAD: usize = 4;
/// Accounts steps (a line's row, or a run of blank rows) written between two tries at
/// sending a chunk when the Change set's thread is behind.
const ACCOUNTS_STEPS: usize = 32;

/// On the Accounts thread: the Change set's rows made in order and sent, and the Accounts
/// body written whenever the other thread has enough rows waiting. An error in the body
/// stops the rows (the other thread makes its own from there); the other thread gone stops
/// them too, and the body is finished alone.
fn accounts_and_rows(
    ws: &mut Worksheet,
    lists: &Lists,
    mut body: accounts::Body,
    ops: &[crate::changeset::Operation],
    sender: std::sync::mpsc::SyncSender<Vec<changes::Row>>,
) -> Result<(), XlsxError> {
    use std::sync::mpsc::TrySendError;
    let mut rows_left = true;
    'chunks: for chunk in ops.chunks(ROW_CHUNK) {
        let mut rows: Vec<changes::Row> = chunk.iter().map(changes::Row::of).collect();
        loop {
            match sender.try_send(rows) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => break 'chunks,
                Err(TrySendError::Full(back)) if rows_left => {
                    rows = back;
                    rows_left = body.write_rows(ws, ACCOUNTS_STEPS)?;
                }
                Err(TrySendError::Full(back)) => match sender.send(back) {
                    Ok(()) => break,
                    Err(_) => break 'chunks,
                },
            }
        }
    }
    drop(sender);
    body.finish(ws, lists)
}

/// The Change set's rows as the Accounts thread sends them, in order; once it sends no
/// more (every row sent, or it stopped), the rest are made here.
struct Received<'a> {
    receiver: std::sync::mpsc::Receiver<Vec<changes::Row>>,
    chunk: std::vec::IntoIter<changes::Row>,
    ops: &'a [crate::changeset::Operation],
    /// Rows given so far.
    given: usize,
    /// The sender is gone.
    alone: bool,
}

impl<'a> Received<'a> {
    fn new(
        receiver: std::sync::mpsc::Receiver<Vec<changes::Row>>,
        ops: &'a [crate::changeset::Operation],
    ) -> Received<'a> {
        Received {
            receiver,
            chunk: Vec::new().into_iter(),
            ops,
            given: 0,
            alone: false,
        }
    }
}

impl Iterator for Received<'_> {
    type Item = changes::Row;

    fn next(&mut self) -> Option<changes::Row> {
        loop {
            if let Some(row) = self.chunk.next() {
                self.given += 1;
                return Some(row);
            }
            if self.alone {
                let op = self.ops.get(self.given)?;
                self.given += 1;
                return Some(changes::Row::of(op));
            }
            match self.receiver.recv() {
                Ok(chunk) => self.chunk = chunk.into_iter(),
                Err(_) => self.alone = true,
            }
        }
    }
}

/// The workbook's creation time: when the submission was processed (the run's clock, so
/// `ROLECALL_NOW` fixes it too, and two runs of one input write the same bytes), else now.
fn created(
    properties: rust_xlsxwriter::DocProperties,
    changeset: &ChangeSet,
) -> rust_xlsxwriter::DocProperties {
    let when = changeset.submission.processed_at.parse::<jiff::Timestamp>();
    match when.map(|t| ExcelDateTime::from_timestamp(t.as_second())) {
        Ok(Ok(when)) => properties.set_creation_datetime(&when),
        _ => properties,
    }
}

/// Rows from which a list sheet is written row by row (rust_xlsxwriter's constant-memory
/// mode: each row goes to a temporary file once the next one starts) instead of kept in
/// memory until the workbook is saved: in memory, 100,000 lines cost some 400 MB, while
/// below this a temporary file per sheet costs more than it saves.
const STREAMED_ROWS: usize = 2_000;

/// Whether a list sheet of `rows` rows is written row by row.
fn streams(rows: usize) -> bool {
    rows >= STREAMED_ROWS
}

/// A new list sheet (Accounts, Problems, Change set, Roles) for `rows` rows. Every list
/// sheet writes its rows top to bottom, as constant-memory mode requires; the hidden
/// Lists sheet (written column by column) and the Summary stay in memory.
fn list_sheet(wb: &mut Workbook, rows: usize) -> Result<&mut Worksheet, XlsxError> {
    if streams(rows) {
        wb.add_worksheet_with_constant_memory()
    } else {
        Ok(wb.add_worksheet())
    }
}

/// Where a finding points in the Accounts sheet as Rolecall writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spot {
    /// A field of a line (index into `outcome.lines`).
    Cell(usize, Field),
    /// A line as a whole.
    Line(usize),
}

/// The requester field a finding is about, by its location, else by its rule.
fn requester_spot(finding: &Finding, document: &Document) -> Option<RequesterField> {
    use crate::finding::Rule;
    for field in RequesterField::ALL {
        if document
            .requester(field)
            .is_some_and(|v| v.location == finding.location)
        {
            return Some(field);
        }
    }
    // An empty requester cell of Rolecall's own layout (nothing was read there).
    if let Location::Cell { sheet, row, col: 2 } = &finding.location
        && document.sheet.as_deref() == Some(&**sheet)
        && let Some(field) = RequesterField::ALL
            .into_iter()
            .find(|f| f.template_row() == *row)
    {
        return Some(field);
    }
    match finding.rule {
        Rule::NotCoordinator => Some(RequesterField::Email),
        Rule::CatalogVersion => Some(RequesterField::CatalogVersion),
        Rule::RequesterMissing => Some(if document.requester(RequesterField::Name).is_none() {
            RequesterField::Name
        } else {
            RequesterField::Email
        }),
        _ => None,
    }
}

/// The line and field a finding is about.
fn line_spot(finding: &Finding, lines: &[Line], document: &Document) -> Option<Spot> {
    for (i, line) in lines.iter().enumerate() {
        if let Some((field, _)) = line
            .row
            .values
            .iter()
            .find(|(_, v)| v.location == finding.location)
        {
            return Some(Spot::Cell(i, *field));
        }
    }
    match &finding.location {
        // An empty cell: the finding names its column, the document says which field that is.
        Location::Cell { sheet, row, col } => {
            let i = lines.iter().position(|l| match &l.row.location {
                Location::Row { sheet: s, row: r } => s == sheet && r == row,
                _ => false,
            })?;
            let field = document
                .columns
                .iter()
                .find(|(_, c)| *c == col)
                .map(|(f, _)| *f);
            Some(field.map_or(Spot::Line(i), |f| Spot::Cell(i, f)))
        }
        location => lines
            .iter()
            .position(|l| l.row.location == *location)
            .map(Spot::Line),
    }
}

/// Rows the lines are written on: the rows they came from when the submission used
/// Rolecall's layout (so `Accounts!E12` in the Problems sheet is the highlighted cell),
/// else one after the other from the first data row.
fn plan_rows(outcome: &Outcome) -> Vec<u32> {
    let own_layout = outcome.document.header_row == Some(HEADER_ROW);
    let kept: Option<Vec<u32>> = outcome
        .lines
        .iter()
        .map(|l| match &l.row.location {
            Location::Row { row, .. } if (FIRST_DATA_ROW..=MAX_ROW).contains(row) => Some(*row),
            _ => None,
        })
        .collect();
    match kept {
        Some(rows)
            if own_layout
                && rows.windows(2).all(|w| w[0] < w[1])
                && rows
                    .last()
                    .is_none_or(|last| *last <= kept_row_limit(rows.len())) =>
        {
            rows
        }
        _ => (0..outcome.lines.len() as u32)
            .map(|i| FIRST_DATA_ROW + i)
            .collect(),
    }
}

/// A value as it goes back into the sheet: dates as dates, everything else as text (so a
/// numeric primary ID stays `00123`-safe text from now on).
fn cell_value(value: &crate::document::Value) -> CellValue<'_> {
    if value.kind == ValueKind::Date
        && let Ok(date) = value.text.parse::<jiff::civil::Date>()
        && let (Ok(y), Ok(m), Ok(d)) = (
            u16::try_from(date.year()),
            u8::try_from(date.month()),
            u8::try_from(date.day()),
        )
        && let Ok(dt) = ExcelDateTime::from_ymd(y, m, d)
    {
        return CellValue::Date(dt);
    }
    CellValue::Text(&value.text)
}

/// One line of the Messages column.
fn message_line(finding: &Finding) -> String {
    match &finding.suggestion {
        Some(s) => format!("{}: {} ({s})", finding.severity, finding.message),
        None => format!("{}: {}", finding.severity, finding.message),
    }
}

/// The Accounts sheet of the result: the lines as received, marked.
fn accounts_content<'a>(outcome: &'a Outcome, catalog: &Catalog) -> Content<'a> {
    let document = &outcome.document;
    let rows = plan_rows(outcome);
    let mut data: Vec<DataRow> = outcome
        .lines
        .iter()
        .zip(&rows)
        .map(|(line, row)| DataRow {
            row: *row,
            cells: line
                .row
                .values
                .iter()
                .map(|(f, v)| (*f, cell_value(v)))
                .collect(),
            status: Some(line.status),
            ..DataRow::default()
        })
        .collect();
    let mut content = Content {
        requester: document
            .requester
            .iter()
            .map(|(f, v)| (*f, v.text.clone()))
            .collect(),
        with_status: true,
        ..Content::default()
    };
    let mut requester_marks = std::collections::BTreeMap::<RequesterField, Option<Mark>>::new();
    let mut cell_marks = std::collections::BTreeMap::<(usize, Field), Option<Mark>>::new();
    let mut messages: Vec<Vec<String>> = vec![Vec::new(); data.len()];

    let suggestion = |f: &Finding| f.suggestion.clone().unwrap_or_default();
    for finding in &outcome.findings {
        if let Some(field) = requester_spot(finding, document) {
            let slot = requester_marks.entry(field).or_default();
            Mark::add(
                slot,
                finding.severity,
                &finding.message,
                &suggestion(finding),
            );
        } else if let Some(spot) = line_spot(finding, &outcome.lines, document) {
            mark_line(spot, finding, &mut cell_marks, &mut messages);
        }
    }
    for (i, line) in outcome.lines.iter().enumerate() {
        for finding in &line.findings {
            let spot = match line_spot(finding, std::slice::from_ref(line), document) {
                Some(Spot::Cell(_, f)) => Spot::Cell(i, f),
                _ => Spot::Line(i),
            };
            mark_line(spot, finding, &mut cell_marks, &mut messages);
        }
        if let (Some(first), Some(list)) = (&line.rejected_with, messages.get_mut(i)) {
            list.push(format!(
                "error: rejected for the problem with this person reported on its first line ({}).",
                crate::layout::form::place(first, catalog)
            ));
        }
    }
    for ((i, field), mark) in cell_marks {
        if let (Some(row), Some(mark)) = (data.get_mut(i), mark) {
            row.marks.insert(field, mark);
        }
    }
    for (row, lines) in data.iter_mut().zip(messages) {
        row.messages = lines.join("\n");
    }
    content.requester_marks = requester_marks
        .into_iter()
        .filter_map(|(f, m)| m.map(|m| (f, m)))
        .collect();
    content.rows = data;
    content
}

fn mark_line(
    spot: Spot,
    finding: &Finding,
    cell_marks: &mut std::collections::BTreeMap<(usize, Field), Option<Mark>>,
    messages: &mut [Vec<String>],
) {
    let (Spot::Cell(i, _) | Spot::Line(i)) = spot;
    if let Some(list) = messages.get_mut(i) {
        list.push(message_line(finding));
    }
    if let Spot::Cell(i, field) = spot {
        let slot = cell_marks.entry((i, field)).or_default();
        let suggestion = finding.suggestion.clone().unwrap_or_default();
        Mark::add(slot, finding.severity, &finding.message, &suggestion);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::document::{RequestRow, Value};

    /// A worksheet of `lines` lines for the bundled catalog, on rows 9 and down with a
    /// blank row after every 100th: profiles with a desk, two roles in a cell, an expiry
    /// date; every 7th line names a role the catalog does not have, every 11th has no
    /// email, every 13th an expiry in the past.
    fn long_document(lines: u32) -> Document {
        let sheet: std::sync::Arc<str> = "Accounts".into();
        let at = |row, field: Field| Location::Cell {
            sheet: sheet.clone(),
            row,
            col: field.template_col(),
        };
        let value = |row, field, text: &str, kind| Value {
            text: text.into(),
            location: at(row, field),
            kind,
        };
        let mut document = Document {
            sheet: Some(sheet.to_string()),
            header_row: Some(HEADER_ROW),
            columns: Field::ALL.iter().map(|f| (*f, f.template_col())).collect(),
            ..Document::default()
        };
        for (field, text) in [
            (RequesterField::Name, "Dana Whitfield"),
            (RequesterField::Email, "dwhitfield@gcsu.example.edu"),
            (RequesterField::Institution, "01FALSC_GCSU"),
        ] {
            let location = Location::Cell {
                sheet: sheet.clone(),
                row: field.template_row(),
                col: 2,
            };
            let kind = ValueKind::Text;
            let text = text.into();
            document.requester.insert(
                field,
                Value {
                    text,
                    location,
                    kind,
                },
            );
        }
        for i in 0..lines {
            let row = FIRST_DATA_ROW + i + i / 100;
            let values = long_line(i);
            document.rows.push(RequestRow {
                location: Location::Row {
                    sheet: sheet.clone(),
                    row,
                },
                values: values
                    .into_iter()
                    .map(|(f, t, kind)| (f, value(row, f, &t, kind)))
                    .collect(),
            });
        }
        document
    }

    /// The values of line `i` of [`long_document`].
    fn long_line(i: u32) -> Vec<(Field, String, ValueKind)> {
        let text = ValueKind::Text;
        let mut values = vec![
            (Field::Action, "Add".to_string(), text),
            (Field::PrimaryId, format!("{:08}", 1_000_000 + i), text),
            (Field::LastName, "Alvarez".into(), text),
            (Field::FirstName, "Sam".into(), text),
        ];
        if !i.is_multiple_of(11) {
            values.push((Field::Email, format!("s{i}@gcsu.example.edu"), text));
        }
        let role = match i % 7 {
            0 => "Chief Wizard",
            _ => "Cataloger; Physical Inventory Operator",
        };
        match i % 3 {
            0 => values.extend([
                (Field::Profile, "Circulation Student Worker".into(), text),
                (Field::Library, "MAIN".into(), text),
                (Field::Unit, "DEFAULT_CIRC_DESK".into(), text),
            ]),
            _ => values.extend([
                (Field::Role, role.into(), text),
                (Field::Library, "LAW".into(), text),
            ]),
        }
        let expiry = if i.is_multiple_of(13) {
            "2020-01-31"
        } else {
            "2027-06-30"
        };
        values.push((Field::Expiry, expiry.into(), ValueKind::Date));
        values
    }

    /// The result workbook of `outcome`, its sheets written on one thread or two.
    fn bytes(
        (outcome, changeset): (&Outcome, &ChangeSet),
        catalog: &Catalog,
        roles: Option<&[PersonRoles]>,
        two: bool,
    ) -> Vec<u8> {
        let kit = Kit::new(catalog);
        let mut wb = new_workbook(changeset, catalog, ZIP_LEVEL);
        // The file's creation time is the clock's: the same in both.
        let created = ExcelDateTime::from_ymd(2026, 11, 24).unwrap();
        let properties = rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created);
        wb.set_properties(&properties);
        let content = result_content(outcome, catalog, None);
        let book = Book::new(outcome, changeset, catalog, &kit);
        book.write(&mut wb, roles, content, two).unwrap();
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn a_long_result_is_the_same_file_on_two_threads_as_on_one() {
        let catalog = crate::catalog::bundled();
        let today = jiff::civil::date(2026, 11, 24);
        let outcome = crate::validate::validate(long_document(2_500), &catalog, today);
        let counts = outcome.counts();
        // Every kind of line, so that every format of a data row is used.
        assert!(counts.accepted > 0 && counts.rejected > 0, "{counts:?}");
        let info = long_info();
        let changeset = crate::changeset::build(&outcome, info, &catalog.version);
        // Both long sheets are streamed, each numbering formats as it first names them.
        assert!(streams(changeset.operations.len()) && streams(outcome.lines.len()));
        let one = bytes((&outcome, &changeset), &catalog, None, false);
        let two = bytes((&outcome, &changeset), &catalog, None, true);
        assert!(one == two, "the files differ");
        // With a state, the Roles sheet too: streamed, on a third thread.
        let people = people_roles(2_500);
        assert!(streams(people.len()));
        let one = bytes((&outcome, &changeset), &catalog, Some(&people), false);
        let two = bytes((&outcome, &changeset), &catalog, Some(&people), true);
        assert!(one == two, "the files with a Roles sheet differ");
        assert!(one.len() > bytes((&outcome, &changeset), &catalog, None, true).len());
        // An empty change set names no wrapped format before the Roles sheet does.
        let mut nothing = changeset.clone();
        nothing.operations.clear();
        let one = bytes((&outcome, &nothing), &catalog, Some(&people), false);
        let two = bytes((&outcome, &nothing), &catalog, Some(&people), true);
        assert!(one == two, "the files with an empty change set differ");
    }

    /// The provenance of the long test documents' change sets.
    fn long_info() -> crate::changeset::SubmissionInfo {
        crate::changeset::SubmissionInfo {
            id: "20261124-0123456789".into(),
            source: "long.xlsx".into(),
            sha256: String::new(),
            processed_at: "2026-11-24T15:00:00Z".into(),
            requester_name: None,
            requester_email: None,
        }
    }

    /// `n` people's roles before and after, some with none on one side.
    fn people_roles(n: usize) -> Vec<PersonRoles> {
        let role = |i: usize| format!("Cataloger (204) at MAIN, until 2027-0{}-30", 1 + i % 9);
        (0..n)
            .map(|i| PersonRoles {
                institution: "01FALSC_GCSU".into(),
                primary_id: format!("gc{i:05}"),
                name: format!("Person {i}"),
                before: (0..i % 3).map(role).collect(),
                after: (0..1 + i % 2).map(role).collect(),
            })
            .collect()
    }

    #[test]
    fn the_change_sets_rows_are_all_given_in_order_when_the_other_thread_stops_early() {
        let catalog = crate::catalog::bundled();
        let today = jiff::civil::date(2026, 11, 24);
        let outcome = crate::validate::validate(long_document(40), &catalog, today);
        let info = long_info();
        let ops = crate::changeset::build(&outcome, info, &catalog.version).operations;
        assert!(ops.len() > 10, "{}", ops.len());
        // The Accounts thread sent two chunks, then stopped (an error in its body).
        let (sender, receiver) = std::sync::mpsc::sync_channel(ROW_CHUNKS_AHEAD);
        sender
            .send(ops[..3].iter().map(changes::Row::of).collect())
            .unwrap();
        sender
            .send(ops[3..5].iter().map(changes::Row::of).collect())
            .unwrap();
        drop(sender);
        let given: Vec<changes::Row> = Received::new(receiver, &ops).collect();
        let expected: Vec<changes::Row> = ops.iter().map(changes::Row::of).collect();
        assert_eq!(given.len(), ops.len());
        assert!(given == expected, "a row differs or is out of order");
    }

    #[test]
    fn a_long_result_saved_beside_other_work_is_the_same_file() {
        let catalog = crate::catalog::bundled();
        let today = jiff::civil::date(2026, 11, 24);
        let outcome = crate::validate::validate(long_document(2_500), &catalog, today);
        let info = long_info();
        let changeset = crate::changeset::build(&outcome, info, &catalog.version);
        let kit = Kit::new(&catalog);
        let alone = result_bytes_with_kit(&outcome, &changeset, &catalog, None, &kit).unwrap();
        let ran = std::sync::atomic::AtomicBool::new(false);
        let beside = || ran.store(true, std::sync::atomic::Ordering::SeqCst);
        let saved =
            result_bytes_with_kit_beside(&outcome, &changeset, &catalog, None, &kit, beside);
        let Ok((bytes, ())) = saved else {
            panic!("the workbook was not saved");
        };
        assert!(ran.into_inner(), "the other work did not run");
        assert!(bytes == alone, "the files differ");
    }

    #[test]
    fn a_row_is_as_tall_as_its_most_wrapped_cell() {
        // A width of 10 holds 11 characters a line.
        assert_eq!(row_lines(&[("", 10.0)]), 1);
        assert_eq!(row_lines(&[("abcdefghijk", 10.0)]), 1);
        assert_eq!(row_lines(&[("abcdefghijkl", 10.0)]), 2);
        // Characters, not bytes: 11 "é" are 22 bytes on one line.
        assert_eq!(row_lines(&[("ééééééééééé", 10.0)]), 1);
        // Each line of a cell counts, an empty one too; the tallest cell wins.
        assert_eq!(row_lines(&[("a\nb", 10.0), ("abc", 10.0)]), 2);
        assert_eq!(row_lines(&[("a\n\nabcdefghijkl", 10.0)]), 4);
    }

    #[test]
    fn the_rows_kept_follow_the_lines_read() {
        // A short batch keeps its rows down to row 10,000, blank rows and all.
        assert_eq!(kept_row_limit(5), 10_000);
        // 100,000 lines (the default line cap) keep theirs down to row 200,000, so the rows
        // formatted stay within twice the lines read.
        assert_eq!(kept_row_limit(100_000), 200_000);
        assert_eq!(kept_row_limit(usize::MAX), u32::MAX);
    }

    #[test]
    fn a_text_is_cut_at_the_utf16_units_a_cell_holds() {
        // 4 ASCII letters: 4 units, kept whole at 4, cut to 3 at 3.
        assert_eq!(clip_to("abcd", 4), "abcd");
        assert_eq!(clip_to("abcd", 3), "abc");
        // "é" is 2 bytes but 1 unit: 4 units in 5 bytes fit a limit of 4.
        assert_eq!(clip_to("éabc", 4), "éabc");
        // "😀" is 4 bytes and 2 units: "a😀b" is 4 units; a limit of 2 cannot hold
        // half of the emoji, so only "a" is kept.
        assert_eq!(clip_to("a😀b", 4), "a😀b");
        assert_eq!(clip_to("a😀b", 2), "a");
        assert_eq!(clip_to("a😀b", 3), "a😀");
    }
}
