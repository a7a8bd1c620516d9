//! The lazy reader: the field walk over objects parsed on first use, for the files whose
//! structure it fully understands, so that lopdf's load of every object (content streams,
//! fonts, appearance streams: most of a form's cost) is skipped.
//!
//! It gives exactly the [`Form`] that lopdf's path gives, or **declines** (`None`), and the
//! caller loads the file with lopdf. It understands: classic cross-reference tables, with
//! incremental updates (`/Prev`: later sections win), every object numbered as its table
//! entry says with generation 0, no encryption, no object or cross-reference streams. Its
//! object parser is lopdf 0.47's grammar (`parser/mod.rs`), rule for rule; on anything else
//! it declines: a stream or a bare reference where the walk needs an object, an object it
//! cannot parse, a name or string nested deeper than [`MAX_NEST`]. `docs/pdf-reader.md`
//! says why each condition makes its answer lopdf's, and the differential test
//! (`tests/integration/pdf_lazy.rs`) runs both on every PDF we have.

use super::Form;
use super::walk::{self, Objects};
use lopdf::{Dictionary, Object, ObjectId, StringFormat};
use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::{BTreeMap, HashSet};

/// The deepest nesting of arrays, dictionaries and strings parsed (lopdf allows 100).
pub const MAX_NEST: usize = 32;

/// The most cross-reference sections followed through `/Prev`.
const MAX_SECTIONS: usize = 1_000;

/// Reads the form of `bytes` (which start with `%PDF-` within their first kilobyte), or
/// `None` when the file is not one this reader fully understands.
pub(super) fn read(bytes: &[u8]) -> Option<Form> {
    let start = bytes.windows(5).position(|w| w == b"%PDF-")?;
    let buf = &bytes[start..];
    if !has_header(buf) || may_hold_object_stream(buf) {
        return None;
    }
    let (entries, trailer) = xref_chain(buf)?;
    let doc = Lazy::new(buf, entries, trailer)?;
    if !doc.page_tree_loaded() {
        return None;
    }
    let form = walk::read_fields(&doc).ok()?;
    (!doc.declined.get()).then_some(form)
}

/// lopdf's `header`: `%PDF-` and a line end after it.
fn has_header(buf: &[u8]) -> bool {
    buf.iter().any(|&c| c == b'\r' || c == b'\n')
}

