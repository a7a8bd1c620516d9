//! Forms whose fields are only on the pages: some viewers save a filled form with the widget
//! annotations in each page's `/Annots` but an empty (or no) `/AcroForm /Fields`. Every other
//! viewer then shows the values, so a person sees a filled form; Rolecall should read it
//! too. This finds the fields from the pages and lists them in `/Fields`, so the normal walk
//! reads them.

use super::{MAX_DEPTH, MAX_NODES};
use lopdf::{Dictionary, Document, Object, ObjectId};
use std::collections::HashSet;

/// Lists in `/AcroForm /Fields` the top fields of every widget annotation on the pages.
/// Returns false (and changes nothing) when the pages hold no widget.
pub(super) fn adopt(doc: &mut Document) -> bool {
    let mut tops: Vec<ObjectId> = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    'pages: for page_id in doc.get_pages().into_values() {
        let Ok(page) = doc.get_dictionary(page_id) else {
            continue;
        };
        let annots = match page.get(b"Annots") {
            Ok(Object::Array(a)) => a.clone(),
            Ok(Object::Reference(id)) => match doc.get_object(*id) {
                Ok(Object::Array(a)) => a.clone(),
                _ => continue,
            },
            _ => continue,
        };
        for annot in annots {
            // A field is an indirect object: an inline widget cannot be one.
            let Object::Reference(id) = annot else {
                continue;
            };
            let Ok(dict) = doc.get_dictionary(id) else {
                continue;
            };
            if !is_widget(dict) {
                continue;
            }
            let top = top_of(doc, id);
            if seen.insert(top) {
                tops.push(top);
                if tops.len() >= MAX_NODES {
                    break 'pages;
                }
            }
        }
    }
    if tops.is_empty() {
        return false;
    }
    let fields = Object::Array(tops.into_iter().map(Object::Reference).collect());
    set_fields(doc, fields)
}

fn is_widget(dict: &Dictionary) -> bool {
    matches!(dict.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Widget")
}

/// The top-most field above a widget (`/Parent` up to [`MAX_DEPTH`] steps, cycles cut).
fn top_of(doc: &Document, widget: ObjectId) -> ObjectId {
    let mut current = widget;
    let mut visited = HashSet::from([widget]);
    for _ in 0..MAX_DEPTH {
        let parent = match doc.get_dictionary(current).map(|d| d.get(b"Parent")) {
            Ok(Ok(Object::Reference(p))) => *p,
            _ => break,
        };
        if !visited.insert(parent) || doc.get_dictionary(parent).is_err() {
            break;
        }
        current = parent;
    }
    current
}

/// Puts `fields` in the catalog's `/AcroForm` (a reference or inline), creating it if needed.
fn set_fields(doc: &mut Document, fields: Object) -> bool {
    let acro = match doc.catalog().ok().and_then(|c| c.get(b"AcroForm").ok()) {
        Some(Object::Reference(id)) => Some(*id),
        _ => None,
    };
    if let Some(id) = acro {
        return match doc.get_dictionary_mut(id) {
            Ok(dict) => {
                dict.set("Fields", fields);
                true
            }
            Err(_) => false,
        };
    }
    let Ok(catalog) = doc.catalog_mut() else {
        return false;
    };
    match catalog.get_mut(b"AcroForm") {
        Ok(Object::Dictionary(dict)) => dict.set("Fields", fields),
        _ => catalog.set("AcroForm", Dictionary::from_iter([("Fields", fields)])),
    }
    true
}
