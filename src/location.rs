//! Where something is, in the words a person uses: `Accounts!E7`, form field `role_12`.
//!
//! Every finding and every value read from a submission carries a [`Location`]. Rows and
//! columns are 1-based and columns are letters, exactly as a spreadsheet program shows them.

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A place in a submission (or in the catalog) that a message can point to.
///
/// A sheet's name is shared (`Arc<str>`): every value read from a sheet carries a location
/// on it, and a copy of the name in each was a string per cell (at 100,000 lines, some
/// 800,000 of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// The file as a whole (it could not be opened, it has no sheet, ...).
    File,
    /// One cell of a sheet: `Accounts!E7`.
    Cell {
        /// Sheet name as shown on its tab.
        sheet: Arc<str>,
        /// 1-based row number.
        row: u32,
        /// 1-based column number (1 = `A`).
        col: u32,
    },
    /// A whole row of a sheet: `Accounts!7:7`.
    Row {
        /// Sheet name as shown on its tab.
        sheet: Arc<str>,
        /// 1-based row number.
        row: u32,
    },
    /// A whole sheet.
    Sheet {
        /// Sheet name as shown on its tab.
        sheet: Arc<str>,
    },
    /// A field of a PDF form, by its full name (`person.last_name`).
    FormField {
        /// Full field name, parents joined with `.`.
        name: String,
    },
    /// A line of a text file (the catalog).
    Line {
        /// File name relative to the folder it was loaded from.
        file: String,
        /// 1-based line number.
        line: usize,
    },
}

impl Location {
    /// A cell location from 1-based row and column numbers.
    pub fn cell(sheet: &str, row: u32, col: u32) -> Self {
        Location::Cell {
            sheet: sheet.into(),
            row,
            col,
        }
    }

    /// [`Location::cell`] on a sheet name already shared: no copy of the name is made.
    pub fn cell_in(sheet: &Arc<str>, row: u32, col: u32) -> Self {
        Location::Cell {
            sheet: Arc::clone(sheet),
            row,
            col,
        }
    }

    /// The 1-based sheet row this location is on, if it is a cell or a row.
    pub fn row(&self) -> Option<u32> {
        match self {
            Location::Cell { row, .. } | Location::Row { row, .. } => Some(*row),
            _ => None,
        }
    }
}

/// Column letters for a 1-based column number: 1 → `A`, 27 → `AA`.
pub fn column_letters(col: u32) -> String {
    Letters::of(col).as_str().to_string()
}

/// A column's letters, made without allocating: a location is written for every finding,
/// change set line and cell note, and two small strings made and dropped per location
/// (the letters, the sheet's name) were most of its cost.
struct Letters {
    /// Right-aligned: `u32::MAX` is 7 letters.
    bytes: [u8; 7],
    start: usize,
}

impl Letters {
    fn of(col: u32) -> Self {
        let mut n = col.max(1);
        let mut bytes = [b'A'; 7];
        let mut start = bytes.len();
        while n > 0 {
            start -= 1;
            bytes[start] = b'A' + ((n - 1) % 26) as u8;
            n = (n - 1) / 26;
        }
        Letters { bytes, start }
    }

    fn as_str(&self) -> &str {
        // Only ASCII capitals are ever written.
        std::str::from_utf8(&self.bytes[self.start..]).unwrap_or_default()
    }
}

/// A sheet name as Excel writes it in a reference: quoted when it is not a plain word.
struct SheetRef<'a>(&'a str);

impl fmt::Display for SheetRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sheet = self.0;
        if sheet.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return f.write_str(sheet);
        }
        f.write_str("'")?;
        for (i, part) in sheet.split('\'').enumerate() {
            if i > 0 {
                f.write_str("''")?;
            }
            f.write_str(part)?;
        }
        f.write_str("'")
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("whole file"),
            Location::Cell { sheet, row, col } => {
                let letters = Letters::of(*col);
                write!(f, "{}!{}{}", SheetRef(sheet), letters.as_str(), row)
            }
            Location::Row { sheet, row } => write!(f, "{}!{row}:{row}", SheetRef(sheet)),
            Location::Sheet { sheet } => write!(f, "sheet {}", SheetRef(sheet)),
            Location::FormField { name } => write!(f, "form field {name}"),
            Location::Line { file, line } => write!(f, "{file}:{line}"),
        }
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_letters_like_a_spreadsheet() {
        assert_eq!(column_letters(1), "A");
        assert_eq!(column_letters(26), "Z");
        assert_eq!(column_letters(27), "AA");
        assert_eq!(column_letters(16384), "XFD");
        // 26 + 26^2 + ... + 26^6 = 321,272,406 is the last six-letter column.
        assert_eq!(column_letters(321_272_406), "ZZZZZZ");
        assert_eq!(column_letters(321_272_407), "AAAAAAA");
        assert_eq!(column_letters(u32::MAX).len(), 7);
        assert_eq!(column_letters(0), "A");
    }

    #[test]
    fn cells_render_as_excel_references() {
        assert_eq!(Location::cell("Accounts", 7, 5).to_string(), "Accounts!E7");
        assert_eq!(
            Location::cell("My Sheet", 1, 1).to_string(),
            "'My Sheet'!A1"
        );
        // Excel doubles a quote inside a quoted sheet name.
        assert_eq!(
            Location::cell("Bob's 'list'", 12, 28).to_string(),
            "'Bob''s ''list'''!AB12"
        );
        let row = Location::Row {
            sheet: "Accounts".into(),
            row: 9,
        };
        assert_eq!(row.to_string(), "Accounts!9:9");
    }
}
