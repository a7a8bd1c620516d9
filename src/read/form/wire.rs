//! How a reader worker's answer for a PDF crosses the pipe: a length-prefixed binary
//! encoding of `Result<Form, FormFailure>`, with the primitives of the workbook's
//! (`read::raw::wire`: integers big-endian, each text a 4-byte length and UTF-8 bytes).
//!
//! It was the JSON of the same value, and parsing it took the parent about as long as
//! validating the form. The decoder trusts nothing: every length is checked against what is
//! left, every text must be UTF-8, every tag known; anything else is `None`, which the parent
//! reads as a worker that answered garbage.
//!
//! Layout: a tag byte (0: a form, 1: a failure). A failure is its kind byte (the order of
//! [`FAIL_KINDS`]) and its message. A form is `has_xfa` and `encrypted` (a byte each), the
//! producer (0, or 1 and the text), the field count, then each field: its name; its kind (0
//! for none, else 1 + the place in [`FIELD_KINDS`]); its value (0: none, 1: a text, 2: a
//! count and that many texts); its on-states (a count and texts); the state shown (0, or 1
//! and the text); its options (a count, then each export value and display text).

use super::{FieldKind, FieldValue, Form, FormFailKind, FormFailure, FormField};
use crate::read::raw::wire::{Reader, Writer};

/// The field kinds in the order of their codes (code = place + 1; 0 is no kind).
const FIELD_KINDS: [FieldKind; 6] = [
    FieldKind::Text,
    FieldKind::Checkbox,
    FieldKind::Radio,
    FieldKind::Choice,
    FieldKind::Button,
    FieldKind::Signature,
];

/// The failure kinds in the order of their codes.
const FAIL_KINDS: [FormFailKind; 6] = [
    FormFailKind::NotPdf,
    FormFailKind::Damaged,
    FormFailKind::NeedsPassword,
    FormFailKind::NoFields,
    FormFailKind::XfaOnly,
    FormFailKind::TooLarge,
];

/// The fewest bytes a field takes (an empty name, no kind, no value, no states, none shown,
/// no options): a count larger than what is left could hold is refused before anything is
/// allocated for it.
const MIN_FIELD_BYTES: usize = 4 + 1 + 1 + 4 + 1 + 4;
/// The fewest bytes a text takes (its length).
const MIN_TEXT_BYTES: usize = 4;

/// The encoding of a reader's result for a PDF.
pub fn encode(result: &Result<Form, FormFailure>) -> Vec<u8> {
    let mut out = Writer(Vec::new());
    match result {
        Ok(form) => {
            out.byte(0);
            form_into(&mut out, form);
        }
        Err(failure) => {
            out.byte(1);
            out.byte(code_of(&FAIL_KINDS, failure.kind));
            out.text(&failure.message);
        }
    }
    out.0
}

/// The result [`encode`] wrote, or `None` when the bytes are not such an encoding (cut
/// short, a length past the end, text that is not UTF-8, an unknown tag, bytes left over).
pub fn decode(bytes: &[u8]) -> Option<Result<Form, FormFailure>> {
    let mut r = Reader(bytes);
    let result = match r.byte()? {
        0 => Ok(form_from(&mut r)?),
        1 => {
            let kind = *FAIL_KINDS.get(usize::from(r.byte()?))?;
            Err(FormFailure {
                kind,
                message: r.text()?,
            })
        }
        _ => return None,
    };
    r.0.is_empty().then_some(result)
}

fn code_of<T: PartialEq + Copy>(table: &[T], item: T) -> u8 {
    // Every variant is in its table (the tests go through each); 255 decodes as unknown.
    table
        .iter()
        .position(|k| *k == item)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

fn form_into(out: &mut Writer, form: &Form) {
    out.byte(u8::from(form.has_xfa));
    out.byte(u8::from(form.encrypted));
    optional_into(out, form.producer.as_deref());
    out.len(form.fields.len());
    for field in &form.fields {
        field_into(out, field);
    }
}

fn field_into(out: &mut Writer, field: &FormField) {
    out.text(&field.name);
    out.byte(
        field
            .kind
            .map_or(0, |k| code_of(&FIELD_KINDS, k).saturating_add(1)),
    );
    match &field.value {
        None => out.byte(0),
        Some(FieldValue::Text(text)) => {
            out.byte(1);
            out.text(text);
        }
        Some(FieldValue::List(items)) => {
            out.byte(2);
            texts_into(out, items);
        }
    }
    texts_into(out, &field.states);
    optional_into(out, field.shown.as_deref());
    out.len(field.options.len());
    for (export, display) in &field.options {
        out.text(export);
        out.text(display);
    }
}

fn texts_into(out: &mut Writer, texts: &[String]) {
    out.len(texts.len());
    for text in texts {
        out.text(text);
    }
}

fn optional_into(out: &mut Writer, text: Option<&str>) {
    match text {
        Some(text) => {
            out.byte(1);
            out.text(text);
        }
        None => out.byte(0),
    }
}

fn form_from(r: &mut Reader<'_>) -> Option<Form> {
    let has_xfa = r.flag()?;
    let encrypted = r.flag()?;
    let producer = optional_from(r)?;
    let n = r.count(MIN_FIELD_BYTES)?;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        fields.push(field_from(r)?);
    }
    Some(Form {
        fields,
        has_xfa,
        encrypted,
        producer,
    })
}

