//! The `Accounts` sheet, written the same way for the blank template and for the result
//! workbook, so that a result workbook can be corrected and sent back as a new request.
//!
//! Layout (from [`crate::layout`], documented in `docs/worksheet.md`): title in row 1, the
//! requester block in rows 2-6 (label in A, value in B), the header in row 8, one row per
//! role from row 9. The result workbook puts a Status and a Messages column in front (A and
//! B), where a person reading the answer looks first, and the request's fields after them;
//! the reader finds fields by their headings and ignores Status and Messages, so the result
//! can be corrected and sent back. The blank template has no such columns: a form that
//! opens on two empty columns a requester must not fill would only confuse.

use super::lists::Lists;
use super::style::Styles;
use super::{clip, clip_to, fit_row, plain, text};
use crate::catalog::Catalog;
use crate::finding::Severity;
use crate::layout::{
    ACCOUNTS_SHEET, DONE_HEADER, Field, HEADER_ROW, MESSAGES_HEADER, RequesterField, STATUS_HEADER,
};
use crate::validate::LineStatus;
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, ExcelDateTime, Format, Formula, Note, Worksheet,
    XlsxError,
};
use std::collections::BTreeMap;

/// Empty formatted rows a blank template offers (a coordinator's batch is rarely longer).
/// The drop-downs and the filter of a result reach as far down.
pub const BLANK_ROWS: u32 = 200;
/// Empty formatted rows a result offers below its last line, for the few lines a
/// coordinator adds when sending it back corrected. Fewer than the template's: every
/// formatted cell is written, saved and deflated in every reply (the 200 rows were most of
/// a one-form result's cost), and a cell typed further down still has the column's text or
/// date format and its drop-down, down to row 208; only the grid's border stops.
pub const RESULT_BLANK_ROWS: u32 = 20;
/// 1-based first data row.
pub const FIRST_DATA_ROW: u32 = HEADER_ROW + 1;
/// Last column of the requester block's merged value cells (D), so that an email fits.
const REQUESTER_VALUE_LAST_COL: u16 = 3;

/// What is wrong with one cell: its fill and the text of its note.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// The worst severity of the findings on the cell.
    pub severity: Severity,
    /// Note text: one paragraph per finding.
    pub note: String,
}

