//! Helpers shared by the test modules: running the real binary in a temporary folder and
//! reading back what it wrote (`run`), a real SMTP server on 127.0.0.1 (`smtp`), and a fake
//! Alma Users API on 127.0.0.1 (`alma`).

pub mod alma;
pub mod run;
pub mod smtp;
pub mod test;