/// True when some name could be `/ObjStm`: an object stream makes lopdf decode it while
/// loading (and fail the load on a decompression bomb), which this reader never does.
fn may_hold_object_stream(buf: &[u8]) -> bool {
    if memchr::memmem::find(buf, b"ObjStm").is_some() {
        return true;
    }
    // `/Obj#53tm` is the same name.
    memchr::memchr_iter(b'#', buf).any(|i| {
        let byte = buf.get(i + 1..i + 3).and_then(|h| {
            let hi = char::from(h[0]).to_digit(16)?;
            let lo = char::from(h[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        });
        byte.is_some_and(|b| b"ObjStm".contains(&b))
    })
}

/// A cross-reference entry: where an object is, or that its number is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Normal(u32),
    Free,
}

/// The merged cross-reference table (newest section first, older entries only where the
/// newer ones say nothing) and the newest trailer, as lopdf's `resolve_xref_and_trailer`
/// builds them; `None` when any section is not a classic table lopdf reads as written.
fn xref_chain(buf: &[u8]) -> Option<(BTreeMap<u32, Entry>, Dictionary)> {
    let first = xref_start(buf)?;
    let mut merged: BTreeMap<u32, Entry> = BTreeMap::new();
    let mut newest: Option<Dictionary> = None;
    let mut seen: HashSet<usize> = HashSet::new();
    let mut next = Some(first);
    while let Some(offset) = next {
        if !seen.insert(offset) {
            break;
        }
        if seen.len() > MAX_SECTIONS {
            return None;
        }
        let (section, mut trailer) = xref_section(buf, offset)?;
        if trailer.has(b"XRefStm") || trailer.has(b"Encrypt") {
            return None;
        }
        next = match trailer.remove(b"Prev") {
            Some(Object::Integer(p)) => Some(usize::try_from(p).ok().filter(|&p| p <= buf.len())?),
            // lopdf ends the chain at a `/Prev` that is not an integer.
            _ => None,
        };
        for (id, entry) in section {
            merged.entry(id).or_insert(entry);
        }
        newest.get_or_insert(trailer);
    }
    if merged.keys().next_back() == Some(&u32::MAX) {
        return None;
    }
    Some((merged, newest?))
}

/// lopdf's `get_xref_start`: the `startxref` before the last `%%EOF` of the file's last
/// kilobyte (trailing white space and NULs ignored).
fn xref_start(buf: &[u8]) -> Option<usize> {
    let end = buf
        .iter()
        .rposition(|c| !b" \t\n\r\0\x0C".contains(c))
        .map_or(0, |p| p + 1);
    let eof = rfind(&buf[..end], b"%%EOF", end - end.min(1024)).filter(|&p| p > 25)?;
    let at = rfind(&buf[..eof], b"startxref", eof - 25)?;
    let mut c = Cursor::at(buf, at + b"startxref".len());
    c.eat(b" ");
    if !c.eol() {
        return None;
    }
    while c.eat(b" ") {}
    let value = c.integer()?;
    while c.eat(b" ") {}
    if !(c.eol() && c.eat(b"%%EOF")) {
        return None;
    }
    usize::try_from(value).ok().filter(|&v| v <= buf.len())
}

fn rfind(buf: &[u8], pattern: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(pattern.len())
        .rposition(|w| w == pattern)
        .map(|p| from + p)
}

/// One classic section at `offset` (`xref` exactly there, so lopdf corrects nothing), and
/// its trailer, which must have an integer `/Size` as lopdf requires.
fn xref_section(buf: &[u8], offset: usize) -> Option<(BTreeMap<u32, Entry>, Dictionary)> {
    let mut c = Cursor::at(buf, offset);
    if !c.eat(b"xref") {
        return None;
    }
    c.eat(b" ");
    if !c.eol() {
        return None;
    }
    let mut section = BTreeMap::new();
    let mut subsections = 0;
    while let Some((first, count_end)) = c.subsection_header() {
        c.pos = count_end;
        subsections += 1;
        let mut index = 0usize;
        while let Some((offset, generation, normal)) = c.xref_entry() {
            let id = u32::try_from(first.checked_add(index)?).ok()?;
            index += 1;
            let entry = match (normal, generation) {
                (false, _) => Entry::Free,
                (true, 0) => Entry::Normal(offset),
                // Generations above 0 (lopdf keys objects by them) are left to lopdf.
                (true, _) => return None,
            };
            section.insert(id, entry);
        }
    }
    if subsections == 0 {
        return None;
    }
    c.space();
    if !c.eat(b"trailer") {
        return None;
    }
    c.space();
    let trailer = c.dictionary(MAX_NEST, Keep::Read)?;
    matches!(trailer.get(b"Size"), Ok(Object::Integer(_))).then_some((section, trailer))
}

/// The objects, parsed when the walk first asks for them.
struct Lazy<'b> {
    buf: &'b [u8],
    trailer: Dictionary,
    /// Object numbers in order, with where each object's header ends (`None`: its header
    /// did not parse, or the number is free).
    ids: Vec<u32>,
    bodies: Vec<Option<usize>>,
    /// Each object with only the [`kept`] entries of its dictionaries, and whole.
    cells: Vec<OnceCell<Option<Object>>>,
    whole: Vec<OnceCell<Option<Object>>>,
    /// Set when the walk asked for something this reader cannot answer as lopdf would.
    declined: Cell<bool>,
}

impl<'b> Lazy<'b> {
    /// Checks every in-use entry's header: lopdf keys each object by the number its header
    /// gives, so a header that names another object would change which object is which.
    fn new(buf: &'b [u8], entries: BTreeMap<u32, Entry>, trailer: Dictionary) -> Option<Self> {
        let mut ids = Vec::with_capacity(entries.len());
        let mut bodies = Vec::with_capacity(entries.len());
        for (id, entry) in entries {
            let body = match entry {
                Entry::Free => None,
                Entry::Normal(offset) => match object_header(buf, offset as usize) {
                    Some((number, 0, body)) if number == id => Some(body),
                    Some(_) => return None,
                    None => Some(usize::MAX),
                },
            };
            ids.push(id);
            bodies.push(body);
        }
        let cells = (0..ids.len()).map(|_| OnceCell::new()).collect();
        let whole = (0..ids.len()).map(|_| OnceCell::new()).collect();
        Some(Lazy {
            buf,
            trailer,
            ids,
            bodies,
            cells,
            whole,
            declined: Cell::new(false),
        })
    }

