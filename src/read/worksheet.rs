//! From raw cells to a [`Document`]: which sheet, where the header row is, which column is
//! which field, the requester block and the request lines.
//!
//! This runs in the parent process on the plain cells returned by [`super::raw`], so nothing
//! here can be made to allocate by a hostile file beyond the raw reader's caps.

use super::cell::Kind;
use super::raw::{MAX_CELLS, MAX_COLS, RawSheet, RawWorkbook};
use crate::document::{Document, RequestRow, Value, ValueKind, Values};
use crate::finding::{Finding, Rule};
use crate::layout::{
    ACCOUNTS_SHEET, DONE_HEADER, Field, HEADER_SEARCH_ROWS, MESSAGES_HEADER, RequesterField,
    STATUS_HEADER, normalize_header,
};
use crate::location::{Location, column_letters};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most request lines read from one sheet unless `[limits] max_lines` says otherwise: a
/// 100,000-line worksheet goes through within the memory goal of `docs/benchmarks.md`.
pub const DEFAULT_MAX_LINES: usize = 100_000;
/// Name of an optional separate sheet holding the requester block.
pub const REQUESTER_SHEET: &str = "Requester";

/// A sheet's cells by 1-based row, then 1-based column.
type Grid<'a> = BTreeMap<u32, BTreeMap<u32, (Kind, &'a str)>>;

/// The grid of a sheet's rows up to `last_row` (1-based; the header search and the
/// requester block look at the top of a sheet only, and a grid of every cell cost more
/// than the cells).
fn grid(sheet: &RawSheet, last_row: u32) -> Grid<'_> {
    let mut g: Grid<'_> = BTreeMap::new();
    for c in sheet.cells.iter().filter(|c| c.row() < last_row) {
        g.entry(c.row() + 1)
            .or_default()
            .insert(c.col() + 1, (c.2, c.3.as_str()));
    }
    g
}

/// A header row found in a sheet.
struct Header {
    row: u32,
    columns: BTreeMap<Field, u32>,
    /// Unknown headings (1-based column, heading).
    extras: Vec<(u32, String)>,
    /// Headings naming a field already taken by an earlier column.
    duplicates: Vec<(u32, String, Field)>,
}

/// The first row among the first [`HEADER_SEARCH_ROWS`] that names at least three distinct
/// fields, one of them Action, Role or Primary ID.
fn find_header(g: &Grid<'_>) -> Option<Header> {
    for (&row, cells) in g.range(1..=HEADER_SEARCH_ROWS) {
        let mut columns = BTreeMap::new();
        let mut extras = Vec::new();
        let mut duplicates = Vec::new();
        for (&col, &(_, text)) in cells {
            match Field::from_header(text) {
                Some(f) if columns.contains_key(&f) => duplicates.push((col, text.to_string(), f)),
                Some(f) => {
                    columns.insert(f, col);
                }
                None => extras.push((col, text.to_string())),
            }
        }
        let key = [Field::Action, Field::Role, Field::PrimaryId]
            .iter()
            .any(|f| columns.contains_key(f));
        if columns.len() >= 3 && key {
            return Some(Header {
                row,
                columns,
                extras,
                duplicates,
            });
        }
    }
    None
}

fn value(sheet: &Arc<str>, row: u32, col: u32, kind: Kind, text: String) -> Value {
    Value {
        text,
        location: Location::cell_in(sheet, row, col),
        kind: ValueKind::from(kind),
    }
}