impl Mark {
    /// Adds a finding's message (and suggestion) to the mark, keeping the worst severity.
    pub fn add(marks: &mut Option<Mark>, severity: Severity, message: &str, suggestion: &str) {
        let mut para = format!("{}: {message}", capitalised(&severity.to_string()));
        if !suggestion.is_empty() {
            para.push_str(&format!("\nSuggestion: {suggestion}"));
        }
        match marks {
            Some(m) => {
                m.severity = m.severity.max(severity);
                m.note.push_str("\n\n");
                m.note.push_str(&para);
            }
            None => {
                *marks = Some(Mark {
                    severity,
                    note: para,
                })
            }
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A cell value to write.
#[derive(Clone)]
pub enum CellValue<'a> {
    /// Text, written as text whatever it looks like (never a formula, never a number),
    /// borrowed from the line it came from.
    Text(&'a str),
    /// A real date cell.
    Date(ExcelDateTime),
}

/// One data row of the sheet.
#[derive(Clone, Default)]
pub struct DataRow<'a> {
    /// 1-based sheet row.
    pub row: u32,
    /// Values by field, each field once (a list of its own size: a map per row was most of
    /// the result workbook's memory at 100,000 lines).
    pub cells: Vec<(Field, CellValue<'a>)>,
    /// Cells at fault.
    pub marks: BTreeMap<Field, Mark>,
    /// Status (result workbook only).
    pub status: Option<LineStatus>,
    /// Messages column text (result workbook only).
    pub messages: String,
    /// What became of the line in Alma ("done" email's workbook only).
    pub done: String,
}

/// What goes into the sheet beyond the fixed layout.
#[derive(Clone, Default)]
pub struct Content<'a> {
    /// Requester block values.
    pub requester: BTreeMap<RequesterField, String>,
    /// Requester block cells at fault.
    pub requester_marks: BTreeMap<RequesterField, Mark>,
    /// Data rows, by increasing row.
    pub rows: Vec<DataRow<'a>>,
    /// Adds the Status and Messages columns (result workbook).
    pub with_status: bool,
    /// Adds the Done column after the request's fields (the "done" email's workbook).
    pub with_done: bool,
    /// The sheet is written row by row (rust_xlsxwriter's constant-memory mode), so each
    /// row is formatted while it is the current one.
    pub streamed: bool,
}

/// What each column is for: the yellow hint Excel shows on the header cell (max 255 chars).
pub fn hint(field: Field) -> &'static str {
    match field {
        Field::Action => {
            "Add: new staff account, or first staff roles on a patron-only account. Modify: add \
             or remove roles. Delete: remove every role except Patron (the person left). Restore: \
             put back roles suspended for inactivity."
        }
        Field::PrimaryId => {
            "The person's Alma primary ID, exactly as in Alma (keep leading zeros). Repeat it \
             on every row of the same person."
        }
        Field::LastName => {
            "Family name. Needed for Add; may be left empty on the person's later rows."
        }
        Field::FirstName => {
            "Given name. Needed for Add; may be left empty on the person's later rows."
        }
        Field::Email => {
            "The person's own work email (no shared mailboxes). Needed for Add; may be left \
             empty on the person's later rows."
        }
        Field::AccountType => {
            "Internal: managed in Alma. External: loaded from the campus system; only roles \
             can be changed for external accounts. Empty means Internal."
        }
        Field::Institution => {
            "Institution code. Leave empty to use the institution of the requester block."
        }
        Field::Profile => {
            "A role profile: a named bundle of roles (see the Profiles sheet). Give the \
             library and desk the profile needs in the same row."
        }
        Field::Role => {
            "One role per row (see the Roles sheet). Roles sharing this row's library and \
             desk may be typed in one cell separated by ; . Patron is kept automatically."
        }
        Field::Change => "For Modify: Add or Remove the role(s) of this row. Empty means Add.",
        Field::Library => {
            "Code of the library the role is scoped to (see the Libraries sheet). Needed by \
             library-scoped roles and by desk or service unit roles."
        }
        Field::Unit => {
            "Circulation desk code (desk roles) or service unit code (receiving, work \
             orders) of this row's library. See the Libraries sheet."
        }
        Field::Expiry => "Optional: the date the role ends, as yyyy-mm-dd.",
        Field::Notes => "Anything the help desk should know. Rolecall does not read it.",
    }
}

/// How strictly a drop-down refuses other values.
fn error_style(field: Field) -> DataValidationErrorStyle {
    match field {
        // Closed sets: the reader knows no other words.
        Field::Action | Field::AccountType | Field::Change => DataValidationErrorStyle::Stop,
        // Several roles may share a cell ("Cataloger; Selector"): let them through quietly.
        Field::Role => DataValidationErrorStyle::Information,
        // Catalog lists: a new desk may not be in this copy yet; warn, don't refuse.
        _ => DataValidationErrorStyle::Warning,
    }
}

fn r0(row: u32) -> u32 {
    row - 1
}

fn c0(col: u32) -> u16 {
    (col - 1) as u16
}

/// A note for a cell at fault.
fn note(text: &str) -> Note {
    // Size the box so the whole text shows on hover: ~45 characters a line at 300 px.
    let lines: usize = text
        .lines()
        .map(|l| 1 + l.chars().count() / 45)
        .sum::<usize>()
        .max(2);
    // Excel keeps room for the author's name in a note's 32,767 characters.
    Note::new(clip_to(text, 32_000))
        .set_author("Rolecall")
        .set_width(300)
        .set_height((lines as u32 * 16 + 24).min(600))
}

/// Where the columns of one Accounts sheet are: the template's, or the result's with
/// Status and Messages in front, where a person reading the answer looks first.
#[derive(Debug, Clone, Copy)]
struct Columns {
    /// Status and Messages columns present (A and B).
    with_status: bool,
    /// A Done column after the last field.
    with_done: bool,
}

impl Columns {
    /// 0-based Status column (result only).
    const STATUS: u16 = 0;
    /// 0-based Messages column (result only).
    const MESSAGES: u16 = 1;
    /// Width of the Messages column, in characters.
    const MESSAGES_WIDTH: f64 = 60.0;

