//! What a command hands back: a report value that prints as text for the help desk or, with
//! `--json`, as one JSON document (schemas in `docs/json.md`), and says which exit code the
//! run ends with. Commands build reports; only [`print`] writes them.

use serde::Serialize;
use std::io::Write;

/// Exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Everything went through.
    Ok = 0,
    /// Something needs attention: a line rejected, a file unreadable, a notice not sent.
    Attention = 1,
    /// A fatal or usage error.
    Fatal = 2,
}

/// One command's result.
pub trait Report {
    /// The text for a person, one line per thing done.
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()>;
    /// The same as one JSON document, fields in their documented order.
    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error>;
    /// The exit code the run ends with.
    fn exit(&self) -> Exit;
    /// What went wrong with single items, for standard error (printed even with `-q`).
    fn write_errors(&self, _err: &mut dyn Write) -> std::io::Result<()> {
        Ok(())
    }
}

/// [`Report::write_json`] for a report whose fields are its document.
pub fn to_json(out: &mut dyn Write, report: &impl Serialize) -> Result<(), serde_json::Error> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out).map_err(serde_json::Error::io)
}

/// Prints `report` on standard output: JSON when asked, else the text unless `quiet`.
pub fn print(report: &dyn Report, json: bool, quiet: bool) -> Result<(), serde_json::Error> {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`rolecall status | head -1`) is not an error of the run.
    if json {
        match report.write_json(&mut out) {
            Err(e) if e.is_io() => {}
            other => other?,
        }
    } else if !quiet {
        let _ = report.write_text(&mut out);
    }
    let _ = out.flush();
    let _ = report.write_errors(&mut std::io::stderr().lock());
    Ok(())
}

/// The one exception to "commands print nothing": a command working through many items
/// (`process` on a folder of a thousand forms) prints each item's line as soon as it is done,
/// in text mode and without `-q`, so that a long run shows its progress; its report then
/// says so, and its text is only what follows those lines. JSON waits for the whole document.
pub struct Progress {
    live: bool,
}

impl Progress {
    /// Live unless `--json` or `-q`.
    pub fn new(ctx: &super::context::Context) -> Progress {
        Progress {
            live: !ctx.json && !ctx.quiet,
        }
    }

    /// Prints one line now, when live.
    pub fn line(&mut self, text: &str) {
        if self.live {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// True when the lines are printed as they come: the report must not print them again.
    pub fn printed(&self) -> bool {
        self.live
    }
}

/// Serialises a typed error (or anything printable) as its message, for a report row.
pub fn as_text<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// `n` and the noun, agreeing in number: "1 submission", "2 submissions".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0, "email", "emails"), "0 emails");
        assert_eq!(count(1, "submission", "submissions"), "1 submission");
        assert_eq!(count(2, "entry", "entries"), "2 entries");
    }
}