/// Label/value pairs: a cell whose text is a requester label, and the next non-empty cell to
/// its right. Earlier values win.
fn requester_block(
    g: &Grid<'_>,
    sheet: &str,
    rows: impl std::ops::RangeBounds<u32>,
    into: &mut BTreeMap<RequesterField, Value>,
) {
    for (&row, cells) in g.range(rows) {
        for (&col, &(_, text)) in cells {
            let key = normalize_header(text);
            let Some(field) = RequesterField::ALL
                .into_iter()
                .find(|f| f.aliases().contains(&key.as_str()))
            else {
                continue;
            };
            if into.contains_key(&field) {
                continue;
            }
            if let Some((&vcol, &(kind, vtext))) = cells.range(col + 1..).next() {
                // A label next to another label is an empty field, not a value.
                let next_is_label = RequesterField::ALL
                    .iter()
                    .any(|f| f.aliases().contains(&normalize_header(vtext).as_str()));
                if !next_is_label {
                    let at = Location::cell(sheet, row, vcol);
                    into.insert(
                        field,
                        Value {
                            text: vtext.to_string(),
                            location: at,
                            kind: ValueKind::from(kind),
                        },
                    );
                }
            }
        }
    }
}

fn overflow_finding(sheet: &RawSheet, max_lines: usize) -> Option<Finding> {
    let o = sheet.overflow?;
    let at = Location::cell(
        &sheet.name,
        o.row.saturating_add(1),
        o.col.saturating_add(1),
    );
    Some(Finding::error(
        Rule::TooLarge,
        Location::Sheet {
            sheet: sheet.name.as_str().into(),
        },
        format!(
            "This sheet holds more than Rolecall reads (at most {} request \
             lines, {} cells and {MAX_COLS} columns, up to column {}): there is content at \
             {at}. Only the part before it was read. Remove what lies outside the request \
             table, or split the requests over several worksheets.",
            thousands(max_lines),
            thousands(MAX_CELLS),
            column_letters(MAX_COLS)
        ),
    ))
}

/// `10000` → `10,000`, as people write counts.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The error for a sheet with more request lines than Rolecall reads, naming how many were
/// left out (past the line cap, and past the reader's row limit).
fn line_cap_finding(sheet: &RawSheet, doc: &Document, max_lines: usize) -> Option<Finding> {
    if doc.unread_lines == 0 || doc.rows.len() < max_lines {
        return None;
    }
    let last = doc.rows.last().and_then(|r| r.location.row()).unwrap_or(0);
    Some(Finding::error(
        Rule::TooLarge,
        Location::Sheet {
            sheet: sheet.name.as_str().into(),
        },
        format!(
            "This sheet has more than {n} request lines; only the first {n} were read (up to \
             row {last}), and {} more {} not read. Split the requests over several \
             worksheets.",
            thousands(doc.unread_lines),
            if doc.unread_lines == 1 { "was" } else { "were" },
            n = thousands(max_lines),
        ),
    ))
}

/// Builds the document from a workbook's raw cells, reading at most `max_lines` request
/// lines (the ones past it are counted, and the verdict says how many were not read). The
/// cells' text moves into the document's values: the raw workbook is used up.
pub fn build_document(mut wb: RawWorkbook, max_lines: usize) -> Document {
    let mut doc = Document::default();
    if wb.too_many_sheets {
        doc.findings.push(Finding::warning(
            Rule::TooLarge,
            Location::File,
            format!(
                "This workbook has more than {} sheets; only the first {} were read.",
                super::raw::MAX_SHEETS,
                super::raw::MAX_SHEETS
            ),
        ));
    }
    let Some((i, header)) = top_of_sheets(&wb, &mut doc, max_lines) else {
        return doc;
    };
    let cells = std::mem::take(&mut wb.sheets[i].cells);
    let sheet = &wb.sheets[i];
    request_rows(cells, &header, &sheet.name, max_lines, &mut doc);
    doc.unread_lines += sheet.rows_not_kept as usize;
    doc.findings
        .extend(line_cap_finding(sheet, &doc, max_lines));
    if doc.rows.is_empty() {
        doc.findings.push(no_requests(sheet, header.row));
    }
    doc
}

