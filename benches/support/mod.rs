//! Inputs the benchmarks generate: worksheets and filled forms for the bundled catalog, and
//! timing helpers. Shared by `benches/pipeline.rs` (stages in process) and `benches/e2e.rs`
//! (whole processes).

#![allow(dead_code)] // each benchmark uses its own part

use rolecall::layout::{Field, HEADER_ROW, RequesterField};
use std::path::Path;
use std::time::{Duration, Instant};

/// The primary ID of the `i`-th generated person (8 digits, as Gulf Coast's IDs are).
pub fn person_id(i: u32) -> String {
    format!("{:08}", 1_000_000 + i)
}

/// Writes an Accounts Worksheet of `lines` valid request lines for the bundled catalog, in the
/// template layout: profiles with desks, two roles in one cell, a service unit. Person `i` has
/// the primary ID `person_id(i)`.
pub fn write_worksheet(path: &Path, lines: u32) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Accounts").unwrap();
    let block = [
        (RequesterField::Name, "Dana Whitfield"),
        (RequesterField::Email, "dwhitfield@gcsu.example.edu"),
        (RequesterField::Institution, "01FALSC_GCSU"),
    ];
    for (field, value) in block {
        ws.write_string(field.template_row() - 1, 0, field.label())
            .unwrap();
        ws.write_string(field.template_row() - 1, 1, value).unwrap();
    }
    for field in Field::ALL {
        ws.write_string(
            HEADER_ROW - 1,
            (field.template_col() - 1) as u16,
            field.header(),
        )
        .unwrap();
    }
    let kinds: [&[(Field, &str)]; 3] = [
        &[
            (Field::Action, "Add"),
            (Field::Profile, "Circulation Student Worker"),
            (Field::Library, "MAIN"),
            (Field::Unit, "DEFAULT_CIRC_DESK"),
        ],
        &[
            (Field::Action, "Add"),
            (Field::Role, "Cataloger; Physical Inventory Operator"),
            (Field::Library, "LAW"),
        ],
        &[
            (Field::Action, "Add"),
            (Field::Role, "Receiving Operator"),
            (Field::Library, "MAIN"),
            (Field::Unit, "ACQ_RECEIVING"),
        ],
    ];
    for i in 0..lines {
        let row = HEADER_ROW + i;
        let id = person_id(i);
        let person = [
            (Field::PrimaryId, id.as_str()),
            (Field::LastName, "Alvarez"),
            (Field::FirstName, "Sam"),
            (Field::Email, &*format!("s{i}@gcsu.example.edu")),
        ];
        for (field, value) in person.iter().chain(kinds[i as usize % 3]) {
            ws.write_string(row, (field.template_col() - 1) as u16, *value)
                .unwrap();
        }
    }
    wb.save(path).unwrap();
}

pub fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// The median of `runs` timed calls, and the last call's value.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    (median(times), last.unwrap())
}
