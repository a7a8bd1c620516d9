//! The `rolecall` binary: everything lives in the library; this only maps the outcome to an
//! exit code.

fn main() -> std::process::ExitCode {
    rolecall::cli::main()
}
