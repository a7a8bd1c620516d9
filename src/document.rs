//! What a reader gives back: the requester block and the request lines of one submission,
//! as text with locations, before any checking. Worksheets and PDF forms both become a
//! [`Document`], so validation, change sets and reports never care where a line came from.

use crate::finding::Finding;
use crate::layout::{Field, RequesterField};
use crate::location::Location;
use std::collections::BTreeMap;

/// How a value was stored in the file, before it became text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Text (or a form field's string).
    Text,
    /// A number: IDs typed as numbers may have lost leading zeros.
    Number,
    /// A date or date-time, already written as ISO `YYYY-MM-DD`.
    Date,
    /// A true/false cell or a check box.
    Bool,
}

/// One non-empty value, trimmed, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value as text: trimmed; numbers without a trailing `.0`; dates as `YYYY-MM-DD`.
    pub text: String,
    /// Where it is.
    pub location: Location,
    /// What kind of cell it came from.
    pub kind: ValueKind,
}

/// One request line: a row of the Accounts sheet, or the person block of a PDF form.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// The row as a whole (`Accounts!9:9`, or the form).
    pub location: Location,
    /// Non-empty values by field.
    pub values: BTreeMap<Field, Value>,
}

impl RequestRow {
    /// The text of a field, if it is filled.
    pub fn text(&self, field: Field) -> Option<&str> {
        self.values.get(&field).map(|v| v.text.as_str())
    }

    /// Where a field's value is, or where it would be.
    pub fn location_of(&self, field: Field, columns: &BTreeMap<Field, u32>) -> Location {
        if let Some(v) = self.values.get(&field) {
            return v.location.clone();
        }
        match (&self.location, columns.get(&field)) {
            (Location::Row { sheet, row }, Some(col)) => Location::cell(sheet, *row, *col),
            (Location::FormField { name }, _) => crate::layout::form::field_for(field, name)
                .map_or_else(
                    || self.location.clone(),
                    |name| Location::FormField { name },
                ),
            (other, _) => other.clone(),
        }
    }
}

/// What kind of file a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Office Open XML workbook.
    Xlsx,
    /// Excel binary workbook.
    Xlsb,
    /// Legacy Excel 97-2003 workbook.
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
    /// PDF form.
    Pdf,
}

/// A submission as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// What kind of file it was read from (`None` when it could not be told).
    pub format: Option<Format>,
    /// Sheet the requests were read from (`Accounts`), if a worksheet.
    pub sheet: Option<String>,
    /// Requester block values.
    pub requester: BTreeMap<RequesterField, Value>,
    /// Where each known column was found (1-based column numbers).
    pub columns: BTreeMap<Field, u32>,
    /// 1-based header row, if a worksheet.
    pub header_row: Option<u32>,
    /// Column headings that were not recognised, with their 1-based columns.
    pub extra_columns: Vec<(u32, String)>,
    /// Request lines, in file order, blank rows skipped.
    pub rows: Vec<RequestRow>,
    /// What the reader noticed (unknown columns, unreadable parts, ...).
    pub findings: Vec<Finding>,
    /// Request lines counted past the line cap and not read: the verdict names them.
    pub unread_lines: usize,
}

impl Document {
    /// A requester block value, if filled.
    pub fn requester(&self, field: RequesterField) -> Option<&Value> {
        self.requester.get(&field)
    }

    /// True when the reader found nothing it could use.
    pub fn is_unreadable(&self) -> bool {
        self.rows.is_empty() && self.findings.iter().any(|f| f.is_error())
    }
}
