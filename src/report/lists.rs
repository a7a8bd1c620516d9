//! The hidden `Lists` sheet: the values of every drop-down, one column per list.
//!
//! Excel limits a list typed into a data validation to 255 characters, which a consortium's
//! role names alone exceed, so the drop-downs point at ranges of this sheet instead.

use super::plain;
use super::style::Styles;
use crate::catalog::Catalog;
use crate::layout::{Field, LISTS_SHEET};
use crate::location::column_letters;
use rust_xlsxwriter::{Worksheet, XlsxError};
use std::collections::BTreeSet;

/// The drop-down lists of one workbook, computed from the catalog.
pub struct Lists {
    columns: Vec<(Field, Vec<String>)>,
}

/// Fixed words the reader understands for Action.
pub const ACTIONS: [&str; 4] = ["Add", "Modify", "Delete", "Restore"];
/// Fixed words for Account type.
pub const ACCOUNT_TYPES: [&str; 2] = ["Internal", "External"];
/// Fixed words for Add or remove.
pub const CHANGES: [&str; 2] = ["Add", "Remove"];

/// Keeps the first of each value, in order (library codes such as `MAIN` repeat across
/// institutions, and a drop-down listing `MAIN` three times helps nobody).
fn unique(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    values
        .into_iter()
        .filter(|v| !v.trim().is_empty() && seen.insert(v.clone()))
        .collect()
}

impl Lists {
    /// The lists for this catalog.
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let libraries = catalog
            .institutions
            .iter()
            .flat_map(|i| i.libraries.iter().map(|l| l.code.clone()));
        let units = catalog.institutions.iter().flat_map(|i| {
            i.libraries.iter().flat_map(|l| {
                l.desks
                    .iter()
                    .chain(l.service_units.iter())
                    .map(|u| u.code.clone())
            })
        });
        Lists {
            columns: vec![
                (Field::Action, words(&ACTIONS)),
                (Field::AccountType, words(&ACCOUNT_TYPES)),
                (
                    Field::Institution,
                    unique(catalog.institutions.iter().map(|i| i.code.clone())),
                ),
                (
                    Field::Profile,
                    unique(catalog.profiles.iter().map(|p| p.name.clone())),
                ),
                (
                    Field::Role,
                    unique(
                        catalog
                            .roles
                            .iter()
                            .filter(|r| !r.is_patron())
                            .map(|r| r.name.clone()),
                    ),
                ),
                (Field::Change, words(&CHANGES)),
                (Field::Library, unique(libraries)),
                (Field::Unit, unique(units)),
            ],
        }
    }

    /// The range formula a data validation uses for this field (`=Lists!$E$2:$E$45`), or
    /// `None` when the list is empty (an empty range would make Excel refuse every entry).
    pub fn source(&self, field: Field) -> Option<String> {
        let index = self.columns.iter().position(|(f, _)| *f == field)?;
        let count = self.columns[index].1.len();
        if count == 0 {
            return None;
        }
        let col = column_letters(index as u32 + 1);
        Some(format!("={LISTS_SHEET}!${col}$2:${col}${}", count + 1))
    }

    /// Writes the sheet: the field's heading in row 1, values under it. The caller hides it.
    pub fn write(&self, ws: &mut Worksheet, styles: &Styles) -> Result<(), XlsxError> {
        ws.set_name(LISTS_SHEET)?;
        // The headings first, with one format for the row: a format is hashed on every
        // call that names one.
        for (index, (field, _)) in self.columns.iter().enumerate() {
            plain(ws, 0, index as u16, field.header())?;
        }
        if let Some(last) = self.columns.len().checked_sub(1) {
            ws.set_range_format(0, 0, 0, last as u16, &styles.header)?;
        }
        for (index, (_, values)) in self.columns.iter().enumerate() {
            let col = index as u16;
            ws.set_column_width(col, 30)?;
            for (i, value) in values.iter().enumerate() {
                plain(ws, 1 + i as u32, col, value)?;
            }
            // One format for the column's values: a format is hashed on every call that
            // names one. (The values are never empty: `unique` drops blanks.)
            if !values.is_empty() {
                ws.set_range_format(1, col, values.len() as u32, col, &styles.text)?;
            }
        }
        ws.set_hidden(true);
        Ok(())
    }
}
