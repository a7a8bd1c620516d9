//! `cargo bench --bench forms`: how long a PDF form takes to read, from the bytes to request
//! lines, on the filled sample form (3 pages, 180 fields) and on the largest real-world forms
//! of the corpus beside the checkout (`../shared/corpus/pdf-forms`, skipped when absent).
//! Prints the median of several runs; figures are kept in `docs/benchmarks.md`.

use rolecall::catalog;
use rolecall::read::form::read_form;
use rolecall::read::read_form_file;
use rolecall::read::{Isolation, request_form};
use rolecall::template::form::form_bytes;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f());
        times.push(start.elapsed());
    }
    median(times)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let catalog = catalog::bundled();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let child = Isolation::Child {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_rolecall")),
        memory_mb: 1024,
        timeout: Duration::from_secs(60),
    };

    let blank = time(9, || form_bytes(&catalog).unwrap());
    println!("blank form from the catalog: {}", ms(blank));

    let mut files = vec![root.join("samples/forms/clean.pdf")];
    for name in ["prefilled_f1040.pdf", "with_combed_fields.pdf"] {
        let path = root.join("../shared/corpus/pdf-forms").join(name);
        if path.exists() {
            files.push(path);
        } else {
            eprintln!("skipped {name}: ../shared/corpus/pdf-forms is not beside the checkout");
        }
    }
    println!(
        "{:>28} | {:>6} | {:>10} | {:>12} | {:>10}",
        "form", "fields", "read", "read child", "to requests"
    );
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let form = read_form(&bytes).unwrap();
        let read = time(9, || read_form(&bytes).unwrap());
        let read_child = time(5, || read_form_file(&path, &child).unwrap());
        let map = time(9, || request_form::build_document(&form, &catalog));
        println!(
            "{:>28} | {:>6} | {:>10} | {:>12} | {:>10}",
            path.file_name().unwrap().to_string_lossy(),
            form.fields.len(),
            ms(read),
            ms(read_child),
            ms(map)
        );
    }
}
