//! Tables from exports: a `.csv` file or the first sheet of a workbook (`.xlsx`, `.xls`,
//! `.ods`) as rows of text under a header row, with a column look-up by documented name and
//! aliases. Excel's habits are undone here: whole numbers stored as floats lose their `.0`,
//! date cells become `YYYY-MM-DD`.

use calamine::{Data, Reader, open_workbook_auto};
use std::path::Path;

/// A header row and the rows under it; every cell trimmed text.
pub(crate) struct Table {
    /// Headings as written.
    pub headers: Vec<String>,
    /// Rows under the header, each with its 1-based row number in the file.
    pub rows: Vec<(usize, Vec<String>)>,
}

use crate::catalog::lookup_key as norm;

impl Table {
    /// Reads a table whose header row holds `anchor` (one of its names) within the first 20
    /// rows; rows above it (report titles) are skipped.
    pub fn read(path: &Path, anchor: &[&str]) -> Result<Table, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let grid = if ext == "csv" || ext == "txt" {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            parse_csv(&String::from_utf8_lossy(&bytes))
        } else {
            read_sheet(path)?
        };
        let anchors: Vec<String> = anchor.iter().map(|a| norm(a)).collect();
        let header_at = grid
            .iter()
            .take(20)
            .position(|row| row.iter().any(|c| anchors.contains(&norm(c))))
            .ok_or_else(|| {
                format!(
                    "no header row with a \"{}\" column in the first 20 rows",
                    anchor[0]
                )
            })?;
        let headers = grid[header_at].clone();
        let rows = grid
            .into_iter()
            .enumerate()
            .skip(header_at + 1)
            .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
            .map(|(i, r)| (i + 1, r))
            .collect();
        Ok(Table { headers, rows })
    }

    /// The index of the column named `names[0]` (or one of its aliases).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        let keys: Vec<String> = names.iter().map(|n| norm(n)).collect();
        self.headers.iter().position(|h| keys.contains(&norm(h)))
    }

    /// Like [`column`](Self::column), but a missing column is an error naming it.
    pub fn require(&self, names: &[&str]) -> Result<usize, String> {
        self.column(names).ok_or_else(|| {
            format!(
                "the column \"{}\" is missing (columns found: {})",
                names[0],
                self.headers
                    .iter()
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// A cell of a row, or "" past its end.
pub(crate) fn cell(row: &[String], col: Option<usize>) -> &str {
    col.and_then(|c| row.get(c)).map_or("", |s| s.as_str())
}

fn read_sheet(path: &Path) -> Result<Vec<Vec<String>>, String> {
    let mut book = open_workbook_auto(path).map_err(|e| e.to_string())?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or("the workbook has no sheets")?;
    let range = book.worksheet_range(&name).map_err(|e| e.to_string())?;
    Ok(range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        // Excel serial days from 1899-12-30 (the 1900 leap-year bug is before any login).
        Data::DateTime(dt) => jiff::civil::date(1899, 12, 30)
            .checked_add(jiff::Span::new().days(dt.as_f64().floor() as i64))
            .map(|d| d.to_string())
            .unwrap_or_else(|_| dt.as_f64().to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("{e:?}"),
    }
}

/// A CSV export as rows of trimmed text (the csv crate: RFC 4180 quoting, CRLF or LF). A
/// UTF-8 byte-order mark (Excel writes one) is ignored, and a file whose first line has more
/// tabs than commas is read as tab-separated (Analytics and Excel "text" exports).
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches('\t').count() > first.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .records()
        // A malformed record (bad UTF-8 cannot happen: the text is a str) is skipped.
        .filter_map(Result::ok)
        .map(|r| r.iter().map(|f| f.trim().to_string()).collect())
        .collect()
}

/// A date as exports write it: `2026-11-02`, `2026-11-02 14:03:11`, `11/2/2026`.
pub(crate) fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    crate::validate::parse_date(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_line_breaks() {
        let rows = parse_csv("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\nthere\"\n");
        assert_eq!(rows[0], ["a", "b"]);
        assert_eq!(rows[1], ["x, y", "say \"hi\"\nthere"]);
    }

    #[test]
    fn tab_separated_exports_are_read_too() {
        let rows = parse_csv("Primary Identifier\tLast Login\n00123\t2026-11-02\n");
        assert_eq!(rows[1], ["00123", "2026-11-02"]);
    }
}
