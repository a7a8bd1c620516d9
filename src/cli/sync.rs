//! `rolecall state sync [--institution CODE] [ID...]`: refreshes accounts of the state from
//! Alma ([`crate::alma::sync`]), one line per account. Exit 1 when an account could not be
//! refreshed, 2 when nothing could be tried.

use super::{Exit, now};
use crate::alma::Client;
use crate::alma::sync::{sync_one, targets};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::state::State;
use std::collections::HashMap;
use std::io::Write;

/// The arguments of `rolecall state sync`.
#[derive(Debug, clap::Args)]
pub(super) struct SyncArgs {
    /// Only this institution's accounts (and the institution of IDs the state does not hold)
    #[arg(long, value_name = "CODE")]
    institution: Option<String>,
    /// Only these primary IDs [default: every account the state holds]
    #[arg(value_name = "ID")]
    ids: Vec<String>,
}

pub(super) fn run(
    args: SyncArgs,
    catalog: &Catalog,
    config: &Config,
    state: &State,
) -> Result<Exit, String> {
    let alma = super::push::alma_config(config)?;
    let todo = targets(state, args.institution.as_deref(), &args.ids)?;
    let tag = format!("sync {}", now()?.timestamp());
    let mut clients: HashMap<String, Result<Client, String>> = HashMap::new();
    let mut out = std::io::stdout().lock();
    let (mut done, mut exit) = (0, Exit::Ok);
    for (inst, id) in &todo {
        let client = clients
            .entry(inst.clone())
            .or_insert_with(|| alma.client(inst).map_err(|e| e.to_string()));
        let result = match client {
            Ok(c) => sync_one(state, c, catalog, id, &tag).map_err(|e| {
                let why = e.to_string();
                if e.stops_institution() {
                    *client = Err(why.clone());
                }
                why
            }),
            Err(why) => Err(why.clone()),
        };
        match result {
            Ok(s) => {
                let what = if s.refreshed {
                    done += 1;
                    format!("{} roles", s.roles)
                } else {
                    exit = Exit::Attention;
                    "not refreshed".to_string()
                };
                let _ = writeln!(out, "{inst} {id}: {what}");
                for n in &s.notes {
                    let _ = writeln!(out, "  {n}");
                }
            }
            Err(why) => {
                exit = Exit::Attention;
                let _ = writeln!(out, "{inst} {id}: not refreshed: {why}");
            }
        }
    }
    let _ = writeln!(out, "{done} of {} accounts refreshed from Alma", todo.len());
    Ok(exit)
}
