//! The catalog: roles, role profiles, institutions with their libraries, desks and service
//! units, coordinators and policy settings. It is the source of truth that every request is
//! checked against, kept as human-editable TOML files in one folder (see `docs/catalog.md`).
//!
//! This module holds the domain types and the look-ups the rest of the pipeline uses;
//! [`load`] turns the files into a [`Catalog`] and [`check`] reports every mistake in them
//! with its file and line.

pub mod check;
pub mod load;
pub mod raw;

pub use check::{CatalogProblem, check_catalog};
pub use load::{CatalogError, bundled, compile_id_pattern, load_catalog};

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A loaded, checked catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Folder the catalog was loaded from.
    pub dir: PathBuf,
    /// True for the sample catalog compiled into the binary (its coordinators and allotments
    /// are fiction: every run says so).
    pub bundled: bool,
    /// Short content hash of all catalog files: stamped into every template and change set.
    pub version: String,
    /// Alma roles, in file order.
    pub roles: Vec<Role>,
    /// Role profiles, in file order.
    pub profiles: Vec<Profile>,
    /// Member institutions.
    pub institutions: Vec<Institution>,
    /// People who may request changes, and for which institutions.
    pub coordinators: Vec<Coordinator>,
    /// Policy settings.
    pub policy: Policy,
}

/// Where a role may be scoped in Alma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    /// Scoped to the institution as a whole.
    Institution,
    /// Scoped to one library; granted once per library.
    Library,
    /// Either (some acquisitions roles are granted at both levels).
    Either,
}

/// The kind of parameter a role needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ParameterKind {
    /// A circulation desk of the scope library.
    CirculationDesk,
    /// A service unit (receiving, work orders) of a library.
    ServiceUnit,
    /// A metadata type (a Cataloger's `MARC21_BIB`, ...): Alma exports carry it, so the
    /// account state keeps it; requests cannot set it (`catalog check` refuses it on a role).
    MetadataType,
}

impl ParameterKind {
    /// Words a library worker uses for it.
    pub fn describe(self) -> &'static str {
        match self {
            ParameterKind::CirculationDesk => "circulation desk",
            ParameterKind::ServiceUnit => "service unit",
            ParameterKind::MetadataType => "metadata type",
        }
    }
}

/// One Alma staff role.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Alma code (code table `HFrUserRoles.roleType`), e.g. 32.
    pub code: u32,
    /// Alma's name, e.g. "Circulation Desk Operator".
    pub name: String,
    /// Other names requests may use: a former name after a rename, a common misspelling.
    pub aliases: Vec<String>,
    /// Functional area, for grouping in forms ("Fulfillment", "Acquisitions", ...).
    pub area: String,
    /// Where it may be scoped.
    pub scope: ScopeKind,
    /// Parameter it needs, if any.
    pub parameter: Option<ParameterKind>,
    /// Counts as a named (licensed) user.
    pub named_user: bool,
    /// Needs the help desk's approval before it is granted.
    pub privileged: bool,
    /// How many different people must approve a grant of it (`approvers = 2`: the
    /// two-person rule); 1 unless the catalog says otherwise.
    pub approvers: u8,
}

impl Role {
    /// Patron (200) is never requested: Alma keeps it on every account.
    pub fn is_patron(&self) -> bool {
        self.code == PATRON_CODE
    }

    /// True when the role must be scoped to a library.
    pub fn needs_library(&self) -> bool {
        self.scope == ScopeKind::Library || self.parameter.is_some()
    }
}

/// Alma's code for the Patron role.
pub const PATRON_CODE: u32 = 200;

/// A named bundle of roles.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Name shown in lists, e.g. "Circulation Student Worker".
    pub name: String,
    /// Other names requests may use (a former name).
    pub aliases: Vec<String>,
    /// What it is for.
    pub description: String,
    /// The roles it grants.
    pub entries: Vec<ProfileEntry>,
}

impl Profile {
    /// True when applying the profile needs the request's library.
    pub fn needs_library(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.scope == EntryScope::RequestLibrary)
    }

    /// The parameter kinds that must come from the request (desk or service unit column).
    pub fn needs_parameter(&self) -> Option<ParameterKind> {
        self.entries.iter().find_map(|e| match e.parameter {
            EntryParameter::FromRequest(kind) => Some(kind),
            _ => None,
        })
    }
}

