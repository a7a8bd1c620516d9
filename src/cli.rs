//! The command line.

/// Runs the command line and returns the exit code.
pub fn main() -> std::process::ExitCode {
    if let Some(code) = crate::read::run_child_if_requested() {
        return code;
    }
    std::process::ExitCode::SUCCESS
}
