//! Text files written for a spreadsheet (the Update/Notify Users ID lists, `requests.tsv`,
//! the export's indexes): one escaping function, so that no cell Rolecall writes into a
//! text file can become a formula when someone opens it in Excel or LibreOffice, as no
//! cell of its workbooks can.
//!
//! The rule is OWASP's advice on CSV injection
//! (<https://owasp.org/www-community/attacks/CSV_Injection>): a cell that begins with `=`,
//! `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which spreadsheets read as
//! "this is text" (and Excel hides). Quoting is left to the csv crate, so a delimiter, a
//! quote or a line break inside a cell cannot start another cell either.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula (OWASP).
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// `text` as a cell that a spreadsheet shows as text: a `'` before a leading formula
/// character, otherwise unchanged.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Rows as delimited text (`b'\t'` for `.tsv` and the ID lists, `b','` for `.csv`), every
/// cell through [`cell`] and quoted where it needs to be, lines ending in `\n`.
pub fn table<I, R, S>(delimiter: u8, rows: I) -> Vec<u8>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| cell(c.as_ref()).into_owned())
            .collect();
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&cells);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_get_a_quote_and_the_rest_is_unchanged() {
        for bad in ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(bad), format!("'{bad}"));
        }
        for fine in ["00455120", "G20455871", "a=b", "O'Brien", ""] {
            assert_eq!(cell(fine), fine);
        }
    }

    #[test]
    fn a_delimiter_or_line_break_in_a_cell_cannot_make_another_cell() {
        let bytes = table(b'\t', [["a\tb", "c\nd"], ["=x", "y"]]);
        let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .has_headers(false)
            .from_reader(bytes.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows, [["a\tb", "c\nd"], ["'=x", "y"]]);
    }
}
