//! `rolecall audit licence|inactive`: named users against the allotments; accounts to
//! suspend under the inactivity policy, with a notice to each institution's coordinators.

use crate::catalog::Catalog;
use crate::cli::args::AuditCommand;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, as_text, count, to_json};
use crate::deliver::{AuditNotice, DeliverError, Transport, compose_audit_notice};
use crate::state::inactive::{self, Audit};
use crate::state::licence::{self, LicenceUse};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What an audit found and wrote.
#[derive(Serialize)]
#[serde(tag = "audit", rename_all = "snake_case")]
pub enum AuditReport {
    /// `audit licence`.
    Licence {
        /// The workbook written.
        workbook: PathBuf,
        /// One entry per institution, in catalog order.
        institutions: Vec<LicenceUse>,
    },
    /// `audit inactive`.
    Inactive {
        /// Accounts to suspend.
        to_suspend: usize,
        /// Accounts exempt by the allow-list.
        exempt: usize,
        /// Accounts spared because they were created or given roles within the grace period.
        in_grace: usize,
        /// The grace period's days (the policy's `inactivity_grace_days`).
        grace_days: u32,
        /// The suspension change set written.
        changeset: PathBuf,
        /// One entry per institution with accounts to suspend.
        institutions: Vec<InstitutionNotice>,
    },
}

/// One institution of the inactivity audit: its workbook and the notice to its coordinators.
#[derive(Serialize)]
pub struct InstitutionNotice {
    institution: String,
    accounts: usize,
    workbook: String,
    to: Vec<String>,
    /// Why the notice could not be sent, if so.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "not_sent_text"
    )]
    not_sent: Option<DeliverError>,
}

fn not_sent_text<S: serde::Serializer>(e: &Option<DeliverError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => as_text(e, s),
        None => s.serialize_none(),
    }
}

/// Runs an audit.
pub fn run(ctx: &Context, command: AuditCommand) -> Result<AuditReport, CliError> {
    match command {
        AuditCommand::Licence { out } => licence_audit(ctx, out),
        AuditCommand::Inactive { as_of, out } => inactive_audit(ctx, &as_of, out),
    }
}

fn licence_audit(ctx: &Context, out: PathBuf) -> Result<AuditReport, CliError> {
    let catalog = ctx.catalog()?;
    let state = super::state::open(ctx)?;
    let uses = licence::licence_use(&state, catalog)?;
    let today = now()?.date().to_string();
    let bytes = licence::workbook(&uses, &today)?;
    std::fs::write(&out, bytes).map_err(|source| CliError::Write {
        path: out.clone(),
        source,
    })?;
    Ok(AuditReport::Licence {
        workbook: out,
        institutions: uses,
    })
}

fn inactive_audit(
    ctx: &Context,
    as_of: &str,
    out: Option<PathBuf>,
) -> Result<AuditReport, CliError> {
    let date: jiff::civil::Date = as_of
        .parse()
        .map_err(|e| CliError::Usage(format!("--as-of {as_of} is not a date (YYYY-MM-DD): {e}")))?;
    let catalog = ctx.catalog()?;
    let state = super::state::open(ctx)?;
    let out = out.unwrap_or_else(|| PathBuf::from("rolecall-out").join(format!("inactive-{date}")));
    std::fs::create_dir_all(&out).map_err(|source| CliError::CreateDir {
        path: out.clone(),
        source,
    })?;
    let audit = inactive::audit(&state, catalog, date)?;
    let now = now()?;
    let cs = inactive::changeset(&audit, catalog, &now);
    let cs_path = out.join("suspend-changeset.json");
    let mut json = serde_json::to_vec_pretty(&cs)?;
    json.push(b'\n');
    std::fs::write(&cs_path, json).map_err(|source| CliError::Write {
        path: cs_path.clone(),
        source,
    })?;
    let transport = ctx.transport(out.join("outbox"))?;
    let notices = Notices {
        audit: &audit,
        catalog,
        from: ctx.sender()?,
        transport: transport.as_ref(),
        now: now.timestamp(),
        out: &out,
    };
    let institutions = inactive::institutions(&audit, catalog)
        .iter()
        .map(|inst| notices.send(inst))
        .collect::<Result<_, _>>()?;
    Ok(AuditReport::Inactive {
        to_suspend: audit.inactive.len(),
        exempt: audit.exempt.len(),
        in_grace: audit.in_grace.len(),
        grace_days: catalog.policy.inactivity_grace_days,
        changeset: cs_path,
        institutions,
    })
}