/// One role of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileEntry {
    /// Role code.
    pub role: u32,
    /// Scope rule.
    pub scope: EntryScope,
    /// Parameter rule.
    pub parameter: EntryParameter,
    /// Whether the role is granted active (Alma profiles can carry inactive roles).
    pub active: bool,
}

/// How a profile entry is scoped when applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EntryScope {
    /// The institution.
    Institution,
    /// The library named in the request.
    RequestLibrary,
}

/// Where a profile entry's parameter comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EntryParameter {
    /// The role takes no parameter.
    None,
    /// The desk or service unit named in the request.
    FromRequest(ParameterKind),
}

/// A member institution.
#[derive(Debug, Clone, Serialize)]
pub struct Institution {
    /// Alma institution code, e.g. `01FALSC_GCSU`.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Named-user licence allotment.
    pub named_user_allotment: u32,
    /// What its primary IDs look like, when the catalog says.
    pub primary_id: PrimaryIdRule,
    /// Its libraries.
    pub libraries: Vec<Library>,
    /// What `rolecall push` gives an account it creates there (`[institution.create]`);
    /// `None`: accounts cannot be created there by the push.
    pub create: Option<CreateDefaults>,
}

/// The fields of a new staff account that the request does not give (`[institution.create]`
/// in `institutions.toml`): Alma's Create user call needs `record_type` and `user_group`, and
/// each institution may make more fields mandatory (`docs/alma.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateDefaults {
    /// Alma record type code; `STAFF` unless the catalog says otherwise.
    pub record_type: String,
    /// User group code (the institution's code table `UserGroups`).
    pub user_group: String,
    /// Job category code, when the institution requires one.
    pub job_category: Option<String>,
    /// Preferred language code, e.g. `en`.
    pub preferred_language: Option<String>,
}

/// The shape of an institution's primary IDs (`primary_id_length`, `primary_id_pattern` in
/// institutions.toml): an ID that does not fit is refused, never made into a new account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrimaryIdRule {
    /// Exact number of characters.
    pub length: Option<usize>,
    /// A regular expression the whole ID must match.
    #[serde(serialize_with = "pattern_text")]
    pub pattern: Option<Regex>,
}

fn pattern_text<S: serde::Serializer>(p: &Option<Regex>, s: S) -> Result<S::Ok, S::Error> {
    p.as_ref().map(Regex::as_str).serialize(s)
}

/// Longest zero padding tried for a suggestion: Excel drops at most the zeros an ID began
/// with, and no ID scheme has more than a dozen.
const MAX_PADDING: usize = 12;

impl PrimaryIdRule {
    /// True when `id` has the institution's form (always, when the catalog says nothing).
    pub fn fits(&self, id: &str) -> bool {
        self.length.is_none_or(|n| id.chars().count() == n)
            && self.pattern.as_ref().is_none_or(|p| p.is_match(id))
    }

    /// The zero-padded form of an all-digit `id` that fits: what a spreadsheet that dropped
    /// the leading zeros had.
    pub fn padded(&self, id: &str) -> Option<String> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        (1..=MAX_PADDING)
            .map(|n| format!("{}{id}", "0".repeat(n)))
            .find(|padded| self.fits(padded))
    }

    /// True when the catalog gives no rule.
    pub fn is_empty(&self) -> bool {
        self.length.is_none() && self.pattern.is_none()
    }
}

impl Institution {
    /// The library with this code (case-insensitive).
    pub fn library(&self, code: &str) -> Option<&Library> {
        self.libraries
            .iter()
            .find(|l| l.code.eq_ignore_ascii_case(code.trim()))
    }
}

/// A library of an institution.
#[derive(Debug, Clone, Serialize)]
pub struct Library {
    /// Alma library code, e.g. `MAIN`.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Circulation desks.
    pub desks: Vec<Unit>,
    /// Service units (receiving, work orders).
    pub service_units: Vec<Unit>,
}

