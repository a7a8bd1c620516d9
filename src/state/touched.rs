//! The accounts one submission touches, read from the state once, in a few batched queries.
//!
//! A 10,000-line submission asked the state for each of its accounts some ten times (the
//! diff's checks, the account updates, the roles before, a preview applied and rolled back
//! in SQLite for the roles after): about 100,000 small queries. [`Touched`] reads every
//! account a submission names (with its roles and the roles known only by name) in one
//! query per few hundred primary IDs, and everything after reads from it; the roles after
//! a change set are computed from it in memory ([`Touched::after`], with
//! [`super::apply::apply_in_memory`]).

use super::{
    Account, Assignment, State, StateError, UnmatchedRole, account_row, role_row, unmatched_row,
};
use crate::changeset::Operation;
use foldhash::{HashMap, HashMapExt};
use rusqlite::params_from_iter;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// How many primary IDs one query names. SQLite allows 32,766 parameters (999 before
/// 3.32); a few hundred keeps each statement small and the cached ones few.
const CHUNK: usize = 500;

/// An account as the state's queries find it: the institution exactly, the primary ID
/// trimmed and folded as the columns' `COLLATE NOCASE` folds (ASCII letters only).
pub(crate) type Key = (String, String);

/// The key of (institution, primary ID).
pub(crate) fn key(institution: &str, primary_id: &str) -> Key {
    (institution.to_string(), folded(primary_id).into_owned())
}

/// A primary ID trimmed and folded as `COLLATE NOCASE` folds it; borrowed when it is so
/// already (most are: a lookup per line should not allocate).
fn folded(primary_id: &str) -> Cow<'_, str> {
    let id = primary_id.trim();
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// What the state holds for one account: the account (if any), its roles (sorted, as
/// [`super::roles_of`] returns them) and the roles known only by name (by name and scope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding {
    /// The account, `None` when the state does not hold it.
    pub account: Option<Account>,
    /// Its roles, sorted.
    pub roles: Vec<Assignment>,
    /// Its roles known only by name, by name and scope.
    pub unmatched: Vec<UnmatchedRole>,
}

/// [`folded`] of an ID read from the state, reusing its text when it is folded already.
fn folded_owned(id: String) -> String {
    match folded(&id) {
        Cow::Borrowed(same) if same.len() == id.len() => id,
        other => other.into_owned(),
    }
}

/// The accounts a submission touches, as the state holds them (see the module doc).
#[derive(Debug, Default)]
pub struct Touched {
    /// By institution, then folded primary ID: a lookup by `&str` allocates nothing.
    held: HashMap<String, HashMap<String, Holding>>,
    /// Every account with a touched primary ID, whatever its institution, by institution
    /// (for `other-institution-account`). Keyed by the folded ID.
    by_id: HashMap<String, Vec<Account>>,
}

/// Nothing: what an account the state does not hold has.
static NONE: Holding = Holding {
    account: None,
    roles: Vec::new(),
    unmatched: Vec::new(),
};

impl Touched {
    /// Reads the accounts of every request of `outcome`.
    pub fn of_outcome(
        state: &State,
        outcome: &crate::validate::Outcome,
    ) -> Result<Touched, StateError> {
        Touched::default().and_outcome(state, outcome)
    }

    /// What was read already (by [`Touched::read_ahead`]) and the accounts of the requests
    /// of `outcome` that it did not read.
    pub fn and_outcome(
        mut self,
        state: &State,
        outcome: &crate::validate::Outcome,
    ) -> Result<Touched, StateError> {
        let keys = outcome
            .lines
            .iter()
            .filter_map(|l| l.request.as_ref())
            .map(|r| key(&r.institution, &r.person.primary_id));
        self.load(state, keys)?;
        Ok(self)
    }

