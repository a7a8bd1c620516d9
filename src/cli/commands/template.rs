//! `rolecall template worksheet|form`: a blank template generated from the catalog, for all
//! of it or for one institution.

use crate::catalog::Catalog;
use crate::cli::args::{TemplateArgs, TemplateCommand};
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::template;
use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

/// What `template` wrote.
#[derive(Serialize)]
pub struct TemplateReport {
    template: Kind,
    file: PathBuf,
    /// The catalog version the template is stamped with.
    catalog_version: String,
    /// The institution it was made for, if one.
    institution: Option<String>,
}

/// Which template.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Worksheet,
    Form,
}

/// Runs `template worksheet` or `template form`.
pub fn run(ctx: &Context, command: TemplateCommand) -> Result<TemplateReport, CliError> {
    let (kind, args) = match command {
        TemplateCommand::Worksheet(args) => (Kind::Worksheet, args),
        TemplateCommand::Form(args) => (Kind::Form, args),
    };
    let TemplateArgs { out, institution } = args;
    let catalog = one_institution(ctx.catalog()?, institution.as_deref())?;
    match kind {
        Kind::Worksheet => template::write_worksheet(&catalog, &out)?,
        Kind::Form => template::form::write_form(&catalog, &out)?,
    }
    Ok(TemplateReport {
        template: kind,
        file: out,
        catalog_version: catalog.version.clone(),
        institution,
    })
}

/// The catalog as `institution` sees it (`--institution` of the templates), or all of it.
fn one_institution<'a>(
    catalog: &'a Catalog,
    institution: Option<&str>,
) -> Result<Cow<'a, Catalog>, CliError> {
    let Some(code) = institution else {
        return Ok(Cow::Borrowed(catalog));
    };
    catalog
        .for_institution(code)
        .map(Cow::Owned)
        .ok_or_else(|| {
            let codes: Vec<&str> = catalog
                .institutions
                .iter()
                .map(|i| i.code.as_str())
                .collect();
            CliError::Usage(format!(
                "{code} is not an institution of the catalog; the codes are {}",
                codes.join(", ")
            ))
        })
}

impl Report for TemplateReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "wrote {} (catalog version {})",
            self.file.display(),
            self.catalog_version
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
