//! Separation of duties: pairs of roles one person may not hold together
//! (`[[separation_of_duties]]` in `policy.toml`). A role to add that would complete such a
//! pair, with another role of the same request or with one the account state says the
//! person holds, is a `separation-of-duties` finding: the line needs approval, and the
//! operation carries the rule (`separation_of_duties` in the change set), so that approving
//! it is an exception with a note. Used by the validator's person pass and by the diff.

use super::{Change, LineStatus, RoleRequest};
use crate::catalog::{Catalog, Separation};
use crate::finding::{Finding, Rule};
use crate::location::Location;

/// A role to add that breaks a rule: the role, the one it may not be held with, the rule.
pub struct Conflict<'c> {
    /// The role to add.
    pub code: u32,
    /// The role it may not be held with.
    pub with: u32,
    /// The rule.
    pub rule: &'c Separation,
}

/// The conflicts of adding `adding` to someone who holds (or is given) `others`.
pub fn conflicts<'c>(catalog: &'c Catalog, adding: &[u32], others: &[u32]) -> Vec<Conflict<'c>> {
    let mut out = Vec::new();
    for rule in &catalog.policy.separation_of_duties {
        let [a, b] = rule.roles;
        for (code, with) in [(a, b), (b, a)] {
            if adding.contains(&code) && others.contains(&with) {
                out.push(Conflict { code, with, rule });
            }
        }
    }
    out
}

/// The rule in words: "Purchasing Operator (54) with Invoice Manager (44): who orders ...".
pub fn words(c: &Conflict, catalog: &Catalog) -> String {
    let name = |code: u32| {
        catalog
            .role_by_code(code)
            .map_or(format!("role {code}"), |r| format!("{} ({code})", r.name))
    };
    format!("{} with {}: {}", name(c.code), name(c.with), c.rule.reason)
}

/// Marks a role to add as breaking a rule: it needs approval, with the rule in words.
pub fn mark(role: &mut RoleRequest, words: &str) {
    role.needs_approval = true;
    if role.separation_of_duties.is_none() {
        role.separation_of_duties = Some(words.to_string());
    }
}

/// The finding, at the role's location; `held` when the other role is one the person
/// holds already.
pub fn finding(location: Location, words: &str, held: bool) -> Finding {
    let whence = if held {
        "the account already holds the other role"
    } else {
        "this request asks for both"
    };
    Finding::warning(
        Rule::SeparationOfDuties,
        location,
        format!("One person may not hold {words} ({whence}). The line waits for the help desk, who may approve it as an exception."),
    )
    .suggest("If the person should not hold both, ask for one of the two roles, or remove the other.")
}

/// Checks the roles one line adds against `others` and marks each conflict; returns the
/// findings. `held` says whether `others` are held roles (the state) or requested ones.
pub fn check_roles(
    catalog: &Catalog,
    roles: &mut [(&mut RoleRequest, Location)],
    others: &[u32],
    held: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (role, location) in roles.iter_mut() {
        if role.change != Change::Add {
            continue;
        }
        for c in conflicts(catalog, &[role.code], others) {
            let w = words(&c, catalog);
            mark(role, &w);
            findings.push(finding(location.clone(), &w, held));
        }
    }
    findings
}

/// A line with a separation-of-duties finding and no error needs approval.
pub fn settle(status: &mut LineStatus, findings: &[Finding]) {
    if *status == LineStatus::Accepted
        && findings.iter().any(|f| f.rule == Rule::SeparationOfDuties)
    {
        *status = LineStatus::NeedsApproval;
    }
}
