//! `rolecall catalog check`: every mistake in the catalog files, with file and line.
//!
//! The loader runs the same checks (`analyse`) and refuses a catalog with any error, so a
//! catalog that loads is one that checks clean. The list of checks is in `docs/catalog.md`.

use super::raw::{
    self, COORDINATORS_FILE, FILES, INSTITUTIONS_FILE, Item, POLICY_FILE, PROFILES_FILE, Parsed,
    Part, ROLES_FILE, RawCoordinator, RawEntry, RawEntryScope, RawInstitution, RawLibrary,
    RawProfile, RawRole, RawScope,
};
use super::{PATRON_CODE, ParameterKind};
use crate::location::Location;
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;
use validator::ValidateEmail;

pub use super::raw::CatalogProblem;

/// Checks the catalog in `dir`: every problem, errors and warnings, in file and line order.
/// A missing or unreadable file is a problem too; the other files are still checked.
pub fn check_catalog(dir: &Path) -> Vec<CatalogProblem> {
    let mut texts = Vec::new();
    let mut unreadable = Vec::new();
    for name in FILES {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => texts.push((name, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => unreadable.push((name, e)),
        }
    }
    let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let mut problems = check_sources(&files);
    // parse_sources reports an absent file as missing "from the catalog folder": name the
    // folder, and say why when the file is there but could not be read.
    for p in problems.iter_mut().filter(|p| p.location == Location::File) {
        let name = p.message.split(' ').next().unwrap_or_default().to_string();
        p.message = match unreadable.iter().find(|(n, _)| *n == name) {
            Some((_, e)) => format!("{name} in {} cannot be read: {e}", dir.display()),
            None => format!("{name} is missing from {}", dir.display()),
        };
    }
    problems
}

/// Checks catalog files given as `(file name, text)` pairs.
pub fn check_sources(files: &[(&str, &str)]) -> Vec<CatalogProblem> {
    analyse(files).1
}

/// Parses and checks: the raw catalog (for the loader to build from) and every problem.
pub(crate) fn analyse(files: &[(&str, &str)]) -> (Parsed, Vec<CatalogProblem>) {
    let mut problems = Vec::new();
    let parsed = raw::parse_sources(files, &mut problems);
    check_roles(&parsed, &mut problems);
    check_profiles(&parsed, &mut problems);
    check_institutions(&parsed, &mut problems);
    check_coordinators(&parsed, &mut problems);
    check_policy(&parsed, &mut problems);
    check_approvers(&parsed, &mut problems);
    check_separation(&parsed, &mut problems);
    problems.sort_by_key(CatalogProblem::sort_key);
    (parsed, problems)
}

use crate::catalog::lookup_key as norm;

/// The 1-based line of a spanned value.
fn line_of<T, U>(part: &Part<U>, s: &Spanned<T>) -> usize {
    part.lines.line(s.span().start)
}

/// Reports an empty text value.
fn require_text<U>(
    part: &Part<U>,
    file: &str,
    s: &Spanned<String>,
    what: &str,
    problems: &mut Vec<CatalogProblem>,
) -> bool {
    if s.get_ref().trim().is_empty() {
        problems.push(CatalogProblem::error(
            file,
            line_of(part, s),
            format!("{what} is empty"),
        ));
        false
    } else {
        true
    }
}

/// Remembers the first line of each key and reports later duplicates.
struct Seen {
    first: HashMap<String, usize>,
}

impl Seen {
    fn new() -> Self {
        Seen {
            first: HashMap::new(),
        }
    }

    /// The line `key` was first seen on, or `None` (and remembers `line`) if it is new.
    fn check(&mut self, key: String, line: usize) -> Option<usize> {
        match self.first.get(&key) {
            Some(first) => Some(*first),
            None => {
                self.first.insert(key, line);
                None
            }
        }
    }
}

fn check_roles(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.roles;
    let mut codes = Seen::new();
    let mut names = Seen::new();
    for Item { value: r, .. } in &part.items {
        let code = *r.code.get_ref();
        let code_line = line_of(part, &r.code);
        if let Some(first) = codes.check(code.to_string(), code_line) {
            problems.push(CatalogProblem::error(
                ROLES_FILE,
                code_line,
                format!("duplicate role code {code} (first defined at line {first})"),
            ));
        }
        check_role_names(part, r, &mut names, problems);
        require_text(part, ROLES_FILE, &r.area, "area", problems);
        check_role_parameter(part, r, problems);
        if code == PATRON_CODE && r.named_user {
            problems.push(CatalogProblem::warning(
                ROLES_FILE,
                code_line,
                "Patron (200) does not count as a named user: add `named_user = false`",
            ));
        }
    }
}

/// A role's name and aliases: not empty, not a number, not another role's name or alias.
fn check_role_names(
    part: &Part<RawRole>,
    r: &RawRole,
    names: &mut Seen,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = ROLES_FILE;
    if require_text(part, f, &r.name, "role name", problems) {
        let line = line_of(part, &r.name);
        if let Some(first) = names.check(norm(r.name.get_ref()), line) {
            problems.push(CatalogProblem::error(
                f,
                line,
                format!(
                    "duplicate role name \"{}\" (first defined at line {first})",
                    r.name.get_ref().trim()
                ),
            ));
        } else if r.name.get_ref().trim().parse::<u32>().is_ok() {
            // Requests may name a role by its code, so a numeric name would be ambiguous.
            problems.push(CatalogProblem::error(
                f,
                line,
                "a role name cannot be a number (requests may name roles by code)",
            ));
        }
    }
    for alias in &r.aliases {
        let line = line_of(part, alias);
        if require_text(part, f, alias, "role alias", problems)
            && let Some(first) = names.check(norm(alias.get_ref()), line)
        {
            problems.push(CatalogProblem::error(
                f,
                line,
                format!(
                    "role alias \"{}\" is already a role's name or alias (line {first})",
                    alias.get_ref().trim()
                ),
            ));
        }
    }
}

/// A role's parameter: a desk or service unit belongs to a library, and MetadataType is
/// Alma's to set, never a request's.
fn check_role_parameter(part: &Part<RawRole>, r: &RawRole, problems: &mut Vec<CatalogProblem>) {
    let Some(param) = &r.parameter else { return };
    let code = *r.code.get_ref();
    let kind = *param.get_ref();
    if kind == ParameterKind::MetadataType {
        problems.push(CatalogProblem::error(
            ROLES_FILE,
            line_of(part, param),
            format!(
                "role {code}: a MetadataType parameter is set in Alma, not asked for by a request: write CirculationDesk or ServiceUnit, or leave it out"
            ),
        ));
    } else if *r.scope.get_ref() == RawScope::Institution {
        problems.push(CatalogProblem::error(
            ROLES_FILE,
            line_of(part, &r.scope),
            format!(
                "role {code} takes a {} parameter, which belongs to a library, so its scope cannot be \"institution\"",
                kind.describe()
            ),
        ));
    }
}

/// `approvers` (the two-person rule) is 1 or 2, and only on a privileged role: a role that
/// needs no approval has nobody to approve it.
fn check_approvers(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.roles;
    for Item { value: r, .. } in &part.items {
        let Some(n) = &r.approvers else { continue };
        let line = line_of(part, n);
        let code = r.code.get_ref();
        if !(1..=2).contains(n.get_ref()) {
            problems.push(CatalogProblem::error(
                ROLES_FILE,
                line,
                format!("role {code}: approvers must be 1 or 2, not {}", n.get_ref()),
            ));
        } else if !r.privileged && *n.get_ref() > 1 {
            problems.push(CatalogProblem::error(
                ROLES_FILE,
                line,
                format!("role {code} has approvers = {} but is not privileged, so nobody approves it: add `privileged = true`", n.get_ref()),
            ));
        }
    }
}

/// Each `[[separation_of_duties]]` names two different roles the catalog knows, and why.
fn check_separation(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.policy;
    let Some(Item { value: p, .. }) = part.items.first() else {
        return;
    };
    let known = role_index(parsed);
    for rule in &p.separation_of_duties {
        let codes = rule.roles.get_ref();
        let line = line_of(part, &rule.roles);
        if codes.len() != 2 || codes[0].get_ref() == codes[1].get_ref() {
            problems.push(CatalogProblem::error(
                POLICY_FILE,
                line,
                "separation_of_duties: roles must name two different role codes, e.g. roles = [54, 44]",
            ));
        }
        for code in codes {
            if known
                .as_ref()
                .is_some_and(|k| !k.contains_key(code.get_ref()))
            {
                problems.push(CatalogProblem::error(
                    POLICY_FILE,
                    line_of(part, code),
                    format!(
                        "separation_of_duties: role code {} is not in roles.toml",
                        code.get_ref()
                    ),
                ));
            }
        }
        require_text(
            part,
            POLICY_FILE,
            &rule.reason,
            "separation_of_duties reason",
            problems,
        );
    }
}

/// Roles by code, when every role's code could be read (otherwise `None`, and the
/// cross-file checks that need it are skipped). A role whose other keys could not be read is
/// known by its code alone (`None`): profiles may name it, its scope is not checked.
fn role_index(parsed: &Parsed) -> Option<HashMap<u32, Option<&RawRole>>> {
    let roles = &parsed.roles;
    roles.ids_known().then(|| {
        let strays = roles.stray_ids.iter().filter_map(|id| id.parse().ok());
        strays
            .map(|code| (code, None))
            .chain(
                roles
                    .items
                    .iter()
                    .map(|i| (*i.value.code.get_ref(), Some(&i.value))),
            )
            .collect()
    })
}

fn role_label(r: &RawRole) -> String {
    format!("{} ({})", r.name.get_ref().trim(), r.code.get_ref())
}

fn check_profiles(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.profiles;
    let roles = role_index(parsed);
    let mut names = Seen::new();
    for Item { value: p, line } in &part.items {
        let name = p.name.get_ref().trim();
        check_profile_names(part, p, &mut names, problems);
        if p.role.is_empty() {
            problems.push(CatalogProblem::error(
                PROFILES_FILE,
                *line,
                format!("profile \"{name}\" grants no roles: add [[profile.role]] tables after it"),
            ));
        }
        let mut in_profile = Seen::new();
        let mut kinds: Vec<(ParameterKind, usize)> = Vec::new();
        for entry in &p.role {
            let entry = Entry {
                part,
                profile: name,
                raw: entry.get_ref(),
            };
            entry.check_listing(&mut in_profile, problems);
            let Some(roles) = &roles else { continue };
            if let Some(role) = entry.check_role(roles, problems) {
                entry.check_scope(role, problems);
                if let Some(kind) = role.parameter.as_ref().map(|p| *p.get_ref())
                    && !kinds.iter().any(|(k, _)| *k == kind)
                {
                    kinds.push((kind, entry.line()));
                }
            }
        }
        check_parameter_kinds(name, &kinds, problems);
    }
}

/// A profile's name and aliases: not empty, not another profile's name or alias.
fn check_profile_names(
    part: &Part<RawProfile>,
    p: &RawProfile,
    names: &mut Seen,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = PROFILES_FILE;
    let name = p.name.get_ref().trim();
    if require_text(part, f, &p.name, "profile name", problems) {
        let name_line = line_of(part, &p.name);
        if let Some(first) = names.check(norm(name), name_line) {
            problems.push(CatalogProblem::error(
                f,
                name_line,
                format!("duplicate profile name \"{name}\" (first defined at line {first})"),
            ));
        }
    }
    for alias in &p.aliases {
        let alias_line = line_of(part, alias);
        if require_text(part, f, alias, "profile alias", problems)
            && let Some(first) = names.check(norm(alias.get_ref()), alias_line)
        {
            problems.push(CatalogProblem::error(
                f,
                alias_line,
                format!(
                    "profile alias \"{}\" is already a profile's name or alias (line {first})",
                    alias.get_ref().trim()
                ),
            ));
        }
    }
}

/// One `[[profile.role]]` entry being checked, with the profile it belongs to.
struct Entry<'a> {
    part: &'a Part<RawProfile>,
    profile: &'a str,
    raw: &'a RawEntry,
}

