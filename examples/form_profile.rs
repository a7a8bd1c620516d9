//! Reads one PDF form N times in this process, for profiling the form reader under
//! callgrind (`docs/benchmarks.md`):
//!
//! ```sh
//! cargo build --release --example form_profile
//! valgrind --tool=callgrind target/release/examples/form_profile FILE 10 [auto|lopdf|lazy]
//! ```
//!
//! `auto` is `read_form` (the lazy reader, else lopdf), `lopdf` always loads the whole
//! document, `lazy` is the lazy reader alone. Prints the fields of the last read.

use rolecall::read::form::{read_form, read_form_lazy, read_form_lopdf};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: form_profile FILE [TIMES] [auto|lopdf|lazy]");
        std::process::exit(2);
    };
    let times: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(1);
    let how = args.get(3).map_or("auto", String::as_str);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut fields = None;
    for _ in 0..times {
        fields = match how {
            "lopdf" => read_form_lopdf(&bytes).ok(),
            "lazy" => read_form_lazy(&bytes),
            _ => read_form(&bytes).ok(),
        }
        .map(|form| form.fields.len());
    }
    match fields {
        Some(n) => println!("{path}: {n} fields ({how}, {times} reads)"),
        None => println!("{path}: no form ({how}, {times} reads)"),
    }
}
