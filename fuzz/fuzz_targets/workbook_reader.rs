//! Arbitrary bytes into the workbook reader, as each format (the first byte picks xlsx,
//! xlsb, xls or ods): it must return a document with findings, never panic. calamine can
//! still abort on allocation (why `process` reads in a child process with a memory limit);
//! run with `-rss_limit_mb` to see those as out-of-memory reports, not crashes of ours.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolecall::document::Format;
use rolecall::read::{Isolation, read_document};

fuzz_target!(|data: &[u8]| {
    // calamine panics are caught by the reader (they become findings); with
    // ROLECALL_FUZZ_QUIET_PANICS set, they do not stop the run either, so the fuzzer looks
    // for what matters more: panics that escape, hangs, and runaway memory.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        if std::env::var_os("ROLECALL_FUZZ_QUIET_PANICS").is_some() {
            std::panic::set_hook(Box::new(|_| {}));
        }
    });
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let (format, ext) = match pick % 4 {
        0 => (Format::Xlsx, "xlsx"),
        1 => (Format::Xlsb, "xlsb"),
        2 => (Format::Xls, "xls"),
        _ => (Format::Ods, "ods"),
    };
    // The reader takes a path (calamine and the zip checks open the file).
    let path = std::env::temp_dir().join(format!("rolecall-fuzz-{}.{ext}", std::process::id()));
    if std::fs::write(&path, bytes).is_ok() {
        let _ = read_document(&path, format, &Isolation::InProcess);
    }
});