    /// 0-based column of a field.
    fn of(self, field: Field) -> u16 {
        c0(field.template_col()) + self.lead()
    }

    /// How many columns come before the request's fields.
    fn lead(self) -> u16 {
        if self.with_status { 2 } else { 0 }
    }

    /// 0-based last column of the request's fields.
    fn last_field(self) -> u16 {
        Field::ALL.len() as u16 - 1 + self.lead()
    }

    /// 0-based Done column (after the fields, so that no field moves).
    fn done(self) -> u16 {
        self.last_field() + 1
    }

    /// 0-based last column.
    fn last(self) -> u16 {
        self.last_field() + u16::from(self.with_done)
    }
}

/// Writes the Accounts sheet into `ws`.
pub fn write(
    ws: &mut Worksheet,
    catalog: &Catalog,
    lists: &Lists,
    styles: &Styles,
    content: &Content<'_>,
) -> Result<(), XlsxError> {
    write_head(ws, catalog, lists, styles, content)?;
    write_body(ws, lists, styles, content)
}

/// Rows of the sheet below its header: where the lines end, where the grid of formatted
/// blank rows ends, and where the drop-downs and the filter end.
#[derive(Debug, Clone, Copy)]
struct Grid {
    cols: Columns,
    /// 1-based last row of the drop-downs and the filter.
    last_row: u32,
    /// 1-based last formatted row.
    grid_row: u32,
}

impl Grid {
    fn of(content: &Content) -> Grid {
        let cols = Columns {
            with_status: content.with_status,
            with_done: content.with_done,
        };
        let last_line = content.rows.iter().map(|r| r.row).max().unwrap_or(0);
        let last_row = last_line.max(FIRST_DATA_ROW + BLANK_ROWS - 1);
        let grid_row = match content.with_status {
            true => (last_line.max(HEADER_ROW) + RESULT_BLANK_ROWS).min(last_row),
            false => last_row,
        };
        Grid {
            cols,
            last_row,
            grid_row,
        }
    }
}

/// The sheet down to its header row: name, column formats, the requester block and its
/// drop-downs, the headings. [`write_body`] writes the rest.
pub fn write_head(
    ws: &mut Worksheet,
    catalog: &Catalog,
    lists: &Lists,
    styles: &Styles,
    content: &Content,
) -> Result<(), XlsxError> {
    ws.set_name(ACCOUNTS_SHEET)?;
    ws.set_default_note_author("Rolecall");
    let cols = Grid::of(content).cols;
    column_formats(ws, styles, cols)?;
    requester_block(ws, catalog, styles, content)?;
    requester_validations(ws, catalog, lists)?;
    header_row(ws, styles, cols)
}

/// The sheet below its header row (after [`write_head`]): the data rows, their drop-downs,
/// the frozen header, the filter and the print layout.
pub fn write_body(
    ws: &mut Worksheet,
    lists: &Lists,
    styles: &Styles,
    content: &Content,
) -> Result<(), XlsxError> {
    Body::new(styles, content).finish(ws, lists)
}

/// [`write_body`] a few rows at a time, so that the thread writing it can do other work in
/// between (`Book::bodies` makes the Change set's rows there).
///
/// Every cell of the form area gets a format, so the grid is visible. Values are written
/// without a format, and then each run of cells sharing one is formatted with one
/// `set_range_format`: rust_xlsxwriter hashes a format on every call to find its index, and
/// formatting cell by cell hashed 3,400 formats for the blank rows of a one-line result,
/// most of the cost of its workbook.
pub struct Body<'a> {
    styles: &'a Styles,
    content: &'a Content<'a>,
    grid: Grid,
    /// The formats of a blank row, made once.
    blank: Vec<(u16, &'a Format)>,
    /// The rows still to write.
    steps: std::vec::IntoIter<Step<'a>>,
}

impl<'a> Body<'a> {
    /// The body of the sheet of `content`, nothing written yet.
    pub fn new(styles: &'a Styles, content: &'a Content<'a>) -> Body<'a> {
        let grid = Grid::of(content);
        Body {
            styles,
            content,
            grid,
            blank: row_formats(styles, grid.cols, |_| None, None),
            steps: steps(content, grid.grid_row).into_iter(),
        }
    }

    /// Writes the rows of the next `count` steps (a line's row, or a run of blank rows);
    /// true while rows are left.
    pub fn write_rows(&mut self, ws: &mut Worksheet, count: usize) -> Result<bool, XlsxError> {
        let streamed = self.content.streamed;
        for step in self.steps.by_ref().take(count) {
            match step {
                Step::Blank(first, last) => blank_rows(ws, &self.blank, first, last, streamed)?,
                Step::Line(data) => data_row(ws, self.styles, self.grid.cols, data)?,
            }
        }
        Ok(self.steps.len() > 0)
    }

    /// Writes the rows left, then the drop-downs, the frozen header, the filter and the
    /// print layout.
    pub fn finish(mut self, ws: &mut Worksheet, lists: &Lists) -> Result<(), XlsxError> {
        self.write_rows(ws, usize::MAX)?;
        let Grid { cols, last_row, .. } = self.grid;
        data_validations(ws, lists, cols, r0(FIRST_DATA_ROW), r0(last_row))?;
        let header = r0(HEADER_ROW);
        ws.set_freeze_panes(header + 1, 0)?;
        ws.autofilter(header, 0, r0(last_row), cols.last())?;
        super::print_as_list(ws, header)?;
        // A result prints its lines only; a blank form prints its whole grid.
        let print_to = if self.content.with_status {
            self.content.rows.last().map_or(HEADER_ROW, |r| r.row)
        } else {
            last_row
        };
        ws.set_print_area(0, 0, r0(print_to), cols.last())?;
        Ok(())
    }
}

/// Every format [`write_body`] gives a cell, once each, in the order it first names them:
/// a streamed sheet gives each format its index in the workbook's table at its first use,
/// so registering these in this order first gives every format the index the body's own
/// writes would have given it.
pub fn body_formats<'a>(styles: &'a Styles, content: &Content) -> Vec<&'a Format> {
    let Grid { cols, grid_row, .. } = Grid::of(content);
    let blank = row_formats(styles, cols, |_| None, None);
    // Formats by address: a handful, each looked up once per row.
    let mut order: Vec<&'a Format> = Vec::new();
    let mut add = |format: &'a Format| {
        if !order.iter().any(|seen| std::ptr::eq(*seen, format)) {
            order.push(format);
        }
    };
    for step in steps(content, grid_row) {
        match step {
            Step::Blank(..) => {
                if !content.streamed {
                    // An in-memory block is started with its last cell (`blank_rows`).
                    blank.last().into_iter().for_each(|(_, f)| add(f));
                }
                blank.iter().for_each(|(_, f)| add(f));
            }
            Step::Line(data) => {
                for (_, format) in line_formats(styles, cols, data) {
                    add(format);
                }
            }
        }
    }
    order
}