impl Entry<'_> {
    fn code(&self) -> u32 {
        *self.raw.role.get_ref()
    }

    fn line(&self) -> usize {
        line_of(self.part, &self.raw.role)
    }

    /// Listed once per scope, and never Patron.
    fn check_listing(&self, in_profile: &mut Seen, problems: &mut Vec<CatalogProblem>) {
        let (code, line, name) = (self.code(), self.line(), self.profile);
        let scope = *self.raw.scope.get_ref();
        if let Some(first) = in_profile.check(format!("{code}/{scope:?}"), line) {
            problems.push(CatalogProblem::warning(
                PROFILES_FILE,
                line,
                format!(
                    "role {code} is listed twice in profile \"{name}\" with the same scope (first at line {first})"
                ),
            ));
        }
        if code == PATRON_CODE {
            problems.push(CatalogProblem::warning(
                PROFILES_FILE,
                line,
                "Patron (200) is kept on every account: leave it out of profiles",
            ));
        }
    }

    /// The role it names, when roles.toml has it (an unknown code is an error; a role whose
    /// other keys could not be read is known by code only, and not checked further).
    fn check_role<'r>(
        &self,
        roles: &HashMap<u32, Option<&'r RawRole>>,
        problems: &mut Vec<CatalogProblem>,
    ) -> Option<&'r RawRole> {
        let code = self.code();
        let Some(&known) = roles.get(&code) else {
            problems.push(CatalogProblem::error(
                PROFILES_FILE,
                self.line(),
                format!(
                    "profile \"{}\" names unknown role code {code} (not in roles.toml)",
                    self.profile
                ),
            ));
            return None;
        };
        known
    }

    /// The entry's scope is one the role can have.
    fn check_scope(&self, role: &RawRole, problems: &mut Vec<CatalogProblem>) {
        let needs_library = *role.scope.get_ref() == RawScope::Library || role.parameter.is_some();
        let wrong = match *self.raw.scope.get_ref() {
            RawEntryScope::Institution if needs_library => {
                "can only be scoped to a library, but this entry scopes it to the institution"
            }
            RawEntryScope::Library if *role.scope.get_ref() == RawScope::Institution => {
                "can only be scoped to the institution, but this entry scopes it to a library"
            }
            _ => return,
        };
        problems.push(CatalogProblem::error(
            PROFILES_FILE,
            line_of(self.part, &self.raw.scope),
            format!("role {} {wrong}", role_label(role)),
        ));
    }
}

