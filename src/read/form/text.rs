//! PDF text strings and names as Unicode (ISO 32000-2, 7.9.2.2 and 7.3.5).
//!
//! A text string is UTF-16 with a byte-order mark, UTF-8 with a byte-order mark (PDF 2.0),
//! or PDFDocEncoding. Readers disagree at the edges; we follow pypdf, the corpus oracle,
//! so that `rolecall inspect` and the oracle agree byte for byte:
//! - UTF-16 without a mark is recognised when the string starts with a zero byte (big
//!   endian) or its second byte is zero (little endian), as pypdf does; some producers
//!   forget the mark.
//! - A string holding a byte that PDFDocEncoding leaves undefined (0x00, 0x16, 0x7F, 0x9F,
//!   0xAD) is not text: it is shown as Latin-1, byte for byte.

/// PDFDocEncoding bytes 0x18..=0x1F: the spacing diacritics (breve, caron, ...).
const LOW: [char; 8] = [
    '\u{02D8}', '\u{02C7}', '\u{02C6}', '\u{02D9}', '\u{02DD}', '\u{02DB}', '\u{02DA}', '\u{02DC}',
];

/// PDFDocEncoding bytes 0x80..=0xA0 (0x9F is undefined; 0xA0 is the euro sign).
const HIGH: [Option<char>; 33] = [
    Some('\u{2022}'), // 0x80 bullet
    Some('\u{2020}'), // dagger
    Some('\u{2021}'), // double dagger
    Some('\u{2026}'), // ellipsis
    Some('\u{2014}'), // em dash
    Some('\u{2013}'), // en dash
    Some('\u{0192}'), // florin
    Some('\u{2044}'), // fraction slash
    Some('\u{2039}'), // 0x88 single left angle quote
    Some('\u{203A}'),
    Some('\u{2212}'), // minus
    Some('\u{2030}'), // per mille
    Some('\u{201E}'), // low double quote
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2018}'),
    Some('\u{2019}'), // 0x90
    Some('\u{201A}'),
    Some('\u{2122}'), // trade mark
    Some('\u{FB01}'), // fi
    Some('\u{FB02}'), // fl
    Some('\u{0141}'), // Ł
    Some('\u{0152}'), // Œ
    Some('\u{0160}'), // Š
    Some('\u{0178}'), // 0x98 Ÿ
    Some('\u{017D}'), // Ž
    Some('\u{0131}'), // dotless i
    Some('\u{0142}'), // ł
    Some('\u{0153}'), // œ
    Some('\u{0161}'), // š
    Some('\u{017E}'), // ž
    None,             // 0x9F undefined
    Some('\u{20AC}'), // 0xA0 euro
];

/// One PDFDocEncoding byte as a character; `None` where the encoding leaves it undefined.
pub fn pdfdoc_char(b: u8) -> Option<char> {
    match b {
        0x00 | 0x16 | 0x7F | 0xAD => None,
        0x18..=0x1F => Some(LOW[usize::from(b - 0x18)]),
        0x80..=0xA0 => HIGH[usize::from(b - 0x80)],
        _ => Some(char::from(b)),
    }
}

/// Decodes a PDF text string (the bytes of a string object, already decrypted).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF")
        && let Ok(s) = std::str::from_utf8(rest)
    {
        return s.to_owned();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes);
    }
    if bytes.first() == Some(&0) {
        return utf16(bytes, u16::from_be_bytes);
    }
    if bytes.get(1) == Some(&0) {
        return utf16(bytes, u16::from_le_bytes);
    }
    // Most field names and values are ASCII, which PDFDocEncoding leaves as it is (but for
    // the undefined 0x00, 0x16, 0x7F and the accents at 0x18..=0x1F): one copy, no table.
    if bytes
        .iter()
        .all(|&b| b.is_ascii() && !matches!(b, 0x00 | 0x16 | 0x18..=0x1F | 0x7F))
    {
        return bytes.iter().map(|&b| char::from(b)).collect();
    }
    match bytes
        .iter()
        .map(|&b| pdfdoc_char(b))
        .collect::<Option<String>>()
    {
        Some(s) => s,
        None => latin1(bytes),
    }
}

/// Decodes a name object's bytes (`#xx` escapes are already undone by the parser): UTF-8,
/// as PDF 2.0 recommends, else Latin-1.
pub fn decode_name(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => latin1(bytes),
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// UTF-16 code units to a string; an unpaired surrogate or a dangling odd byte becomes
/// U+FFFD, so one bad character never hides the rest of a value.
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let chunks = bytes.chunks_exact(2);
    let odd = !chunks.remainder().is_empty();
    let units = chunks.map(|c| unit([c[0], c[1]]));
    let mut s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if odd {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfdoc_breve_caron_and_euro() {
        assert_eq!(decode_text(b"a\x18b\x19c"), "a\u{02D8}b\u{02C7}c");
        assert_eq!(decode_text(b"\xA0 5"), "\u{20AC} 5");
        assert_eq!(decode_text(b"Caf\xE9"), "Café");
        assert_eq!(decode_text(b"\x93 \x8D"), "\u{FB01} \u{201C}");
    }

    #[test]
    fn undefined_byte_falls_back_to_latin1() {
        assert_eq!(decode_text(b"x\x7F\x80"), "x\u{7F}\u{80}");
    }

    #[test]
    fn utf16_with_and_without_mark() {
        assert_eq!(decode_text(b"\xFE\xFF\x00J\x00\xE9"), "Jé");
        assert_eq!(decode_text(b"\xFF\xFEJ\x00\xE9\x00"), "Jé");
        assert_eq!(decode_text(b"\x00J\x00\xE9"), "Jé");
        assert_eq!(decode_text(b"\xFE\xFF\xD8\x3D\xDE\x00"), "\u{1F600}");
        assert_eq!(decode_text(b"\xFE\xFF\xD8\x3D"), "\u{FFFD}");
        assert_eq!(decode_text(b"\xFE\xFF\x00"), "\u{FFFD}");
    }

    #[test]
    fn utf8_with_mark() {
        assert_eq!(decode_text("\u{FEFF}Núñez".as_bytes()), "Núñez");
    }

    #[test]
    fn names() {
        assert_eq!(decode_name(b"Yes"), "Yes");
        assert_eq!(decode_name("Off\u{e9}".as_bytes()), "Off\u{e9}");
        assert_eq!(decode_name(b"\xE9"), "é");
    }
}
