//! The generic AcroForm reader: every terminal field of any fillable PDF, with its full
//! name, type and value, as a PDF viewer would show them. It knows nothing about the Staff
//! User Request Form; [`super::request_form`] maps these fields to requests, and
//! `rolecall inspect` prints them.
//!
//! Built on lopdf. A PDF is hostile input: see [`read_form`] for the limits, and
//! `docs/pdf-reader.md` for the conventions (which names, types and values, and why they
//! match pypdf's reading of the same files).
//!
//! - `text`: PDF text strings and names as Unicode.
//! - `walk`: the field tree walk (names, inheritance, values) over a loaded document.
//! - `orphans`: fields that are only on the pages (`/Fields` dropped by a viewer).
//! - `lazy`: the same walk over objects parsed on first use, for the files whose structure
//!   it fully understands; lopdf loads the others.

mod lazy;
mod orphans;
mod text;
mod walk;
pub mod wire;

pub use text::{decode_name, decode_text};

use serde::{Deserialize, Serialize};
use std::path::Path;

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
    /// For a check box or radio group with no value of its own (`/V` absent, so `value` is
    /// `"Off"`): the on-state its widgets show (`/AS`), which some tools set instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<String>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The largest PDF Rolecall reads (50 MiB). A filled form is a few hundred KiB; the largest
/// file in the real-world corpus is 575 KiB.
pub const MAX_PDF_BYTES: u64 = 50 * 1024 * 1024;
/// The most any one stream may decompress to, while loading (object and cross-reference
/// streams) or when a field's value is a stream (rich text): 16 MiB.
pub const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;
/// The deepest field tree read: real forms nest a handful of levels (the IRS 1040 uses 6).
pub const MAX_DEPTH: usize = 64;
/// The most field dictionaries visited in one form (the largest corpus form has ~800).
pub const MAX_NODES: usize = 100_000;

impl FormFailure {
    fn new(kind: FormFailKind, message: impl Into<String>) -> FormFailure {
        FormFailure {
            kind,
            message: message.into(),
        }
    }

    /// The failure for a PDF with no form fields at all.
    pub fn no_fields() -> FormFailure {
        FormFailure::new(
            FormFailKind::NoFields,
            "This PDF has no form fields: it may have been printed to PDF, flattened, or \
             saved by a program that turns forms into plain pages. Open the blank form in a \
             PDF reader (Adobe Acrobat Reader, or your browser), fill it in, and use Save (not \
             Print), then send the saved file.",
        )
    }

    fn not_pdf() -> FormFailure {
        FormFailure::new(
            FormFailKind::NotPdf,
            "This file is not a PDF. Please send the filled-in Staff User Request Form as a \
             PDF, or the Accounts Worksheet.",
        )
    }

    pub(crate) fn damaged() -> FormFailure {
        FormFailure::new(
            FormFailKind::Damaged,
            "This PDF is damaged or incomplete (perhaps cut short while sending) and its form \
             could not be read. Open your filled-in form in a PDF reader; if it opens, use \
             Save As to save a fresh copy and send that; if not, fill in the form again.",
        )
    }

    fn needs_password() -> FormFailure {
        FormFailure::new(
            FormFailKind::NeedsPassword,
            "This PDF is protected with a password, so Rolecall cannot open it. Fill in a fresh \
             copy of the blank form (or save yours again without a password, in the program \
             that set it) and send it again.",
        )
    }

    pub(crate) fn xfa_only() -> FormFailure {
        FormFailure::new(
            FormFailKind::XfaOnly,
            "This PDF is a dynamic (XFA, Adobe LiveCycle) form, which only Adobe Acrobat and \
             Reader can show; Rolecall cannot read its fields. Please fill in the Staff User \
             Request Form from the help desk (a standard PDF form) and send it again.",
        )
    }

    pub(crate) fn too_large(what: &str) -> FormFailure {
        FormFailure::new(
            FormFailKind::TooLarge,
            format!(
                "This PDF is beyond what Rolecall reads ({what}), so its form was not read. \
                 Fill in a fresh copy of the blank Staff User Request Form and send it again."
            ),
        )
    }
}

impl std::fmt::Display for FormFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormFailure {}

