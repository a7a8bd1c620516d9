//! `rolecall inspect FILE`: every form field of any PDF (name, type, value), or why its form
//! cannot be read.

use crate::cli::args::InspectArgs;
use crate::cli::report::{Exit, Report, to_json};
use crate::document::Format;
use crate::read::Isolation;
use crate::read::form::{Form, FormFailKind, FormFailure};
use std::io::Write;
use std::path::PathBuf;

/// The fields of the form, or why there are none to show.
pub enum InspectReport {
    /// The form was read.
    Fields(Form),
    /// The form could not be read.
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why, for the help desk.
        failure: FormFailure,
    },
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> InspectReport {
    match crate::read::read_form_file(&args.file, &Isolation::child_default()) {
        Ok(form) => InspectReport::Fields(form),
        Err(mut failure) => {
            if failure.kind == FormFailKind::NotPdf {
                failure.message = not_a_pdf(&args.file);
            }
            InspectReport::Unreadable {
                file: args.file,
                failure,
            }
        }
    }
}

/// The reader's "not a PDF" is written for a requester; `inspect` is the help desk's tool,
/// and a workbook given to it is most likely a worksheet to process instead.
fn not_a_pdf(file: &std::path::Path) -> String {
    let workbook = match crate::intake::sniff(file) {
        Ok(Format::Xlsx) => ".xlsx",
        Ok(Format::Xlsb) => ".xlsb",
        Ok(Format::Xls) => ".xls",
        Ok(Format::Ods) => ".ods",
        Ok(Format::Pdf) | Err(_) => {
            return "this file is not a PDF: `inspect` lists the fields of a PDF form".into();
        }
    };
    format!(
        "this is a workbook ({workbook}), not a PDF: `inspect` lists the fields of a PDF form; \
         `rolecall process {}` reads a worksheet",
        file.display()
    )
}

impl Report for InspectReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            InspectReport::Fields(form) => out.write_all(form.inspect_table().as_bytes()),
            InspectReport::Unreadable { .. } => Ok(()),
        }
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        match self {
            InspectReport::Fields(form) => to_json(out, &form.inspect_json()),
            // Nothing on stdout: a script reading the fields gets none, and the reason is on
            // stderr with exit code 1.
            InspectReport::Unreadable { .. } => Ok(()),
        }
    }

    fn exit(&self) -> Exit {
        match self {
            InspectReport::Fields(_) => Exit::Ok,
            InspectReport::Unreadable { .. } => Exit::Attention,
        }
    }

    fn write_errors(&self, err: &mut dyn Write) -> std::io::Result<()> {
        match self {
            InspectReport::Fields(_) => Ok(()),
            InspectReport::Unreadable { file, failure } => {
                writeln!(err, "{}: {}", file.display(), failure.message)
            }
        }
    }
}
