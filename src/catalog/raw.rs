//! The catalog files as written: the raw, line-carrying shapes of the five TOML files and
//! their parsing, item by item, with every problem found on the way ([`CatalogProblem`]).
//! Both the loader ([`super::load`]) and the checks ([`super::check`]) start from here, so
//! neither needs the other's internals.

use super::{ParameterKind, ScopeKind};
use crate::finding::Severity;
use crate::location::Location;
use regex::RegexBuilder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The catalog's files, in the order problems are reported.
pub const FILES: [&str; 5] = [
    ROLES_FILE,
    PROFILES_FILE,
    INSTITUTIONS_FILE,
    COORDINATORS_FILE,
    POLICY_FILE,
];
/// Alma roles.
pub const ROLES_FILE: &str = "roles.toml";
/// Role profiles.
pub const PROFILES_FILE: &str = "profiles.toml";
/// Institutions, libraries, desks and service units.
pub const INSTITUTIONS_FILE: &str = "institutions.toml";
/// Coordinators.
pub const COORDINATORS_FILE: &str = "coordinators.toml";
/// Policy settings.
pub const POLICY_FILE: &str = "policy.toml";

/// One mistake in the catalog files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogProblem {
    /// Errors stop the catalog from loading; warnings do not.
    pub severity: Severity,
    /// `Location::Line { file, line }`, or `Location::File` for a file that is missing.
    pub location: Location,
    /// What is wrong, in plain words.
    pub message: String,
}

impl CatalogProblem {
    /// An error at `file:line`.
    pub fn error(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self::at(Severity::Error, file, line, message)
    }

    /// A warning at `file:line`.
    pub fn warning(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self::at(Severity::Warning, file, line, message)
    }

    fn at(severity: Severity, file: &str, line: usize, message: impl Into<String>) -> Self {
        CatalogProblem {
            severity,
            location: Location::Line {
                file: file.to_string(),
                line: line.max(1),
            },
            message: message.into(),
        }
    }

    /// An error about a file as a whole (it is missing or unreadable); the message names it.
    pub fn file_error(message: impl Into<String>) -> Self {
        CatalogProblem {
            severity: Severity::Error,
            location: Location::File,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sort key: file order of [`FILES`], then line.
    pub(crate) fn sort_key(&self) -> (usize, usize) {
        match &self.location {
            Location::Line { file, line } => (
                FILES.iter().position(|f| f == file).unwrap_or(FILES.len()),
                *line,
            ),
            _ => (0, 0),
        }
    }
}

impl fmt::Display for CatalogProblem {
    /// `roles.toml:12: error: duplicate role code 32 (first defined at line 4)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::Line { .. } => {
                write!(f, "{}: {}: {}", self.location, self.severity, self.message)
            }
            _ => write!(f, "{}: {}", self.severity, self.message),
        }
    }
}

/// How a TOML syntax problem's message starts.
pub(crate) const SYNTAX: &str = "TOML syntax:";

// ---------------------------------------------------------------------------------------
// Raw shapes: what the files say, with spans, before any checking.
// ---------------------------------------------------------------------------------------

/// Byte offsets to 1-based line numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }
}

/// Items of one file, with whether every item could be read: cross-file checks against an
/// incomplete file are skipped, so that one typo does not echo as many false "unknown" errors.
#[derive(Debug)]
pub(crate) struct Part<T> {
    pub items: Vec<Item<T>>,
    pub complete: bool,
    /// The identifying key (a role's code, an institution's code) of each item that could not
    /// be read as a whole, when it could still be read on its own: enough for the cross-file
    /// checks ("is role 32 defined?") to run despite a typo elsewhere in the item.
    pub stray_ids: Vec<String>,
    /// True when every item's identifying key is known (read, or in `stray_ids`).
    pub ids_complete: bool,
    pub lines: LineIndex,
}

impl<T> Part<T> {
    fn broken(lines: LineIndex) -> Self {
        Part {
            items: Vec::new(),
            complete: false,
            stray_ids: Vec::new(),
            ids_complete: false,
            lines,
        }
    }

    /// True when the cross-file checks against this file can run: every item, or at least
    /// every item's identifying key, was read.
    pub fn ids_known(&self) -> bool {
        self.complete || self.ids_complete
    }
}

/// The identifying key of an item that did not deserialize: its `key` value as text.
fn stray_id(item: &DeValue<'_>, key: &str) -> Option<String> {
    let DeValue::Table(table) = item else {
        return None;
    };
    match table.get(key)?.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => Some(i.as_str().to_string()),
        _ => None,
    }
}

/// One `[[table]]` item with the line it starts on.
#[derive(Debug)]
pub(crate) struct Item<T> {
    pub line: usize,
    pub value: T,
}

