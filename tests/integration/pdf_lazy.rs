//! The lazy PDF reader against lopdf's whole load (`docs/pdf-reader.md`, "The lazy reader"):
//! on every PDF in `samples/`, `tests/` and `../shared/corpus/`, hostile files included, and
//! on thousands of broken copies of them (truncated, bytes flipped, structure tokens put
//! in), whenever the lazy reader answers, its form must be exactly the one lopdf's path
//! gives; when it declines, `read_form` falls back to lopdf, so declining is never wrong.

// xorshift64*, fixed seed: a failure reproduces.
use crate::pdf_mutations::Rng;
use rolecall::read::form::{read_form_lazy, read_form_lopdf};
use std::path::{Path, PathBuf};

/// Every `.pdf` under `dir`, depth first, sorted.
fn pdfs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            pdfs_under(&p, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")) {
            out.push(p);
        }
    }
}

fn every_pdf() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["samples", "tests", "fuzz", "../shared/corpus"] {
        pdfs_under(&root.join(dir), &mut out);
    }
    out.sort();
    out
}

/// Where the lazy reader looks: mutations land next to these, not in stream data.
const ANCHORS: &[&[u8]] = &[
    b" obj",
    b" R",
    b"/T ",
    b"/V ",
    b"/Kids",
    b"/Parent",
    b"/FT",
    b"<<",
    b"(",
    b"xref",
    b"trailer",
    b"startxref",
    b"/Prev",
    b"/Root",
];

const TOKENS: &[&[u8]] = &[
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b")",
    b"\\",
    b"/",
    b" 0 R",
    b" 1 R",
    b"obj",
    b"endobj",
    b"stream\n",
    b"%",
    b"#",
    b"#4F",
    b"\r",
    b"\n",
    b"-",
    b".",
    b"999999999999",
    b"<41>",
    b"null",
];

fn anchor(rng: &mut Rng, data: &[u8]) -> usize {
    let a = ANCHORS[rng.below(ANCHORS.len())];
    let hits: Vec<usize> = data
        .windows(a.len())
        .enumerate()
        .filter(|(_, w)| *w == a)
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        0 => rng.below(data.len()),
        n => (hits[rng.below(n)] + rng.below(a.len() + 8)).min(data.len() - 1),
    }
}

/// Mostly same-length changes (a byte, a digit, a token written over the bytes there), which
/// keep every cross-reference offset right, so the lazy reader still answers and the answer
/// is compared; sometimes a deletion or insertion, which moves the objects.
fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..=rng.below(2) {
        if d.is_empty() {
            break;
        }
        let at = anchor(rng, &d);
        match rng.below(6) {
            0 => d[at] = rng.next() as u8,
            1 | 2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let end = (at + t.len()).min(d.len());
                d[at..end].copy_from_slice(&t[..end - at]);
            }
            3 => {
                if d[at].is_ascii_digit() {
                    d[at] = b'0' + rng.below(10) as u8;
                }
            }
            4 => {
                let end = (at + 1 + rng.below(8)).min(d.len());
                d.drain(at..end);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                d.splice(at..at, t.iter().copied());
            }
        }
    }
    d
}

/// The lazy reader's answer, if any, against lopdf's; the name of the input on a mismatch.
fn compare(name: &str, input: &[u8]) -> Result<bool, String> {
    let Some(lazy) = read_form_lazy(input) else {
        return Ok(false);
    };
    match read_form_lopdf(input) {
        Ok(whole) if whole == lazy => Ok(true),
        Ok(whole) => Err(format!(
            "{name}: the lazy reader's form differs from lopdf's\nlazy: {lazy:?}\nlopdf: {whole:?}"
        )),
        Err(e) => Err(format!(
            "{name}: the lazy reader read {} fields where lopdf's path fails ({:?})",
            lazy.fields.len(),
            e.kind
        )),
    }
}

#[test]
fn the_lazy_reader_gives_lopdfs_form_on_every_pdf_or_declines() {
    let files = every_pdf();
    assert!(files.len() > 30, "found only {} PDFs", files.len());
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let name = path.display().to_string();
        match compare(&name, &data) {
            Ok(true) => accepted.push(name),
            Ok(false) => {}
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "lazy reader: answered {} of {} PDFs",
        accepted.len(),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The bench form (pypdf) is the case the lazy reader is for.
    assert!(
        accepted
            .iter()
            .any(|n| n.ends_with("samples/forms/clean.pdf")),
        "the lazy reader declined the sample form"
    );
}

#[test]
fn the_lazy_reader_gives_lopdfs_form_on_broken_copies_or_declines() {
    let per_seed: usize = std::env::var("ROLECALL_LAZY_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut rng = Rng(0x1A2B_3C4D_5E6F_7081);
    let (mut runs, mut answered) = (0, 0);
    let mut failures = Vec::new();
    for path in every_pdf() {
        let data = std::fs::read(&path).unwrap();
        if data.len() > 200 * 1024 || data.is_empty() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut inputs: Vec<Vec<u8>> = (1..=4)
            .map(|k| data[..data.len().saturating_sub(k * 5)].to_vec())
            .collect();
        inputs.extend((0..per_seed).map(|_| mutate(&mut rng, &data)));
        for (i, input) in inputs.iter().enumerate() {
            runs += 1;
            match compare(&format!("{name} input #{i}"), input) {
                Ok(true) => answered += 1,
                Ok(false) => {}
                Err(e) => failures.push(e),
            }
        }
    }
    eprintln!("lazy reader: answered {answered} of {runs} broken copies");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