    fn decline(&self) -> Option<Object> {
        self.declined.set(true);
        None
    }

    /// The object at entry `i`, as lopdf's load keeps it: a free number has none; an
    /// object this reader cannot parse as lopdf does (or a stream, or a bare reference,
    /// which lopdf's `get_object` would follow) declines.
    fn parse(&self, i: usize, keep: Keep) -> Option<Object> {
        let body = self.bodies[i]?;
        if body == usize::MAX {
            return self.decline();
        }
        let mut c = Cursor::at(self.buf, body);
        let object = if c.rest().starts_with(b"<<") {
            let dict = c.dictionary(MAX_NEST, keep);
            c.space();
            match dict {
                Some(_) if c.rest().starts_with(b"stream") => None,
                other => other.map(Object::Dictionary),
            }
        } else {
            c.object(MAX_NEST, keep)
        };
        match object {
            Some(Object::Reference(_)) | None => self.decline(),
            some => some,
        }
    }

    /// lopdf's `page_tree_loaded`: without a page tree, lopdf loads the file again with
    /// its cross-reference table rebuilt, and may keep that.
    fn page_tree_loaded(&self) -> bool {
        let pages = self
            .referenced_dict(self.trailer.get(b"Root").ok())
            .and_then(|c| self.referenced_dict(c.get(b"Pages").ok()));
        let kids = pages.and_then(|p| match p.get(b"Kids").ok()? {
            Object::Reference(id) => self.object(*id),
            other => Some(other),
        });
        matches!(kids, Some(Object::Array(_)))
    }
}

impl Lazy<'_> {
    /// The dictionary a reference points to (lopdf's `as_reference` and `get_dictionary`).
    fn referenced_dict(&self, o: Option<&Object>) -> Option<&Dictionary> {
        match o? {
            Object::Reference(id) => match self.object(*id)? {
                Object::Dictionary(d) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Lazy<'_> {
    /// Object `id` from `cache` (`cells` or `whole`), parsed with `keep` on first use.
    fn cached<'c>(
        &self,
        cache: &'c [OnceCell<Option<Object>>],
        id: ObjectId,
        keep: Keep,
    ) -> Option<&'c Object> {
        // Every object lopdf loads here has generation 0 (`Lazy::new`), and there is no
        // object stream to bring in numbers the table does not list.
        if id.1 != 0 {
            return None;
        }
        let i = self.ids.binary_search(&id.0).ok()?;
        cache[i].get_or_init(|| self.parse(i, keep)).as_ref()
    }
}

impl Objects for Lazy<'_> {
    fn object(&self, id: ObjectId) -> Option<&Object> {
        self.cached(&self.cells, id, Keep::Read)
    }

    fn object_whole(&self, id: ObjectId) -> Option<&Object> {
        self.cached(&self.whole, id, Keep::All)
    }

    fn trailer(&self) -> &Dictionary {
        &self.trailer
    }

    fn was_encrypted(&self) -> bool {
        false
    }
}

/// lopdf's indirect-object header (`space N space G space obj space`): the number, the
/// generation and where the object itself starts.
fn object_header(buf: &[u8], offset: usize) -> Option<(u32, u16, usize)> {
    let mut c = Cursor::at(buf, offset);
    c.space();
    let number = c.unsigned::<u32>()?;
    c.space();
    let generation = c.unsigned::<u16>()?;
    c.space();
    if !c.eat(b"obj") {
        return None;
    }
    c.space();
    Some((number, generation, c.pos))
}

/// Byte classes of lopdf's grammar, one table look-up per byte.
const WHITE: u8 = 1;
const DELIMITER: u8 = 2;
/// Ends a run of plain bytes in a literal string: `( ) \ CR LF`.
const STRING_SPECIAL: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let white = b" \t\n\r\0\x0C";
    let mut i = 0;
    while i < white.len() {
        t[white[i] as usize] |= WHITE;
        i += 1;
    }
    let delimiters = b"()<>[]{}/%";
    let mut i = 0;
    while i < delimiters.len() {
        t[delimiters[i] as usize] |= DELIMITER;
        i += 1;
    }
    let special = b"()\\\r\n";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] |= STRING_SPECIAL;
        i += 1;
    }
    t
};

