//! Every end-to-end and integration test, in one test binary (as just's `tests/test.rs`):
//! one link instead of one per file. Each module is one area of the product; shared
//! helpers (running the binary, reading workbooks, the SMTP server) are in `support`.

mod support;

mod alma;
mod catalog;
mod cli;
mod command_line;
mod deliver;
mod done;
mod form_fixtures;
mod form_template;
mod forms;
mod inbox;
mod lifecycle;
mod parallel;
mod pdf_corpus;
mod pdf_hostile;
mod pdf_lazy;
mod pdf_mutations;
mod reader;
mod reader_pool;
mod replies;
mod report;
mod senders;
mod state;
mod verdicts;
