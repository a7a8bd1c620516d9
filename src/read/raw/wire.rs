//! How a reader worker's answer for a workbook crosses the pipe: a length-prefixed binary
//! encoding of `Result<RawWorkbook, RawFailure>`.
//!
//! It was the JSON of the same value: a 100,000-line sheet's cells came back as 40 MB of
//! text, parsed again in the parent, with the text and the parsed cells in memory at once.
//! Here each cell is its row, column and kind, then its text as a 4-byte length and the
//! bytes, all integers big-endian. The decoder trusts nothing: every length is checked
//! against what is left, every text must be UTF-8, every tag known; anything else is `None`,
//! which the parent reads as a worker that answered garbage.
//!
//! Layout: a tag byte (0: a workbook, 1: a failure). A failure is its kind byte (0: too
//! large, 1: unreadable) and its message. A workbook is `too_many_sheets` (a byte), the
//! sheet count, then each sheet: name, overflow (a byte, then row and column when 1),
//! `rows_not_kept`, error (a byte, then the text when 1), the cell count, and each cell:
//! row, column, kind byte (`t n d b` as in [`Kind`]), text.

use super::{FailKind, Overflow, RawCell, RawFailure, RawSheet, RawWorkbook};
use crate::read::cell::Kind;

/// The encoding of a reader's result for a workbook.
pub fn encode(result: &Result<RawWorkbook, RawFailure>) -> Vec<u8> {
    let mut out = Writer(Vec::new());
    match result {
        Ok(wb) => {
            out.byte(0);
            out.workbook(wb);
        }
        Err(failure) => {
            out.byte(1);
            out.byte(match failure.kind {
                FailKind::TooLarge => 0,
                FailKind::Unreadable => 1,
            });
            out.text(&failure.message);
        }
    }
    out.0
}

/// The result [`encode`] wrote, or `None` when the bytes are not such an encoding (cut
/// short, a length past the end, text that is not UTF-8, an unknown tag, bytes left over).
pub fn decode(bytes: &[u8]) -> Option<Result<RawWorkbook, RawFailure>> {
    let mut r = Reader(bytes);
    let result = match r.byte()? {
        0 => Ok(r.workbook()?),
        1 => {
            let kind = match r.byte()? {
                0 => FailKind::TooLarge,
                1 => FailKind::Unreadable,
                _ => return None,
            };
            Err(RawFailure {
                kind,
                message: r.text()?,
            })
        }
        _ => return None,
    };
    r.0.is_empty().then_some(result)
}

fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::Text => b't',
        Kind::Number => b'n',
        Kind::Date => b'd',
        Kind::Bool => b'b',
    }
}

fn kind_of(code: u8) -> Option<Kind> {
    [Kind::Text, Kind::Number, Kind::Date, Kind::Bool]
        .into_iter()
        .find(|k| kind_code(*k) == code)
}

/// The encoder's primitives, shared with the form's encoding (`read::form::wire`).
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    pub(crate) fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    /// A count or a length: the caps on cells and file size keep every one far below 4 GiB.
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn workbook(&mut self, wb: &RawWorkbook) {
        self.byte(u8::from(wb.too_many_sheets));
        self.len(wb.sheets.len());
        for sheet in &wb.sheets {
            self.sheet(sheet);
        }
    }

    fn sheet(&mut self, sheet: &RawSheet) {
        self.text(&sheet.name);
        match sheet.overflow {
            Some(o) => {
                self.byte(1);
                self.u32(o.row);
                self.u32(o.col);
            }
            None => self.byte(0),
        }
        self.u32(sheet.rows_not_kept);
        match &sheet.error {
            Some(e) => {
                self.byte(1);
                self.text(e);
            }
            None => self.byte(0),
        }
        self.len(sheet.cells.len());
        for RawCell(row, col, kind, text) in &sheet.cells {
            self.u32(*row);
            self.u32(*col);
            self.byte(kind_code(*kind));
            self.text(text);
        }
    }
}

/// The decoder's primitives, shared with the form's encoding (`read::form::wire`): each
/// returns `None` for bytes that cannot be what it reads.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