    /// Reads, before validation has said which institution each line is of, every account
    /// with one of these primary IDs (as a document's cells give them), with its roles
    /// under its own institution. [`Touched::and_outcome`] then reads only what this did
    /// not (an account not in the state, one asked for under another institution), by the
    /// same queries. Every account [`Touched::of_outcome`] would hold is then held as it
    /// holds it, read sooner, while the lines are validated on another thread; the accounts
    /// of lines that validation refused are held too, and never asked for.
    pub fn read_ahead<'i>(
        state: &State,
        ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<Touched, StateError> {
        let mut touched = Touched::default();
        let ids: BTreeSet<Cow<'i, str>> = ids
            .into_iter()
            .map(folded)
            .filter(|id| !id.is_empty())
            .collect();
        touched.load_accounts(state, &ids.iter().map(AsRef::as_ref).collect())?;
        // The accounts found, each under its own institution: `load` reads their roles
        // (and finds the accounts read, so it asks for none again).
        let found: Vec<Key> = touched
            .by_id
            .iter()
            .flat_map(|(id, all)| all.iter().map(|a| (a.institution.clone(), id.clone())))
            .collect();
        touched.load(state, found)?;
        Ok(touched)
    }

    /// Reads the accounts of `keys` not read yet (a change set's operations name only
    /// accounts its lines name, so usually none).
    pub fn load(
        &mut self,
        state: &State,
        keys: impl IntoIterator<Item = Key>,
    ) -> Result<(), StateError> {
        let wanted: BTreeSet<Key> = keys
            .into_iter()
            .filter(|(inst, id)| self.get(inst, id).is_none())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<&str> = wanted.iter().map(|(_, id)| id.as_str()).collect();
        self.load_accounts(state, &ids)?;
        for k in &wanted {
            let account = self
                .by_id
                .get(&k.1)
                .and_then(|all| all.iter().find(|a| a.institution == k.0))
                .cloned();
            self.entry(&k.0, &k.1).account = account;
        }
        let mut by_institution: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (inst, id) in &wanted {
            by_institution.entry(inst).or_default().push(id);
        }
        for (inst, ids) in by_institution {
            self.load_roles(state, inst, &ids)?;
        }
        Ok(())
    }

