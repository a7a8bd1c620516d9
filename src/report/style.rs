//! The cell formats of every workbook Rolecall writes, in one place so that the blank
//! template and the result workbook look alike (a result workbook is a template filled in).

use crate::finding::Severity;
use crate::validate::LineStatus;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder};

/// Light red fill for cells with an error (Excel's own "bad" colour).
const ERROR_FILL: u32 = 0xFFC7CE;
/// Light green fill for an accepted line's Status (Excel's own "good" colour).
const ACCEPTED_FILL: u32 = 0xC6EFCE;
/// Light yellow fill for cells with a warning (Excel's own "neutral" colour).
const WARNING_FILL: u32 = 0xFFEB9C;
/// Header fill: a pale blue that prints well in grey.
const HEADER_FILL: u32 = 0xDDEBF7;
/// Grey for cells Rolecall fills in and the requester should leave alone.
const LOCKED_FILL: u32 = 0xE7E6E6;
/// Thin grid colour of the form's cells.
const GRID: u32 = 0xBFBFBF;

/// Text format code: Excel keeps what is typed (leading zeros, `1-2`) instead of converting.
pub const TEXT: &str = "@";
/// Date format of the Expiry column: ISO, the same in every locale.
pub const DATE: &str = "yyyy-mm-dd";

/// The formats, built once per workbook.
#[derive(Clone)]
pub struct Styles {
    /// Big bold title in A1.
    pub title: Format,
    /// Small grey line under a title.
    pub subtitle: Format,
    /// Bold labels (requester block, summary).
    pub label: Format,
    /// A requester block value the person types.
    pub input: Format,
    /// A value Rolecall fills in (catalog version).
    pub locked: Format,
    /// Column headings.
    pub header: Format,
    /// Whole-column default of text columns: text, no border (rows above the header stay
    /// clean), so that a cell typed below the formatted rows still keeps its leading zeros.
    pub column_text: Format,
    /// Whole-column default of the date column.
    pub column_date: Format,
    /// A text cell of a data row.
    pub text: Format,
    /// A date cell of a data row.
    pub date: Format,
    /// A text cell that wraps (messages, notes, descriptions).
    pub wrap: Format,
    /// Plain paragraph text (instructions).
    pub para: Format,
    /// A number in a reference table, left-aligned like the text beside it.
    pub number: Format,
    /// The Status cell of a result line, by status (accepted, needs approval, rejected,
    /// none); see [`Styles::status`].
    status: [Format; 4],
    /// The Messages cell of a result line: wrapped, locked.
    pub messages: Format,
    /// The Done cell of the "done" email's workbook: wrapped, locked.
    pub done: Format,
    /// `text` and `date` filled for a warning and for an error, made once so that a marked
    /// cell is no copy of its own; see [`Styles::field`].
    marked: [[Format; 2]; 2],
}

impl Styles {
    /// Builds the formats.
    pub fn new() -> Self {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(GRID))
            .set_align(FormatAlign::Top)
            .set_unlocked();
        let text = cell.clone().set_num_format(TEXT);
        let status = text.clone().set_locked();
        let date = cell.clone().set_num_format(DATE);
        let marked = [&text, &date].map(|base| {
            [Severity::Warning, Severity::Error].map(|severity| Styles::marked(base, severity))
        });
        Styles {
            marked,
            status: [
                status
                    .clone()
                    .set_background_color(Color::RGB(ACCEPTED_FILL)),
                Styles::marked(&status, Severity::Warning),
                Styles::marked(&status, Severity::Error),
                status,
            ],
            messages: cell
                .clone()
                .set_num_format(TEXT)
                .set_text_wrap()
                .set_locked(),
            title: Format::new().set_bold().set_font_size(14),
            subtitle: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x595959)),
            label: Format::new().set_bold().set_align(FormatAlign::Top),
            input: cell.clone().set_num_format(TEXT),
            locked: cell
                .clone()
                .set_num_format(TEXT)
                .set_background_color(Color::RGB(LOCKED_FILL))
                .set_font_color(Color::RGB(0x595959))
                .set_locked(),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(HEADER_FILL))
                .set_border(FormatBorder::Thin)
                .set_border_color(Color::RGB(0x8EA9DB))
                .set_locked(),
            column_text: Format::new().set_num_format(TEXT).set_unlocked(),
            column_date: Format::new().set_num_format(DATE).set_unlocked(),
            done: cell
                .clone()
                .set_num_format(TEXT)
                .set_text_wrap()
                .set_locked(),
            text,
            date,
            wrap: cell.set_num_format(TEXT).set_text_wrap(),
            para: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            number: Format::new()
                .set_align(FormatAlign::Top)
                .set_align(FormatAlign::Left),
        }
    }

    /// The Status cell's format for a line of this status (`None`: a row with no line).
    pub fn status(&self, status: Option<LineStatus>) -> &Format {
        let [accepted, waits, rejected, none] = &self.status;
        match status {
            Some(LineStatus::Accepted) => accepted,
            Some(LineStatus::NeedsApproval) => waits,
            Some(LineStatus::Rejected) => rejected,
            None => none,
        }
    }

    /// The format of a field's cell in a data row: `date` or `text`, filled when the cell
    /// is marked with a finding of `severity`.
    pub fn field(&self, date: bool, severity: Option<Severity>) -> &Format {
        let kind = usize::from(date);
        match severity {
            None if date => &self.date,
            None => &self.text,
            Some(Severity::Warning) => &self.marked[kind][0],
            Some(Severity::Error) => &self.marked[kind][1],
        }
    }

    /// The same format filled to show a finding of this severity.
    pub fn marked(format: &Format, severity: Severity) -> Format {
        let fill = match severity {
            Severity::Error => ERROR_FILL,
            Severity::Warning => WARNING_FILL,
        };
        format.clone().set_background_color(Color::RGB(fill))
    }
}

impl Default for Styles {
    fn default() -> Self {
        Styles::new()
    }
}
