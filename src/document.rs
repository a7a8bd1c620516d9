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

/// The non-empty values of one request line, by field: each field once, in field order.
///
/// A sorted list of its own size rather than a `BTreeMap`: a map's node (room for eleven
/// values) per row was the largest part of a 100,000-line document. It answers as the map
/// did (`get`, `insert`, `iter` in field order, `values[&field]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values(Vec<(Field, Value)>);

impl Values {
    /// No values.
    pub fn new() -> Self {
        Values(Vec::new())
    }

    fn find(&self, field: &Field) -> Result<usize, usize> {
        self.0.binary_search_by(|(f, _)| f.cmp(field))
    }

    /// The value of a field, if it is filled.
    pub fn get(&self, field: &Field) -> Option<&Value> {
        self.find(field).ok().map(|i| &self.0[i].1)
    }

    /// The value of a field, to change it.
    pub fn get_mut(&mut self, field: &Field) -> Option<&mut Value> {
        self.find(field).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether a field is filled.
    pub fn contains_key(&self, field: &Field) -> bool {
        self.find(field).is_ok()
    }

    /// Sets a field's value; returns the one it replaces.
    pub fn insert(&mut self, field: Field, value: Value) -> Option<Value> {
        match self.find(&field) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (field, value));
                None
            }
        }
    }

    /// Each filled field and its value, in field order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Field, &Value)> {
        self.0.iter().map(|(f, v)| (f, v))
    }

    /// Each filled field and its value, to change the values.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&Field, &mut Value)> {
        self.0.iter_mut().map(|(f, v)| (&*f, v))
    }

    /// The filled fields, in field order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Field> {
        self.0.iter().map(|(f, _)| f)
    }

    /// The values, in field order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many fields are filled.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no field is filled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives back the room a list grown value by value has left over.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl FromIterator<(Field, Value)> for Values {
    fn from_iter<I: IntoIterator<Item = (Field, Value)>>(iter: I) -> Self {
        let mut values = Values::new();
        for (field, value) in iter {
            values.insert(field, value);
        }
        values
    }
}

impl From<BTreeMap<Field, Value>> for Values {
    fn from(map: BTreeMap<Field, Value>) -> Self {
        Values(map.into_iter().collect())
    }
}

impl std::ops::Index<&Field> for Values {
    type Output = Value;

    /// The value of a filled field; panics when it is empty (tests and callers that have
    /// just checked).
    fn index(&self, field: &Field) -> &Value {
        match self.get(field) {
            Some(v) => v,
            None => panic!("no value for {field:?}"),
        }
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a Field, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Field, Value)>,
        fn(&'a (Field, Value)) -> (&'a Field, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(f, v)| (f, v))
    }
}

/// One request line: a row of the Accounts sheet, or the person block of a PDF form.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// The row as a whole (`Accounts!9:9`, or the form).
    pub location: Location,
    /// Non-empty values by field.
    pub values: Values,
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
            (Location::Row { sheet, row }, Some(col)) => Location::cell_in(sheet, *row, *col),
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