    /// Every account with one of these (folded) primary IDs, into `by_id`.
    fn load_accounts(&mut self, state: &State, ids: &BTreeSet<&str>) -> Result<(), StateError> {
        let ids: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !self.by_id.contains_key(*id))
            .collect();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT institution, primary_id, first_name, last_name, email, account_type, status
                 FROM state_account WHERE primary_id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = state.conn().prepare_cached(&sql)?;
            for account in stmt.query_map(params_from_iter(chunk), account_row)? {
                let account = account?;
                let id = account.primary_id.to_ascii_lowercase();
                self.by_id.entry(id).or_default().push(account);
            }
            for id in chunk {
                self.by_id.entry(id.to_string()).or_default();
            }
        }
        for all in self.by_id.values_mut() {
            all.sort_by(|a, b| a.institution.cmp(&b.institution));
        }
        Ok(())
    }

    /// The roles (and the roles known only by name) of these accounts of one institution.
    fn load_roles(&mut self, state: &State, inst: &str, ids: &[&str]) -> Result<(), StateError> {
        // Roles known only by name are rare: an institution without any is not asked for
        // them account by account.
        let any_unmatched: bool = state
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM state_role_unmatched WHERE institution = ?1)",
            )?
            .query_row([inst], |r| r.get(0))?;
        let held = self.held.entry(inst.to_string()).or_default();
        for chunk in ids.chunks(CHUNK) {
            let args = || std::iter::once(&inst).chain(chunk);
            let sql = format!(
                "SELECT role_code, scope_kind, scope, parameters, status, expiry, suspended_by,
                        params_known, primary_id
                 FROM state_role WHERE institution = ? AND primary_id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = state.conn().prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args()), |r| {
                Ok((r.get::<_, String>(8)?, role_row(r)?))
            })?;
            for row in rows {
                let (id, role) = row?;
                held.entry(folded_owned(id)).or_default().roles.push(role);
            }
            if !any_unmatched {
                continue;
            }
            let sql = format!(
                "SELECT role_name, scope, status, expiry, primary_id FROM state_role_unmatched
                 WHERE institution = ? AND primary_id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = state.conn().prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args()), |r| {
                Ok((r.get::<_, String>(4)?, unmatched_row(r)?))
            })?;
            for row in rows {
                let (id, role) = row?;
                held.entry(folded_owned(id))
                    .or_default()
                    .unmatched
                    .push(role);
            }
        }
        for id in ids {
            let h = held.entry(folded(id).into_owned()).or_default();
            h.roles.sort();
            // As `unmatched_of` orders them: by name, then scope (both BINARY).
            h.unmatched
                .sort_by(|a, b| (&a.name, &a.scope).cmp(&(&b.name, &b.scope)));
        }
        Ok(())
    }

    fn entry(&mut self, inst: &str, id: &str) -> &mut Holding {
        if !self.held.contains_key(inst) {
            self.held.insert(inst.to_string(), HashMap::new());
        }
        let ids = self.held.get_mut(inst).expect("inserted above");
        let id = folded(id);
        if !ids.contains_key(id.as_ref()) {
            ids.insert(id.to_string(), Holding::default());
        }
        ids.get_mut(id.as_ref()).expect("inserted above")
    }

    fn get(&self, inst: &str, id: &str) -> Option<&Holding> {
        self.held.get(inst)?.get(folded(id).as_ref())
    }

    /// What the state holds for an account (nothing for one it does not hold).
    pub fn holding(&self, institution: &str, primary_id: &str) -> &Holding {
        let found = self.get(institution, primary_id);
        debug_assert!(found.is_some(), "{institution}/{primary_id} was not read");
        found.unwrap_or(&NONE)
    }

    /// The account of `institution` with this primary ID.
    pub fn account(&self, institution: &str, primary_id: &str) -> Option<&Account> {
        self.holding(institution, primary_id).account.as_ref()
    }

    /// The roles an account holds, sorted.
    pub fn roles(&self, institution: &str, primary_id: &str) -> &[Assignment] {
        &self.holding(institution, primary_id).roles
    }

    /// The roles known only by name an account holds.
    pub fn unmatched(&self, institution: &str, primary_id: &str) -> &[UnmatchedRole] {
        &self.holding(institution, primary_id).unmatched
    }

    /// Every account with this primary ID, whatever the institution, by institution.
    pub fn accounts_by_id(&self, primary_id: &str) -> &[Account] {
        self.by_id
            .get(folded(primary_id).as_ref())
            .map_or(&[], Vec::as_slice)
    }

    /// The accounts `people` as they would be after `ops` (tagged with the submission
    /// `tag`, as `apply` tags them): what `apply` would leave, computed without writing.
    ///
    /// Only the accounts of `people` are worked out (an operation on any other would be
    /// computed and dropped). A person named twice under one key (IDs that differ in
    /// surrounding spaces) gets the result the first time and nothing the second, as a map
    /// from key to result emptied in order gave.
    pub fn after(&self, people: &[(String, String)], ops: &[Operation], tag: &str) -> Vec<Holding> {
        let mut index: HashMap<(&str, Cow<'_, str>), usize> = HashMap::new();
        let mut after: Vec<Holding> = Vec::with_capacity(people.len());
        for (n, (inst, id)) in people.iter().enumerate() {
            match index.entry((inst.as_str(), folded(id))) {
                std::collections::hash_map::Entry::Occupied(_) => after.push(Holding::default()),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(n);
                    after.push(self.holding(inst, id).clone());
                }
            }
        }
        for op in ops {
            let (inst, id) = op.account();
            if let Some(&n) = index.get(&(inst, folded(id))) {
                super::apply::apply_in_memory(&mut after[n], op, tag);
            }
        }
        after
    }

    /// True when the account has been read (held or known not to be).
    pub fn has(&self, institution: &str, primary_id: &str) -> bool {
        self.get(institution, primary_id).is_some()
    }
}

