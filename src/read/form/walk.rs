//! The field tree walk over a loaded document: which dictionaries are fields, their full
//! names, inherited types, and values.
//!
//! The order, naming and value rules follow pypdf's `get_fields` as normalised by the
//! corpus oracle (`../shared/corpus/pdf-forms/SOURCES.md`), because that is what a help
//! desk compares against and what other tools print:
//! - visit `/AcroForm /Fields` depth first; a dictionary with `/T` (or `/TM`) is a field,
//!   and only a field's `/Kids` are descended into (a kid without `/T` is a widget, or an
//!   intermediate node whose own kids are widgets of the same field);
//! - the full name joins the `/T` of the node and its `/Parent` chain with `.` (nodes
//!   without `/T` add nothing); two dictionaries with the same full name are one field,
//!   the later one winning, at the first one's position;
//! - a field whose kids are all fields is a container and is not listed;
//! - `/FT` and `/Ff` are inherited up the `/Parent` chain; `/V` is the field's own.
//!
//! Everything is iterative with explicit limits: no recursion depth depends on the file.

use super::text::{decode_name, decode_text};
use super::{
    FieldKind, FieldValue, Form, FormFailure, FormField, MAX_DEPTH, MAX_NODES, MAX_STREAM_BYTES,
};
use lopdf::{Dictionary, Document, Object, ObjectId};
use std::collections::{HashMap, HashSet};

/// Where the walk finds objects: a document lopdf loaded whole, or the lazy reader's
/// objects parsed on first use (`super::lazy`). Both answer exactly as lopdf's
/// `Document::get_object` does for the objects the walk asks for.
pub(super) trait Objects {
    /// The object numbered `id`, references followed; `None` when there is none. The lazy
    /// reader's dictionaries here hold only the keys the walk reads (`lazy::kept`).
    fn object(&self, id: ObjectId) -> Option<&Object>;
    /// The same object with every dictionary entry, for the dictionaries whose keys the
    /// walk lists (`/AP` and its `/N`).
    fn object_whole(&self, id: ObjectId) -> Option<&Object> {
        self.object(id)
    }
    /// The trailer dictionary (`/Root`, `/Info`).
    fn trailer(&self) -> &Dictionary;
    /// The document was encrypted (and decrypted with the empty user password).
    fn was_encrypted(&self) -> bool;
}

impl Objects for Document {
    fn object(&self, id: ObjectId) -> Option<&Object> {
        self.get_object(id).ok()
    }
    fn trailer(&self) -> &Dictionary {
        &self.trailer
    }
    fn was_encrypted(&self) -> bool {
        Document::was_encrypted(self)
    }
}

/// How many references in a row are followed (`1 0 R` pointing at `2 0 R` ...).
const MAX_REF_HOPS: usize = 32;

/// `/Ff` bit 16 (1-based): a radio button group.
const FF_RADIO: i64 = 1 << 15;
/// `/Ff` bit 17: a push button.
const FF_PUSHBUTTON: i64 = 1 << 16;

/// A dictionary's identity: its object number, or its address for a direct object (which
/// cannot be part of a reference cycle, but may be reached twice through a shared parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NodeId {
    Indirect(ObjectId),
    Direct(usize),
}

#[derive(Clone, Copy)]
struct Node<'a> {
    id: NodeId,
    dict: &'a Dictionary,
}

/// Follows references; `None` for a dangling one or a chain longer than [`MAX_REF_HOPS`].
fn resolve<'a>(doc: &'a dyn Objects, obj: &'a Object) -> Option<&'a Object> {
    resolve_with_id(doc, obj).map(|(_, o)| o)
}

fn resolve_with_id<'a>(
    doc: &'a dyn Objects,
    obj: &'a Object,
) -> Option<(Option<ObjectId>, &'a Object)> {
    follow(doc, obj, false)
}

