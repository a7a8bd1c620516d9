//! The blank Staff User Request Form: a fillable AcroForm PDF generated from the catalog.
//!
//! One form asks for one person: a requester block, a person block, an optional role
//! profile, one line per catalog role (grouped by area, with Add and Remove check boxes and,
//! where the role needs them, a library and a desk or service-unit choice) and notes. The
//! field names are the contract in [`crate::layout::form`] and `docs/form-fields.md`; the form
//! is stamped with [`FORM_VERSION`] and the catalog version in two hidden fields.
//!
//! The PDF is written by hand with lopdf rather than through a form library, because what
//! makes a form readable *everywhere* is in details that libraries leave out:
//!
//! - every widget carries its own appearance stream (`/AP /N`, and `/D` for buttons), so a
//!   viewer that does not build appearances (Preview, pdf.js, printers) still shows the
//!   boxes, the check marks and the values; `/NeedAppearances true` asks the others to
//!   rebuild them from `/DA` and `/MK`, which say the same thing;
//! - names are a real hierarchy (`person` → `action`), because a `/T` with a period in it is
//!   not allowed and some tools split on it;
//! - check boxes have the on-state `Yes` and radio buttons the on-states `Add`, `Modify`, ...,
//!   exactly as the contract says, so a script can fill the form by name and value;
//! - the fonts are the standard Helvetica and ZapfDingbats named in `/DR`, which every viewer
//!   has, so nothing is embedded and the blank form stays small.

use crate::catalog::{Catalog, ParameterKind, Role};
use crate::layout::form::{self as names, FORM_VERSION, RolePart};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why the blank form could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FormTemplateError {
    /// lopdf could not serialise the document.
    #[error("cannot build the PDF form: {0}")]
    Pdf(#[from] lopdf::Error),
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Writes the blank Staff User Request Form for `catalog` to `path`.
pub fn write_form(catalog: &Catalog, path: &Path) -> Result<(), FormTemplateError> {
    let bytes = form_bytes(catalog)?;
    std::fs::write(path, bytes).map_err(|source| FormTemplateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The blank Staff User Request Form for `catalog`, as PDF bytes. The same catalog always
/// gives the same bytes. With a catalog of one institution
/// ([`Catalog::for_institution`]), the form is that institution's: the institution is filled
/// in, and the library and desk lists hold only its codes.
pub fn form_bytes(catalog: &Catalog) -> Result<Vec<u8>, FormTemplateError> {
    let mut b = Builder::new(catalog);
    b.first_page_head();
    b.requester_block();
    b.person_block();
    b.profile_block();
    b.roles_block();
    b.notes_block();
    b.finish()
}

// ---------------------------------------------------------------------------------------------
// Geometry and colours. Points; the origin is the bottom-left corner of a Letter page.

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 42.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - 40.0;
/// Lowest y any block may reach; the footer lives below it.
const BOTTOM: f32 = 50.0;

type Rgb = [f32; 3];
const INK: Rgb = [0.10, 0.12, 0.16];
const MUTED: Rgb = [0.38, 0.42, 0.48];
const BAND: Rgb = [0.15, 0.27, 0.45];
const AREA_BAND: Rgb = [0.88, 0.91, 0.95];
const ZEBRA: Rgb = [0.965, 0.972, 0.985];
const FIELD_BG: Rgb = [0.94, 0.96, 1.0];
const FIELD_BORDER: Rgb = [0.50, 0.57, 0.68];
const PRESSED_BG: Rgb = [0.78, 0.83, 0.92];
const WHITE: Rgb = [1.0, 1.0, 1.0];

/// Height of a one-line field box, and the label gap above it.
const FIELD_H: f32 = 17.0;
const LABEL_SIZE: f32 = 7.5;
/// Font size of typed values (in `/DA` and the appearance streams).
const VALUE_SIZE: f32 = 9.0;
/// One role line.
const ROW_H: f32 = 17.0;
const ROW_FIELD_H: f32 = 13.0;
const BOX: f32 = 11.0;

// Role table columns (x of the left edge).
const COL_CODE_RIGHT: f32 = MARGIN + 26.0;
const COL_NAME: f32 = MARGIN + 32.0;
const COL_ADD: f32 = 304.0;
const COL_REMOVE: f32 = 344.0;
const COL_LIBRARY: f32 = 384.0;
const LIBRARY_W: f32 = 72.0;
const COL_UNIT: f32 = 464.0;
const UNIT_W: f32 = PAGE_W - MARGIN - COL_UNIT;

// Field flags (PDF 32000-1, tables 226, 228, 230).
const FF_READ_ONLY: i64 = 1;
const FF_MULTILINE: i64 = 1 << 12;
const FF_NO_TOGGLE_TO_OFF: i64 = 1 << 14;
const FF_RADIO: i64 = 1 << 15;
const FF_COMBO: i64 = 1 << 17;
const FF_EDIT: i64 = 1 << 18;
// Annotation flags (table 165).
const F_HIDDEN: i64 = 2;
const F_PRINT: i64 = 4;

// ---------------------------------------------------------------------------------------------
// Text: Helvetica metrics and WinAnsi encoding for the page and the appearance streams.

/// Helvetica advance widths (1/1000 em) of ASCII 32..=126, from Adobe's core AFM files.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
/// Helvetica-Bold advance widths of ASCII 32..=126.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The resource name in page and appearance resources.
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "Helv",
            Font::Bold => "HeBo",
        }
    }

    /// Width of `s` at `size` points. Characters outside ASCII are counted as an average
    /// glyph, which is close enough for the few accented letters a catalog may hold.
    fn width(self, s: &str, size: f32) -> f32 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        let units: u32 = s
            .chars()
            .map(|c| match c as u32 {
                n @ 32..=126 => u32::from(table[(n - 32) as usize]),
                0x2014 => 1000,
                _ => 556,
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

/// `s` in WinAnsiEncoding (the encoding of the standard fonts as we declare them). Latin-1
/// maps to itself; the few typographic marks a heading uses have their own codes; anything
/// else becomes `?` rather than a wrong glyph.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{2014}' => 0x97,
            '\u{2013}' => 0x96,
            '\u{2019}' => 0x92,
            '\u{2018}' => 0x91,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2026}' => 0x85,
            '\u{2020}' => 0x86,
            '\u{203a}' => 0x9b,
            _ => b'?',
        })
        .collect()
}

