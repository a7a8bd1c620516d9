//! `cargo bench --bench workbook`: what one result workbook costs, per workbook and per line.
//!
//! Builds worksheets of N valid request lines for the bundled catalog (the same generator as
//! `benches/pipeline.rs`), reads and validates each once, then times only the result workbook
//! with the parts built once per run (`report::Kit`), as `process` and the watcher write it:
//! the median of many runs for the small sizes, fewer for the large. It also counts the cells
//! the workbook holds (every `<c>` of every sheet), so that the cost can be read as
//! "X ms a workbook + Y µs a line (Z cells a line)". Figures are kept in `docs/benchmarks.md`.
//!
//! `cargo bench --bench workbook -- loop LINES RUNS` writes the workbook of LINES lines RUNS
//! times and prints nothing else: a steady input for `perf record` or `valgrind
//! --tool=callgrind`.

use rolecall::catalog;
use rolecall::changeset::{self, ChangeSet, SubmissionInfo};
use rolecall::document::Format;
use rolecall::read::{Isolation, read_document};
use rolecall::report::{self, Kit};
use rolecall::validate::{self, Outcome};
use std::io::{Cursor, Read};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::write_worksheet;

/// CPU time this thread has used so far (the scheduler's own count, in
/// `/proc/thread-self/schedstat`): on a machine shared with other builds, wall time measures
/// them too.
fn cpu_now() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let ns = stat.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

/// The median CPU time of `runs` calls, and the last call's value.
fn cpu<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = cpu_now();
        last = Some(f());
        times.push(cpu_now() - start);
    }
    (support::median(times), last.unwrap())
}

/// A submission of `lines` lines, read and validated, with its change set.
fn submission(catalog: &catalog::Catalog, lines: u32) -> (Outcome, ChangeSet) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("bench-{lines}.xlsx"));
    write_worksheet(&path, lines);
    let document = read_document(&path, Format::Xlsx, &Isolation::InProcess);
    assert_eq!(document.rows.len(), lines as usize);
    let outcome = validate::validate(document, catalog, jiff::civil::date(2026, 11, 24));
    assert_eq!(outcome.counts().accepted, lines as usize);
    let info = SubmissionInfo {
        id: "bench".into(),
        source: "bench.xlsx".into(),
        sha256: String::new(),
        processed_at: "2026-11-24T15:00:00Z".into(),
        requester_name: None,
        requester_email: None,
    };
    let cs = changeset::build(&outcome, info, &catalog.version);
    (outcome, cs)
}

/// The cells of every sheet of a workbook (`<c ` elements), and the file's size.
fn cells(bytes: &[u8]) -> usize {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut count = 0;
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        if file.name().unwrap().starts_with("xl/worksheets/sheet") {
            let mut xml = String::new();
            file.read_to_string(&mut xml).unwrap();
            count += xml.matches("<c ").count();
        }
    }
    count
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let catalog = catalog::bundled();
    let kit = Kit::new(&catalog);
    if let [mode, lines, runs, ..] = args.as_slice()
        && mode == "loop"
    {
        let (outcome, cs) = submission(&catalog, lines.parse().unwrap());
        for _ in 0..runs.parse::<usize>().unwrap() {
            report::result_bytes_with_kit(&outcome, &cs, &catalog, None, &kit).unwrap();
        }
        return;
    }
    println!(
        "{:>7} | {:>10} | {:>9} | {:>9} | {:>9}",
        "lines", "CPU", "cells", "bytes", "per line"
    );
    let mut one = None;
    for (lines, runs) in [(1u32, 51), (10, 31), (100, 15), (1_000, 7), (5_000, 5)] {
        let (outcome, cs) = submission(&catalog, lines);
        let (took, bytes) = cpu(runs, || {
            report::result_bytes_with_kit(&outcome, &cs, &catalog, None, &kit).unwrap()
        });
        let base = *one.get_or_insert(took);
        let per_line = took.saturating_sub(base) / (lines - 1).max(1);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{lines:>7} | {:>7.2} ms | {:>9} | {:>9} | {:>6.1} µs",
            us(took) / 1000.0,
            cells(&bytes),
            bytes.len(),
            us(per_line),
        );
    }
}
