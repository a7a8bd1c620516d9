//! The account-state commands: `state import`, `apply`, `audit licence`, `audit inactive`
//! and `export --alma`. They open the database, call [`crate::state`] and print one line per
//! thing done.

use super::{AuditCommand, Command, Exit, StateCommand, now, sender};
use crate::catalog::Catalog;
use crate::changeset::ChangeSet;
use crate::config::Config;
use crate::deliver::{AuditNotice, OutboxFolder, Smtp, Transport, compose_audit_notice};
use crate::state::{State, apply, import, inactive, licence};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) fn read_changeset(path: &Path) -> Result<ChangeSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cs: ChangeSet = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a change set: {e}", path.display()))?;
    if cs.schema != crate::changeset::SCHEMA {
        return Err(format!(
            "{} has schema {}; this Rolecall reads {}",
            path.display(),
            cs.schema,
            crate::changeset::SCHEMA
        ));
    }
    Ok(cs)
}

pub(super) fn run(
    command: Command,
    catalog: &Catalog,
    config: &Config,
    state: &mut State,
) -> Result<Exit, String> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::State {
            command: StateCommand::Import { files, institution },
        } => {
            let mut exit = Exit::Ok;
            let now = now()?.timestamp().to_string();
            for file in &files {
                match import::import_file(state, file, catalog, institution.as_deref(), &now) {
                    Ok(r) => {
                        let _ = writeln!(
                            stdout,
                            "{}: {}: {} accounts, {} roles ({} duplicate entries merged), {} logins added",
                            file.display(),
                            r.kind,
                            r.accounts,
                            r.roles,
                            r.duplicates,
                            r.logins
                        );
                        for s in &r.skipped {
                            let _ = writeln!(stdout, "  skipped {s}");
                            exit = Exit::Attention;
                        }
                    }
                    Err(e) => {
                        eprintln!("rolecall: error: {e}");
                        exit = Exit::Fatal;
                    }
                }
            }
            Ok(exit)
        }
        Command::Apply { changeset, dry_run } => {
            let cs = read_changeset(&changeset)?;
            if dry_run {
                for op in &cs.operations {
                    let _ = writeln!(stdout, "{}", apply::describe(op));
                }
                let _ = writeln!(
                    stdout,
                    "{} operations; nothing recorded (dry run)",
                    cs.operations.len()
                );
                return Ok(Exit::Ok);
            }
            let now = now()?.timestamp().to_string();
            let done = apply::apply(state, &cs, &now).map_err(|e| e.to_string())?;
            if let Some(at) = &done.already_applied_at {
                let _ = writeln!(
                    stdout,
                    "{}: already applied at {at}; nothing changed",
                    changeset.display()
                );
                return Ok(Exit::Ok);
            }
            if done.rechecked {
                let _ = writeln!(
                    stdout,
                    "made against an older state: re-checked each operation"
                );
            }
            for note in &done.rechecks {
                let _ = writeln!(stdout, "re-check: {note}");
            }
            for note in &done.notes {
                let _ = writeln!(stdout, "unchanged: {note}");
            }
            let _ = writeln!(
                stdout,
                "{}: {} of {} operations recorded",
                changeset.display(),
                done.changed,
                cs.operations.len()
            );
            Ok(Exit::Ok)
        }
        Command::Audit {
            command: AuditCommand::Licence { output },
        } => {
            let uses = licence::licence_use(state, catalog).map_err(|e| e.to_string())?;
            let today = now()?.date().to_string();
            let bytes = licence::workbook(&uses, &today).map_err(|e| e.to_string())?;
            std::fs::write(&output, bytes)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            let mut exit = Exit::Ok;
            for u in &uses {
                let _ = writeln!(
                    stdout,
                    "{}: {} named users, allotment {}, headroom {}",
                    u.institution,
                    u.named_users,
                    u.allotment,
                    u.headroom()
                );
                if u.headroom() < 0 {
                    exit = Exit::Attention;
                }
            }
            let total: u32 = uses.iter().map(|u| u.named_users).sum();
            let allot: u32 = uses.iter().map(|u| u.allotment).sum();
            let _ = writeln!(
                stdout,
                "consortium: {total} named users, allotment {allot}; wrote {}",
                output.display()
            );
            Ok(exit)
        }
        Command::Audit {
            command: AuditCommand::Inactive { as_of, out },
        } => {
            let date: jiff::civil::Date = as_of
                .parse()
                .map_err(|e| format!("--as-of {as_of} is not a date (YYYY-MM-DD): {e}"))?;
            let out = out
                .unwrap_or_else(|| PathBuf::from("rolecall-out").join(format!("inactive-{date}")));
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            let audit = inactive::audit(state, catalog, date).map_err(|e| e.to_string())?;
            let now = now()?;
            let cs = inactive::changeset(&audit, catalog, &now);
            let cs_path = out.join("suspend-changeset.json");
            let mut json = serde_json::to_vec_pretty(&cs).unwrap_or_default();
            json.push(b'\n');
            std::fs::write(&cs_path, json)
                .map_err(|e| format!("cannot write {}: {e}", cs_path.display()))?;
            let transport: Box<dyn Transport> = match &config.smtp {
                Some(smtp) => {
                    Box::new(Smtp::new(smtp).map_err(|e| format!("SMTP configuration: {e}"))?)
                }
                None => Box::new(OutboxFolder::new(out.join("outbox"))),
            };
            let from = sender(catalog, config);
            let mut exit = Exit::Ok;
            for inst in inactive::institutions(&audit, catalog) {
                let n = audit
                    .inactive
                    .iter()
                    .filter(|i| i.account.institution == inst)
                    .count();
                let book = inactive::workbook(&audit, &inst, catalog).map_err(|e| e.to_string())?;
                let name = format!("{inst}-inactive-{date}.xlsx");
                std::fs::write(out.join(&name), &book)
                    .map_err(|e| format!("cannot write {name}: {e}"))?;
                let mut to: Vec<String> = catalog
                    .coordinators_for(&inst)
                    .map(|c| c.email.clone())
                    .collect();
                if to.is_empty() {
                    to.push(catalog.policy.help_desk_email.clone());
                }
                let notice = AuditNotice {
                    id: format!("inactive-{inst}-{date}"),
                    subject: format!(
                        "Alma staff roles suspended for inactivity: {n} account(s) of {inst}"
                    ),
                    text: inactive::notice_text(&audit, &inst, catalog),
                    attachment_name: name.clone(),
                    attachment: book,
                };
                let sent = compose_audit_notice(
                    &notice,
                    &from,
                    &to,
                    Some(&catalog.policy.help_desk_email),
                    now.timestamp(),
                )
                .map_err(|e| e.to_string())
                .and_then(|mail| transport.send(&mail).map_err(|e| e.to_string()));
                match sent {
                    Ok(_) => {
                        let _ = writeln!(
                            stdout,
                            "{inst}: {n} accounts to suspend; {name}, notice to {}",
                            to.join(", ")
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(
                            stdout,
                            "{inst}: {n} accounts to suspend; {name}; notice not sent: {e}"
                        );
                        exit = Exit::Attention;
                    }
                }
            }
            let _ = writeln!(
                stdout,
                "{} accounts to suspend ({} exempt by the allow-list); change set {}",
                audit.inactive.len(),
                audit.exempt.len(),
                cs_path.display()
            );
            Ok(exit)
        }
        Command::Export { changeset, alma } => {
            let cs = read_changeset(&changeset)?;
            let done = crate::state::alma::export(state, &cs, catalog, &alma)
                .map_err(|e| e.to_string())?;
            let _ = writeln!(
                stdout,
                "{} user bodies, {} ID lists; requests in {}",
                done.users.len(),
                done.id_lists.len(),
                done.requests.display()
            );
            Ok(Exit::Ok)
        }
        // `run` sends only the state commands here.
        _ => Err("this command does not use the account state".to_string()),
    }
}