fn is_white(c: u8) -> bool {
    CLASSES[usize::from(c)] & WHITE != 0
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Which parts of an object are built as lopdf objects: all of it, only the dictionary
/// entries the walk reads ([`kept`]), or nothing (the bytes are checked against lopdf's
/// grammar and the object becomes `Null`, with no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    All,
    Read,
    Nothing,
}

/// The dictionary keys the walk (`walk.rs`) and the checks here read. Other entries are
/// checked and dropped: the walk never sees them, so a form cannot depend on them. A key
/// the walk starts reading must be added here (the differential test fails until it is).
/// Under `/AP` everything is kept: the walk lists the names of `/AP /N`.
fn kept(key: &[u8]) -> bool {
    matches!(
        key,
        b"T" | b"TM"
            | b"FT"
            | b"Ff"
            | b"V"
            | b"Opt"
            | b"Kids"
            | b"Parent"
            | b"AP"
            | b"AS"
            | b"Fields"
            | b"XFA"
            | b"AcroForm"
            | b"Root"
            | b"Info"
            | b"Producer"
            | b"Pages"
            | b"Size"
            | b"Prev"
            | b"XRefStm"
            | b"Encrypt"
    )
}

/// A position in the file, with lopdf's grammar as methods; each returns `None` where
/// lopdf's parser fails or this reader is not sure it would succeed the same way.
struct Cursor<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn at(buf: &'b [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    fn rest(&self) -> &'b [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn eat(&mut self, tag: &[u8]) -> bool {
        let found = self.rest().starts_with(tag);
        if found {
            self.pos += tag.len();
        }
        found
    }

    fn eol(&mut self) -> bool {
        self.eat(b"\r\n") || self.eat(b"\n") || self.eat(b"\r")
    }

    /// White space and comments (a comment needs its line end).
    fn space(&mut self) {
        while let Some(&c) = self.buf.get(self.pos) {
            if is_white(c) {
                self.pos += 1;
            } else if c == b'%' {
                match self.rest().iter().position(|&c| c == b'\r' || c == b'\n') {
                    Some(n) => {
                        self.pos += n;
                        self.eol();
                    }
                    None => return,
                }
            } else {
                return;
            }
        }
    }

    fn digits(&mut self) -> Option<u64> {
        let n = self
            .rest()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n == 0 {
            return None;
        }
        let value = self.rest()[..n].iter().try_fold(0u64, |v, &d| {
            v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        self.pos += n;
        value
    }

    fn unsigned<T: TryFrom<u64>>(&mut self) -> Option<T> {
        self.digits().and_then(|v| T::try_from(v).ok())
    }

    fn integer(&mut self) -> Option<i64> {
        let negative = match self.peek() {
            Some(b'-') => true,
            Some(b'+') => false,
            _ => return self.digits().and_then(|v| i64::try_from(v).ok()),
        };
        self.pos += 1;
        let magnitude = self.digits()?;
        if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    /// A subsection header of a cross-reference table (`first count`, then the line end),
    /// without moving: the first object number and where the entries start.
    fn subsection_header(&self) -> Option<(usize, usize)> {
        let mut c = Cursor::at(self.buf, self.pos);
        let first = c.unsigned::<usize>()?;
        if !c.eat(b" ") {
            return None;
        }
        c.unsigned::<u32>()?;
        c.eat(b" ");
        c.eol().then_some((first, c.pos))
    }

    /// One entry (`offset generation n|f` and its lenient line end); moves past it only
    /// when it parses.
    fn xref_entry(&mut self) -> Option<(u32, u32, bool)> {
        let mut c = Cursor::at(self.buf, self.pos);
        let offset = c.unsigned::<u32>()?;
        if !c.eat(b" ") {
            return None;
        }
        let generation = c.unsigned::<u32>()?;
        if !c.eat(b" ") {
            return None;
        }
        let normal = match c.peek()? {
            b'n' => true,
            b'f' => false,
            _ => return None,
        };
        c.pos += 1;
        if !(c.eat(b" \r") || c.eat(b" \n") || c.eol()) {
            return None;
        }
        self.pos = c.pos;
        Some((offset, generation, normal))
    }

    /// lopdf's `_direct_objects`: one object, not followed by white space.
    fn object(&mut self, depth: usize, keep: Keep) -> Option<Object> {
        if depth == 0 {
            return None;
        }
        let built = |o: Object| {
            if keep == Keep::Nothing {
                Object::Null
            } else {
                o
            }
        };
        match self.peek()? {
            b'n' => self.eat(b"null").then_some(Object::Null),
            b't' => self.eat(b"true").then_some(Object::Boolean(true)),
            b'f' => self.eat(b"false").then_some(Object::Boolean(false)),
            b'0'..=b'9' => self.reference().or_else(|| self.number(keep)),
            b'+' | b'-' | b'.' => self.number(keep),
            b'/' => {
                let name = self.name()?;
                Some(built(Object::Name(if keep == Keep::Nothing {
                    Vec::new()
                } else {
                    name.into_owned()
                })))
            }
            b'(' => self
                .literal(MAX_NEST, keep != Keep::Nothing)
                .map(|s| built(Object::String(s, StringFormat::Literal))),
            b'<' if self.rest().starts_with(b"<<") => match keep {
                Keep::Nothing => self.skip_dictionary(depth - 1).map(|()| Object::Null),
                _ => self.dictionary(depth - 1, keep).map(Object::Dictionary),
            },
            b'<' => self.hex_string(keep != Keep::Nothing).map(built),
            b'[' => self.array(depth - 1, keep).map(built),
            _ => None,
        }
    }

    /// An object and the white space after it (lopdf's `_direct_object`).
    fn spaced_object(&mut self, depth: usize, keep: Keep) -> Option<Object> {
        let object = self.object(depth, keep)?;
        self.space();
        Some(object)
    }

    /// `N G R`; does not move when it is not one.
    fn reference(&mut self) -> Option<Object> {
        let mut c = Cursor::at(self.buf, self.pos);
        let number = c.unsigned::<u32>()?;
        c.space();
        let generation = c.unsigned::<u16>()?;
        c.space();
        if !c.eat(b"R") {
            return None;
        }
        self.pos = c.pos;
        Some(Object::Reference((number, generation)))
    }

    /// lopdf's `real`, else its `integer`. A real's shape (`[+-]`, digits, `.`, digits, at
    /// least one digit) always parses as an `f32`, so it is only converted when kept.
    fn number(&mut self, keep: Keep) -> Option<Object> {
        let start = self.pos;
        let mut c = Cursor::at(self.buf, self.pos);
        if matches!(c.peek(), Some(b'+' | b'-')) {
            c.pos += 1;
        }
        let whole = c.rest().iter().take_while(|d| d.is_ascii_digit()).count();
        c.pos += whole;
        if c.eat(b".") {
            let fraction = c.rest().iter().take_while(|d| d.is_ascii_digit()).count();
            if whole > 0 || fraction > 0 {
                c.pos += fraction;
                // `0.00-4142502`: lopdf drops the inner minus sign; left to lopdf.
                if c.peek() == Some(b'-') {
                    return None;
                }
                let value: f32 = match keep {
                    Keep::Nothing => 0.0,
                    _ => std::str::from_utf8(&self.buf[start..c.pos])
                        .ok()?
                        .parse()
                        .ok()?,
                };
                self.pos = c.pos;
                return Some(Object::Real(value));
            }
        }
        self.integer().map(Object::Integer)
    }

    /// A name's bytes, `#xx` escapes decoded; borrowed from the file when it has none.
    fn name(&mut self) -> Option<Cow<'b, [u8]>> {
        if !self.eat(b"/") {
            return None;
        }
        let mut bytes: Cow<'b, [u8]> = Cow::Borrowed(&[]);
        loop {
            let rest = self.rest();
            let run = rest
                .iter()
                .position(|&c| c == b'#' || CLASSES[usize::from(c)] & (WHITE | DELIMITER) != 0)
                .unwrap_or(rest.len());
            if bytes.is_empty() {
                bytes = Cow::Borrowed(&rest[..run]);
            } else {
                bytes.to_mut().extend_from_slice(&rest[..run]);
            }
            self.pos += run;
            let rest = self.rest();
            let escape = (
                rest.get(1).and_then(|&h| hex(h)),
                rest.get(2).and_then(|&l| hex(l)),
            );
            match (rest.first(), escape) {
                (Some(&b'#'), (Some(hi), Some(lo))) => {
                    bytes.to_mut().push((hi << 4) | lo);
                    self.pos += 3;
                }
                _ => return Some(bytes),
            }
        }
    }

    /// A literal string, its escapes and line ends as lopdf reads them (the bytes are
    /// collected only when `keep`).
    fn literal(&mut self, depth: usize, keep: bool) -> Option<Vec<u8>> {
        if depth == 0 || !self.eat(b"(") {
            return None;
        }
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b')' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.pos += 1;
                    if let Some(byte) = self.escape()?
                        && keep
                    {
                        out.push(byte);
                    }
                }
                b'\r' | b'\n' => {
                    self.eol();
                    if keep {
                        out.push(b'\n');
                    }
                }
                b'(' => {
                    let inner = self.literal(depth - 1, keep)?;
                    if keep {
                        out.push(b'(');
                        out.extend_from_slice(&inner);
                        out.push(b')');
                    }
                }
                _ => {
                    let rest = self.rest();
                    let run = rest
                        .iter()
                        .position(|&c| CLASSES[usize::from(c)] & STRING_SPECIAL != 0)
                        .unwrap_or(rest.len());
                    if keep {
                        out.extend_from_slice(&rest[..run]);
                    }
                    self.pos += run;
                }
            }
        }
    }

    /// After a backslash: an octal code (1 to 3 digits, overflow ignored), a line end
    /// (nothing), `n r t b f`, or the byte itself.
    fn escape(&mut self) -> Option<Option<u8>> {
        let octal = self
            .rest()
            .iter()
            .take(3)
            .take_while(|c| (b'0'..=b'7').contains(c))
            .count();
        if octal > 0 {
            let value = self.rest()[..octal]
                .iter()
                .fold(0u16, |v, &d| v * 8 + u16::from(d - b'0'));
            self.pos += octal;
            return Some(Some(value as u8));
        }
        if self.eol() {
            return Some(None);
        }
        let byte = self.peek()?;
        self.pos += 1;
        Some(Some(match byte {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'b' => b'\x08',
            b'f' => b'\x0C',
            other => other,
        }))
    }

    fn hex_string(&mut self, keep: bool) -> Option<Object> {
        if !self.eat(b"<") {
            return None;
        }
        let mut bytes: Vec<u8> = Vec::new();
        let mut half = false;
        loop {
            let blanks = self.rest().iter().take_while(|&&c| is_white(c)).count();
            self.pos += blanks;
            let Some(digit) = self.peek().and_then(hex) else {
                break;
            };
            self.pos += 1;
            if keep {
                if half {
                    if let Some(last) = bytes.last_mut() {
                        *last |= digit;
                    }
                } else {
                    bytes.push(digit << 4);
                }
            }
            half = !half;
        }
        self.eat(b">")
            .then_some(Object::String(bytes, StringFormat::Hexadecimal))
    }

    fn array(&mut self, depth: usize, keep: Keep) -> Option<Object> {
        if depth == 0 || !self.eat(b"[") {
            return None;
        }
        self.space();
        let mut items = Vec::new();
        while !self.eat(b"]") {
            let item = self.spaced_object(depth, keep)?;
            if keep != Keep::Nothing {
                items.push(item);
            }
        }
        Some(Object::Array(items))
    }

    /// `<< /Key value ... >>`; a key given twice keeps its first place and its last value,
    /// as lopdf's `Dictionary::set` does. With [`Keep::Read`], only the [`kept`] keys.
    fn dictionary(&mut self, depth: usize, keep: Keep) -> Option<Dictionary> {
        if depth == 0 || !self.eat(b"<<") {
            return None;
        }
        self.space();
        let mut dict = Dictionary::new();
        while !self.eat(b">>") {
            let key = self.name()?;
            self.space();
            let value_keep = match keep {
                Keep::Read if key.as_ref() == b"AP" => Keep::All,
                Keep::Read if !kept(&key) => Keep::Nothing,
                other => other,
            };
            let value = self.spaced_object(depth, value_keep)?;
            if value_keep != Keep::Nothing {
                dict.set(key.into_owned(), value);
            }
        }
        Some(dict)
    }

    /// A dictionary checked and dropped.
    fn skip_dictionary(&mut self, depth: usize) -> Option<()> {
        if depth == 0 || !self.eat(b"<<") {
            return None;
        }
        self.space();
        while !self.eat(b">>") {
            self.name()?;
            self.space();
            self.spaced_object(depth, Keep::Nothing)?;
        }
        Some(())
    }
}
