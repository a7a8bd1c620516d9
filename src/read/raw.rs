//! The dangerous part: calamine turning a workbook file into raw cells, under limits.
//!
//! This is the only code that runs calamine, and the only code the `__read-cells` reader
//! workers run (see [`super::isolate`]). Its output, a [`RawWorkbook`] of sparse cells with
//! their text already normalised, is small, plain and crosses the pipe in a compact binary
//! encoding ([`wire`]), so that header detection
//! and everything after it run in the parent on data that can no longer hurt it.
//!
//! Guards, in the order they apply:
//! 1. file size and, for zip-based formats, the declared uncompressed size of every XML or
//!    binary part (the zip crate refuses to inflate an entry past its declared size, so
//!    declared sizes are a real bound on what calamine can read);
//! 2. `.xlsx`/`.xlsb` sheets are streamed cell by cell into a sparse list, never through
//!    `worksheet_range`, which allocates the dense bounding box (A1 + XFD1048576 = 512 GiB);
//! 3. caps on rows, columns and cells per sheet, and on the number of sheets;
//! 4. `catch_unwind` around every calamine call.
//!
//! `.xls` and `.ods` have no cell streaming in calamine 0.38, so they go through
//! `worksheet_range`; for those, the child process's memory limit is the defence.

pub mod wire;

use super::cell::{self, CellText, Kind};
use crate::document::Format;
use calamine::{Data, Ods, Range, Reader, Xls, Xlsb, Xlsx};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Largest submission file read at all.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest declared uncompressed size of one part (sheet, shared strings, ...) of a zip-based
/// workbook.
pub const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Largest declared uncompressed size of all XML/binary parts together.
pub const MAX_TOTAL_PART_BYTES: u64 = 256 * 1024 * 1024;
/// Columns read per sheet (1-based columns beyond this are not read).
pub const MAX_COLS: u32 = 200;
/// Sheet rows read: all of Excel's. The request-line cap (`[limits] max_lines`) is applied
/// later, on non-blank rows, and [`MAX_CELLS`] is what bounds the memory a sheet takes.
pub const MAX_SHEET_ROWS: u32 = 1_048_576;
/// Non-empty cells read per sheet: 100,000 request lines of 14 cells each, with room to
/// spare (about 60 bytes a cell in the child, so well inside its memory limit).
pub const MAX_CELLS: usize = 2_000_000;
/// Cells looked at past the limits, only to count their rows: enough for a sheet filled to
/// Excel's last row, and a bound on the time a hostile sheet can take.
const MAX_COUNTED_CELLS: u32 = 5_000_000;
/// Sheets read per workbook.
pub const MAX_SHEETS: usize = 100;

/// One non-empty cell: 0-based row and column (absolute: `A1` is `(0, 0)`), kind and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCell(pub u32, pub u32, pub Kind, pub String);

impl RawCell {
    /// 0-based row.
    pub fn row(&self) -> u32 {
        self.0
    }
    /// 0-based column.
    pub fn col(&self) -> u32 {
        self.1
    }
}

/// Why a sheet was not read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overflow {
    /// 0-based row of the first cell that was not read.
    pub row: u32,
    /// 0-based column of the first cell that was not read.
    pub col: u32,
}

/// The cells of one sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RawSheet {
    /// Sheet name as on its tab.
    pub name: String,
    /// Non-empty cells, in row then column order.
    pub cells: Vec<RawCell>,
    /// Set when the sheet holds more than the limits allow.
    pub overflow: Option<Overflow>,
    /// Rows with content past the row or cell limit, counted but not kept, so that the
    /// verdict can say how many request lines were not read.
    #[serde(default)]
    pub rows_not_kept: u32,
    /// Set when the sheet could not be read (a chart sheet, a damaged part).
    pub error: Option<String>,
}

/// The cells of every sheet, in tab order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RawWorkbook {
    /// Sheets in tab order.
    pub sheets: Vec<RawSheet>,
    /// Set when the workbook has more sheets than [`MAX_SHEETS`].
    pub too_many_sheets: bool,
}

/// Whether a failure is about size (limits) or about damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailKind {
    /// Over a size, memory or time limit.
    TooLarge,
    /// Damaged or not what it claims to be.
    Unreadable,
}

/// A workbook that could not be read at all, with a message for its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFailure {
    /// Size or damage.
    pub kind: FailKind,
    /// What to tell the sender.
    pub message: String,
}