fn field_from(r: &mut Reader<'_>) -> Option<FormField> {
    let name = r.text()?;
    let kind = match r.byte()? {
        0 => None,
        code => Some(*FIELD_KINDS.get(usize::from(code) - 1)?),
    };
    let value = match r.byte()? {
        0 => None,
        1 => Some(FieldValue::Text(r.text()?)),
        2 => Some(FieldValue::List(texts_from(r)?)),
        _ => return None,
    };
    let states = texts_from(r)?;
    let shown = optional_from(r)?;
    let n = r.count(2 * MIN_TEXT_BYTES)?;
    let mut options = Vec::with_capacity(n);
    for _ in 0..n {
        options.push((r.text()?, r.text()?));
    }
    Some(FormField {
        name,
        kind,
        value,
        states,
        shown,
        options,
    })
}

fn texts_from(r: &mut Reader<'_>) -> Option<Vec<String>> {
    let n = r.count(MIN_TEXT_BYTES)?;
    let mut texts = Vec::with_capacity(n);
    for _ in 0..n {
        texts.push(r.text()?);
    }
    Some(texts)
}

/// `Some(None)` for an absent text, `None` for bytes that are neither.
fn optional_from(r: &mut Reader<'_>) -> Option<Option<String>> {
    match r.flag()? {
        true => Some(Some(r.text()?)),
        false => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: Option<FieldKind>, value: Option<FieldValue>) -> FormField {
        FormField {
            name: name.into(),
            kind,
            value,
            states: Vec::new(),
            shown: None,
            options: Vec::new(),
        }
    }

    /// A form with every kind, every shape of value, states, a shown state and options.
    fn form() -> Form {
        let mut fields: Vec<FormField> = FIELD_KINDS
            .iter()
            .map(|k| field(&format!("{k:?}"), Some(*k), None))
            .collect();
        fields.push(field(
            "person.last_name",
            None,
            Some(FieldValue::Text("Peña Å".into())),
        ));
        fields.push(field(
            "roles",
            Some(FieldKind::Choice),
            Some(FieldValue::List(vec!["32".into(), String::new()])),
        ));
        fields[1].states = vec!["Yes".into(), "Add".into()];
        fields[1].shown = Some("Yes".into());
        fields[1].value = Some(FieldValue::Text("Off".into()));
        fields[3].options = vec![("32".into(), "Circulation Desk Operator".into())];
        Form {
            fields,
            has_xfa: true,
            encrypted: false,
            producer: Some("pypdf".into()),
        }
    }

    #[test]
    fn a_form_and_every_failure_come_back_as_they_went() {
        let ok = Ok(form());
        assert_eq!(decode(&encode(&ok)), Some(ok));
        assert_eq!(
            decode(&encode(&Ok(Form::default()))),
            Some(Ok(Form::default()))
        );
        for kind in FAIL_KINDS {
            let failed = Err(FormFailure {
                kind,
                message: "why".into(),
            });
            assert_eq!(decode(&encode(&failed)), Some(failed));
        }
    }

    #[test]
    fn a_field_is_laid_out_as_documented() {
        let form = Form {
            fields: vec![field(
                "a",
                Some(FieldKind::Checkbox),
                Some(FieldValue::Text("On".into())),
            )],
            has_xfa: false,
            encrypted: true,
            producer: None,
        };
        // Worked out by hand from the layout in the module's doc.
        let expected: Vec<u8> = [
            &[0][..],            // a form
            &[0, 1],             // no XFA; encrypted
            &[0],                // no producer
            &[0, 0, 0, 1],       // one field
            &[0, 0, 0, 1, b'a'], // its name
            &[2],                // a check box: 1 + its place
            &[1, 0, 0, 0, 2, b'O', b'n'],
            &[0, 0, 0, 0], // no on-states
            &[0],          // none shown
            &[0, 0, 0, 0], // no options
        ]
        .concat();
        assert_eq!(encode(&Ok(form)), expected);
    }

    #[test]
    fn garbage_cut_bytes_and_huge_counts_are_refused_not_allocated() {
        let bytes = encode(&Ok(form()));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        // A field count of 4 billion in an 8-byte answer.
        assert_eq!(decode(&[0, 0, 0, 0, 255, 255, 255, 255]), None);
        // Unknown tags: the answer, a field kind, a failure kind.
        assert_eq!(decode(&[2]), None);
        assert_eq!(decode(b"{\"Ok\":{\"fields\":[]}}"), None);
        let mut kind = encode(&Ok(form()));
        // Tag, flags, producer (flag, length, `pypdf`), count, the name's length and `Text`.
        let at = 1 + 2 + 1 + 4 + 5 + 4 + 4 + 4;
        assert_eq!(kind[at], 1, "the first field's kind");
        kind[at] = 7;
        assert_eq!(decode(&kind), None);
        assert_eq!(decode(&[1, 6, 0, 0, 0, 0]), None);
    }
}