/// Follows references to the object, or (`whole`) to the object with every entry.
fn follow<'a>(
    doc: &'a dyn Objects,
    mut obj: &'a Object,
    whole: bool,
) -> Option<(Option<ObjectId>, &'a Object)> {
    let mut id = None;
    for _ in 0..MAX_REF_HOPS {
        match obj {
            Object::Reference(r) if whole => {
                id = Some(*r);
                obj = doc.object_whole(*r)?;
            }
            Object::Reference(r) => {
                id = Some(*r);
                obj = doc.object(*r)?;
            }
            _ => return Some((id, obj)),
        }
    }
    None
}

fn as_dict(obj: &Object) -> Option<&Dictionary> {
    match obj {
        Object::Dictionary(d) => Some(d),
        // A stream's dictionary is a dictionary (pypdf treats it so, too).
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

fn node<'a>(doc: &'a dyn Objects, obj: &'a Object) -> Option<Node<'a>> {
    let (id, obj) = resolve_with_id(doc, obj)?;
    let dict = as_dict(obj)?;
    let id = match id {
        Some(id) => NodeId::Indirect(id),
        None => NodeId::Direct(dict as *const Dictionary as usize),
    };
    Some(Node { id, dict })
}

/// `dict.get(key)` without lopdf's error, which allocates the key's name on every miss:
/// a short dictionary is searched in order (its keys are unique), a long one by hash.
fn entry<'a>(dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    if dict.len() <= 8 {
        dict.iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v)
    } else if dict.has(key) {
        dict.get(key).ok()
    } else {
        None
    }
}

fn has(dict: &Dictionary, key: &[u8]) -> bool {
    entry(dict, key).is_some()
}

fn get<'a>(doc: &'a dyn Objects, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    resolve(doc, entry(dict, key)?)
}

fn get_dict<'a>(doc: &'a dyn Objects, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
    get(doc, dict, key).and_then(as_dict)
}

/// [`get_dict`] with every entry of the dictionary (see [`Objects::object_whole`]).
fn get_whole_dict<'a>(
    doc: &'a dyn Objects,
    dict: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Dictionary> {
    follow(doc, entry(dict, key)?, true)
        .map(|(_, o)| o)
        .and_then(as_dict)
}

fn get_array<'a>(doc: &'a dyn Objects, dict: &'a Dictionary, key: &[u8]) -> Option<&'a [Object]> {
    match get(doc, dict, key)? {
        Object::Array(a) => Some(a),
        _ => None,
    }
}

/// A string or name as text; anything else is `None`.
fn text_of(doc: &dyn Objects, obj: &Object) -> Option<String> {
    match resolve(doc, obj)? {
        Object::String(b, _) => Some(decode_text(b)),
        Object::Name(b) => Some(decode_name(b)),
        _ => None,
    }
}

/// The node and its `/Parent` chain, nearest first. A `/Parent` cycle is cut where it
/// closes; a chain deeper than [`MAX_DEPTH`] is refused.
fn chain<'a>(doc: &'a dyn Objects, start: Node<'a>) -> Result<Vec<Node<'a>>, FormFailure> {
    let mut out = vec![start];
    let mut seen = HashSet::from([start.id]);
    let mut cur = start;
    while let Some(parent) = entry(cur.dict, b"Parent").and_then(|p| node(doc, p)) {
        if !seen.insert(parent.id) {
            break;
        }
        if out.len() > MAX_DEPTH {
            return Err(too_deep());
        }
        out.push(parent);
        cur = parent;
    }
    Ok(out)
}

fn too_deep() -> FormFailure {
    FormFailure::too_large(&format!(
        "its form fields are nested more than {MAX_DEPTH} levels deep"
    ))
}

