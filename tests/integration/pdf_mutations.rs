//! A fuzzer's worth of broken PDFs that runs on stable Rust in every `cargo test`: each
//! hostile fixture and each real-world corpus form under 200 KiB, truncated at many
//! lengths and with bytes flipped, inserted and deleted (a fixed-seed generator, so a
//! failure reproduces), through `read_form`. Every input must give a form or a failure,
//! quickly, and lopdf must not even panic: a panic hook counts panics that `read_form`'s
//! own `catch_unwind` would hide. The real fuzz target is `fuzz/` (cargo-fuzz, nightly).

use rolecall::read::form::read_form;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static PANICS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on this test's own thread: the panic hook is process-wide, and the other tests of
    /// the one integration binary run (and panic on purpose) in threads beside it.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// xorshift64*: small, fixed-seed, good enough to pick positions and bytes (`pdf_lazy`
/// mutates with it too).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("tests/fixtures/pdf-hostile"),
        root.join("../shared/corpus/pdf-forms"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "note: {} is missing; mutating the other seeds only",
                dir.display()
            );
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let small = e.metadata().map(|m| m.len() <= 200 * 1024).unwrap_or(false);
            if p.extension().is_some_and(|x| x == "pdf") && small {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Bytes that PDF parsers care about: mutating into them finds more than random bytes.
const TOKENS: &[&[u8]] = &[
    b"<<",
    b">>",
    b"[",
    b"]",
    b"(",
    b")",
    b"/",
    b" 0 R",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"xref",
    b"trailer",
    b"startxref",
    b"/Kids",
    b"/Parent",
    b"/Fields",
    b"/FlateDecode",
    b"/ObjStm",
    b"\\",
    b"#",
    b"%",
    b"999999999",
    b"-1",
];

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..=rng.below(4) {
        if d.is_empty() {
            break;
        }
        let at = rng.below(d.len());
        match rng.below(6) {
            0 => d.truncate(at),
            1 => d[at] = rng.next() as u8,
            2 => {
                let end = (at + 1 + rng.below(64)).min(d.len());
                d.drain(at..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                d.splice(at..at, t.iter().copied());
            }
            4 => {
                // Duplicate a chunk (repeated objects, nested brackets).
                let end = (at + 1 + rng.below(256)).min(d.len());
                let chunk = d[at..end].to_vec();
                d.splice(at..at, chunk);
            }
            _ => {
                let digit = b'0' + rng.below(10) as u8;
                if d[at].is_ascii_digit() {
                    d[at] = digit;
                }
            }
        }
    }
    d
}

#[test]
fn thousands_of_broken_pdfs_never_panic_hang_or_crash() {
    let default_hook = std::panic::take_hook();
    COUNTING.with(|c| c.set(true));
    std::panic::set_hook(Box::new(move |info| {
        if COUNTING.with(|c| c.get()) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        default_hook(info);
    }));
    let seeds = seeds();
    assert!(!seeds.is_empty());
    let per_seed: usize = std::env::var("ROLECALL_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut rng = Rng(0x5EED_F0F0_1234_5678);
    let mut runs = 0;
    let mut slowest = (Duration::ZERO, String::new());
    for seed in &seeds {
        let data = std::fs::read(seed).unwrap();
        let name = seed.file_name().unwrap().to_string_lossy().into_owned();
        // Every truncation length near the end (where the xref and trailer live), and a
        // spread of shorter ones.
        let mut inputs: Vec<Vec<u8>> = (1..=16)
            .map(|k| data[..data.len().saturating_sub(k * 7)].to_vec())
            .collect();
        inputs.extend((1..8).map(|k| data[..data.len() * k / 8].to_vec()));
        inputs.extend((0..per_seed).map(|_| mutate(&mut rng, &data)));
        for (i, input) in inputs.iter().enumerate() {
            let started = Instant::now();
            let _ = read_form(input);
            let took = started.elapsed();
            if took > slowest.0 {
                slowest = (took, format!("{name} input #{i}"));
            }
            assert!(
                took < Duration::from_secs(30),
                "{name} input #{i} took {took:?}"
            );
            runs += 1;
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "{runs} mutated inputs from {} seeds; slowest {:?} ({})",
        seeds.len(),
        slowest.0,
        slowest.1
    );
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "lopdf or the reader panicked (caught)"
    );
}