/// A request line has one desk / service unit column, so a profile cannot feed both kinds.
fn check_parameter_kinds(
    name: &str,
    kinds: &[(ParameterKind, usize)],
    problems: &mut Vec<CatalogProblem>,
) {
    if let [(first_kind, first_line), (second_kind, second_line), ..] = kinds[..] {
        problems.push(CatalogProblem::error(
            PROFILES_FILE,
            second_line,
            format!(
                "profile \"{name}\" needs both a {} (line {first_line}) and a {}, but a request line names only one desk or service unit",
                first_kind.describe(),
                second_kind.describe()
            ),
        ));
    }
}

/// `[institution.create]`, when given: the user group Alma's Create user call needs must not
/// be blank. (An institution without the table is reported by `rolecall catalog check` when
/// `[alma]` is configured: only the push needs it.)
fn check_create(
    part: &Part<RawInstitution>,
    i: &RawInstitution,
    problems: &mut Vec<CatalogProblem>,
) {
    if let Some(c) = &i.create {
        require_text(
            part,
            INSTITUTIONS_FILE,
            &c.user_group,
            "create user_group",
            problems,
        );
    }
}

fn check_institutions(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.institutions;
    let f = INSTITUTIONS_FILE;
    let mut codes = Seen::new();
    for Item { value: i, line } in &part.items {
        let code = i.code.get_ref().trim();
        check_institution_code(part, i, &mut codes, problems);
        require_text(part, f, &i.name, "institution name", problems);
        if *i.named_user_allotment.get_ref() == 0 {
            problems.push(CatalogProblem::warning(
                f,
                line_of(part, &i.named_user_allotment),
                format!("institution {code} has a named-user allotment of 0: nobody there can be given a staff role within it"),
            ));
        }
        check_id_rule(part, i, problems);
        check_create(part, i, problems);
        if i.library.is_empty() {
            problems.push(CatalogProblem::warning(
                f,
                *line,
                format!("institution {code} has no libraries: library-scoped roles cannot be requested for it"),
            ));
        }
        let mut libraries = Seen::new();
        for lib in &i.library {
            check_library(part, code, lib.get_ref(), &mut libraries, problems);
        }
    }
}