/// `?, ?, ...`: `n` placeholders (numbered by SQLite in order, after any before them).
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ParameterKind;
    use crate::changeset::{RoleGrant, RoleRef};
    use crate::state::{ParameterKnowledge, put_account, put_role, put_unmatched};
    use crate::validate::{AccountType, Parameter, Scope};

    fn desk(code: &str) -> Parameter {
        Parameter {
            kind: ParameterKind::CirculationDesk,
            value: code.into(),
            scope: "MAIN".into(),
        }
    }

    fn lib() -> Scope {
        Scope::Library("MAIN".into())
    }

    fn inst(code: &str) -> Scope {
        Scope::Institution(code.into())
    }

    fn role(code: u32, scope: Scope, desks: &[&str]) -> Assignment {
        Assignment {
            code,
            scope,
            parameters: desks.iter().map(|d| desk(d)).collect(),
            parameters_known: ParameterKnowledge::Known,
            active: true,
            expiry: None,
            suspended_by: None,
        }
    }

    fn account(inst: &str, id: &str, first: &str, kind: AccountType) -> Account {
        Account {
            institution: inst.into(),
            primary_id: id.into(),
            first_name: first.into(),
            last_name: "Lee".into(),
            email: format!("{first}@example.edu"),
            account_type: kind,
            status: "ACTIVE".into(),
        }
    }

    /// A state with a staff account (desks, an expiry, a role known only by name), a
    /// patron-only external one, one with suspended roles, one of another institution and
    /// one to lose every staff role.
    fn state() -> State {
        let state = State::in_memory().unwrap();
        let c = state.conn();
        let put = |a: &Account, roles: &[Assignment]| {
            put_account(c, a, "import").unwrap();
            for r in roles {
                put_role(c, &a.institution, &a.primary_id, r).unwrap();
            }
        };
        let mut until = role(54, lib(), &[]);
        until.expiry = Some("2027-01-01".into());
        let ann = account("A", "Ann01", "Ann", AccountType::Internal);
        put(
            &ann,
            &[
                role(200, inst("A"), &[]),
                role(32, lib(), &["D2", "D1"]),
                role(204, inst("A"), &[]),
                until.clone(),
            ],
        );
        let unmatched = UnmatchedRole {
            name: "Designs Analytics".into(),
            scope: "MAIN".into(),
            active: true,
            expiry: None,
        };
        put_unmatched(c, "A", "Ann01", &unmatched).unwrap();
        let bob = account("A", "bob02", "Bob", AccountType::External);
        put(&bob, &[role(200, inst("A"), &[])]);
        let mut suspended = role(32, lib(), &["D1"]);
        suspended.active = false;
        suspended.suspended_by = Some("audit-1".into());
        let mut inactive = role(204, inst("A"), &[]);
        inactive.active = false;
        let cy = account("A", "cy03", "Cy", AccountType::Internal);
        put(&cy, &[suspended, inactive, role(21, inst("A"), &[])]);
        let dee = account("B", "dee04", "Dee", AccountType::Internal);
        put(
            &dee,
            &[role(200, inst("B"), &[]), role(204, inst("B"), &[])],
        );
        let eve = account("A", "eve07", "Eve", AccountType::Internal);
        put(&eve, &[role(200, inst("A"), &[]), until]);
        put_unmatched(c, "A", "eve07", &unmatched).unwrap();
        state
    }

    fn rref(code: u32) -> RoleRef {
        RoleRef {
            code,
            name: format!("Role {code}"),
        }
    }

    fn add(inst: &str, id: &str, code: u32, scope: Scope, desks: &[&str]) -> Operation {
        Operation::AddRole {
            institution: inst.into(),
            primary_id: id.into(),
            role: rref(code),
            scope,
            parameters: desks.iter().map(|d| desk(d)).collect(),
            expiry: None,
            needs_approval: false,
            separation_of_duties: None,
            profile: None,
            lines: Vec::new(),
        }
    }

    fn remove(inst: &str, id: &str, code: u32, scope: Scope, desks: &[&str]) -> Operation {
        Operation::RemoveRole {
            institution: inst.into(),
            primary_id: id.into(),
            role: rref(code),
            scope,
            parameters: desks.iter().map(|d| desk(d)).collect(),
            lines: Vec::new(),
        }
    }

    fn grants(code: u32, scope: Scope, desks: &[&str]) -> Vec<RoleGrant> {
        vec![RoleGrant {
            role: rref(code),
            scope,
            parameters: desks.iter().map(|d| desk(d)).collect(),
            expiry: None,
        }]
    }

    fn create(inst: &str, id: &str, first: &str) -> Operation {
        Operation::CreateAccount {
            institution: inst.into(),
            primary_id: id.into(),
            first_name: first.into(),
            last_name: "New".into(),
            email: format!("{first}@example.edu"),
            account_type: AccountType::Internal,
            needs_approval: false,
            lines: Vec::new(),
        }
    }

    /// Every kind of operation, several on one person (in another case too), on accounts
    /// the state lacks, and ones that change nothing.
    fn operations() -> Vec<Operation> {
        let remove_all = |inst: &str, id: &str| Operation::RemoveAllStaffRoles {
            institution: inst.into(),
            primary_id: id.into(),
            keep: vec![rref(200)],
            lines: Vec::new(),
        };
        vec![
            create("A", "ANN01", "Xavier"),
            Operation::UpdateAccount {
                institution: "A".into(),
                primary_id: "ann01".into(),
                first_name: Some("Annie".into()),
                last_name: None,
                email: Some("annie@example.edu".into()),
                lines: Vec::new(),
            },
            add("A", "ann01", 32, lib(), &["D1"]),
            add("A", "Ann01", 54, lib(), &[]),
            remove("A", "ann01", 32, lib(), &[]),
            add("A", "ann01", 204, inst("A"), &[]),
            Operation::SuspendRoles {
                institution: "A".into(),
                primary_id: "ann01".into(),
                roles: grants(54, lib(), &[]),
                reason: "test".into(),
                lines: Vec::new(),
            },
            remove("A", "bob02", 32, lib(), &["D1"]),
            add("A", "bob02", 52, inst("A"), &[]),
            Operation::SuspendRoles {
                institution: "A".into(),
                primary_id: "cy03".into(),
                roles: grants(21, inst("A"), &[]),
                reason: "test".into(),
                lines: Vec::new(),
            },
            Operation::RestoreRoles {
                institution: "A".into(),
                primary_id: "CY03".into(),
                roles: grants(32, lib(), &["D1"]),
                lines: Vec::new(),
            },
            Operation::RestoreRoles {
                institution: "A".into(),
                primary_id: "cy03".into(),
                roles: grants(204, inst("A"), &[]),
                lines: Vec::new(),
            },
            create("A", "new05", "Nia"),
            add("A", "new05", 32, lib(), &["D2"]),
            add("A", "ghost06", 204, inst("A"), &[]),
            remove_all("B", "dee04"),
            add("A", "dee04", 204, inst("A"), &[]),
            remove_all("A", "eve07"),
            remove("A", "eve07", 54, lib(), &[]),
        ]
    }

    /// What SQLite holds for an account, by the state's own queries.
    fn held_in(conn: &rusqlite::Connection, inst: &str, id: &str) -> Holding {
        Holding {
            account: State::account_in(conn, inst, id).unwrap(),
            roles: crate::state::roles_of(conn, inst, id).unwrap(),
            unmatched: crate::state::unmatched_of(conn, inst, id).unwrap(),
        }
    }

    #[test]
    fn the_roles_after_in_memory_are_what_apply_leaves_in_sqlite() {
        let state = state();
        let ops = operations();
        let mut people: Vec<(String, String)> = Vec::new();
        for op in &ops {
            let (i, p) = op.account();
            if !people
                .iter()
                .any(|(a, b)| a == i && b.eq_ignore_ascii_case(p))
            {
                people.push((i.to_string(), p.to_string()));
            }
        }
        // More IDs than one query names, most of them unknown: the chunks meet.
        let many = (0..1200).map(|n| key("A", &format!("zz{n}")));
        let mut touched = Touched::default();
        touched
            .load(&state, people.iter().map(|(i, p)| key(i, p)).chain(many))
            .unwrap();
        for (inst, id) in &people {
            assert_eq!(
                touched.holding(inst, id),
                &held_in(state.conn(), inst, id),
                "before, {inst}/{id}"
            );
        }
        let sqlite: Vec<Holding> = super::super::apply::preview(state.conn(), &ops, "sub-1", |c| {
            Ok(people.iter().map(|(i, p)| held_in(c, i, p)).collect())
        })
        .unwrap();
        let memory = touched.after(&people, &ops, "sub-1");
        for ((who, s), m) in people.iter().zip(&sqlite).zip(&memory) {
            assert_eq!(m, s, "after, {who:?}");
        }
        // Worked out by hand: both desks of Ann's 32 went, 54 lost its expiry and is
        // suspended by this submission; the new name and email; Cy's 32 is back.
        let ann = &memory[0];
        let ann_account = ann.account.as_ref().unwrap();
        assert_eq!(
            (
                ann_account.first_name.as_str(),
                ann_account.primary_id.as_str()
            ),
            ("Annie", "Ann01")
        );
        let codes: Vec<(u32, bool, Option<&str>)> = ann
            .roles
            .iter()
            .map(|a| (a.code, a.active, a.suspended_by.as_deref()))
            .collect();
        assert_eq!(
            codes,
            [
                (54, false, Some("sub-1")),
                (200, true, None),
                (204, true, None)
            ]
        );
        assert!(ann.roles[0].expiry.is_none());
        let ghost = &memory[people.iter().position(|p| p.1 == "ghost06").unwrap()];
        assert_eq!(ghost.roles.len(), 2, "Patron and 204: {ghost:?}");
    }

    #[test]
    fn what_was_read_ahead_and_then_loaded_is_what_the_state_holds() {
        let state = state();
        // As a document's cells give them, before validation: any case, spaces, blanks,
        // an ID the state lacks, one of another institution, and one twice.
        let cells = [
            "ANN01", " bob02 ", "", "Cy03", "dee04", "zed09", "ann01", "eve07",
        ];
        let mut touched = Touched::read_ahead(&state, cells).unwrap();
        // Read ahead under their own institutions: Ann's roles, Dee's under B.
        assert_eq!(touched.roles("A", "ann01").len(), 4);
        assert_eq!(touched.roles("B", "DEE04").len(), 2);
        // Then the lines as validation left them, one asking for Dee under A and one a
        // person the cells did not name.
        let keys = [
            ("A", "Ann01"),
            ("A", "bob02"),
            ("A", "cy03"),
            ("A", "dee04"),
        ];
        let keys = keys.into_iter().chain([("A", "zed09"), ("A", "fay05")]);
        let keys: Vec<(&str, &str)> = keys.chain([("A", "eve07"), ("B", "dee04")]).collect();
        touched
            .load(&state, keys.iter().map(|(i, p)| key(i, p)))
            .unwrap();
        for (inst, id) in &keys {
            assert_eq!(
                touched.holding(inst, id),
                &held_in(state.conn(), inst, id),
                "{inst}/{id}"
            );
        }
        assert!(touched.account("A", "dee04").is_none());
        assert_eq!(touched.accounts_by_id("DEE04")[0].institution, "B");
        assert_eq!(touched.unmatched("A", "eve07").len(), 1);
    }

    #[test]
    fn an_id_of_another_institution_is_found_whatever_its_case() {
        let state = state();
        let mut touched = Touched::default();
        touched.load(&state, [key("A", " DEE04 ")]).unwrap();
        assert!(touched.account("A", "dee04").is_none());
        let others: Vec<&str> = touched
            .accounts_by_id("Dee04")
            .iter()
            .map(|a| a.institution.as_str())
            .collect();
        assert_eq!(others, ["B"]);
    }
}