/// What the tops of the sheets say: which sheet has the request lines (its index and
/// header row, with the column warnings and the requester block in `doc`), or `None` when
/// no sheet has a header row (`doc` then says why).
fn top_of_sheets(
    wb: &RawWorkbook,
    doc: &mut Document,
    max_lines: usize,
) -> Option<(usize, Header)> {
    let grids: Vec<Grid<'_>> = wb
        .sheets
        .iter()
        .map(|s| grid(s, HEADER_SEARCH_ROWS))
        .collect();
    let mut headers: Vec<Option<Header>> = grids.iter().map(find_header).collect();
    let Some(i) = request_sheet(wb, &headers) else {
        no_header(wb, doc, max_lines);
        return None;
    };
    let (sheet, g) = (&wb.sheets[i], &grids[i]);
    let header = headers[i].take()?;
    doc.sheet = Some(sheet.name.clone());
    doc.header_row = Some(header.row);
    doc.columns = header.columns.clone();
    doc.findings.extend(overflow_finding(sheet, max_lines));
    column_findings(&header, &sheet.name, doc);
    requester_block(g, &sheet.name, 1..header.row, &mut doc.requester);
    if let Some(j) = wb
        .sheets
        .iter()
        .position(|s| s.name.trim().eq_ignore_ascii_case(REQUESTER_SHEET))
    {
        let whole = grid(&wb.sheets[j], u32::MAX);
        requester_block(&whole, &wb.sheets[j].name, .., &mut doc.requester);
    }
    Some((i, header))
}

/// The sheet the request lines are on: the Accounts sheet if it has the header row, else
/// the first sheet that has one.
fn request_sheet(wb: &RawWorkbook, headers: &[Option<Header>]) -> Option<usize> {
    let is_accounts = |s: &RawSheet| s.name.trim().eq_ignore_ascii_case(ACCOUNTS_SHEET);
    wb.sheets
        .iter()
        .position(is_accounts)
        .filter(|&i| headers[i].is_some())
        .or_else(|| headers.iter().position(Option::is_some))
}

/// Warnings for the columns Rolecall does not read: unknown headings (but not the Status
/// and Messages of its own result workbook) and headings that repeat a column.
fn column_findings(header: &Header, sheet: &str, doc: &mut Document) {
    let own = [
        normalize_header(STATUS_HEADER),
        normalize_header(MESSAGES_HEADER),
        normalize_header(DONE_HEADER),
    ];
    for (col, heading) in &header.extras {
        if own.contains(&normalize_header(heading)) {
            continue;
        }
        doc.extra_columns.push((*col, heading.clone()));
        doc.findings.push(Finding::warning(
            Rule::UnknownColumn,
            Location::cell(sheet, header.row, *col),
            format!("Rolecall does not know the column \"{heading}\"; it is ignored."),
        ));
    }
    for (col, heading, field) in &header.duplicates {
        doc.extra_columns.push((*col, heading.clone()));
        let first = header.columns.get(field).copied().unwrap_or(*col);
        doc.findings.push(Finding::warning(
            Rule::UnknownColumn,
            Location::cell(sheet, header.row, *col),
            format!(
                "The column \"{heading}\" repeats the {} column ({}); only the first one is read.",
                field.header(),
                column_letters(first)
            ),
        ));
    }
}

/// The request lines under the header row: every non-empty row, up to the line cap (the
/// rest are counted, not read: the verdict says how many were left out). `cells` are the
/// sheet's, in row then column order; each one in a known column moves into its value.
fn request_rows(
    cells: Vec<super::raw::RawCell>,
    header: &Header,
    sheet: &str,
    max_lines: usize,
    doc: &mut Document,
) {
    // One copy of the sheet's name, shared by every location on it.
    let sheet: Arc<str> = sheet.into();
    // Field by 0-based column, so that each cell finds its field without a search.
    let mut field_at: Vec<Option<Field>> = vec![None; MAX_COLS as usize];
    for (&field, &col) in &header.columns {
        if let Some(slot) = field_at.get_mut(col as usize - 1) {
            *slot = Some(field);
        }
    }
    let mut cells = cells
        .into_iter()
        .skip_while(|c| c.row() < header.row)
        .peekable();
    while let Some(first) = cells.peek() {
        let row = first.row() + 1;
        let mut values = Values::new();
        while let Some(c) = cells.next_if(|c| c.row() + 1 == row) {
            if let Some(Some(field)) = field_at.get(c.col() as usize) {
                values.insert(*field, value(&sheet, row, c.col() + 1, c.2, c.3));
            }
        }
        values.shrink_to_fit();
        if values.is_empty() {
            continue;
        }
        if doc.rows.len() >= max_lines {
            doc.unread_lines += 1;
            continue;
        }
        doc.rows.push(RequestRow {
            location: Location::Row {
                sheet: Arc::clone(&sheet),
                row,
            },
            values,
        });
    }
}