/// An institution's code: given, unique (regardless of case), and in Alma's style.
fn check_institution_code(
    part: &Part<RawInstitution>,
    i: &RawInstitution,
    codes: &mut Seen,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = INSTITUTIONS_FILE;
    let code = i.code.get_ref().trim();
    let code_line = line_of(part, &i.code);
    if !require_text(part, f, &i.code, "institution code", problems) {
        return;
    }
    if let Some(first) = codes.check(code.to_ascii_uppercase(), code_line) {
        problems.push(CatalogProblem::error(
            f,
            code_line,
            format!("duplicate institution code {code} (first defined at line {first})"),
        ));
    }
    // Alma institution codes: 01 (the data centre prefix), a customer code, `_`, an
    // institution code: `01FALSC_GCSU`.
    static STYLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\d{2}[A-Z0-9]+_[A-Z0-9]+$").expect("valid pattern")
    });
    if !STYLE.is_match(code) {
        problems.push(CatalogProblem::warning(
            f,
            code_line,
            format!(
                "institution code \"{code}\" is not in Alma's 01XXX_YYY style (e.g. 01FALSC_GCSU)"
            ),
        ));
    }
}

/// One library of institution `code`: a unique code and a name, and its desks and service
/// units, which share the worksheet's one column and so one namespace.
fn check_library(
    part: &Part<RawInstitution>,
    code: &str,
    lib: &RawLibrary,
    libraries: &mut Seen,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = INSTITUTIONS_FILE;
    let lib_code = lib.code.get_ref().trim();
    let lib_line = line_of(part, &lib.code);
    if require_text(part, f, &lib.code, "library code", problems)
        && let Some(first) = libraries.check(lib_code.to_ascii_uppercase(), lib_line)
    {
        problems.push(CatalogProblem::error(
            f,
            lib_line,
            format!(
                "duplicate library code {lib_code} in institution {code} (first defined at line {first})"
            ),
        ));
    }
    require_text(part, f, &lib.name, "library name", problems);
    let mut units = Seen::new();
    for (kind, list) in [
        (ParameterKind::CirculationDesk, &lib.desks),
        (ParameterKind::ServiceUnit, &lib.service_units),
    ] {
        for unit in list {
            let unit = unit.get_ref();
            let unit_code = unit.code.get_ref().trim();
            let unit_line = line_of(part, &unit.code);
            let what = kind.describe();
            if require_text(part, f, &unit.code, &format!("{what} code"), problems)
                && let Some(first) = units.check(unit_code.to_ascii_uppercase(), unit_line)
            {
                problems.push(CatalogProblem::error(
                    f,
                    unit_line,
                    format!(
                        "duplicate desk or service unit code {unit_code} in library {lib_code} of {code} (first defined at line {first})"
                    ),
                ));
            }
            require_text(part, f, &unit.name, &format!("{what} name"), problems);
        }
    }
}