/// Column widths and whole-column formats: cells beyond the formatted rows still keep IDs
/// as text and dates as dates when someone types there.
fn column_formats(ws: &mut Worksheet, styles: &Styles, cols: Columns) -> Result<(), XlsxError> {
    for field in Field::ALL {
        let col = cols.of(field);
        let width = if col == 0 {
            // Column A also holds the requester block's labels.
            field.width().max(17.0)
        } else {
            field.width()
        };
        let format = if field == Field::Expiry {
            &styles.column_date
        } else {
            &styles.column_text
        };
        ws.set_column_width(col, width)?;
        ws.set_column_format(col, format)?;
    }
    if cols.with_status {
        // A also holds the requester labels, B their values.
        ws.set_column_width(Columns::STATUS, 17)?;
        ws.set_column_width(Columns::MESSAGES, Columns::MESSAGES_WIDTH)?;
    }
    if cols.with_done {
        ws.set_column_width(cols.done(), 30)?;
    }
    Ok(())
}

/// The title and the requester block (rows 1-6, label in A, value in B).
fn requester_block(
    ws: &mut Worksheet,
    catalog: &Catalog,
    styles: &Styles,
    content: &Content,
) -> Result<(), XlsxError> {
    let title = format!(
        "Alma staff accounts request — {}",
        catalog.policy.help_desk_name
    );
    text(ws, 0, 0, &title, &styles.title)?;
    ws.set_row_height(0, 22)?;
    for field in RequesterField::ALL {
        let row = r0(field.template_row());
        text(ws, row, 0, field.label(), &styles.label)?;
        let (value, base) = if field == RequesterField::CatalogVersion {
            (catalog.version.clone(), &styles.locked)
        } else {
            let value = content.requester.get(&field).cloned().unwrap_or_default();
            (value, &styles.input)
        };
        let mark = content.requester_marks.get(&field);
        let format = match mark {
            Some(m) => Styles::marked(base, m.severity),
            None => base.clone(),
        };
        // Merged B:D so that a long email fits; the value lives in B, where the reader looks.
        ws.merge_range(row, 1, row, REQUESTER_VALUE_LAST_COL, clip(&value), &format)?;
        if let Some(m) = mark {
            ws.insert_note(row, 1, &note(&m.note))?;
        }
    }
    Ok(())
}

