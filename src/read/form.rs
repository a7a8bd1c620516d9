//! The generic AcroForm reader: every terminal field of any fillable PDF, with its full
//! name, type and value, as a PDF viewer would show them. It knows nothing about the Staff
//! User Request Form; [`super::request_form`] maps these fields to requests, and
//! `rolecall inspect` prints them.
//!
//! Built on lopdf. A PDF is hostile input: see [`read_form`] for the limits.

use serde::{Deserialize, Serialize};

/// What kind of field, in the words of `rolecall inspect --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// `/FT /Tx`.
    Text,
    /// `/FT /Btn` without the radio or push-button flag.
    Checkbox,
    /// `/FT /Btn` with the radio flag.
    Radio,
    /// `/FT /Ch` (combo or list box).
    Choice,
    /// `/FT /Btn` with the push-button flag.
    Button,
    /// `/FT /Sig`.
    Signature,
}

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// One string: text, the chosen option, or a check box / radio state (`"Off"` when off).
    Text(String),
    /// Several selections of a multi-select list box.
    List(Vec<String>),
}

/// One terminal field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Full name, parents joined with `.` (`person.last_name`).
    pub name: String,
    /// Field type; `None` when neither the field nor its parents say (printed as `null`).
    #[serde(rename = "type")]
    pub kind: Option<FieldKind>,
    /// The value; `None` when unset. A check box or radio group that is off is `"Off"`.
    pub value: Option<FieldValue>,
    /// For check boxes and radio groups: the names of the on-states found in the widgets'
    /// appearance dictionaries (`Yes`, `On`, `Add`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// For choice fields: the options as (export value, display text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<(String, String)>,
}

/// Every field of one PDF.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Form {
    /// Terminal fields in document order (the order of `/AcroForm /Fields`, depth first).
    pub fields: Vec<FormField>,
    /// The document also carries an XFA form (`/AcroForm /XFA`).
    pub has_xfa: bool,
    /// The document was encrypted (and opened with the empty user password).
    pub encrypted: bool,
    /// `/Info /Producer`, if any: names the tool that last saved it, for the help desk.
    pub producer: Option<String>,
}

/// Why a PDF's form could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormFailKind {
    /// Not a PDF at all.
    NotPdf,
    /// A PDF, but truncated or damaged beyond repair.
    Damaged,
    /// Needs a password to open.
    NeedsPassword,
    /// A PDF without any form fields (printed to PDF, or flattened).
    NoFields,
    /// An XFA-only form (LiveCycle dynamic form): no AcroForm fields to read.
    XfaOnly,
    /// Larger or deeper than the reader's limits.
    TooLarge,
}

/// A form that could not be read, with a message for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFailure {
    /// What went wrong.
    pub kind: FormFailKind,
    /// What happened and what to do, in a library worker's words.
    pub message: String,
}

/// Reads every terminal form field of a PDF held in memory.
///
/// Never panics on any input (fuzzed). Not yet implemented: returns a failure.
pub fn read_form(bytes: &[u8]) -> Result<Form, FormFailure> {
    let _ = bytes;
    Err(FormFailure {
        kind: FormFailKind::Damaged,
        message: "PDF forms are not supported yet".into(),
    })
}

/// Reads the form of a PDF file, in the isolation asked for. Stub until the reader lands.
pub fn read_form_file(
    path: &std::path::Path,
    isolation: &super::Isolation,
) -> Result<Form, FormFailure> {
    let _ = isolation;
    match std::fs::read(path) {
        Ok(bytes) => read_form(&bytes),
        Err(e) => Err(FormFailure {
            kind: FormFailKind::Damaged,
            message: e.to_string(),
        }),
    }
}