impl Library {
    /// The desks or service units of that kind.
    pub fn units(&self, kind: ParameterKind) -> &[Unit] {
        match kind {
            ParameterKind::CirculationDesk => &self.desks,
            ParameterKind::ServiceUnit => &self.service_units,
            ParameterKind::MetadataType => &[],
        }
    }
}

/// A circulation desk or service unit.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    /// Alma code, e.g. `DEFAULT_CIRC_DESK`.
    pub code: String,
    /// Name shown to staff.
    pub name: String,
}

/// A person who may request changes for some institutions.
#[derive(Debug, Clone, Serialize)]
pub struct Coordinator {
    /// Full name.
    pub name: String,
    /// Email address (compared case-insensitively).
    pub email: String,
    /// Institution codes they may request for.
    pub institutions: Vec<String>,
}

/// Policy settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Name of the help desk, used in emails.
    pub help_desk_name: String,
    /// Help desk address: the sender of replies, and the recipient when nobody else is known.
    pub help_desk_email: String,
    /// Patterns (case-insensitive) that mark a name, email or ID as a generic account.
    pub generic_patterns: Vec<Regex>,
    /// One regex matching wherever one of `generic_patterns` does ([`any_of`]), so that a
    /// text is searched once rather than once per pattern; `None` searches each pattern
    /// (a policy made by hand, patterns too large to join).
    pub generic_any: Option<Regex>,
    /// IDs or emails exempt from the generic-account patterns and the inactivity audit.
    pub allow_list: Vec<String>,
    /// Days without a login before roles are suspended.
    pub inactivity_days: u32,
    /// Days after an account is created or a role granted (a change set applied) during
    /// which the inactivity audit leaves the account alone: it cannot have logged in yet.
    pub inactivity_grace_days: u32,
    /// Pairs of roles one person may not hold together.
    pub separation_of_duties: Vec<Separation>,
}

impl Policy {
    /// Whether a primary ID, email or name matches one of the generic-account patterns.
    pub fn looks_generic(&self, text: &str) -> bool {
        match &self.generic_any {
            Some(any) => any.is_match(text),
            None => self.generic_patterns.iter().any(|p| p.is_match(text)),
        }
    }
}

/// The patterns as one alternation, `(?:a)|(?:b)`, compiled as each of them is (without
/// regard to case): a text matches it exactly when it matches one of them, and is searched
/// once instead of once per pattern (a 10,000-line worksheet searched 280,000 times).
/// `None` for no patterns, or when the whole is over the size limit.
pub fn any_of(patterns: &[Regex]) -> Option<Regex> {
    if patterns.is_empty() {
        return None;
    }
    let joined: Vec<String> = patterns
        .iter()
        .map(|p| format!("(?:{})", p.as_str()))
        .collect();
    raw::compile_pattern(&joined.join("|")).ok()
}

/// A separation-of-duties rule: two roles one person may not hold together, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Separation {
    /// The two role codes.
    pub roles: [u32; 2],
    /// Why, in words ("who orders may not also approve the invoice").
    pub reason: String,
}

/// The one look-up key for names people type: letters and digits only, lower case, so that
/// `Circulation desk operator`, `CIRCULATION-DESK OPERATOR` and `circulationdeskoperator`
/// are one name. Used for catalog look-ups, the catalog's duplicate checks, the reader's
/// headings and the validator's words.
pub fn lookup_key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

use lookup_key as norm;

impl Catalog {
    /// Which catalog this is, for log lines and the Summary sheet: `the bundled sample
    /// catalog` or `catalog /srv/rolecall/catalog`.
    pub fn source(&self) -> String {
        if self.bundled {
            "the bundled sample catalog".to_string()
        } else {
            format!("catalog {}", self.dir.display())
        }
    }

    /// A role by code (`32`), name (`Circulation Desk Operator`, any case and spacing) or
    /// `Name (32)` as the templates list it.
    pub fn role(&self, text: &str) -> Option<&Role> {
        let text = text.trim();
        if let Ok(code) = text.parse::<u32>() {
            return self.roles.iter().find(|r| r.code == code);
        }
        // "Circulation Desk Operator (32)"
        if let Some(open) = text.rfind('(')
            && let Ok(code) = text[open + 1..].trim_end_matches(')').trim().parse::<u32>()
            && let Some(role) = self.roles.iter().find(|r| r.code == code)
        {
            return Some(role);
        }
        let key = norm(text);
        let named = |name: &String| norm(name) == key;
        self.roles
            .iter()
            .find(|r| named(&r.name))
            .or_else(|| self.roles.iter().find(|r| r.aliases.iter().any(named)))
    }

