//! Loading the catalog from its five TOML files: reading them, parsing them into the raw,
//! line-carrying shapes the checks need, and turning a clean result into a [`Catalog`].
//!
//! One code path serves both the folder given with `--catalog` ([`load_catalog`]) and the
//! sample compiled into the binary ([`bundled`]), so the bundled catalog is checked exactly
//! like any other: [`load_sources`].

use super::check::{self, CatalogProblem};
use super::{
    Catalog, Coordinator, EntryParameter, EntryScope, Institution, Library, ParameterKind, Policy,
    PrimaryIdRule, Profile, ProfileEntry, Role, ScopeKind, Unit,
};
use crate::location::Location;
use regex::RegexBuilder;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
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

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// One of the five files is not in the folder.
    #[error("catalog file {} is missing (a catalog folder holds {})", path.display(), FILES.join(", "))]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read catalog file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not valid TOML.
    #[error("{file}:{line}: error: TOML syntax: {message}")]
    Syntax {
        /// File name within the catalog folder.
        file: String,
        /// 1-based line of the mistake.
        line: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// The files parse but have mistakes; every one is listed.
    #[error("{}", InvalidList(problems))]
    Invalid {
        /// Every problem found, errors and warnings, in file and line order.
        problems: Vec<CatalogProblem>,
    },
}

/// Renders the problem list of [`CatalogError::Invalid`].
struct InvalidList<'a>(&'a [CatalogProblem]);

impl fmt::Display for InvalidList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.0.iter().filter(|p| p.is_error()).count();
        write!(
            f,
            "the catalog has {errors} error{}",
            if errors == 1 { "" } else { "s" }
        )?;
        for p in self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Loads and checks the catalog in `dir`.
pub fn load_catalog(dir: &Path) -> Result<Catalog, CatalogError> {
    let mut texts = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((name, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CatalogError::Missing { path });
            }
            Err(source) => return Err(CatalogError::Io { path, source }),
        }
    }
    let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    load_sources(dir.to_path_buf(), &files)
}

/// The sample catalog compiled into the binary, so that `rolecall` works from any folder
/// with no flags. Its `dir` is `samples/catalog`.
pub fn bundled() -> Catalog {
    let files = bundled_sources();
    // The bundled files are fixed at compile time and `tests/integration/catalog.rs` checks them clean,
    // so this cannot fail in a released binary.
    let mut catalog = load_sources(PathBuf::from("samples/catalog"), &files)
        .unwrap_or_else(|e| panic!("the bundled sample catalog is invalid: {e}"));
    catalog.bundled = true;
    catalog
}

/// The bundled catalog's files as `(name, text)` pairs.
pub fn bundled_sources() -> [(&'static str, &'static str); 5] {
    [
        (ROLES_FILE, include_str!("../../samples/catalog/roles.toml")),
        (
            PROFILES_FILE,
            include_str!("../../samples/catalog/profiles.toml"),
        ),
        (
            INSTITUTIONS_FILE,
            include_str!("../../samples/catalog/institutions.toml"),
        ),
        (
            COORDINATORS_FILE,
            include_str!("../../samples/catalog/coordinators.toml"),
        ),
        (
            POLICY_FILE,
            include_str!("../../samples/catalog/policy.toml"),
        ),
    ]
}

/// Parses, checks and builds a catalog from `(file name, text)` pairs; `origin` becomes
/// [`Catalog::dir`]. A missing file is returned as its own error, and so is a TOML syntax
/// error when it is the only error; otherwise every problem, as [`CatalogError::Invalid`]:
/// a syntax error in one file does not hide what the other files can still be checked for.
pub fn load_sources(origin: PathBuf, files: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
    if let Some(name) = FILES.iter().find(|f| !files.iter().any(|(n, _)| n == *f)) {
        return Err(CatalogError::Missing {
            path: origin.join(name),
        });
    }
    let (parsed, problems) = check::analyse(files);
    let errors: Vec<&CatalogProblem> = problems.iter().filter(|p| p.is_error()).collect();
    match errors.as_slice() {
        [] => Ok(build(origin, version(files), parsed)),
        [only] if only.message.starts_with(SYNTAX) => {
            let Location::Line { file, line } = &only.location else {
                return Err(CatalogError::Invalid { problems });
            };
            Err(CatalogError::Syntax {
                file: file.clone(),
                line: *line,
                message: only.message[SYNTAX.len()..].trim().to_string(),
            })
        }
        _ => Err(CatalogError::Invalid { problems }),
    }
}

/// How a TOML syntax problem's message starts.
const SYNTAX: &str = "TOML syntax:";