/// The header row, each heading with its hint.
fn header_row(ws: &mut Worksheet, styles: &Styles, cols: Columns) -> Result<(), XlsxError> {
    let header = r0(HEADER_ROW);
    for field in Field::ALL {
        let col = cols.of(field);
        plain(ws, header, col, field.header())?;
        let hint_dv = DataValidation::new()
            .allow_any_value()
            .set_input_title(field.header())?
            .set_input_message(hint(field))?;
        ws.add_data_validation(header, col, header, col, &hint_dv)?;
    }
    if cols.with_status {
        plain(ws, header, Columns::STATUS, STATUS_HEADER)?;
        plain(ws, header, Columns::MESSAGES, MESSAGES_HEADER)?;
    }
    if cols.with_done {
        plain(ws, header, cols.done(), DONE_HEADER)?;
    }
    // The headings are side by side: one format for the row (a format is hashed on every
    // call that names one), once the row is started.
    ws.set_range_format(header, 0, header, cols.last(), &styles.header)?;
    ws.set_row_height(header, 32)?;
    Ok(())
}

/// One step of the data rows, top to bottom.
enum Step<'a> {
    /// Blank rows `first..=last` (1-based, never empty).
    Blank(u32, u32),
    /// A line's row.
    Line(&'a DataRow<'a>),
}

/// The data rows in the order they are written, down to `last_row`: each line's row, and
/// the blank rows between, before and after them.
fn steps<'a>(content: &'a Content<'a>, last_row: u32) -> Vec<Step<'a>> {
    let mut steps = Vec::new();
    let mut next = FIRST_DATA_ROW;
    for data in &content.rows {
        // Rows are increasing; one that is not (or above the first data row) has no place.
        if data.row < next {
            continue;
        }
        if next < data.row {
            steps.push(Step::Blank(next, data.row - 1));
        }
        steps.push(Step::Line(data));
        next = data.row + 1;
    }
    if next <= last_row {
        steps.push(Step::Blank(next, last_row));
    }
    steps
}

/// The formats of a line's row, in column order.
fn line_formats<'a>(styles: &'a Styles, cols: Columns, data: &DataRow) -> Vec<(u16, &'a Format)> {
    let mark = |field| data.marks.get(&field).map(|m| m.severity);
    row_formats(styles, cols, mark, data.status)
}

