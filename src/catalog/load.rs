//! Loading the catalog from its five TOML files: reading them, having them parsed and
//! checked ([`super::raw`], [`super::check`]), and turning a clean result into a [`Catalog`].
//!
//! One code path serves both the folder given with `--catalog` ([`load_catalog`]) and the
//! sample compiled into the binary ([`bundled`]), so the bundled catalog is checked exactly
//! like any other: [`load_sources`].

use super::check::{self, CatalogProblem};
use super::raw::{
    Item, Parsed, RawCoordinator, RawEntry, RawEntryScope, RawInstitution, RawLibrary, RawPolicy,
    RawProfile, RawRole, RawUnit, SYNTAX, compile_pattern,
};
use super::{
    Catalog, Coordinator, EntryParameter, EntryScope, Institution, Library, Policy, PrimaryIdRule,
    Profile, ProfileEntry, Role, Unit,
};
use crate::location::Location;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub use super::raw::{
    COORDINATORS_FILE, FILES, INSTITUTIONS_FILE, POLICY_FILE, PROFILES_FILE, ROLES_FILE,
    compile_id_pattern,
};

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
// Raw → domain types (only called once the checks found no errors).
// ---------------------------------------------------------------------------------------

fn text(s: Spanned<String>) -> String {
    s.into_inner().trim().to_string()
}

fn build(dir: PathBuf, version: String, parsed: Parsed) -> Catalog {
    let roles: Vec<Role> = parsed.roles.items.into_iter().map(role).collect();
    let profiles = parsed
        .profiles
        .items
        .into_iter()
        .map(|p| profile(p, &roles))
        .collect();
    let institutions = parsed
        .institutions
        .items
        .into_iter()
        .map(institution)
        .collect();
    let coordinators = parsed
        .coordinators
        .items
        .into_iter()
        .map(coordinator)
        .collect();
    // The checks report a missing or unreadable policy as an error, so it is present.
    let policy = parsed.policy.items.into_iter().next().map(policy);
    Catalog {
        dir,
        bundled: false,
        version,
        roles,
        profiles,
        institutions,
        coordinators,
        policy: policy.unwrap_or_else(|| Policy {
            help_desk_name: String::new(),
            help_desk_email: String::new(),
            generic_patterns: Vec::new(),
            generic_any: None,
            allow_list: Vec::new(),
            inactivity_days: 90,
            inactivity_grace_days: super::raw::default_grace_days(),
            separation_of_duties: Vec::new(),
        }),
    }
}

fn role(Item { value: r, .. }: Item<RawRole>) -> Role {
    Role {
        code: r.code.into_inner(),
        name: text(r.name),
        aliases: r.aliases.into_iter().map(text).collect(),
        area: text(r.area),
        scope: r.scope.into_inner().into(),
        parameter: r.parameter.map(Spanned::into_inner),
        named_user: r.named_user,
        privileged: r.privileged,
        approvers: r.approvers.map_or(1, Spanned::into_inner),
    }
}

fn profile(Item { value: p, .. }: Item<RawProfile>, roles: &[Role]) -> Profile {
    Profile {
        name: text(p.name),
        aliases: p.aliases.into_iter().map(text).collect(),
        description: p.description.trim().to_string(),
        entries: p
            .role
            .into_iter()
            .map(|e| entry(e.into_inner(), roles))
            .collect(),
    }
}

/// A profile's role: its desk or service unit, if the role takes one, comes from the
/// request line.
fn entry(e: RawEntry, roles: &[Role]) -> ProfileEntry {
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
}

fn institution(Item { value: i, .. }: Item<RawInstitution>) -> Institution {
    Institution {
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
        libraries: i.library.into_iter().map(library).collect(),
        create: i.create.map(|c| crate::catalog::CreateDefaults {
            record_type: c.record_type.unwrap_or_else(|| "STAFF".to_string()),
            user_group: text(c.user_group),
            job_category: c.job_category,
            preferred_language: c.preferred_language,
        }),
    }
}

fn library(l: Spanned<RawLibrary>) -> Library {
    let l = l.into_inner();
    Library {
        code: text(l.code),
        name: text(l.name),
        desks: l.desks.into_iter().map(unit).collect(),
        service_units: l.service_units.into_iter().map(unit).collect(),
    }
}

fn unit(u: Spanned<RawUnit>) -> Unit {
    let u = u.into_inner();
    Unit {
        code: text(u.code),
        name: text(u.name),
    }
}

fn coordinator(Item { value: c, .. }: Item<RawCoordinator>) -> Coordinator {
    Coordinator {
        name: text(c.name),
        email: text(c.email),
        institutions: c.institutions.into_inner().into_iter().map(text).collect(),
    }
}

fn policy(Item { value: p, .. }: Item<RawPolicy>) -> Policy {
    // The checks compiled every pattern already; none fails here.
    let generic_patterns: Vec<regex::Regex> = p
        .generic_patterns
        .iter()
        .filter_map(|s| compile_pattern(s.get_ref()).ok())
        .collect();
    Policy {
        help_desk_name: text(p.help_desk_name),
        help_desk_email: text(p.help_desk_email),
        generic_any: super::any_of(&generic_patterns),
        generic_patterns,
        allow_list: p.allow_list.into_iter().map(text).collect(),
        inactivity_days: p.inactivity_days.into_inner(),
        inactivity_grace_days: p.inactivity_grace_days,
        separation_of_duties: p
            .separation_of_duties
            .into_iter()
            .filter_map(separation)
            .collect(),
    }
}

/// A `[[separation_of_duties]]` rule; the checks kept only pairs of two known codes.
fn separation(r: super::raw::RawSeparation) -> Option<crate::catalog::Separation> {
    let codes: Vec<u32> = r.roles.get_ref().iter().map(|c| *c.get_ref()).collect();
    let [a, b] = codes[..] else { return None };
    Some(crate::catalog::Separation {
        roles: [a, b],
        reason: text(r.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
