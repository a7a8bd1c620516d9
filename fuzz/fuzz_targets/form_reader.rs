//! Arbitrary bytes into the PDF form reader: it must return a form or a failure, never
//! panic, abort, hang or run out of memory. libfuzzer-sys turns any panic into an abort,
//! so a panic inside lopdf is reported here even though `read_form` would catch it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rolecall::read::form::read_form(data);
});