/// `no-requests`: the header row with nothing under it.
fn no_requests(sheet: &RawSheet, header_row: u32) -> Finding {
    Finding::error(
        Rule::NoRequests,
        Location::Sheet {
            sheet: sheet.name.as_str().into(),
        },
        format!(
            "The sheet {} has its header row (row {header_row}) but no request lines under it. \
             Fill in one line per role under the headings and resend the worksheet.",
            sheet.name
        ),
    )
}

/// Findings for a workbook where no sheet has the header row.
fn no_header(wb: &RawWorkbook, doc: &mut Document, max_lines: usize) {
    let readable: Vec<&RawSheet> = wb.sheets.iter().filter(|s| s.error.is_none()).collect();
    if !wb.sheets.is_empty() && readable.is_empty() {
        doc.findings.push(Finding::error(
            Rule::Unreadable,
            Location::File,
            "This file could not be opened as a workbook: none of its sheets can be read. Save \
             it again from your spreadsheet program and resend it.",
        ));
        return;
    }
    let mut too_large = false;
    for s in &wb.sheets {
        if let Some(f) = overflow_finding(s, max_lines) {
            too_large = true;
            doc.findings.push(f);
        }
    }
    if too_large {
        return; // the size is the problem to fix first
    }
    if readable.iter().all(|s| s.cells.is_empty()) {
        doc.findings.push(Finding::error(
            Rule::NoHeader,
            Location::File,
            "This workbook is empty: none of its sheets has anything filled in. Fill in the \
             Accounts Worksheet and resend it.",
        ));
        return;
    }
    let headings: Vec<&str> = [
        Field::Action,
        Field::PrimaryId,
        Field::LastName,
        Field::Email,
        Field::Role,
    ]
    .iter()
    .map(|f| f.header())
    .collect();
    doc.findings.push(Finding::error(
        Rule::NoHeader,
        Location::File,
        format!(
            "No sheet in this workbook has the Accounts header row. Rolecall looks in the first \
             {HEADER_SEARCH_ROWS} rows for a row of column headings such as {}. Use the \
             Accounts Worksheet template, or put those headings back above the request lines.",
            headings.join(", ")
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::raw::{Overflow, RawCell};

    fn sheet(name: &str, cells: &[(u32, u32, &str)]) -> RawSheet {
        RawSheet {
            name: name.into(),
            cells: cells
                .iter()
                .map(|&(r, c, t)| RawCell(r - 1, c - 1, Kind::Text, t.into()))
                .collect(),
            ..Default::default()
        }
    }

    /// The document of a workbook with this one sheet, with the default line cap.
    fn read_one(sheet: RawSheet) -> Document {
        read_capped(sheet, DEFAULT_MAX_LINES)
    }

    /// The document of a workbook with this one sheet, at most `max_lines` lines read.
    fn read_capped(sheet: RawSheet, max_lines: usize) -> Document {
        build_document(
            RawWorkbook {
                sheets: vec![sheet],
                ..Default::default()
            },
            max_lines,
        )
    }

    #[test]
    fn header_is_found_below_a_title_and_columns_in_any_order() {
        let s = sheet(
            "Sheet1",
            &[
                (1, 1, "Staff requests"),
                (3, 2, "Roles"),
                (3, 3, "E-mail address"),
                (3, 4, "Surname"),
                (3, 5, "Action"),
                (3, 6, "Status"),
                (3, 7, "Shoe size"),
                (5, 2, "Cataloger"),
                (5, 5, "Add"),
            ],
        );
        let doc = read_one(s);
        assert_eq!(doc.header_row, Some(3));
        assert_eq!(doc.columns[&Field::Role], 2);
        assert_eq!(doc.rows.len(), 1);
        assert_eq!(
            doc.rows[0].values[&Field::Role].location.to_string(),
            "Sheet1!B5"
        );
        assert_eq!(doc.extra_columns, vec![(7, "Shoe size".to_string())]);
        assert_eq!(doc.findings.len(), 1);
        assert_eq!(doc.findings[0].location.to_string(), "Sheet1!G3");
    }

    #[test]
    fn requester_labels_take_the_next_filled_cell() {
        let s = sheet(
            "Accounts",
            &[
                (2, 1, "Requester name"),
                (2, 3, "Ana Diaz"),
                (3, 1, "Requester email"),
                (4, 1, "Institution"),
                (4, 2, "01FALSC_UCF"),
                (8, 1, "Action"),
                (8, 2, "Primary ID"),
                (8, 3, "Role"),
                (9, 1, "Add"),
            ],
        );
        let doc = read_one(s);
        let name = doc.requester(RequesterField::Name).unwrap();
        assert_eq!(
            (name.text.as_str(), name.location.to_string()),
            ("Ana Diaz", "Accounts!C2".into())
        );
        assert!(doc.requester(RequesterField::Email).is_none());
        assert_eq!(
            doc.requester(RequesterField::Institution).unwrap().text,
            "01FALSC_UCF"
        );
    }

    #[test]
    fn lines_past_the_cap_stop_with_too_large() {
        let mut s = sheet(
            "Accounts",
            &[(1, 1, "Action"), (1, 2, "Primary ID"), (1, 3, "Role")],
        );
        for r in 0..=DEFAULT_MAX_LINES as u32 {
            s.cells.push(RawCell(r + 1, 0, Kind::Text, "Add".into()));
        }
        let doc = read_one(s);
        assert_eq!(doc.rows.len(), DEFAULT_MAX_LINES);
        assert_eq!(doc.findings.len(), 1);
        assert_eq!(doc.findings[0].rule, Rule::TooLarge);
        assert!(
            doc.findings[0]
                .message
                .contains("more than 100,000 request lines")
        );
        assert!(doc.findings[0].message.contains("up to row 100001"));
        assert!(doc.findings[0].message.contains("1 more was not read"));
        assert_eq!(doc.unread_lines, 1);
    }

    #[test]
    fn rows_past_the_reader_limit_count_as_lines_not_read() {
        let mut s = sheet(
            "Accounts",
            &[(1, 1, "Action"), (1, 2, "Primary ID"), (1, 3, "Role")],
        );
        for r in 0..25 {
            s.cells.push(RawCell(r + 1, 0, Kind::Text, "Add".into()));
        }
        // A cap of 20 set by `[limits] max_lines`: 5 lines past it were kept by the raw
        // reader, 90 more only counted.
        s.rows_not_kept = 90;
        let doc = read_capped(s, 20);
        assert_eq!(doc.rows.len(), 20);
        assert!(
            doc.findings[0]
                .message
                .contains("more than 20 request lines")
        );
        assert!(doc.findings[0].message.contains("up to row 21"));
        assert_eq!(doc.unread_lines, 95);
        assert!(doc.findings[0].message.contains("95 more were not read"));
    }

    #[test]
    fn an_overflowing_sheet_without_header_is_too_large() {
        let mut s = sheet("Sheet1", &[(1, 1, "x")]);
        s.overflow = Some(Overflow {
            row: 1_048_575,
            col: 16_383,
        });
        let doc = read_one(s);
        assert_eq!(doc.findings.len(), 1);
        assert_eq!(doc.findings[0].rule, Rule::TooLarge);
        assert!(doc.findings[0].message.contains("Sheet1!XFD1048576"));
    }
}