    /// A role by its code.
    pub fn role_by_code(&self, code: u32) -> Option<&Role> {
        self.roles.iter().find(|r| r.code == code)
    }

    /// A profile by name (any case and spacing).
    pub fn profile(&self, text: &str) -> Option<&Profile> {
        let key = norm(text);
        let named = |name: &String| norm(name) == key;
        self.profiles
            .iter()
            .find(|p| named(&p.name))
            .or_else(|| self.profiles.iter().find(|p| p.aliases.iter().any(named)))
    }

    /// An institution by code, or by full name (any case).
    pub fn institution(&self, text: &str) -> Option<&Institution> {
        let key = norm(text);
        self.institutions
            .iter()
            .find(|i| norm(&i.code) == key || norm(&i.name) == key)
            .or_else(|| {
                // "01FALSC_GCSU - Gulf Coast State University", as the worksheet's drop-down
                // shows it, or with an em dash as the PDF form's does.
                let code = text
                    .split([' ', '\u{2014}', '\u{2013}'])
                    .next()
                    .unwrap_or_default();
                self.institutions
                    .iter()
                    .find(|i| i.code.eq_ignore_ascii_case(code.trim()))
            })
    }

    /// The catalog as one institution sees it: only that institution (its libraries, desks
    /// and service units) and its coordinators; roles, profiles, policy and the version stay.
    /// For a blank form made for one institution. `None` when `code` is not an institution.
    pub fn for_institution(&self, code: &str) -> Option<Catalog> {
        let inst = self.institution(code)?.clone();
        let mut one = self.clone();
        one.coordinators = self.coordinators_for(&inst.code).cloned().collect();
        one.institutions = vec![inst];
        Some(one)
    }

    /// Coordinators who may request for this institution.
    pub fn coordinators_for<'a>(
        &'a self,
        institution: &'a str,
    ) -> impl Iterator<Item = &'a Coordinator> + 'a {
        self.coordinators.iter().filter(move |c| {
            c.institutions
                .iter()
                .any(|i| i.eq_ignore_ascii_case(institution))
        })
    }

    /// True when `email` is a registered coordinator of `institution`.
    pub fn is_coordinator(&self, email: &str, institution: &str) -> bool {
        self.coordinators_for(institution)
            .any(|c| c.email.eq_ignore_ascii_case(email.trim()))
    }

    /// The closest name to `text` among `candidates` (similar enough to be a likely typo), for
    /// "did you mean" hints.
    pub fn closest<'a>(
        text: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let key = norm(text);
        if key.is_empty() {
            return None;
        }
        candidates
            .into_iter()
            .map(|c| (strsim::normalized_damerau_levenshtein(&key, &norm(c)), c))
            .filter(|(score, _)| *score >= 0.6)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patterns_as_one_match_what_each_one_matches() {
        let patterns: Vec<Regex> = [r"^circ(ulation)?\b", r"\bdesk\d*\b", r"(?-i)XY"]
            .iter()
            .map(|p| raw::compile_pattern(p).unwrap())
            .collect();
        let any = any_of(&patterns).unwrap();
        // Each pattern keeps its own anchors and flags: `^` is the start of the text for
        // the first only, and the third stays case-sensitive inside its group.
        for (text, generic) in [
            ("Circulation", true),
            ("front DESK2", true),
            ("circa desk", true),
            ("Deskins", false),
            ("Marcie Circelli", false),
            ("XY", true),
            ("xy", false),
        ] {
            let each = patterns.iter().any(|p| p.is_match(text));
            assert_eq!(each, generic, "{text}: each pattern");
            assert_eq!(any.is_match(text), generic, "{text}: the alternation");
        }
        assert!(any_of(&[]).is_none());
    }
}