impl RawFailure {
    fn too_large(message: impl Into<String>) -> Self {
        RawFailure {
            kind: FailKind::TooLarge,
            message: message.into(),
        }
    }
    fn unreadable(message: impl Into<String>) -> Self {
        RawFailure {
            kind: FailKind::Unreadable,
            message: message.into(),
        }
    }
}

/// What the format is called in messages.
pub fn format_label(format: Format) -> &'static str {
    match format {
        Format::Xlsx | Format::Xlsb => "an Excel workbook",
        Format::Xls => "an Excel 97-2003 workbook",
        Format::Ods => "an OpenDocument spreadsheet",
        Format::Pdf => "a PDF form",
    }
}

fn damaged(format: Format) -> RawFailure {
    RawFailure::unreadable(format!(
        "This file could not be opened as {}: it looks damaged. Save it again from your \
         spreadsheet program and resend it.",
        format_label(format)
    ))
}

fn too_big(what: &str) -> RawFailure {
    RawFailure::too_large(format!(
        "This workbook is too large for Rolecall to read ({what}). A request worksheet is \
         small: copy the request lines into a new Accounts Worksheet and resend it."
    ))
}

/// Reads every sheet's cells, within the limits. Never panics.
pub fn read_raw(path: &Path, format: Format) -> Result<RawWorkbook, RawFailure> {
    read_raw_bytes(&load(path)?, format)
}

/// The file's bytes, refused before reading when it is larger than [`MAX_FILE_BYTES`]: what
/// the reader child is handed (it opens no file itself).
pub fn load(path: &Path) -> Result<Vec<u8>, RawFailure> {
    match crate::fsx::read_capped(path, MAX_FILE_BYTES) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(size)) => Err(too_big(&format!(
            "{} MB; the limit is {} MB",
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ))),
        Err(e) => Err(RawFailure::unreadable(format!(
            "This file could not be read ({e})."
        ))),
    }
}

/// Reads every sheet's cells from a workbook's bytes, within the limits. Never panics.
pub fn read_raw_bytes(bytes: &[u8], format: Format) -> Result<RawWorkbook, RawFailure> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(&format!(
            "more than {} MB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    if matches!(format, Format::Xlsx | Format::Xlsb | Format::Ods) {
        check_zip_parts(bytes, format)?;
    }
    match catch_unwind(AssertUnwindSafe(|| read_unguarded(bytes, format))) {
        Ok(result) => result,
        Err(_) => Err(damaged(format)),
    }
}