/// The catalog version: the first 12 hex digits of SHA-256 over the files sorted by name,
/// each as name, NUL, its meaning, NUL. A file's meaning is its parsed TOML as compact JSON
/// with sorted keys, so that a comment, blank lines, the order of keys in a table or the
/// quoting of a string do not change the version (and outstanding worksheets get no
/// catalog-version warning for them); the order of `[[...]]` items is kept. Templates and
/// change sets carry it; `samples/make_samples.py` computes the same.
pub fn version(files: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = files.iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    let mut hash = Sha256::new();
    for (name, text) in sorted {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(meaning(text).as_bytes());
        hash.update([0]);
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file's TOML as compact JSON with sorted keys (serde_json's map is ordered); the text
/// itself when it is no TOML (such a catalog does not load anyway).
fn meaning(text: &str) -> String {
    text.parse::<toml::Table>()
        .ok()
        .and_then(|table| serde_json::to_value(table).ok())
        .map_or_else(|| text.to_string(), |json| json.to_string())
}

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
    #[serde(default)]
    pub generic_patterns: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow_list: Vec<Spanned<String>>,
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

// ---------------------------------------------------------------------------------------
// Raw → domain types (only called once the checks found no errors).
// ---------------------------------------------------------------------------------------

fn text(s: Spanned<String>) -> String {
    s.into_inner().trim().to_string()
}

fn build(dir: PathBuf, version: String, parsed: Parsed) -> Catalog {
    let roles: Vec<Role> = parsed
        .roles
        .items
        .into_iter()
        .map(|Item { value: r, .. }| Role {
            code: r.code.into_inner(),
            name: text(r.name),
            aliases: r.aliases.into_iter().map(text).collect(),
            area: text(r.area),
            scope: r.scope.into_inner().into(),
            parameter: r.parameter.map(Spanned::into_inner),
            named_user: r.named_user,
            privileged: r.privileged,
        })
        .collect();
    let profiles = parsed
        .profiles
        .items
        .into_iter()
        .map(|Item { value: p, .. }| Profile {
            name: text(p.name),
            aliases: p.aliases.into_iter().map(text).collect(),
            description: p.description.trim().to_string(),
            entries: p
                .role
                .into_iter()
                .map(|e| {
                    let e = e.into_inner();
                    let code = e.role.into_inner();
                    let parameter = roles
                        .iter()
                        .find(|r| r.code == code)
                        .and_then(|r| r.parameter)
                        .map_or(EntryParameter::None, EntryParameter::FromRequest);
                    ProfileEntry {
                        role: code,
                        scope: match e.scope.into_inner() {
                            RawEntryScope::Institution => EntryScope::Institution,
                            RawEntryScope::Library => EntryScope::RequestLibrary,
                        },
                        parameter,
                        active: e.active,
                    }
                })
                .collect(),
        })
        .collect();
    let unit = |u: Spanned<RawUnit>| {
        let u = u.into_inner();
        Unit {
            code: text(u.code),
            name: text(u.name),
        }
    };
    let institutions = parsed
        .institutions
        .items
        .into_iter()
        .map(|Item { value: i, .. }| Institution {
            code: text(i.code),
            name: text(i.name),
            named_user_allotment: i.named_user_allotment.into_inner(),
            primary_id: PrimaryIdRule {
                length: i.primary_id_length.map(|n| n.into_inner() as usize),
                // The checks compiled the pattern already; it does not fail here.
                pattern: i
                    .primary_id_pattern
                    .and_then(|p| compile_id_pattern(p.get_ref()).ok()),
            },
            libraries: i
                .library
                .into_iter()
                .map(|l| {
                    let l = l.into_inner();
                    Library {
                        code: text(l.code),
                        name: text(l.name),
                        desks: l.desks.into_iter().map(unit).collect(),
                        service_units: l.service_units.into_iter().map(unit).collect(),
                    }
                })
                .collect(),
            create: i.create.map(|c| crate::catalog::CreateDefaults {
                record_type: c.record_type.unwrap_or_else(|| "STAFF".to_string()),
                user_group: text(c.user_group),
                job_category: c.job_category,
                preferred_language: c.preferred_language,
            }),
        })
        .collect();
    let coordinators = parsed
        .coordinators
        .items
        .into_iter()
        .map(|Item { value: c, .. }| Coordinator {
            name: text(c.name),
            email: text(c.email),
            institutions: c.institutions.into_inner().into_iter().map(text).collect(),
        })
        .collect();
    let policy = parsed
        .policy
        .items
        .into_iter()
        .next()
        .map(|Item { value: p, .. }| Policy {
            help_desk_name: text(p.help_desk_name),
            help_desk_email: text(p.help_desk_email),
            // The checks compiled every pattern already; none fails here.
            generic_patterns: p
                .generic_patterns
                .iter()
                .filter_map(|s| compile_pattern(s.get_ref()).ok())
                .collect(),
            allow_list: p.allow_list.into_iter().map(text).collect(),
            inactivity_days: p.inactivity_days.into_inner(),
        });
    Catalog {
        dir,
        bundled: false,
        version,
        roles,
        profiles,
        institutions,
        coordinators,
        // The checks report a missing or unreadable policy as an error, so it is present.
        policy: policy.unwrap_or_else(|| Policy {
            help_desk_name: String::new(),
            help_desk_email: String::new(),
            generic_patterns: Vec::new(),
            allow_list: Vec::new(),
            inactivity_days: 90,
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

    #[test]
    fn version_is_twelve_hex_digits_and_ignores_file_order() {
        let a = version(&[("b.toml", "x"), ("a.toml", "y")]);
        let b = version(&[("a.toml", "y"), ("b.toml", "x")]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, version(&[("a.toml", "y"), ("b.toml", "z")]));
    }

    #[test]
    fn version_covers_the_meaning_not_the_bytes() {
        let plain = version(&[("roles.toml", "[[role]]\ncode = 32\nname = \"Circ\"\n")]);
        let commented = version(&[(
            "roles.toml",
            "# Roles.\n\n[[role]]\nname = 'Circ'   # Alma's name\ncode = 32\n",
        )]);
        assert_eq!(plain, commented);
        let renamed = version(&[("roles.toml", "[[role]]\ncode = 32\nname = \"Circ2\"\n")]);
        assert_ne!(plain, renamed);
    }
}