/// A PDF literal string in a content stream: `(...)` with `(`, `)` and `\` escaped.
fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'(');
    for &b in bytes {
        if matches!(b, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b')');
    out
}

/// A PDF text string object (field names, values, options, tooltips): ASCII as is,
/// anything else as UTF-16BE with a byte-order mark, which every reader understands.
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xfe, 0xff];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// Numbers in content streams: two decimals, no trailing zeros.
fn n(v: f32) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn rgb_fill(c: Rgb) -> String {
    format!("{} {} {} rg ", n(c[0]), n(c[1]), n(c[2]))
}

fn rgb_stroke(c: Rgb) -> String {
    format!("{} {} {} RG ", n(c[0]), n(c[1]), n(c[2]))
}

fn rgb_array(c: Rgb) -> Object {
    Object::Array(c.iter().map(|&v| Object::Real(v)).collect())
}

fn rect_array(x: f32, y: f32, w: f32, h: f32) -> Object {
    Object::Array(
        [x, y, x + w, y + h]
            .iter()
            .map(|&v| Object::Real((v * 100.0).round() / 100.0))
            .collect(),
    )
}

/// Greedy word wrap to `width` points.
fn wrap(s: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if font.width(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Four Bézier arcs approximating a circle, as a path (fill or stroke it after).
fn circle_path(cx: f32, cy: f32, r: f32) -> String {
    let k = 0.5523 * r;
    format!(
        "{} {} m {} {} {} {} {} {} c {} {} {} {} {} {} c {} {} {} {} {} {} c {} {} {} {} {} {} c ",
        n(cx + r),
        n(cy),
        n(cx + r),
        n(cy + k),
        n(cx + k),
        n(cy + r),
        n(cx),
        n(cy + r),
        n(cx - k),
        n(cy + r),
        n(cx - r),
        n(cy + k),
        n(cx - r),
        n(cy),
        n(cx - r),
        n(cy - k),
        n(cx - k),
        n(cy - r),
        n(cx),
        n(cy - r),
        n(cx + k),
        n(cy - r),
        n(cx + r),
        n(cy - k),
        n(cx + r),
        n(cy),
    )
}

// ---------------------------------------------------------------------------------------------
// The builder: pages with their content and widgets, and the field tree.

struct Page {
    id: ObjectId,
    content: Vec<u8>,
    annots: Vec<ObjectId>,
}

/// A field or a non-terminal node of the field tree, written out at the end once its kids
/// are known.
struct Node {
    dict: Dictionary,
    kids: Vec<ObjectId>,
}

struct Builder<'a> {
    catalog: &'a Catalog,
    doc: Document,
    pages: Vec<Page>,
    /// Top of the free space on the current page.
    y: f32,
    fonts: BTreeMap<&'static str, ObjectId>,
    nodes: BTreeMap<ObjectId, Node>,
    /// Top-level fields, in order.
    roots: Vec<ObjectId>,
    /// Group nodes by full name, so `person.email` and `person.action` share `person`.
    groups: BTreeMap<String, ObjectId>,
    /// The heading repeated on a new page while the roles table runs.
    in_roles_table: bool,
    /// The area whose roles are being laid out, repeated on a new page.
    current_area: Option<String>,
    /// Check box and radio button appearance streams by size and content.
    appearances: BTreeMap<String, ObjectId>,
}

impl<'a> Builder<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        let mut doc = Document::with_version("1.7");
        let mut fonts = BTreeMap::new();
        for (resource, base, encoded) in [
            ("Helv", "Helvetica", true),
            ("HeBo", "Helvetica-Bold", true),
            ("ZaDb", "ZapfDingbats", false),
        ] {
            let mut font = dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => base,
            };
            if encoded {
                font.set("Encoding", "WinAnsiEncoding");
            }
            fonts.insert(resource, doc.add_object(font));
        }
        let mut b = Builder {
            catalog,
            doc,
            pages: Vec::new(),
            y: TOP,
            fonts,
            nodes: BTreeMap::new(),
            roots: Vec::new(),
            groups: BTreeMap::new(),
            in_roles_table: false,
            current_area: None,
            appearances: BTreeMap::new(),
        };
        b.new_page();
        b
    }

    fn font_resources(&self) -> Dictionary {
        let mut fonts = Dictionary::new();
        for (name, id) in &self.fonts {
            fonts.set(*name, *id);
        }
        dictionary! { "Font" => fonts }
    }

    fn page(&mut self) -> &mut Page {
        self.pages
            .last_mut()
            .expect("the builder starts with a page")
    }

    fn draw(&mut self, ops: &str) {
        self.page().content.extend_from_slice(ops.as_bytes());
    }

    fn new_page(&mut self) {
        let id = self.doc.new_object_id();
        self.pages.push(Page {
            id,
            content: Vec::new(),
            annots: Vec::new(),
        });
        self.y = TOP;
        if self.in_roles_table {
            self.section("Roles (continued)");
            self.roles_header();
            if let Some(area) = self.current_area.clone() {
                self.area_heading(&format!("{area} (continued)"));
            }
        }
    }

    /// Starts a new page unless `height` points are still free.
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    // ----- drawing primitives (page content) -----

    fn text(&mut self, x: f32, y: f32, font: Font, size: f32, color: Rgb, s: &str) {
        let mut ops = format!(
            "BT {}/{} {} Tf {} {} Td ",
            rgb_fill(color),
            font.resource(),
            n(size),
            n(x),
            n(y)
        )
        .into_bytes();
        ops.extend(literal(&win_ansi(s)));
        ops.extend_from_slice(b" Tj ET\n");
        self.page().content.extend(ops);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.draw(&format!(
            "{}{} {} {} {} re f\n",
            rgb_fill(color),
            n(x),
            n(y),
            n(w),
            n(h)
        ));
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, color: Rgb, width: f32) {
        self.draw(&format!(
            "{}{} w {} {} m {} {} l S\n",
            rgb_stroke(color),
            n(width),
            n(x0),
            n(y),
            n(x1),
            n(y)
        ));
    }

    /// A dark band with a white heading, the start of each block.
    fn section(&mut self, title: &str) {
        let h = 17.0;
        self.fill_rect(MARGIN, self.y - h, CONTENT_W, h, BAND);
        self.text(MARGIN + 7.0, self.y - 12.0, Font::Bold, 10.0, WHITE, title);
        self.y -= h + 6.0;
    }

    /// A small grey label above a field.
    fn label(&mut self, x: f32, top: f32, s: &str) {
        self.text(
            x + 1.0,
            top - LABEL_SIZE,
            Font::Regular,
            LABEL_SIZE,
            MUTED,
            s,
        );
    }

    // ----- the field tree -----

    /// The group node for a dotted prefix (`role.32`), created on first use.
    fn group(&mut self, path: &str) -> Option<ObjectId> {
        if path.is_empty() {
            return None;
        }
        if let Some(id) = self.groups.get(path) {
            return Some(*id);
        }
        let (parent_path, name) = path.rsplit_once('.').unwrap_or(("", path));
        let parent = self.group(parent_path);
        let id = self.doc.new_object_id();
        let mut dict = dictionary! { "T" => text_string(name) };
        self.attach(id, parent, &mut dict);
        self.nodes.insert(
            id,
            Node {
                dict,
                kids: Vec::new(),
            },
        );
        self.groups.insert(path.to_string(), id);
        Some(id)
    }

    /// Links a new node to its parent (or the root list).
    fn attach(&mut self, id: ObjectId, parent: Option<ObjectId>, dict: &mut Dictionary) {
        match parent {
            Some(p) => {
                dict.set("Parent", p);
                if let Some(node) = self.nodes.get_mut(&p) {
                    node.kids.push(id);
                }
            }
            None => self.roots.push(id),
        }
    }

    /// A terminal field named `full` (dotted), merged with its widget when `rect` is given.
    fn field(&mut self, full: &str, mut dict: Dictionary) -> ObjectId {
        let (parent_path, name) = full.rsplit_once('.').unwrap_or(("", full));
        let parent = self.group(parent_path);
        let id = self.doc.new_object_id();
        dict.set("T", text_string(name));
        self.attach(id, parent, &mut dict);
        self.nodes.insert(
            id,
            Node {
                dict,
                kids: Vec::new(),
            },
        );
        id
    }

    /// Turns `dict` into a widget on the current page.
    fn widget(&mut self, id: ObjectId, dict: &mut Dictionary, rect: (f32, f32, f32, f32)) {
        let (x, y, w, h) = rect;
        dict.set("Type", "Annot");
        dict.set("Subtype", "Widget");
        dict.set("Rect", rect_array(x, y, w, h));
        dict.set("P", self.page().id);
        if !dict.has(b"F") {
            dict.set("F", F_PRINT);
        }
        // The border our appearances draw, for viewers that rebuild them from /MK.
        dict.set("BS", dictionary! { "W" => 1, "S" => "S" });
        self.page().annots.push(id);
    }

    /// A form XObject for the appearance of one text or choice widget. Never shared: fillers
    /// such as pypdf rewrite a field's appearance stream in place, and a shared one would
    /// show the value in every box that uses it.
    fn appearance(&mut self, w: f32, h: f32, ops: String) -> ObjectId {
        let dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => rect_array(0.0, 0.0, w, h),
            "Resources" => self.font_resources(),
        };
        self.doc.add_object(Stream::new(dict, ops.into_bytes()))
    }

    /// A form XObject for a check box or radio button state. Identical ones share one
    /// object, which keeps the blank form small: these pictures never change (fillers switch
    /// `/AS` between states, or write a new `/AP`).
    fn button_appearance(&mut self, w: f32, h: f32, ops: String) -> ObjectId {
        let key = format!("{} {}\n{ops}", n(w), n(h));
        if let Some(id) = self.appearances.get(&key) {
            return *id;
        }
        let dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => rect_array(0.0, 0.0, w, h),
            "Resources" => self.font_resources(),
        };
        let id = self.doc.add_object(Stream::new(dict, ops.into_bytes()));
        self.appearances.insert(key, id);
        id
    }

    // ----- widgets -----

    /// The box of a field: background and a hairline border, as `/MK` also says.
    fn box_ops(w: f32, h: f32, bg: Rgb) -> String {
        format!(
            "q {}0 0 {} {} re f {}1 w 0.5 0.5 {} {} re S Q\n",
            rgb_fill(bg),
            n(w),
            n(h),
            rgb_stroke(FIELD_BORDER),
            n(w - 1.0),
            n(h - 1.0)
        )
    }

    /// The value part of a text or combo appearance, clipped to the box.
    fn value_ops(w: f32, h: f32, value: &str) -> String {
        if value.is_empty() {
            return "/Tx BMC EMC\n".into();
        }
        let y = ((h - VALUE_SIZE * 0.72) / 2.0).max(1.5);
        let mut ops = format!(
            "/Tx BMC q 1 1 {} {} re W n BT /Helv {} Tf 0 g 3 {} Td ",
            n(w - 2.0),
            n(h - 2.0),
            n(VALUE_SIZE),
            n(y)
        );
        ops.push_str(&String::from_utf8_lossy(&literal(&win_ansi(value))));
        ops.push_str(" Tj ET Q EMC\n");
        ops
    }

    fn mk(&self) -> Dictionary {
        dictionary! {
            "BG" => rgb_array(FIELD_BG),
            "BC" => rgb_array(FIELD_BORDER),
        }
    }

    fn da() -> Object {
        Object::string_literal(format!("/Helv {} Tf 0 g", n(VALUE_SIZE)))
    }

    /// A one-line (or, with `FF_MULTILINE`, multi-line) text field.
    fn text_field(
        &mut self,
        full: &str,
        tooltip: &str,
        rect: (f32, f32, f32, f32),
        flags: i64,
        value: Option<&str>,
    ) -> ObjectId {
        let (_, _, w, h) = rect;
        let shown = value.unwrap_or_default();
        // A multi-line box starts its first line at the top, not in the middle.
        let ops = if flags & FF_MULTILINE != 0 {
            Self::box_ops(w, h, FIELD_BG) + "/Tx BMC EMC\n"
        } else {
            Self::box_ops(w, h, FIELD_BG) + &Self::value_ops(w, h, shown)
        };
        let ap = self.appearance(w, h, ops);
        let mut dict = dictionary! {
            "FT" => "Tx",
            "Ff" => flags,
            "DA" => Self::da(),
            "TU" => text_string(tooltip),
            "MK" => self.mk(),
            "AP" => dictionary! { "N" => ap },
        };
        if let Some(v) = value {
            dict.set("V", text_string(v));
        }
        let id = self.field(full, Dictionary::new());
        self.widget(id, &mut dict, rect);
        self.set_field_dict(id, dict);
        id
    }

    /// Merges `dict` into the node created by [`Self::field`] (which holds `/T`, `/Parent`).
    fn set_field_dict(&mut self, id: ObjectId, dict: Dictionary) {
        if let Some(node) = self.nodes.get_mut(&id) {
            for (k, v) in dict.into_iter() {
                node.dict.set(k, v);
            }
        }
    }

    /// A combo box. `options` are (export value, display text); when both are the same the
    /// option is written as a plain string, as most tools write it.
    fn combo(
        &mut self,
        full: &str,
        tooltip: &str,
        rect: (f32, f32, f32, f32),
        options: &[(String, String)],
        editable: bool,
        value: Option<&(String, String)>,
    ) -> ObjectId {
        let (_, _, w, h) = rect;
        let mut ops = Self::box_ops(w, h, FIELD_BG);
        // A small arrow, so the box reads as a list even before it is clicked.
        let (ax, ay) = (w - 9.0, h / 2.0);
        ops.push_str(&format!(
            "q {}{} {} m {} {} l {} {} l f Q\n",
            rgb_fill(MUTED),
            n(ax - 3.0),
            n(ay + 1.5),
            n(ax + 3.0),
            n(ay + 1.5),
            n(ax),
            n(ay - 2.0)
        ));
        let shown = value.map_or("", |(_, display)| display.as_str());
        ops.push_str(&Self::value_ops(w - 14.0, h, shown));
        let ap = self.appearance(w, h, ops);
        let opt: Vec<Object> = options
            .iter()
            .map(|(export, display)| {
                if export == display {
                    text_string(export)
                } else {
                    Object::Array(vec![text_string(export), text_string(display)])
                }
            })
            .collect();
        let mut dict = dictionary! {
            "FT" => "Ch",
            "Ff" => FF_COMBO | if editable { FF_EDIT } else { 0 },
            "Opt" => opt,
            "DA" => Self::da(),
            "TU" => text_string(tooltip),
            "MK" => self.mk(),
            "AP" => dictionary! { "N" => ap },
        };
        if let Some((export, _)) = value {
            dict.set("V", text_string(export));
        }
        let id = self.field(full, Dictionary::new());
        self.widget(id, &mut dict, rect);
        self.set_field_dict(id, dict);
        id
    }

    /// A check box with the on-state [`names::CHECKBOX_ON`], drawn with ZapfDingbats' check
    /// mark (`4`), in a normal and a pressed ("down") look for both states.
    fn checkbox(&mut self, full: &str, tooltip: &str, x: f32, y: f32) -> ObjectId {
        let (w, h) = (BOX, BOX);
        let size = h * 0.8;
        let mark = format!(
            "q 0 g BT /ZaDb {} Tf {} {} Td (4) Tj ET Q\n",
            n(size),
            n((w - 0.76 * size) / 2.0),
            n((h - 0.70 * size) / 2.0)
        );
        let on = self.button_appearance(w, h, Self::box_ops(w, h, WHITE) + &mark);
        let off = self.button_appearance(w, h, Self::box_ops(w, h, WHITE));
        let on_down = self.button_appearance(w, h, Self::box_ops(w, h, PRESSED_BG) + &mark);
        let off_down = self.button_appearance(w, h, Self::box_ops(w, h, PRESSED_BG));
        let state = |on: ObjectId, off: ObjectId| {
            dictionary! { names::CHECKBOX_ON => on, "Off" => off }
        };
        let mut dict = dictionary! {
            "FT" => "Btn",
            "Ff" => 0,
            "V" => "Off",
            "AS" => "Off",
            "DA" => Object::string_literal("/ZaDb 0 Tf 0 g"),
            "TU" => text_string(tooltip),
            "MK" => dictionary! {
                "BG" => rgb_array(WHITE),
                "BC" => rgb_array(FIELD_BORDER),
                "CA" => Object::string_literal("4"),
            },
            "AP" => dictionary! { "N" => state(on, off), "D" => state(on_down, off_down) },
        };
        let id = self.field(full, Dictionary::new());
        self.widget(id, &mut dict, (x, y, w, h));
        self.set_field_dict(id, dict);
        id
    }

    /// A radio group: one field, one widget kid per choice with its own on-state. Each
    /// choice's label is drawn to the right of its button.
    fn radio_group(&mut self, full: &str, tooltip: &str, x: f32, y: f32, states: &[&str]) {
        let group = self.field(full, Dictionary::new());
        self.set_field_dict(
            group,
            dictionary! {
                "FT" => "Btn",
                "Ff" => FF_RADIO | FF_NO_TOGGLE_TO_OFF,
                "V" => "Off",
                "DA" => Object::string_literal("/ZaDb 0 Tf 0 g"),
                "TU" => text_string(tooltip),
            },
        );
        let d = BOX + 1.0;
        let r = d / 2.0;
        let ring = |bg: Rgb| {
            format!(
                "q {}{}f {}1 w {}S Q\n",
                rgb_fill(bg),
                circle_path(r, r, r - 0.4),
                rgb_stroke(FIELD_BORDER),
                circle_path(r, r, r - 0.4)
            )
        };
        let dot = format!("q 0 g {}f Q\n", circle_path(r, r, r * 0.45));
        let mut bx = x;
        for state in states {
            let on = self.button_appearance(d, d, ring(WHITE) + &dot);
            let off = self.button_appearance(d, d, ring(WHITE));
            let on_down = self.button_appearance(d, d, ring(PRESSED_BG) + &dot);
            let off_down = self.button_appearance(d, d, ring(PRESSED_BG));
            let pair = |on: ObjectId, off: ObjectId| {
                let mut s = Dictionary::new();
                s.set(*state, on);
                s.set("Off", off);
                s
            };
            let kid = self.doc.new_object_id();
            let mut dict = dictionary! {
                "Parent" => group,
                "AS" => "Off",
                "MK" => dictionary! {
                    "BG" => rgb_array(WHITE),
                    "BC" => rgb_array(FIELD_BORDER),
                    "CA" => Object::string_literal("l"),
                },
                "AP" => dictionary! { "N" => pair(on, off), "D" => pair(on_down, off_down) },
            };
            self.widget(kid, &mut dict, (bx, y, d, d));
            self.nodes.insert(
                kid,
                Node {
                    dict,
                    kids: Vec::new(),
                },
            );
            if let Some(node) = self.nodes.get_mut(&group) {
                node.kids.push(kid);
            }
            self.text(bx + d + 4.0, y + 2.5, Font::Regular, 9.0, INK, state);
            bx += d + 10.0 + Font::Regular.width(state, 9.0) + 14.0;
        }
    }

    /// A labelled one-line text field whose box top is at `top`.
    fn labelled_text(&mut self, full: &str, label: &str, x: f32, top: f32, w: f32) {
        self.label(x, top, label);
        let y = top - LABEL_SIZE - 2.5 - FIELD_H;
        self.text_field(full, label, (x, y, w, FIELD_H), 0, None);
    }

    // ----- blocks -----

    fn first_page_head(&mut self) {
        let policy = &self.catalog.policy;
        self.text(
            MARGIN,
            self.y - 18.0,
            Font::Bold,
            19.0,
            INK,
            "Alma Staff User Request Form",
        );
        let sub = format!(
            "{} \u{2022} one form for one person \u{2022} catalog version {}",
            policy.help_desk_name, self.catalog.version
        );
        self.text(MARGIN, self.y - 32.0, Font::Regular, 8.5, MUTED, &sub);
        self.y -= 42.0;
        let steps = [
            format!(
                "Fill in the boxes in Adobe Acrobat Reader or a web browser (macOS Preview can \
                 drop form fields), then choose Save \u{2014} not Print \u{2014} and email the \
                 saved PDF to {} <{}>.",
                policy.help_desk_name, policy.help_desk_email
            ),
            "Only a registered coordinator of the institution may ask. Use one form per \
             person: Add for a new staff account, Modify to add or remove roles, Delete when \
             the person leaves (all staff roles go; the patron account stays), Restore to get \
             back the roles suspended for inactivity."
                .to_string(),
            "Tick Add for each role to grant and Remove for each role to take away. A role \
             with a Library box is granted in one library; a role with a Desk or service unit \
             box also needs that desk or unit of the library: pick it from the list or type \
             the code. Roles marked \u{2020} are granted after the help desk approves them."
                .to_string(),
        ];
        let width = CONTENT_W - 24.0;
        let lines: Vec<Vec<String>> = steps
            .iter()
            .map(|s| wrap(s, Font::Regular, 8.5, width))
            .collect();
        let leading = 10.5;
        let count: usize = lines.iter().map(Vec::len).sum();
        let h = count as f32 * leading + (steps.len() as f32 - 1.0) * 3.0 + 12.0;
        self.fill_rect(MARGIN, self.y - h, CONTENT_W, h, ZEBRA);
        self.fill_rect(MARGIN, self.y - h, 2.5, h, BAND);
        let mut y = self.y - 6.0 - 8.0;
        for (i, para) in lines.iter().enumerate() {
            self.text(
                MARGIN + 9.0,
                y,
                Font::Bold,
                8.5,
                BAND,
                &format!("{}", i + 1),
            );
            for line in para {
                self.text(MARGIN + 20.0, y, Font::Regular, 8.5, INK, line);
                y -= leading;
            }
            y -= 3.0;
        }
        self.y -= h + 12.0;
    }

    fn requester_block(&mut self) {
        self.section("1   Who is asking");
        let top = self.y;
        let gap = 12.0;
        let half = (CONTENT_W - gap) / 2.0;
        self.labelled_text(names::REQUESTER_NAME, "Your name", MARGIN, top, half);
        self.labelled_text(
            names::REQUESTER_EMAIL,
            "Your email (as registered with the help desk)",
            MARGIN + half + gap,
            top,
            half,
        );
        let top = top - 32.0;
        let inst_w = 300.0;
        self.label(MARGIN, top, "Institution");
        let options: Vec<(String, String)> = self
            .catalog
            .institutions
            .iter()
            .map(|i| (i.code.clone(), format!("{} \u{2014} {}", i.code, i.name)))
            .collect();
        let y = top - LABEL_SIZE - 2.5 - FIELD_H;
        self.combo(
            names::REQUESTER_INSTITUTION,
            "Institution",
            (MARGIN, y, inst_w, FIELD_H),
            &options,
            false,
            options.first().filter(|_| options.len() == 1),
        );
        let rest = CONTENT_W - inst_w - 2.0 * gap;
        let phone_w = rest * 0.55;
        let x = MARGIN + inst_w + gap;
        self.labelled_text(names::REQUESTER_PHONE, "Your phone", x, top, phone_w);
        let x = x + phone_w + gap;
        self.labelled_text(
            names::REQUESTER_DATE,
            "Date (YYYY-MM-DD)",
            x,
            top,
            PAGE_W - MARGIN - x,
        );
        self.y = top - 32.0 - 4.0;
    }

    fn person_block(&mut self) {
        self.section("2   The person");
        let top = self.y;
        self.label(MARGIN, top, "What to do");
        let y = top - LABEL_SIZE - 4.0 - BOX - 1.0;
        self.radio_group(
            names::PERSON_ACTION,
            "What to do: Add, Modify, Delete, or Restore the roles suspended for inactivity",
            MARGIN + 1.0,
            y,
            &names::ACTIONS,
        );
        let x = MARGIN + CONTENT_W / 2.0 + 6.0;
        self.label(x, top, "Account type");
        self.radio_group(
            names::PERSON_ACCOUNT_TYPE,
            "Account type: Internal (managed in Alma) or External (loaded from the campus system)",
            x + 1.0,
            y,
            &names::ACCOUNT_TYPES,
        );
        let top = top - 30.0;
        let gap = 12.0;
        let third = (CONTENT_W - 2.0 * gap) / 3.0;
        let cols = [MARGIN, MARGIN + third + gap, MARGIN + 2.0 * (third + gap)];
        self.labelled_text(
            names::PERSON_PRIMARY_ID,
            "Primary ID (Alma)",
            cols[0],
            top,
            third,
        );
        self.labelled_text(names::PERSON_LAST_NAME, "Last name", cols[1], top, third);
        self.labelled_text(names::PERSON_FIRST_NAME, "First name", cols[2], top, third);
        let top = top - 32.0;
        self.labelled_text(names::PERSON_EMAIL, "Email", cols[0], top, third);
        self.labelled_text(
            names::PERSON_POSITION,
            "Position / job title",
            cols[1],
            top,
            third,
        );
        self.labelled_text(
            names::PERSON_EXPIRY,
            "Roles expire on (YYYY-MM-DD, optional)",
            cols[2],
            top,
            third,
        );
        self.y = top - 32.0 - 4.0;
    }

    fn profile_block(&mut self) {
        self.section("3   Role profile (optional)");
        let top = self.y;
        let y = top - LABEL_SIZE - 2.5 - FIELD_H;
        let mut options = vec![(String::new(), String::new())];
        options.extend(
            self.catalog
                .profiles
                .iter()
                .map(|p| (p.name.clone(), p.name.clone())),
        );
        let (w_profile, w_library, gap) = (230.0, 110.0, 14.0);
        let x_library = MARGIN + w_profile + gap;
        let x_unit = x_library + w_library + gap;
        let w_unit = PAGE_W - MARGIN - x_unit;
        self.label(MARGIN, top, "Profile");
        self.combo(
            names::PROFILE,
            "Role profile: a named bundle of roles",
            (MARGIN, y, w_profile, FIELD_H),
            &options,
            false,
            None,
        );
        let choices = Choices::new(self.catalog);
        let with_empty = |list: &[(String, String)]| {
            let mut all = vec![(String::new(), String::new())];
            all.extend(list.iter().cloned());
            all
        };
        let libraries = with_empty(&choices.libraries);
        let mut units = choices.desks.clone();
        units.extend(choices.service_units.iter().cloned());
        units.sort();
        units.dedup();
        let units = with_empty(&units);
        self.label(x_library, top, "Profile's library");
        self.combo(
            names::PROFILE_LIBRARY,
            "Library for the profile's library-scoped roles",
            (x_library, y, w_library, FIELD_H),
            &libraries,
            true,
            None,
        );
        self.label(x_unit, top, "Profile's desk or service unit");
        self.combo(
            names::PROFILE_UNIT,
            "Circulation desk or service unit for the profile's roles that need one",
            (x_unit, y, w_unit, FIELD_H),
            &units,
            true,
            None,
        );
        let note = "A profile grants a common bundle of roles in one step; you may also tick \
                    single roles below. Leave it empty when you do not need one. Some profiles \
                    need a library, and some a desk or service unit.";
        let mut ly = y - 10.0;
        for line in wrap(note, Font::Regular, 8.0, PAGE_W - 2.0 * MARGIN) {
            self.text(MARGIN, ly, Font::Regular, 8.0, MUTED, &line);
            ly -= 10.0;
        }
        self.y = ly - 4.0;
    }

    fn roles_header(&mut self) {
        let y = self.y - 8.0;
        let size = 7.5;
        self.text(MARGIN, y, Font::Bold, size, MUTED, "Code");
        self.text(COL_NAME, y, Font::Bold, size, MUTED, "Role");
        let center = |col: f32, s: &str| col + BOX / 2.0 - Font::Bold.width(s, size) / 2.0;
        self.text(center(COL_ADD, "Add"), y, Font::Bold, size, MUTED, "Add");
        self.text(
            center(COL_REMOVE, "Remove"),
            y,
            Font::Bold,
            size,
            MUTED,
            "Remove",
        );
        self.text(COL_LIBRARY + 1.0, y, Font::Bold, size, MUTED, "Library");
        self.text(
            COL_UNIT + 1.0,
            y,
            Font::Bold,
            size,
            MUTED,
            "Desk or service unit",
        );
        self.y -= 12.0;
        self.hline(MARGIN, PAGE_W - MARGIN, self.y, FIELD_BORDER, 0.5);
        self.y -= 2.0;
    }

    fn roles_block(&mut self) {
        // A section heading, the column heads, an area heading and one row must fit.
        self.ensure(17.0 + 6.0 + 14.0 + 18.0 + ROW_H);
        self.section("4   Roles");
        self.roles_header();
        self.in_roles_table = true;
        let choices = Choices::new(self.catalog);
        let mut areas: Vec<&str> = Vec::new();
        for role in self.form_roles() {
            if !areas.contains(&role.area.as_str()) {
                areas.push(&role.area);
            }
        }
        for area in areas {
            let roles: Vec<&Role> = self
                .form_roles()
                .filter(|r| r.area == area)
                .collect::<Vec<_>>();
            // Keep an area heading with its first role.
            self.current_area = None;
            self.ensure(18.0 + ROW_H);
            self.area_heading(area);
            self.current_area = Some(area.to_string());
            for (i, role) in roles.into_iter().enumerate() {
                self.ensure(ROW_H);
                self.role_row(role, i % 2 == 1, &choices);
            }
            self.y -= 3.0;
        }
        self.in_roles_table = false;
        self.current_area = None;
        self.y -= 6.0;
    }

    fn area_heading(&mut self, title: &str) {
        self.fill_rect(MARGIN, self.y - 15.0, CONTENT_W, 15.0, AREA_BAND);
        self.text(MARGIN + 6.0, self.y - 10.8, Font::Bold, 8.5, BAND, title);
        self.y -= 17.0;
    }

    /// The roles the form offers: every catalog role but Patron, which Alma keeps on every
    /// account and which is never requested (the worksheet's lists leave it out too).
    fn form_roles(&self) -> impl Iterator<Item = &'a Role> + 'a {
        self.catalog.roles.iter().filter(|r| !r.is_patron())
    }

    /// A role row's code (right-aligned, muted) and name (marked with a dagger when privileged).
    fn role_label(&mut self, role: &Role, baseline: f32) {
        let code = role.code.to_string();
        let cw = Font::Regular.width(&code, 7.5);
        self.text(
            COL_CODE_RIGHT - cw,
            baseline,
            Font::Regular,
            7.5,
            MUTED,
            &code,
        );
        let mut name = role.name.clone();
        if role.privileged {
            name.push_str(" \u{2020}");
        }
        // Shrink a long name to fit its column rather than run under the check boxes.
        let room = COL_ADD - COL_NAME - 8.0;
        let mut size = 8.5;
        while Font::Regular.width(&name, size) > room && size > 6.0 {
            size -= 0.25;
        }
        self.text(COL_NAME, baseline, Font::Regular, size, INK, &name);
    }

    fn role_row(&mut self, role: &Role, zebra: bool, choices: &Choices) {
        let top = self.y;
        let bottom = top - ROW_H;
        if zebra {
            self.fill_rect(MARGIN, bottom, CONTENT_W, ROW_H, ZEBRA);
        }
        let baseline = bottom + (ROW_H - 8.5 * 0.72) / 2.0;
        self.role_label(role, baseline);
        let by = bottom + (ROW_H - BOX) / 2.0;
        for (part, col, verb) in [
            (RolePart::Add, COL_ADD, "Add"),
            (RolePart::Remove, COL_REMOVE, "Remove"),
        ] {
            self.checkbox(
                &names::role_field(role.code, part),
                &format!("{verb}: {} ({})", role.name, role.code),
                col,
                by,
            );
        }
        let fy = bottom + (ROW_H - ROW_FIELD_H) / 2.0;
        if role.needs_library() {
            self.combo(
                &names::role_field(role.code, RolePart::Library),
                &format!("Library for {} ({})", role.name, role.code),
                (COL_LIBRARY, fy, LIBRARY_W, ROW_FIELD_H),
                &choices.libraries,
                true,
                None,
            );
        } else {
            self.text(
                COL_LIBRARY + 2.0,
                baseline,
                Font::Regular,
                7.5,
                MUTED,
                "whole institution",
            );
        }
        if let Some(kind) = role.parameter {
            let (tip, options) = match kind {
                ParameterKind::CirculationDesk => ("Circulation desk", &choices.desks),
                ParameterKind::ServiceUnit => ("Service unit", &choices.service_units),
                // Not requestable (catalog check refuses it): the form offers no field.
                ParameterKind::MetadataType => {
                    self.y = bottom;
                    return;
                }
            };
            self.combo(
                &names::role_field(role.code, RolePart::Unit),
                &format!("{tip} for {} ({})", role.name, role.code),
                (COL_UNIT, fy, UNIT_W, ROW_FIELD_H),
                options,
                true,
                None,
            );
        }
        self.y = bottom;
    }

    fn notes_block(&mut self) {
        let h = 84.0;
        self.ensure(17.0 + 6.0 + h + 40.0);
        self.section("5   Notes");
        let y = self.y - h;
        self.text_field(
            names::NOTES,
            "Notes for the help desk",
            (MARGIN, y, CONTENT_W, h),
            FF_MULTILINE,
            None,
        );
        self.y = y - 16.0;
        let policy = &self.catalog.policy;
        let closing = format!(
            "Done? Save the form (File \u{203a} Save, not Print) and email the PDF to {} <{}>. \
             You get a reply with every request checked; fix what it points out and send the \
             form again.",
            policy.help_desk_name, policy.help_desk_email
        );
        for line in wrap(&closing, Font::Regular, 8.5, CONTENT_W) {
            self.text(MARGIN, self.y, Font::Regular, 8.5, INK, &line);
            self.y -= 11.0;
        }
    }

    /// The hidden stamps, on page 1 where a reader looks first.
    fn hidden_fields(&mut self) {
        let first = self.pages[0].id;
        for (i, (full, value, tip)) in [
            (
                names::FORM_VERSION_FIELD,
                FORM_VERSION.to_string(),
                "Form version",
            ),
            (
                names::CATALOG_VERSION_FIELD,
                self.catalog.version.clone(),
                "Catalog version the form was made from",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let (x, y, w, h) = (PAGE_W - MARGIN - 120.0, 8.0 + i as f32 * 12.0, 120.0, 10.0);
            let ops = Self::value_ops(w, h, &value);
            let ap = self.appearance(w, h, ops);
            let id = self.field(full, Dictionary::new());
            let dict = dictionary! {
                "Type" => "Annot",
                "Subtype" => "Widget",
                "Rect" => rect_array(x, y, w, h),
                "P" => first,
                "F" => F_HIDDEN,
                "FT" => "Tx",
                "Ff" => FF_READ_ONLY,
                "V" => text_string(&value),
                "DA" => Self::da(),
                "TU" => text_string(tip),
                "AP" => dictionary! { "N" => ap },
            };
            self.set_field_dict(id, dict);
            self.pages[0].annots.push(id);
        }
    }

    fn footers(&mut self) {
        let count = self.pages.len();
        let version = self.catalog.version.clone();
        for i in 0..count {
            let left = format!(
                "Alma Staff User Request Form \u{2022} {FORM_VERSION} \u{2022} catalog {version}"
            );
            let right = format!("Page {} of {count}", i + 1);
            let mut ops = format!(
                "{}0.5 w {} 34 m {} 34 l S\n",
                rgb_stroke(AREA_BAND),
                n(MARGIN),
                n(PAGE_W - MARGIN)
            )
            .into_bytes();
            for (x, s) in [
                (MARGIN, left),
                (PAGE_W - MARGIN - Font::Regular.width(&right, 7.5), right),
            ] {
                ops.extend(
                    format!("BT {}/Helv 7.5 Tf {} 24 Td ", rgb_fill(MUTED), n(x)).into_bytes(),
                );
                ops.extend(literal(&win_ansi(&s)));
                ops.extend_from_slice(b" Tj ET\n");
            }
            self.pages[i].content.extend(ops);
        }
    }

    fn finish(mut self) -> Result<Vec<u8>, FormTemplateError> {
        self.hidden_fields();
        self.footers();
        let pages_id = self.doc.new_object_id();
        let resources = self.doc.add_object(self.font_resources());
        let mut kids = Vec::new();
        for page in std::mem::take(&mut self.pages) {
            let mut content = Stream::new(Dictionary::new(), page.content);
            // Compression keeps the committed fixtures small; a content stream that will not
            // compress is still valid uncompressed.
            let _ = content.compress();
            let content = self.doc.add_object(content);
            let annots: Vec<Object> = page.annots.iter().map(|&id| id.into()).collect();
            self.doc.set_object(
                page.id,
                dictionary! {
                    "Type" => "Page",
                    "Parent" => pages_id,
                    "MediaBox" => rect_array(0.0, 0.0, PAGE_W, PAGE_H),
                    "Resources" => resources,
                    "Contents" => content,
                    "Annots" => annots,
                },
            );
            kids.push(Object::Reference(page.id));
        }
        let count = kids.len() as i64;
        self.doc.set_object(
            pages_id,
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count },
        );
        for (id, node) in std::mem::take(&mut self.nodes) {
            let mut dict = node.dict;
            if !node.kids.is_empty() {
                let kids: Vec<Object> = node.kids.iter().map(|&k| k.into()).collect();
                dict.set("Kids", kids);
            }
            self.doc.set_object(id, dict);
        }
        let mut dr = Dictionary::new();
        dr.set("Helv", self.fonts["Helv"]);
        dr.set("ZaDb", self.fonts["ZaDb"]);
        let fields: Vec<Object> = self.roots.iter().map(|&id| id.into()).collect();
        let acroform = self.doc.add_object(dictionary! {
            "Fields" => fields,
            "NeedAppearances" => true,
            "DA" => Object::string_literal("/Helv 0 Tf 0 g"),
            "DR" => dictionary! { "Font" => dr },
        });
        let catalog_id = self.doc.add_object(dictionary! {
            "Type" => "Catalog",
            "Pages" => pages_id,
            "AcroForm" => acroform,
            "ViewerPreferences" => dictionary! { "DisplayDocTitle" => true },
        });
        let info = self.doc.add_object(dictionary! {
            "Title" => text_string("Alma Staff User Request Form"),
            "Subject" => text_string(&format!(
                "{FORM_VERSION}; catalog version {}",
                self.catalog.version
            )),
            "Creator" => text_string("Rolecall"),
            "Producer" => text_string(&format!("Rolecall {}", env!("CARGO_PKG_VERSION"))),
        });
        self.doc.trailer.set("Root", catalog_id);
        self.doc.trailer.set("Info", info);
        // A fixed file identifier derived from what the form is: tools that encrypt or
        // update the file need one, and the same catalog must give the same bytes.
        let digest = Sha256::digest(format!("{FORM_VERSION}\0{}", self.catalog.version));
        let file_id = Object::String(digest[..16].to_vec(), StringFormat::Hexadecimal);
        self.doc.trailer.set("ID", vec![file_id.clone(), file_id]);
        let mut out = Vec::new();
        self.doc.save_to(&mut out).map_err(lopdf::Error::from)?;
        Ok(out)
    }
}

/// The codes the library and desk choices offer: one form serves every institution, so
/// each list is the union over the catalog, without repeats, sorted for finding by eye.
struct Choices {
    libraries: Vec<(String, String)>,
    desks: Vec<(String, String)>,
    service_units: Vec<(String, String)>,
}

impl Choices {
    fn new(catalog: &Catalog) -> Self {
        let mut libraries = BTreeSet::new();
        let mut desks = BTreeSet::new();
        let mut service_units = BTreeSet::new();
        for lib in catalog.institutions.iter().flat_map(|i| &i.libraries) {
            libraries.insert(lib.code.clone());
            desks.extend(lib.desks.iter().map(|u| u.code.clone()));
            service_units.extend(lib.service_units.iter().map(|u| u.code.clone()));
        }
        let pairs = |set: BTreeSet<String>| set.into_iter().map(|c| (c.clone(), c)).collect();
        Choices {
            libraries: pairs(libraries),
            desks: pairs(desks),
            service_units: pairs(service_units),
        }
    }
}