/// Each column's format on a data row, in column order: Status (of `status`), Messages,
/// each field (marked as `mark` says), Done.
fn row_formats(
    styles: &Styles,
    cols: Columns,
    mark: impl Fn(Field) -> Option<Severity>,
    status: Option<LineStatus>,
) -> Vec<(u16, &Format)> {
    let mut formats = Vec::with_capacity(usize::from(cols.last()) + 1);
    if cols.with_status {
        formats.push((Columns::STATUS, styles.status(status)));
        formats.push((Columns::MESSAGES, &styles.messages));
    }
    for field in Field::ALL {
        formats.push((
            cols.of(field),
            styles.field(field == Field::Expiry, mark(field)),
        ));
    }
    if cols.with_done {
        formats.push((cols.done(), &styles.done));
    }
    formats
}

/// Formats rows `first..=last` (1-based), one call per run of columns that share a format
/// (the same `Format`, by address). A streamed sheet keeps only its current row: each row
/// is started with a blank cell and formatted before the next one starts.
fn format_runs(
    ws: &mut Worksheet,
    formats: &[(u16, &Format)],
    first: u32,
    last: u32,
) -> Result<(), XlsxError> {
    let mut rest = formats;
    while let Some(&(from, format)) = rest.first() {
        let len = rest
            .iter()
            .take_while(|(_, f)| std::ptr::eq(*f, format))
            .count();
        let to = rest[len - 1].0;
        ws.set_range_format(r0(first), from, r0(last), to, format)?;
        rest = &rest[len..];
    }
    Ok(())
}

/// Blank rows `first..=last` (1-based; none when `first > last`), in the grid's formats.
fn blank_rows(
    ws: &mut Worksheet,
    formats: &[(u16, &Format)],
    first: u32,
    last: u32,
    streamed: bool,
) -> Result<(), XlsxError> {
    if first > last {
        return Ok(());
    }
    if !streamed {
        // `set_range_format` leaves the sheet's extent (which bounds the rows saved) as it
        // was: the block's last cell, written, extends it.
        if let Some((col, format)) = formats.last() {
            ws.write_blank(r0(last), *col, format)?;
        }
        return format_runs(ws, formats, first, last);
    }
    for row in first..=last {
        // A range on a row not yet started would be dropped: start it with its first cell.
        if let Some((col, format)) = formats.first() {
            ws.write_blank(r0(row), *col, format)?;
        }
        format_runs(ws, formats, row, row)?;
    }
    Ok(())
}

/// One line's row: its values and notes, then its formats.
fn data_row(
    ws: &mut Worksheet,
    styles: &Styles,
    cols: Columns,
    data: &DataRow,
) -> Result<(), XlsxError> {
    let row = r0(data.row);
    // Whether a cell was written, which starts the row of a streamed sheet.
    let mut started = false;
    if cols.with_status {
        let label = data.status.map(LineStatus::label).unwrap_or_default();
        started |= plain(ws, row, Columns::STATUS, label)?;
        started |= plain(ws, row, Columns::MESSAGES, &data.messages)?;
        fit_row(ws, row, &[(&data.messages, Columns::MESSAGES_WIDTH)])?;
    }
    for field in Field::ALL {
        let col = cols.of(field);
        match data.cells.iter().find(|(f, _)| *f == field).map(|(_, v)| v) {
            Some(CellValue::Text(t)) => started |= plain(ws, row, col, t)?,
            Some(CellValue::Date(d)) => {
                ws.write_datetime(row, col, d)?;
                started = true;
            }
            None => {}
        }
        if let Some(m) = data.marks.get(&field) {
            ws.insert_note(row, col, &note(&m.note))?;
        }
    }
    if cols.with_done {
        started |= plain(ws, row, cols.done(), &data.done)?;
    }
    let formats = line_formats(styles, cols, data);
    if !started && let Some((col, format)) = formats.first() {
        ws.write_blank(row, *col, format)?;
    }
    format_runs(ws, &formats, data.row, data.row)
}

