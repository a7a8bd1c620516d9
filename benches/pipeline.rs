//! `cargo bench --bench pipeline`: how long each stage takes on a large Accounts Worksheet.
//!
//! Builds a worksheet of N request lines in the template layout (valid lines for the bundled
//! catalog, desks and profiles included), then times each stage over a few runs and prints
//! the median. Figures are kept in `docs/benchmarks.md`.

use rolecall::catalog;
use rolecall::changeset::{self, SubmissionInfo};
use rolecall::document::Format;
use rolecall::read::{Isolation, read_document};
use rolecall::{report, validate};
use std::path::PathBuf;
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{time, write_worksheet};

fn main() {
    let catalog = catalog::bundled();
    let dir = tempfile::tempdir().unwrap();
    let today = jiff::civil::date(2026, 11, 24);
    println!(
        "{:>6} lines | {:>10} | {:>10} | {:>10} | {:>10} | {:>10}",
        "", "read", "read child", "validate", "changeset", "workbook"
    );
    for lines in [100u32, 1_000, 5_000] {
        let path = dir.path().join(format!("bench-{lines}.xlsx"));
        write_worksheet(&path, lines);
        let (read, document) = time(5, || {
            read_document(&path, Format::Xlsx, &Isolation::InProcess)
        });
        assert_eq!(document.rows.len(), lines as usize);
        let child = Isolation::Child {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_rolecall")),
            memory_mb: 1024,
            timeout: Duration::from_secs(120),
        };
        let (read_child, _) = time(5, || read_document(&path, Format::Xlsx, &child));
        let (check, outcome) = time(5, || validate::validate(document.clone(), &catalog, today));
        assert_eq!(
            outcome.counts().accepted,
            lines as usize,
            "{:?}",
            outcome.all_findings().next()
        );
        let info = SubmissionInfo {
            id: "bench".into(),
            source: "bench.xlsx".into(),
            sha256: String::new(),
            processed_at: String::new(),
            requester_name: None,
            requester_email: None,
        };
        let (build, cs) = time(5, || {
            changeset::build(&outcome, info.clone(), &catalog.version)
        });
        let (write, _) = time(3, || report::result_bytes(&outcome, &cs, &catalog).unwrap());
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{lines:>6} lines | {:>10} | {:>10} | {:>10} | {:>10} | {:>10}",
            ms(read),
            ms(read_child),
            ms(check),
            ms(build),
            ms(write)
        );
    }
}