/// An institution's primary-ID length and pattern: a pattern that compiles, a length that
/// an Alma ID can have, and the two agreeing.
fn check_id_rule(
    part: &Part<RawInstitution>,
    i: &RawInstitution,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = INSTITUTIONS_FILE;
    let code = i.code.get_ref().trim();
    if let Some(n) = &i.primary_id_length
        && !(1..=255).contains(n.get_ref())
    {
        problems.push(CatalogProblem::error(
            f,
            line_of(part, n),
            format!(
                "institution {code}: primary_id_length must be between 1 and 255 (Alma's limit), not {}",
                n.get_ref()
            ),
        ));
    }
    if let Some(p) = &i.primary_id_pattern
        && let Err(e) = raw::compile_id_pattern(p.get_ref())
    {
        let why = e.to_string();
        let why = why.lines().last().unwrap_or_default().trim();
        problems.push(CatalogProblem::error(
            f,
            line_of(part, p),
            format!(
                "institution {code}: primary_id_pattern is not a valid regular expression: {why}"
            ),
        ));
    }
}

fn check_coordinators(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.coordinators;
    let known = known_institutions(&parsed.institutions);
    let mut emails = Seen::new();
    let mut covered: Vec<String> = Vec::new();
    for Item { value: c, .. } in &part.items {
        require_text(
            part,
            COORDINATORS_FILE,
            &c.name,
            "coordinator name",
            problems,
        );
        check_coordinator_email(part, c, &mut emails, problems);
        let mine = check_coordinator_institutions(part, c, known.as_deref(), problems);
        covered.extend(mine);
    }
    if part.complete {
        check_coverage(&parsed.institutions, &covered, problems);
    }
}

/// Every institution code in institutions.toml (upper case), when every code could be read.
fn known_institutions(institutions: &Part<RawInstitution>) -> Option<Vec<String>> {
    institutions.ids_known().then(|| {
        let items = institutions.items.iter().map(|i| i.value.code.get_ref());
        items
            .chain(institutions.stray_ids.iter())
            .map(|code| code.trim().to_ascii_uppercase())
            .collect()
    })
}

/// A coordinator's email: valid, and nobody else's.
fn check_coordinator_email(
    part: &Part<RawCoordinator>,
    c: &RawCoordinator,
    emails: &mut Seen,
    problems: &mut Vec<CatalogProblem>,
) {
    let f = COORDINATORS_FILE;
    let email = c.email.get_ref().trim();
    let email_line = line_of(part, &c.email);
    if !email.validate_email() {
        problems.push(CatalogProblem::error(
            f,
            email_line,
            format!("coordinator email \"{email}\" is not a valid email address"),
        ));
    } else if let Some(first) = emails.check(email.to_lowercase(), email_line) {
        problems.push(CatalogProblem::error(
            f,
            email_line,
            format!("duplicate coordinator email {email} (first defined at line {first})"),
        ));
    }
}