/// Refuses zip-based workbooks whose parts declare more than the limits.
fn check_zip_parts(bytes: &[u8], format: Format) -> Result<(), RawFailure> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| damaged(format))?;
    if zip.len() > 20_000 {
        return Err(too_big("too many parts"));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_data(i) else {
            return Err(damaged(format));
        };
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".xml") || lower.ends_with(".bin") || lower.ends_with(".rels")) {
            continue; // pictures and the like are never read
        }
        let size = entry.size();
        if size > MAX_PART_BYTES {
            return Err(too_big(&format!(
                "its part {name} unpacks to {} MB; the limit is {} MB",
                size / (1024 * 1024),
                MAX_PART_BYTES / (1024 * 1024)
            )));
        }
        total = total.saturating_add(size);
    }
    if total > MAX_TOTAL_PART_BYTES {
        return Err(too_big(&format!(
            "it unpacks to {} MB; the limit is {} MB",
            total / (1024 * 1024),
            MAX_TOTAL_PART_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// Streams every sheet cell by cell (never a dense grid). A macro, not a function: calamine's
/// xlsx and xlsb cell readers have the same methods but share no trait.
macro_rules! stream_cells {
    ($wb:ident) => {
        stream_sheets(&$wb.sheet_names(), |name, sink| {
            let mut cells = $wb
                .worksheet_cells_reader(name)
                .map_err(|e| e.to_string())?;
            while let Some(c) = cells.next_cell().map_err(|e| e.to_string())? {
                let (r, col) = c.get_position();
                if !sink.push(r, col, cell::normalize_ref(c.get_value())) {
                    break;
                }
            }
            Ok(())
        })
    };
}

fn read_unguarded(bytes: &[u8], format: Format) -> Result<RawWorkbook, RawFailure> {
    let reader = Cursor::new(bytes);
    match format {
        Format::Xlsx => {
            let mut wb = Xlsx::new(reader).map_err(|_| damaged(format))?;
            Ok(stream_cells!(wb))
        }
        Format::Xlsb => {
            let mut wb = Xlsb::new(reader).map_err(|_| damaged(format))?;
            Ok(stream_cells!(wb))
        }
        Format::Xls => {
            let mut wb = Xls::new(reader).map_err(|_| damaged(format))?;
            Ok(stream_sheets(&wb.sheet_names(), |name, sink| {
                let range = wb.worksheet_range(name).map_err(|e| e.to_string())?;
                range_into(&range, sink);
                Ok(())
            }))
        }
        Format::Ods => {
            let mut wb = Ods::new(reader).map_err(|e| match e {
                calamine::OdsError::CellLimitExceeded { .. } => {
                    too_big("its sheets span more cells than any reader allows")
                }
                _ => damaged(format),
            })?;
            Ok(stream_sheets(&wb.sheet_names(), |name, sink| {
                let range = wb.worksheet_range(name).map_err(|e| e.to_string())?;
                range_into(&range, sink);
                Ok(())
            }))
        }
        // A PDF has no cells: `read::form` reads it (the child process routes it there).
        Format::Pdf => Err(RawFailure::unreadable(
            "A PDF form has no cells: Rolecall reads it as a form, not as a workbook.",
        )),
    }
}

/// Feeds a dense range's used cells to the sink, at absolute positions.
fn range_into(range: &Range<Data>, sink: &mut Sink) {
    // `used_cells` positions are relative to the range, which starts at the first used cell,
    // not at A1.
    let (r0, c0) = range.start().unwrap_or((0, 0));
    for (r, c, v) in range.used_cells() {
        if !sink.push(r0 + r as u32, c0 + c as u32, cell::normalize(v)) {
            break;
        }
    }
}

/// Reads each sheet with `read_sheet`, catching panics per sheet so that one bad sheet does
/// not hide the others.
fn stream_sheets(
    names: &[String],
    mut read_sheet: impl FnMut(&str, &mut Sink) -> Result<(), String>,
) -> RawWorkbook {
    let mut wb = RawWorkbook {
        too_many_sheets: names.len() > MAX_SHEETS,
        ..Default::default()
    };
    for name in names.iter().take(MAX_SHEETS) {
        let mut sink = Sink::default();
        let result = catch_unwind(AssertUnwindSafe(|| read_sheet(name, &mut sink)));
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("the reader failed on this sheet".to_string()),
        };
        let mut cells = sink.cells;
        cells.sort_by_key(|c| (c.0, c.1));
        wb.sheets.push(RawSheet {
            name: name.clone(),
            cells,
            overflow: sink.overflow,
            rows_not_kept: sink.rows_not_kept,
            error,
        });
    }
    wb
}

/// Collects a sheet's cells within the limits, and counts the rows past them.
#[derive(Default)]
struct Sink {
    cells: Vec<RawCell>,
    overflow: Option<Overflow>,
    rows_not_kept: u32,
    last_row_not_kept: Option<u32>,
    cells_counted: u32,
}

impl Sink {
    /// Adds a cell; returns false when reading this sheet should stop.
    fn push(&mut self, row: u32, col: u32, value: Option<CellText>) -> bool {
        let Some(v) = value else {
            return true;
        };
        if row >= MAX_SHEET_ROWS || col >= MAX_COLS || self.cells.len() >= MAX_CELLS {
            if self.overflow.is_none() {
                self.overflow = Some(Overflow { row, col });
            }
            // A wide row may be followed by good rows: go on keeping them.
            if col >= MAX_COLS && row < MAX_SHEET_ROWS && self.cells.len() < MAX_CELLS {
                return true;
            }
            return self.count_not_kept(row);
        }
        self.cells.push(RawCell(row, col, v.kind, v.text));
        true
    }

    /// Counts a row past the limits (cells come in row order for streamed formats, so a
    /// new row number is a new row); false once counting has looked at enough cells.
    fn count_not_kept(&mut self, row: u32) -> bool {
        if self.last_row_not_kept != Some(row) {
            self.last_row_not_kept = Some(row);
            self.rows_not_kept += 1;
        }
        self.cells_counted += 1;
        self.cells_counted < MAX_COUNTED_CELLS
    }
}
