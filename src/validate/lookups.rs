//! The catalog look-ups of one validation, each done once per distinct text.
//!
//! `Catalog::role`, `profile` and `institution` compare the text's look-up key with every
//! entry's, making each entry's key as they go: at 100,000 lines that was a few million
//! small strings made and dropped (5.7 % of a 10,000-line run for roles alone). A sheet
//! repeats the same few texts on every line, so each answer is kept, keyed by the text as
//! written: the answer is the catalog's own, so a memo cannot disagree with it.

use crate::catalog::{Catalog, Institution, Profile, Role};
use std::cell::RefCell;
use std::collections::HashMap;

/// Distinct texts remembered per kind: a sheet of all-different texts (hostile, or a
/// typing spree) costs the catalog's look-up per line past this, never unbounded memory.
const MAX_REMEMBERED: usize = 10_000;

/// One kind of look-up, remembered: the index of what the catalog answered in its list
/// (an index, not a reference, so that a [`super::rules`] context holding this stays free
/// to borrow the lines for less than the catalog).
#[derive(Default)]
struct Memo(RefCell<HashMap<String, Option<usize>>>);

impl Memo {
    fn get<'a, T>(
        &self,
        text: &str,
        all: &'a [T],
        look_up: impl FnOnce(&str) -> Option<&'a T>,
    ) -> Option<&'a T> {
        if let Some(found) = self.0.borrow().get(text) {
            return found.map(|i| &all[i]);
        }
        let found = look_up(text);
        let index = found.and_then(|f| all.iter().position(|t| std::ptr::eq(t, f)));
        let mut memo = self.0.borrow_mut();
        if memo.len() < MAX_REMEMBERED && index.is_some() == found.is_some() {
            memo.insert(text.to_string(), index);
        }
        found
    }
}

/// Roles, profiles and institutions by the text a line gives, for one validation of one
/// catalog.
#[derive(Default)]
pub(super) struct Lookups {
    roles: Memo,
    profiles: Memo,
    institutions: Memo,
}

impl Lookups {
    /// [`Catalog::role`].
    pub(super) fn role<'a>(&self, catalog: &'a Catalog, text: &str) -> Option<&'a Role> {
        self.roles.get(text, &catalog.roles, |t| catalog.role(t))
    }

    /// [`Catalog::profile`].
    pub(super) fn profile<'a>(&self, catalog: &'a Catalog, text: &str) -> Option<&'a Profile> {
        self.profiles
            .get(text, &catalog.profiles, |t| catalog.profile(t))
    }

    /// [`Catalog::institution`].
    pub(super) fn institution<'a>(
        &self,
        catalog: &'a Catalog,
        text: &str,
    ) -> Option<&'a Institution> {
        self.institutions
            .get(text, &catalog.institutions, |t| catalog.institution(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_answer_is_the_catalogs_whatever_the_spelling() {
        let catalog = crate::catalog::bundled();
        let lookups = Lookups::default();
        let c = &catalog;
        for text in [
            "Cataloger",
            " cataloger ",
            "204",
            "Cataloger (204)",
            "Catalogr",
        ] {
            for _ in 0..2 {
                assert_eq!(
                    lookups.role(c, text).map(|r| r.code),
                    catalog.role(text).map(|r| r.code),
                    "{text}"
                );
            }
        }
        assert!(lookups.role(c, "Catalogr").is_none());
        let name = &catalog.profiles[0].name;
        assert_eq!(
            lookups.profile(c, &name.to_uppercase()).map(|p| &p.name),
            Some(name)
        );
        assert_eq!(
            lookups
                .institution(c, "01falsc_gcsu")
                .map(|i| i.code.as_str()),
            Some("01FALSC_GCSU")
        );
    }
}
