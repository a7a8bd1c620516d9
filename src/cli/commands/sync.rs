//! `rolecall state sync [--institution CODE] [ID...]`: refreshes accounts of the state from
//! Alma ([`crate::alma::sync`]), one line per account. Exit 1 when an account could not be
//! refreshed, 2 when nothing could be tried.

use crate::alma::Client;
use crate::alma::sync::{Synced, sync_one, targets};
use crate::cli::args::SyncArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

/// What `state sync` did, account by account.
#[derive(Serialize)]
pub struct SyncReport {
    /// Accounts the state now holds as Alma does.
    refreshed: usize,
    /// Each account tried, in order.
    accounts: Vec<Synced>,
}

/// Runs `state sync`.
pub fn run(ctx: &Context, args: SyncArgs) -> Result<SyncReport, CliError> {
    let alma = super::push::alma_config(&ctx.config)?;
    let state = super::state::open(ctx)?;
    let catalog = ctx.catalog()?;
    let todo = targets(&state, args.institution.as_deref(), &args.ids).map_err(CliError::Usage)?;
    let tag = format!("sync {}", now()?.timestamp());
    let mut clients: HashMap<String, Result<Client, String>> = HashMap::new();
    let mut accounts = Vec::new();
    for (inst, id) in &todo {
        let client = clients
            .entry(inst.clone())
            .or_insert_with(|| alma.client(inst).map_err(|e| e.to_string()));
        let result = match client {
            Ok(c) => sync_one(&state, c, catalog, id, &tag).map_err(|e| {
                let why = e.to_string();
                if e.stops_institution() {
                    *client = Err(why.clone());
                }
                why
            }),
            Err(why) => Err(why.clone()),
        };
        accounts.push(result.unwrap_or_else(|why| Synced {
            institution: inst.clone(),
            primary_id: id.clone(),
            refreshed: false,
            roles: 0,
            notes: vec![format!("not refreshed: {why}")],
        }));
    }
    let refreshed = accounts.iter().filter(|a| a.refreshed).count();
    Ok(SyncReport {
        refreshed,
        accounts,
    })
}

impl Report for SyncReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for a in &self.accounts {
            let what = if a.refreshed {
                format!("{} roles", a.roles)
            } else {
                "not refreshed".to_string()
            };
            let (inst, id) = (&a.institution, &a.primary_id);
            match a.notes.first() {
                Some(n) if !a.refreshed && n.starts_with("not refreshed") => {
                    writeln!(out, "{inst} {id}: {n}")?
                }
                _ => {
                    writeln!(out, "{inst} {id}: {what}")?;
                    for n in &a.notes {
                        writeln!(out, "  {n}")?;
                    }
                }
            }
        }
        let total = self.accounts.len();
        writeln!(
            out,
            "{} of {total} accounts refreshed from Alma",
            self.refreshed
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        if self.refreshed == self.accounts.len() {
            Exit::Ok
        } else {
            Exit::Attention
        }
    }
}