/// The fewest bytes a cell takes (row, column, kind, an empty text's length): a count
/// larger than what is left could hold is refused before anything is allocated for it.
const MIN_CELL_BYTES: usize = 4 + 4 + 1 + 4;
/// The fewest bytes a sheet takes (empty name, no overflow, count, no error, no cells).
const MIN_SHEET_BYTES: usize = 4 + 1 + 4 + 1 + 4;

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A count of items of at least `min_bytes` each, refused when they cannot fit.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.0.len() / min_bytes).then_some(n)
    }

    pub(crate) fn text(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).ok()
    }

    fn workbook(&mut self) -> Option<RawWorkbook> {
        let too_many_sheets = self.flag()?;
        let n = self.count(MIN_SHEET_BYTES)?;
        let mut sheets = Vec::with_capacity(n);
        for _ in 0..n {
            sheets.push(self.sheet()?);
        }
        Some(RawWorkbook {
            sheets,
            too_many_sheets,
        })
    }

    fn sheet(&mut self) -> Option<RawSheet> {
        let name = self.text()?;
        let overflow = match self.flag()? {
            true => Some(Overflow {
                row: self.u32()?,
                col: self.u32()?,
            }),
            false => None,
        };
        let rows_not_kept = self.u32()?;
        let error = match self.flag()? {
            true => Some(self.text()?),
            false => None,
        };
        let n = self.count(MIN_CELL_BYTES)?;
        let mut cells = Vec::with_capacity(n);
        for _ in 0..n {
            let (row, col) = (self.u32()?, self.u32()?);
            let kind = kind_of(self.byte()?)?;
            cells.push(RawCell(row, col, kind, self.text()?));
        }
        Some(RawSheet {
            name,
            cells,
            overflow,
            rows_not_kept,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workbook() -> RawWorkbook {
        RawWorkbook {
            sheets: vec![
                RawSheet {
                    name: "Accounts".into(),
                    cells: vec![
                        RawCell(0, 0, Kind::Text, "Action".into()),
                        RawCell(8, 3, Kind::Number, "12345".into()),
                        RawCell(8, 4, Kind::Date, "2026-06-30".into()),
                        RawCell(9, 0, Kind::Bool, "TRUE".into()),
                        RawCell(9, 1, Kind::Text, "Peña\nÅ".into()),
                    ],
                    overflow: Some(Overflow { row: 7, col: 200 }),
                    rows_not_kept: 3,
                    error: None,
                },
                RawSheet {
                    name: "Chart".into(),
                    error: Some("not a worksheet".into()),
                    ..Default::default()
                },
            ],
            too_many_sheets: true,
        }
    }

    #[test]
    fn a_workbook_and_a_failure_come_back_as_they_went() {
        let ok = Ok(workbook());
        assert_eq!(decode(&encode(&ok)), Some(ok));
        let failed = Err(RawFailure {
            kind: FailKind::TooLarge,
            message: "too large".into(),
        });
        assert_eq!(decode(&encode(&failed)), Some(failed));
    }

    #[test]
    fn a_cell_is_laid_out_as_documented() {
        let wb = RawWorkbook {
            sheets: vec![RawSheet {
                name: "A".into(),
                cells: vec![RawCell(1, 2, Kind::Number, "7".into())],
                ..Default::default()
            }],
            too_many_sheets: false,
        };
        // Worked out by hand from the layout in the module's doc.
        let expected: Vec<u8> = [
            &[0, 0][..],         // a workbook; not too many sheets
            &[0, 0, 0, 1],       // one sheet
            &[0, 0, 0, 1, b'A'], // its name
            &[0],                // no overflow
            &[0, 0, 0, 0],       // no rows past the limits
            &[0],                // no error
            &[0, 0, 0, 1],       // one cell
            &[0, 0, 0, 1, 0, 0, 0, 2, b'n'],
            &[0, 0, 0, 1, b'7'],
        ]
        .concat();
        assert_eq!(encode(&Ok(wb)), expected);
    }

    #[test]
    fn garbage_cut_bytes_and_huge_counts_are_refused_not_allocated() {
        let bytes = encode(&Ok(workbook()));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        // A sheet count of 4 billion in a 6-byte answer.
        assert_eq!(decode(&[0, 0, 255, 255, 255, 255]), None);
        assert_eq!(decode(b"{\"Ok\":{}}"), None);
        // Text that is not UTF-8.
        let mut bad = encode(&Err(RawFailure {
            kind: FailKind::Unreadable,
            message: "ab".into(),
        }));
        let last = bad.len() - 1;
        bad[last] = 0xFF;
        assert_eq!(decode(&bad), None);
    }
}