/// Reads every terminal form field of a PDF held in memory.
///
/// Fields come in pypdf's order (document order: `/AcroForm /Fields`, depth first), named
/// `parent.child`, with `/FT` and `/Ff` inherited from parents and the field's own `/V` (see
/// `docs/pdf-reader.md`). Encrypted files open when the user password is empty.
///
/// Limits: at most [`MAX_PDF_BYTES`] of input, [`MAX_STREAM_BYTES`] per decompressed
/// stream, [`MAX_DEPTH`] levels and [`MAX_NODES`] field dictionaries; reference cycles in
/// `/Kids` and `/Parent` are cut. Never panics: a panic inside lopdf is caught and reported
/// as a damaged file. An allocation failure or stack overflow would still abort the
/// process, which is why `read::isolate::read_form_file` runs this in a child process by default.
pub fn read_form(bytes: &[u8]) -> Result<Form, FormFailure> {
    std::panic::catch_unwind(|| read_form_unguarded(bytes, true))
        .unwrap_or_else(|_| Err(FormFailure::damaged()))
}

/// [`read_form`] with lopdf's load of the whole document always, never the lazy reader:
/// the reference the differential test compares the lazy reader against.
pub fn read_form_lopdf(bytes: &[u8]) -> Result<Form, FormFailure> {
    std::panic::catch_unwind(|| read_form_unguarded(bytes, false))
        .unwrap_or_else(|_| Err(FormFailure::damaged()))
}

/// The lazy reader alone: the form [`read_form_lopdf`] gives, read from only the objects
/// the field walk needs, or `None` when the file is not one it fully understands (then
/// [`read_form`] loads it with lopdf). Panics are not caught here, so that a test sees them.
pub fn read_form_lazy(bytes: &[u8]) -> Option<Form> {
    if !within_limits(bytes) {
        return None;
    }
    lazy::read(bytes)
}

/// Small enough to read, with `%PDF-` in its first kilobyte.
fn within_limits(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    bytes.len() as u64 <= MAX_PDF_BYTES && head.windows(5).any(|w| w == b"%PDF-")
}

fn read_form_unguarded(bytes: &[u8], try_lazy: bool) -> Result<Form, FormFailure> {
    if try_lazy
        && within_limits(bytes)
        && let Some(form) = lazy::read(bytes)
    {
        return Ok(form);
    }
    if bytes.len() as u64 > MAX_PDF_BYTES {
        return Err(FormFailure::too_large(&format!(
            "larger than {} MB",
            MAX_PDF_BYTES / (1024 * 1024)
        )));
    }
    // PDF readers accept the header anywhere in the first 1024 bytes (a mail gateway may
    // prepend junk); lopdf looks further, but a file without it is not a PDF to anyone.
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(FormFailure::not_pdf());
    }
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..Default::default()
    };
    let mut doc = match lopdf::Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(e) => return Err(load_failure(&e)),
    };
    // With a real user password, lopdf returns `Ok` with nothing decrypted and `/Encrypt`
    // still in the trailer (when it decrypts, it removes it); `is_encrypted()` can even be
    // false then, because the encryption dictionary itself was never loaded.
    if doc.trailer.has(b"Encrypt") || doc.is_encrypted() {
        return Err(FormFailure::needs_password());
    }
    let read = match walk::read_fields(&doc) {
        // A viewer may drop `/Fields` and leave the filled widgets on the pages.
        Err(f) if f.kind == FormFailKind::NoFields && orphans::adopt(&mut doc) => {
            walk::read_fields(&doc)
        }
        other => other,
    };
    match read {
        // lopdf rebuilds a cut-off file from what is left; when the form is in the part that
        // is gone, the file is damaged, not "printed to PDF", and saying so tells the person
        // to resend rather than to fill in a new form.
        Err(f) if f.kind == FormFailKind::NoFields && !ends_like_a_pdf(bytes) => {
            Err(FormFailure::damaged())
        }
        other => other,
    }
}

/// True when the file ends as every complete PDF does: `%%EOF` within its last kilobyte.
fn ends_like_a_pdf(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(5).any(|w| w == b"%%EOF")
}