/// What the coordinator notices of one inactivity audit share.
struct Notices<'a> {
    audit: &'a Audit,
    catalog: &'a Catalog,
    from: String,
    transport: &'a dyn Transport,
    now: jiff::Timestamp,
    out: &'a Path,
}

impl Notices<'_> {
    /// Writes one institution's workbook and sends its coordinators the notice; a notice
    /// that cannot be sent is reported on its institution, and the others still go.
    fn send(&self, inst: &str) -> Result<InstitutionNotice, CliError> {
        let (audit, catalog) = (self.audit, self.catalog);
        let date = audit.as_of;
        let n = audit
            .inactive
            .iter()
            .filter(|i| i.account.institution == inst)
            .count();
        let book = inactive::workbook(audit, inst, catalog)?;
        let name = format!("{inst}-inactive-{date}.xlsx");
        let path = self.out.join(&name);
        std::fs::write(&path, &book).map_err(|source| CliError::Write { path, source })?;
        let mut to: Vec<String> = catalog
            .coordinators_for(inst)
            .map(|c| c.email.clone())
            .collect();
        if to.is_empty() {
            to.push(catalog.policy.help_desk_email.clone());
        }
        let notice = AuditNotice {
            id: format!("inactive-{inst}-{date}"),
            subject: inactive::notice_subject(inst, n),
            text: inactive::notice_text(audit, inst, catalog),
            attachment_name: name.clone(),
            attachment: book,
        };
        let help_desk = Some(catalog.policy.help_desk_email.as_str());
        let sent = compose_audit_notice(&notice, &self.from, &to, help_desk, self.now)
            .and_then(|mail| self.transport.send(&mail));
        Ok(InstitutionNotice {
            institution: inst.to_string(),
            accounts: n,
            workbook: name,
            to,
            not_sent: sent.err(),
        })
    }
}

impl Report for AuditReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            AuditReport::Licence {
                workbook,
                institutions,
            } => write_licence(out, workbook, institutions),
            AuditReport::Inactive {
                to_suspend,
                exempt,
                in_grace,
                grace_days,
                changeset,
                institutions,
            } => {
                for i in institutions {
                    let accounts = count(i.accounts, "account", "accounts");
                    let (inst, name) = (&i.institution, &i.workbook);
                    match &i.not_sent {
                        None => writeln!(
                            out,
                            "{inst}: {accounts} to suspend; {name}, notice to {}",
                            i.to.join(", ")
                        )?,
                        Some(e) => writeln!(
                            out,
                            "{inst}: {accounts} to suspend; {name}; notice not sent: {e}"
                        )?,
                    }
                }
                writeln!(
                    out,
                    "{} to suspend ({} exempt by the allow-list, {} created or given roles in the last {grace_days} days); change set {}",
                    count(*to_suspend, "account", "accounts"),
                    exempt,
                    in_grace,
                    changeset.display()
                )
            }
        }
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        let attention = match self {
            AuditReport::Licence { institutions, .. } => {
                institutions.iter().any(|u| u.headroom() < 0)
            }
            AuditReport::Inactive { institutions, .. } => {
                institutions.iter().any(|i| i.not_sent.is_some())
            }
        };
        if attention { Exit::Attention } else { Exit::Ok }
    }
}

fn write_licence(out: &mut dyn Write, workbook: &Path, uses: &[LicenceUse]) -> std::io::Result<()> {
    for u in uses {
        writeln!(
            out,
            "{}: {}, allotment {}, headroom {}",
            u.institution,
            count(u.named_users as usize, "named user", "named users"),
            u.allotment,
            u.headroom()
        )?;
    }
    let total: u32 = uses.iter().map(|u| u.named_users).sum();
    let allot: u32 = uses.iter().map(|u| u.allotment).sum();
    writeln!(
        out,
        "consortium: {}, allotment {allot}; wrote {}",
        count(total as usize, "named user", "named users"),
        workbook.display()
    )
}