/// A coordinator's institutions: at least one, each once, each known. Returns the codes it
/// covers (upper case).
fn check_coordinator_institutions(
    part: &Part<RawCoordinator>,
    c: &RawCoordinator,
    known: Option<&[String]>,
    problems: &mut Vec<CatalogProblem>,
) -> Vec<String> {
    let f = COORDINATORS_FILE;
    let name = c.name.get_ref().trim();
    if c.institutions.get_ref().is_empty() {
        problems.push(CatalogProblem::error(
            f,
            line_of(part, &c.institutions),
            format!("coordinator {name} has no institutions"),
        ));
    }
    let mut mine = Seen::new();
    let mut covered = Vec::new();
    for inst in c.institutions.get_ref() {
        let code = inst.get_ref().trim().to_ascii_uppercase();
        let line = line_of(part, inst);
        if mine.check(code.clone(), line).is_some() {
            problems.push(CatalogProblem::warning(
                f,
                line,
                format!("institution {code} is listed twice for coordinator {name}"),
            ));
            continue;
        }
        if let Some(known) = known
            && !known.contains(&code)
        {
            problems.push(CatalogProblem::error(
                f,
                line,
                format!(
                    "coordinator {name} is given unknown institution \"{}\" (not in institutions.toml)",
                    inst.get_ref().trim()
                ),
            ));
        }
        covered.push(code);
    }
    covered
}

/// Every institution has a coordinator (checked only when coordinators.toml read whole).
fn check_coverage(
    institutions: &Part<RawInstitution>,
    covered: &[String],
    problems: &mut Vec<CatalogProblem>,
) {
    for Item { value: i, .. } in &institutions.items {
        let code = i.code.get_ref().trim();
        if !covered.contains(&code.to_ascii_uppercase()) {
            problems.push(CatalogProblem::warning(
                INSTITUTIONS_FILE,
                line_of(institutions, &i.code),
                format!("institution {code} has no coordinator: nobody can request changes for it"),
            ));
        }
    }
}

fn check_policy(parsed: &Parsed, problems: &mut Vec<CatalogProblem>) {
    let part = &parsed.policy;
    let f = POLICY_FILE;
    let Some(Item { value: p, .. }) = part.items.first() else {
        return;
    };
    require_text(part, f, &p.help_desk_name, "help_desk_name", problems);
    let email = p.help_desk_email.get_ref().trim();
    if !email.validate_email() {
        problems.push(CatalogProblem::error(
            f,
            line_of(part, &p.help_desk_email),
            format!("help_desk_email \"{email}\" is not a valid email address"),
        ));
    }
    if *p.inactivity_days.get_ref() == 0 {
        problems.push(CatalogProblem::error(
            f,
            line_of(part, &p.inactivity_days),
            "inactivity_days must be at least 1 (0 would suspend every account)",
        ));
    }
    for pattern in &p.generic_patterns {
        let line = line_of(part, pattern);
        match raw::compile_pattern(pattern.get_ref()) {
            Err(e) => {
                // regex's messages span several lines with a caret; keep the last, the reason.
                let reason = e.to_string();
                let reason = reason
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid pattern")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                problems.push(CatalogProblem::error(
                    f,
                    line,
                    format!(
                        "generic pattern '{}' is not a valid regular expression: {reason}",
                        pattern.get_ref()
                    ),
                ));
            }
            Ok(re) if re.is_match("") => {
                problems.push(CatalogProblem::error(
                    f,
                    line,
                    format!(
                        "generic pattern '{}' matches empty text, so it would mark every account as generic",
                        pattern.get_ref()
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    let mut allowed = Seen::new();
    for entry in &p.allow_list {
        let line = line_of(part, entry);
        if require_text(part, f, entry, "allow_list entry", problems)
            && let Some(first) = allowed.check(entry.get_ref().trim().to_lowercase(), line)
        {
            problems.push(CatalogProblem::warning(
                f,
                line,
                format!(
                    "allow_list entry \"{}\" is listed twice (first at line {first})",
                    entry.get_ref().trim()
                ),
            ));
        }
    }
}