/// pypdf's dictionary key for a field: `/TM` wins, else the parents' key, `.`, and `/T`
/// (empty when absent). Only used to decide which dictionaries are "the same field".
fn pypdf_key(doc: &dyn Objects, chain: &[Node]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for n in chain {
        if let Some(tm) = entry(n.dict, b"TM").and_then(|o| text_of(doc, o)) {
            parts.push(tm);
            break;
        }
        // pypdf stops at a node without /Parent; `chain` stops there too, or at a cycle.
        parts.push(
            entry(n.dict, b"T")
                .and_then(|o| text_of(doc, o))
                .unwrap_or_default(),
        );
    }
    parts.reverse();
    parts.join(".")
}

/// The full name: the `/T` of every node in the chain that has one, root first.
fn full_name(doc: &dyn Objects, chain: &[Node]) -> String {
    let mut parts: Vec<String> = chain
        .iter()
        .filter_map(|n| entry(n.dict, b"T").and_then(|o| text_of(doc, o)))
        .collect();
    parts.reverse();
    parts.join(".")
}

/// The nearest value of an inheritable key (`/FT`, `/Ff`, `/Opt`) along the chain.
fn inherited<'a>(doc: &'a dyn Objects, chain: &[Node<'a>], key: &[u8]) -> Option<&'a Object> {
    chain.iter().find_map(|n| get(doc, n.dict, key))
}

/// A node whose kids are all fields (have `/T`) groups fields and is not one itself.
fn is_container(doc: &dyn Objects, dict: &Dictionary) -> bool {
    let Some(kids) = get_array(doc, dict, b"Kids") else {
        return false;
    };
    let mut dicts = kids
        .iter()
        .filter_map(|k| resolve(doc, k).and_then(as_dict))
        .peekable();
    dicts.peek().is_some() && dicts.all(|k| has(k, b"T"))
}

fn kind_of(ft: Option<&[u8]>, ff: i64) -> Option<FieldKind> {
    Some(match ft? {
        b"Tx" => FieldKind::Text,
        b"Ch" => FieldKind::Choice,
        b"Sig" => FieldKind::Signature,
        b"Btn" if ff & FF_PUSHBUTTON != 0 => FieldKind::Button,
        b"Btn" if ff & FF_RADIO != 0 => FieldKind::Radio,
        b"Btn" => FieldKind::Checkbox,
        _ => return None,
    })
}

fn number(obj: &Object) -> Option<i64> {
    match obj {
        Object::Integer(i) => Some(*i),
        // Some producers write flags as reals; a real that is not a whole number is junk.
        Object::Real(r) if r.is_finite() && r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

/// One scalar as text, the way a viewer would print it.
fn scalar(doc: &dyn Objects, obj: &Object) -> Result<Option<String>, FormFailure> {
    let Some(obj) = resolve(doc, obj) else {
        return Ok(None);
    };
    Ok(match obj {
        Object::Null => None,
        Object::String(b, _) => Some(decode_text(b)),
        Object::Name(b) => Some(decode_name(b)),
        Object::Integer(i) => Some(i.to_string()),
        Object::Real(r) => Some(r.to_string()),
        Object::Boolean(b) => Some(b.to_string()),
        Object::Stream(s) => stream_text(s)?,
        Object::Array(_) | Object::Dictionary(_) | Object::Reference(_) => None,
    })
}

/// A text stream value (Acrobat writes long rich-text values so), decompressed under
/// [`MAX_STREAM_BYTES`].
fn stream_text(s: &lopdf::Stream) -> Result<Option<String>, FormFailure> {
    let bytes = match s.get_plain_content_with_limit(MAX_STREAM_BYTES) {
        Ok(b) => b,
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            return Err(FormFailure::too_large(&format!(
                "a field's value unpacks to more than {} MB",
                MAX_STREAM_BYTES / (1024 * 1024)
            )));
        }
        Err(_) => return Ok(None),
    };
    // pypdf reads stream values as UTF-8; text streams may also carry a byte-order mark.
    Ok(Some(match String::from_utf8(bytes) {
        Ok(s) if !s.starts_with('\u{FEFF}') => s,
        Ok(s) => decode_text(s.as_bytes()),
        Err(e) => decode_text(e.as_bytes()),
    }))
}

fn value_of(doc: &dyn Objects, dict: &Dictionary) -> Result<Option<FieldValue>, FormFailure> {
    let Some(v) = entry(dict, b"V") else {
        return Ok(None);
    };
    match resolve(doc, v) {
        Some(Object::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(s) = scalar(doc, item)? {
                    out.push(s);
                }
            }
            Ok(Some(FieldValue::List(out)))
        }
        _ => Ok(scalar(doc, v)?.map(FieldValue::Text)),
    }
}

/// A button's widgets: the field itself when it is its own widget, and its kids without
/// `/T`.
fn widgets<'a>(doc: &'a dyn Objects, dict: &'a Dictionary) -> Vec<&'a Dictionary> {
    let mut widgets = vec![dict];
    if let Some(kids) = get_array(doc, dict, b"Kids") {
        widgets.extend(
            kids.iter()
                .filter_map(|k| resolve(doc, k).and_then(as_dict))
                .filter(|k| !has(k, b"T")),
        );
    }
    widgets
}

/// The on-state names of a button's [`widgets`], in order, without `Off`.
fn on_states(doc: &dyn Objects, dict: &Dictionary) -> Vec<String> {
    let mut states: Vec<String> = Vec::new();
    for w in widgets(doc, dict) {
        let Some(normal) =
            get_whole_dict(doc, w, b"AP").and_then(|ap| get_whole_dict(doc, ap, b"N"))
        else {
            continue;
        };
        for (k, _) in normal.iter() {
            let s = decode_name(k);
            if s != "Off" && !states.contains(&s) {
                states.push(s);
            }
        }
    }
    states
}

/// The on-state a button's widgets show (`/AS`), if one shows anything but `Off`.
fn shown_state(doc: &dyn Objects, dict: &Dictionary) -> Option<String> {
    widgets(doc, dict)
        .into_iter()
        .find_map(|w| match entry(w, b"AS")? {
            Object::Name(name) => Some(decode_name(name)).filter(|s| s != "Off"),
            _ => None,
        })
}

/// `/Opt` as (export value, display text) pairs.
fn options(doc: &dyn Objects, opt: Option<&Object>) -> Vec<(String, String)> {
    let Some(Object::Array(items)) = opt else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match resolve(doc, item)? {
            Object::Array(pair) => {
                let export = pair.first().and_then(|o| text_of(doc, o))?;
                let display = pair
                    .get(1)
                    .and_then(|o| text_of(doc, o))
                    .unwrap_or_else(|| export.clone());
                Some((export, display))
            }
            other => text_of(doc, other).map(|t| (t.clone(), t)),
        })
        .collect()
}