/// Everything read from the five files.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub roles: Part<RawRole>,
    pub profiles: Part<RawProfile>,
    pub institutions: Part<RawInstitution>,
    pub coordinators: Part<RawCoordinator>,
    /// The policy file holds one table; `items` has one item or none.
    pub policy: Part<RawPolicy>,
}

fn yes() -> bool {
    true
}

/// Role scope as written in roles.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawScope {
    Institution,
    Library,
    Either,
}

impl From<RawScope> for ScopeKind {
    fn from(s: RawScope) -> Self {
        match s {
            RawScope::Institution => ScopeKind::Institution,
            RawScope::Library => ScopeKind::Library,
            RawScope::Either => ScopeKind::Either,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub code: Spanned<u32>,
    pub name: Spanned<String>,
    #[serde(default)]
    pub aliases: Vec<Spanned<String>>,
    pub area: Spanned<String>,
    pub scope: Spanned<RawScope>,
    #[serde(default)]
    pub parameter: Option<Spanned<ParameterKind>>,
    #[serde(default = "yes")]
    pub named_user: bool,
    #[serde(default)]
    pub privileged: bool,
    /// The two-person rule: how many different people approve a grant (1 or 2).
    #[serde(default)]
    pub approvers: Option<Spanned<u8>>,
}

/// Profile entry scope as written in profiles.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawEntryScope {
    Institution,
    Library,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub aliases: Vec<Spanned<String>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub role: Vec<Spanned<RawEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntry {
    pub role: Spanned<u32>,
    pub scope: Spanned<RawEntryScope>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInstitution {
    pub code: Spanned<String>,
    pub name: Spanned<String>,
    pub named_user_allotment: Spanned<u32>,
    #[serde(default)]
    pub primary_id_length: Option<Spanned<u32>>,
    #[serde(default)]
    pub primary_id_pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub library: Vec<Spanned<RawLibrary>>,
    /// `[institution.create]`: defaults of accounts the push creates.
    #[serde(default)]
    pub create: Option<RawCreate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCreate {
    pub record_type: Option<String>,
    pub user_group: Spanned<String>,
    pub job_category: Option<String>,
    pub preferred_language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLibrary {
    pub code: Spanned<String>,
    pub name: Spanned<String>,
    #[serde(default)]
    pub desks: Vec<Spanned<RawUnit>>,
    #[serde(default)]
    pub service_units: Vec<Spanned<RawUnit>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUnit {
    pub code: Spanned<String>,
    pub name: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoordinator {
    pub name: Spanned<String>,
    pub email: Spanned<String>,
    pub institutions: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub help_desk_name: Spanned<String>,
    pub help_desk_email: Spanned<String>,
    pub inactivity_days: Spanned<u32>,
    #[serde(default = "default_grace_days")]
    pub inactivity_grace_days: u32,
    #[serde(default)]
    pub generic_patterns: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow_list: Vec<Spanned<String>>,
    #[serde(default)]
    pub separation_of_duties: Vec<RawSeparation>,
}

/// One `[[separation_of_duties]]` of policy.toml: two roles one person may not hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSeparation {
    pub roles: Spanned<Vec<Spanned<u32>>>,
    pub reason: Spanned<String>,
}

/// `inactivity_grace_days` when `policy.toml` does not say.
pub(crate) fn default_grace_days() -> u32 {
    30
}

/// Parses one file's text into its top-level table, reporting every syntax error.
fn parse_table<'i>(
    file: &str,
    text: &'i str,
    lines: &LineIndex,
    problems: &mut Vec<CatalogProblem>,
) -> Option<Spanned<DeTable<'i>>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(table);
    }
    for e in errors {
        let line = e.span().map_or(1, |s| lines.line(s.start));
        problems.push(CatalogProblem::error(
            file,
            line,
            format!("{SYNTAX} {}", e.message().trim()),
        ));
    }
    None
}

/// Reads the `[[key]]` tables of a file one by one, so that a mistake in one item is
/// reported and the others are still read (and checked).
fn parse_items<T: DeserializeOwned>(
    file: &str,
    text: &str,
    (key, id_key): (&str, &str),
    problems: &mut Vec<CatalogProblem>,
) -> Part<T> {
    let lines = LineIndex::new(text);
    let Some(table) = parse_table(file, text, &lines, problems) else {
        return Part::broken(lines);
    };
    let mut part = Part {
        items: Vec::new(),
        complete: true,
        stray_ids: Vec::new(),
        ids_complete: true,
        lines,
    };
    let mut found = false;
    for (k, v) in table.get_ref().iter() {
        let line = part.lines.line(k.span().start);
        if k.get_ref().as_ref() != key {
            problems.push(CatalogProblem::error(
                file,
                line,
                format!(
                    "unknown key `{}` (this file holds [[{key}]] tables)",
                    k.get_ref()
                ),
            ));
            part.complete = false;
            part.ids_complete = false;
            continue;
        }
        found = true;
        let DeValue::Array(array) = v.get_ref() else {
            problems.push(CatalogProblem::error(
                file,
                line,
                format!("`{key}` must be written as [[{key}]] tables"),
            ));
            part.complete = false;
            part.ids_complete = false;
            continue;
        };
        for item in array.iter() {
            let line = part.lines.line(item.span().start);
            match T::deserialize(ValueDeserializer::from(item.clone())) {
                Ok(value) => part.items.push(Item { line, value }),
                Err(e) => {
                    let at = e.span().map_or(line, |s| part.lines.line(s.start));
                    problems.push(CatalogProblem::error(
                        file,
                        at,
                        format!("[[{key}]]: {}", e.message().trim()),
                    ));
                    part.complete = false;
                    match stray_id(item.get_ref(), id_key) {
                        Some(id) => part.stray_ids.push(id),
                        None => part.ids_complete = false,
                    }
                }
            }
        }
    }
    if !found && part.complete {
        let message = format!("no [[{key}]] tables in this file");
        // A consortium may do without profiles; it cannot do without roles or institutions.
        if key == "profile" {
            problems.push(CatalogProblem::warning(file, 1, message));
        } else {
            problems.push(CatalogProblem::error(file, 1, message));
            part.complete = false;
            part.ids_complete = false;
        }
    }
    part
}

/// Reads policy.toml, a single table of settings.
fn parse_policy(file: &str, text: &str, problems: &mut Vec<CatalogProblem>) -> Part<RawPolicy> {
    let lines = LineIndex::new(text);
    let Some(table) = parse_table(file, text, &lines, problems) else {
        return Part::broken(lines);
    };
    match RawPolicy::deserialize(toml::de::Deserializer::from(table)) {
        Ok(value) => Part {
            items: vec![Item { line: 1, value }],
            complete: true,
            stray_ids: Vec::new(),
            ids_complete: true,
            lines,
        },
        Err(e) => {
            let line = e.span().map_or(1, |s| lines.line(s.start));
            problems.push(CatalogProblem::error(file, line, e.message().trim()));
            Part::broken(lines)
        }
    }
}

/// Parses the five files (missing ones are reported and treated as broken).
pub(crate) fn parse_sources(files: &[(&str, &str)], problems: &mut Vec<CatalogProblem>) -> Parsed {
    fn one<T>(
        files: &[(&str, &str)],
        name: &str,
        problems: &mut Vec<CatalogProblem>,
        parse: impl FnOnce(&str, &mut Vec<CatalogProblem>) -> Part<T>,
    ) -> Part<T> {
        match files.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => parse(text, problems),
            None => {
                problems.push(CatalogProblem::file_error(format!(
                    "{name} is missing from the catalog folder"
                )));
                Part::broken(LineIndex::default())
            }
        }
    }
    Parsed {
        roles: one(files, ROLES_FILE, problems, |t, p| {
            parse_items(ROLES_FILE, t, ("role", "code"), p)
        }),
        profiles: one(files, PROFILES_FILE, problems, |t, p| {
            parse_items(PROFILES_FILE, t, ("profile", "name"), p)
        }),
        institutions: one(files, INSTITUTIONS_FILE, problems, |t, p| {
            parse_items(INSTITUTIONS_FILE, t, ("institution", "code"), p)
        }),
        coordinators: one(files, COORDINATORS_FILE, problems, |t, p| {
            parse_items(COORDINATORS_FILE, t, ("coordinator", "email"), p)
        }),
        policy: one(files, POLICY_FILE, problems, |t, p| {
            parse_policy(POLICY_FILE, t, p)
        }),
    }
}

/// Compiles a generic-account pattern the way the policy uses it: without regard to case.
pub(crate) fn compile_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        // Patterns are short; a tight limit keeps a careless one from slowing every request.
        .size_limit(1 << 20)
        .build()
}

/// Compiles an institution's primary-ID pattern: anchored, so that the whole ID must match
/// (a pattern written `\d{8}` must not accept `x12345678y`).
pub fn compile_id_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let lines = LineIndex::new("a\nbc\n\nd");
        assert_eq!(lines.line(0), 1);
        assert_eq!(lines.line(1), 1);
        assert_eq!(lines.line(2), 2);
        assert_eq!(lines.line(5), 3);
        assert_eq!(lines.line(6), 4);
    }
}