/// Maps a lopdf load error to what the person can do about it.
fn load_failure(e: &lopdf::Error) -> FormFailure {
    use lopdf::Error as E;
    match e {
        E::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            FormFailure::too_large(&format!(
                "a compressed part unpacks to more than {} MB",
                MAX_STREAM_BYTES / (1024 * 1024)
            ))
        }
        E::InvalidPassword | E::Decryption(_) => FormFailure::needs_password(),
        E::Parse(lopdf::ParseError::InvalidFileHeader) => FormFailure::not_pdf(),
        _ => FormFailure::damaged(),
    }
}

/// Reads a PDF file in this process: the size check, the read, [`read_form`]. The reading
/// that is isolated ([`crate::read::isolate::read_form_file`]) loads the bytes here and runs
/// [`read_form`] in the child.
pub fn read_form_file_here(path: &Path) -> Result<Form, FormFailure> {
    read_form(&load(path)?)
}

/// The file's bytes, refused before reading when it is larger than [`MAX_PDF_BYTES`].
pub fn load(path: &Path) -> Result<Vec<u8>, FormFailure> {
    match crate::fsx::read_capped(path, MAX_PDF_BYTES) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(FormFailure::too_large(&format!(
            "larger than {} MB",
            MAX_PDF_BYTES / (1024 * 1024)
        ))),
        Err(e) => Err(FormFailure::new(
            FormFailKind::Damaged,
            format!("Rolecall could not open this file ({e}); please send it again."),
        )),
    }
}

/// One field as `rolecall inspect --json` prints it.
#[derive(Debug, Serialize)]
struct InspectField<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: Option<FieldKind>,
    value: &'a Option<FieldValue>,
}

impl Form {
    /// The `rolecall inspect --json` document:
    /// `{"fields": [{"name": "...", "type": "text|checkbox|radio|choice|button|signature",
    /// "value": "..." | ["..."] | null}]}`.
    pub fn inspect_json(&self) -> serde_json::Value {
        let fields: Vec<InspectField> = self
            .fields
            .iter()
            .map(|f| InspectField {
                name: &f.name,
                kind: f.kind,
                value: &f.value,
            })
            .collect();
        serde_json::json!({ "fields": fields })
    }

    /// The `rolecall inspect` table: name, type and value in aligned columns, with control
    /// characters in values shown escaped (`\n`) so that one field is one line.
    pub fn inspect_table(&self) -> String {
        let kind = |f: &FormField| match f.kind {
            Some(k) => serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            None => "?".to_owned(),
        };
        let value = |f: &FormField| match (&f.value, &f.shown) {
            (_, Some(shown)) => format!("Off (no value of its own; the widgets show {shown})"),
            (value, None) => match value {
                None => "(empty)".to_owned(),
                Some(FieldValue::Text(s)) if s.is_empty() => "\"\"".to_owned(),
                Some(FieldValue::Text(s)) => one_line(s),
                Some(FieldValue::List(items)) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|s| format!("\"{}\"", one_line(s)))
                        .collect();
                    format!("[{}]", items.join(", "))
                }
            },
        };
        let name_w = self
            .fields
            .iter()
            .map(|f| display_width(&one_line(&f.name)))
            .chain(["name".len()])
            .max()
            .unwrap_or(4);
        let mut out = format!("{:<name_w$}  {:<9}  value\n", "name", "type");
        for f in &self.fields {
            let name = one_line(&f.name);
            let pad = name_w.saturating_sub(display_width(&name));
            out.push_str(&format!(
                "{name}{:pad$}  {:<9}  {}\n",
                "",
                kind(f),
                value(f)
            ));
        }
        out
    }
}

/// Shows control characters (line breaks, tabs, U+2028) as escapes.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Terminal columns a text takes: East Asian wide characters and emoji take two, so the
/// `inspect` table stays aligned for Chinese, Japanese or Korean field names.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1FAFF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inspect_table_stays_aligned_with_wide_characters() {
        let field = |name: &str| FormField {
            name: name.into(),
            kind: Some(FieldKind::Text),
            value: Some(FieldValue::Text("x".into())),
            states: vec![],
            shown: None,
            options: vec![],
        };
        let form = Form {
            fields: vec![field("姓名"), field("name_long"), field("😀")],
            ..Form::default()
        };
        let table = form.inspect_table();
        let columns: Vec<usize> = table
            .lines()
            .map(|l| display_width(&l[..l.find("  text").or(l.find("  type")).unwrap()]))
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert_eq!(display_width("姓名"), 4);
        assert_eq!(display_width("name"), 4);
    }
}