/// Reads every terminal field of a loaded, decrypted document.
pub(super) fn read_fields(doc: &dyn Objects) -> Result<Form, FormFailure> {
    let root = entry(doc.trailer(), b"Root")
        .and_then(|r| resolve(doc, r))
        .and_then(as_dict);
    let Some(root) = root else {
        return Err(FormFailure::damaged());
    };
    let producer = get_dict(doc, doc.trailer(), b"Info")
        .and_then(|info| entry(info, b"Producer"))
        .and_then(|p| text_of(doc, p));
    let Some(acro) = get_dict(doc, root, b"AcroForm") else {
        return Err(FormFailure::no_fields());
    };
    let has_xfa = has(acro, b"XFA");
    let top = get_array(doc, acro, b"Fields").unwrap_or(&[]);
    let (order, chains) = walk_tree(doc, top)?;
    let mut fields = Vec::new();
    for (n, chain) in order.iter().zip(&chains) {
        if !is_container(doc, n.dict) {
            fields.push(terminal_field(doc, n, chain)?);
        }
    }
    if fields.is_empty() && !top.is_empty() && !top.iter().any(|f| node(doc, f).is_some()) {
        // /Fields lists fields, but none of them could be read: the objects are damaged
        // (or beyond the parser's limits), which is not the same as "no form".
        return Err(FormFailure::damaged());
    }
    if fields.is_empty() {
        return Err(if has_xfa {
            FormFailure::xfa_only()
        } else {
            FormFailure::no_fields()
        });
    }
    Ok(Form {
        fields,
        has_xfa,
        encrypted: doc.was_encrypted(),
        producer,
    })
}