/// The drop-down of a field, if it has one.
fn list_validation(lists: &Lists, field: Field) -> Result<Option<DataValidation>, XlsxError> {
    let Some(source) = lists.source(field) else {
        return Ok(None);
    };
    let message = match field {
        Field::Role => {
            "This role is not in the list. Several roles in one cell are fine (separate \
             them with ;); Rolecall checks every name when the worksheet is processed."
        }
        Field::Action => "Choose Add, Modify, Delete or Restore.",
        Field::AccountType => "Choose Internal or External.",
        Field::Change => "Choose Add or Remove (or leave empty for Add).",
        _ => "This value is not in the list made from the catalog. Keep it only if you are sure.",
    };
    Ok(Some(
        DataValidation::new()
            .allow_list_formula(Formula::new(source))
            .ignore_blank(true)
            .set_error_style(error_style(field))
            .set_error_title(field.header())?
            .set_error_message(message)?,
    ))
}

fn data_validations(
    ws: &mut Worksheet,
    lists: &Lists,
    cols: Columns,
    first: u32,
    last: u32,
) -> Result<(), XlsxError> {
    for field in Field::ALL {
        if let Some(dv) = list_validation(lists, field)? {
            let col = cols.of(field);
            ws.add_data_validation(first, col, last, col, &dv)?;
        }
    }
    let col = cols.of(Field::Expiry);
    let dates = DataValidation::new()
        .allow_date(rust_xlsxwriter::DataValidationRule::GreaterThan(
            ExcelDateTime::from_ymd(2000, 1, 1)?,
        ))
        .ignore_blank(true)
        .set_error_style(DataValidationErrorStyle::Warning)
        .set_error_title("Expiry date")?
        .set_error_message("Type a date as yyyy-mm-dd, for example 2026-06-30.")?;
    ws.add_data_validation(first, col, last, col, &dates)?;
    Ok(())
}

fn requester_validations(
    ws: &mut Worksheet,
    catalog: &Catalog,
    lists: &Lists,
) -> Result<(), XlsxError> {
    let hints = [
        (
            RequesterField::Name,
            "Your full name: you are the coordinator asking for these changes.",
        ),
        (
            RequesterField::Email,
            "Your email. It must be registered with the help desk as a coordinator of the \
             institution below, or every line is refused.",
        ),
        (
            RequesterField::Phone,
            "Optional: where the help desk can call you.",
        ),
    ];
    for (field, message) in hints {
        let row = r0(field.template_row());
        let dv = DataValidation::new()
            .allow_any_value()
            .set_input_title(field.label())?
            .set_input_message(message)?;
        ws.add_data_validation(row, 1, row, 1, &dv)?;
    }
    let row = r0(RequesterField::Institution.template_row());
    let mut dv = match list_validation(lists, Field::Institution)? {
        Some(dv) => dv,
        None => DataValidation::new().allow_any_value(),
    };
    dv = dv
        .set_input_title("Institution")?
        .set_input_message("The institution these requests are for: the default of every row.")?;
    ws.add_data_validation(row, 1, row, 1, &dv)?;

    // The version stamp is Rolecall's: a custom rule that accepts only the stamp itself
    // stops typing over it without protecting the sheet (which would stop sorting, pasting
    // and inserting rows too).
    let row = r0(RequesterField::CatalogVersion.template_row());
    let stamp = catalog.version.replace('"', "\"\"");
    let dv = DataValidation::new()
        .allow_custom(Formula::new(format!("=$B${}=\"{stamp}\"", row + 1)))
        .set_input_title("Catalog version")?
        .set_input_message(
            "Filled in by Rolecall: the catalog this worksheet was made from. Leave it as it is.",
        )?
        .set_error_title("Catalog version")?
        .set_error_message("Filled in by Rolecall. Leave it as it is.")?;
    ws.add_data_validation(row, 1, row, 1, &dv)?;
    Ok(())
}
