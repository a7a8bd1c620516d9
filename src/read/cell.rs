//! The one place where cell types from every format become Rolecall's text values.
//!
//! Formats disagree about the same typed-in value: `.xlsx` gives `12345` as a float, `.xls`
//! often as an integer; `.xlsx`/`.xls` give dates as serial numbers with a date format,
//! `.ods` as ISO text; `.ods` may give booleans as numbers. Everything passes through
//! [`normalize`] so that the same worksheet gives the same values whatever it was saved as.

use calamine::{Data, DataRef, ExcelDateTime};
use serde::{Deserialize, Serialize};

/// How a cell was stored: mirrors [`crate::document::ValueKind`], in a form that crosses the
/// child-process boundary as one letter (`t n d b`, in JSON and in [`super::raw::wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Text.
    #[serde(rename = "t")]
    Text,
    /// A number.
    #[serde(rename = "n")]
    Number,
    /// A date, as `YYYY-MM-DD`.
    #[serde(rename = "d")]
    Date,
    /// A boolean, as `TRUE`/`FALSE`.
    #[serde(rename = "b")]
    Bool,
}

impl From<Kind> for crate::document::ValueKind {
    fn from(k: Kind) -> Self {
        use crate::document::ValueKind as V;
        match k {
            Kind::Text => V::Text,
            Kind::Number => V::Number,
            Kind::Date => V::Date,
            Kind::Bool => V::Bool,
        }
    }
}

/// A non-empty cell value as text, with its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellText {
    /// Trimmed text; never empty.
    pub text: String,
    /// How it was stored.
    pub kind: Kind,
}

/// Trims spaces, non-breaking spaces and zero-width characters people paste from web pages,
/// and makes line breaks `\n`.
pub fn clean_text(s: &str) -> String {
    let t = s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}'));
    if t.contains('\r') {
        t.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        t.to_string()
    }
}

/// A number as a person typed it: integers without `.0`, others in shortest form.
pub fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn text(s: &str) -> Option<CellText> {
    let text = clean_text(s);
    (!text.is_empty()).then_some(CellText {
        text,
        kind: Kind::Text,
    })
}

fn excel_date(dt: &ExcelDateTime) -> CellText {
    if dt.is_duration() {
        return CellText {
            text: number_text(dt.as_f64()),
            kind: Kind::Number,
        };
    }
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    CellText {
        text: format!("{y:04}-{m:02}-{d:02}"),
        kind: Kind::Date,
    }
}

/// ISO date or date-time text (`2025-06-30`, `2025-06-30T00:00:00`) → `2025-06-30`.
/// A time alone (`PT10H`, `10:00:00`) stays text.
fn iso_date(s: &str) -> Option<CellText> {
    let s = s.trim();
    if let Some(day) = s.get(..10)
        && day.parse::<jiff::civil::Date>().is_ok()
    {
        return Some(CellText {
            text: day.to_string(),
            kind: Kind::Date,
        });
    }
    text(s)
}

/// Normalises a streamed cell (xlsx/xlsb cell readers); `None` when the cell is empty.
pub fn normalize_ref(v: &DataRef<'_>) -> Option<CellText> {
    match v {
        DataRef::Int(i) => Some(CellText {
            text: i.to_string(),
            kind: Kind::Number,
        }),
        DataRef::Float(f) => Some(CellText {
            text: number_text(*f),
            kind: Kind::Number,
        }),
        DataRef::String(s) => text(s),
        DataRef::SharedString(s) => text(s),
        DataRef::Bool(b) => Some(boolean(*b)),
        DataRef::DateTime(dt) => Some(excel_date(dt)),
        DataRef::DateTimeIso(s) => iso_date(s),
        DataRef::DurationIso(s) => text(s),
        DataRef::Error(e) => text(&e.to_string()),
        DataRef::Empty => None,
    }
}

/// Normalises a cell of a whole-sheet range (xls/ods); `None` when the cell is empty.
pub fn normalize(v: &Data) -> Option<CellText> {
    match v {
        Data::Int(i) => normalize_ref(&DataRef::Int(*i)),
        Data::Float(f) => normalize_ref(&DataRef::Float(*f)),
        Data::String(s) => text(s),
        Data::Bool(b) => Some(boolean(*b)),
        Data::DateTime(dt) => Some(excel_date(dt)),
        Data::DateTimeIso(s) => iso_date(s),
        Data::DurationIso(s) => text(s),
        Data::Error(e) => text(&e.to_string()),
        Data::Empty => None,
    }
}

fn boolean(b: bool) -> CellText {
    CellText {
        text: if b { "TRUE" } else { "FALSE" }.into(),
        kind: Kind::Bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};

    #[test]
    fn integers_never_get_a_decimal_point() {
        assert_eq!(normalize(&Data::Float(12345.0)).unwrap().text, "12345");
        assert_eq!(normalize(&Data::Int(12345)).unwrap().text, "12345");
        assert_eq!(normalize(&Data::Float(1.5)).unwrap().text, "1.5");
        assert_eq!(normalize(&Data::Float(12345.0)).unwrap().kind, Kind::Number);
    }

    #[test]
    fn dates_become_iso_whatever_the_format() {
        let serial = ExcelDateTime::new(45943.25, ExcelDateTimeType::DateTime, false);
        let a = normalize(&Data::DateTime(serial)).unwrap();
        let b = normalize(&Data::DateTimeIso("2025-10-13".into())).unwrap();
        let c = normalize(&Data::DateTimeIso("2025-10-13T00:00:00".into())).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.text, "2025-10-13");
        assert_eq!(a.kind, Kind::Date);
    }

    #[test]
    fn text_is_trimmed_including_non_breaking_spaces() {
        let v = normalize(&Data::String("\u{a0} Smith \u{200b}\r\n".into())).unwrap();
        assert_eq!(v.text, "Smith");
        assert_eq!(normalize(&Data::String("  \u{a0}".into())), None);
        assert_eq!(
            normalize(&Data::String("a\r\nb".into())).unwrap().text,
            "a\nb"
        );
    }

    #[test]
    fn errors_and_booleans_read_as_people_see_them() {
        assert_eq!(
            normalize(&Data::Error(CellErrorType::NA)).unwrap().text,
            "#N/A"
        );
        assert_eq!(normalize(&Data::Bool(true)).unwrap().text, "TRUE");
    }
}