/// The named nodes of the field tree under `top`, each with its chain of parents, in
/// document order; a name seen twice (as pypdf keys it) keeps its last node.
///
/// Depth-first, pre-order, with an explicit stack: kids are pushed in reverse. Every push
/// counts against MAX_NODES, so one huge /Kids array cannot fill memory either.
#[allow(clippy::type_complexity)]
fn walk_tree<'a>(
    doc: &'a dyn Objects,
    top: &'a [Object],
) -> Result<(Vec<Node<'a>>, Vec<Vec<Node<'a>>>), FormFailure> {
    let too_many = || FormFailure::too_large(&format!("more than {MAX_NODES} form field entries"));
    let mut stack: Vec<(Node, usize)> = Vec::new();
    let mut pushed = 0usize;
    let mut push_all = |stack: &mut Vec<(Node<'a>, usize)>, items: &'a [Object], depth: usize| {
        for item in items.iter().rev() {
            if let Some(n) = node(doc, item) {
                pushed += 1;
                if pushed > MAX_NODES {
                    return Err(too_many());
                }
                stack.push((n, depth));
            }
        }
        Ok(())
    };
    push_all(&mut stack, top, 0)?;
    let mut order: Vec<Node> = Vec::new();
    let mut chains: Vec<Vec<Node>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut expanded: HashSet<NodeId> = HashSet::new();
    while let Some((n, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        if !has(n.dict, b"T") && !has(n.dict, b"TM") {
            continue;
        }
        let chain = chain(doc, n)?;
        let key = pypdf_key(doc, &chain);
        match by_key.get(&key) {
            Some(&i) => {
                order[i] = n;
                chains[i] = chain;
            }
            None => {
                by_key.insert(key, order.len());
                order.push(n);
                chains.push(chain);
            }
        }
        // A shared or cyclic /Kids entry is named again but never expanded twice.
        if !expanded.insert(n.id) {
            continue;
        }
        if let Some(kids) = get_array(doc, n.dict, b"Kids") {
            push_all(&mut stack, kids, depth + 1)?;
        }
    }
    Ok((order, chains))
}

/// One terminal field: its kind from the inherited `/FT` and `/Ff`, its value, and for
/// buttons their on-states and (when a tool set only the widgets' `/AS`) what they show.
fn terminal_field(doc: &dyn Objects, n: &Node, chain: &[Node]) -> Result<FormField, FormFailure> {
    let ft = match inherited(doc, chain, b"FT") {
        Some(Object::Name(ft)) => Some(ft.as_slice()),
        _ => None,
    };
    let ff = inherited(doc, chain, b"Ff").and_then(number).unwrap_or(0);
    let kind = kind_of(ft, ff);
    let button = matches!(kind, Some(FieldKind::Checkbox | FieldKind::Radio));
    let mut shown = None;
    let value = match kind {
        Some(FieldKind::Signature) => None,
        _ if button => match value_of(doc, n.dict)? {
            Some(v) => Some(v),
            None => {
                // No value of its own: some tools only set the widgets' /AS.
                shown = shown_state(doc, n.dict);
                Some(FieldValue::Text("Off".into()))
            }
        },
        _ => value_of(doc, n.dict)?,
    };
    Ok(FormField {
        name: full_name(doc, chain),
        kind,
        value,
        states: if button {
            on_states(doc, n.dict)
        } else {
            Vec::new()
        },
        shown,
        options: options(doc, inherited(doc, chain, b"Opt")),
    })
}
