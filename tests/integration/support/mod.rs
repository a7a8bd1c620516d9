//! Helpers shared by the test modules: running the real binary in a temporary folder and
//! reading back what it wrote (`run`), and a real SMTP server on 127.0.0.1 (`smtp`).

pub mod run;
pub mod smtp;
