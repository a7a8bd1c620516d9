//! Intake: which files are submissions (by content, not only by extension), their content
//! hash and submission id, and why anything else is skipped.
//!
//! Sniffing reads a bounded amount of each file: the first bytes, a zip's central directory,
//! or the 128-byte directory entries of an OLE2 compound file. It never parses a workbook:
//! that is the reader's job, behind its own limits (see [`crate::read`]).

pub mod email;
pub mod sender;

use crate::document::Format;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The OLE2 compound-file signature (`.xls`, `.doc`, `.ppt`, `.msg`).
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// How far into an OLE2 file sniffing looks for the directory entries.
const OLE_SCAN_LIMIT: u64 = 64 * 1024 * 1024;
/// A zip with more entries than this is not an office document worth opening.
const ZIP_MAX_ENTRIES: usize = 20_000;

/// Why a path is not a submission Rolecall reads: a typed reason (grouped by value, not by
/// its words), which says itself in plain words through `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The path does not exist.
    Missing,
    /// A folder that could not be listed (the system's words).
    FolderUnreadable(String),
    /// A file that could not be opened (the system's words).
    Unopenable(String),
    /// A file that could not be read (the system's words).
    Unreadable(String),
    /// An empty file.
    Empty,
    /// A web page saved with a workbook name.
    WebPage,
    /// A picture.
    Image,
    /// A rich-text document.
    RichText,
    /// An email message, by content or name.
    EmailMessage,
    /// An `.eml` file given to `process` (the watcher reads those).
    EmlFile,
    /// A CSV text file.
    Csv,
    /// Any other text file.
    Text,
    /// Content not recognised at all.
    Unknown,
    /// A zip archive that cannot be opened.
    DamagedZip,
    /// A zip with more entries than a workbook has.
    TooManyEntries,
    /// A Word document (zip or OLE2).
    Word,
    /// A PowerPoint presentation (zip or OLE2).
    PowerPoint,
    /// An OpenDocument text.
    OpenDocumentText,
    /// An OpenDocument presentation.
    OpenDocumentPresentation,
    /// An OpenDocument spreadsheet template.
    OpenDocumentTemplate,
    /// Another OpenDocument file.
    OpenDocumentOther,
    /// A zip that is none of the above.
    OtherZip,
    /// An Outlook `.msg` message.
    OutlookMessage,
    /// An OLE2 file with no workbook in it.
    OtherOle,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use SkipReason as R;
        let words = match self {
            R::Missing => "no such file or folder",
            R::FolderUnreadable(e) => return write!(f, "the folder could not be read ({e})"),
            R::Unopenable(e) => return write!(f, "it could not be opened ({e})"),
            R::Unreadable(e) => return write!(f, "it could not be read ({e})"),
            R::Empty => "an empty file",
            R::WebPage => {
                // Some systems export "Excel" files that are really web pages.
                "a web page (HTML) saved with a workbook name, not a real workbook: open it in \
                 Excel and save it as an Excel Workbook (.xlsx)"
            }
            R::Image => "an image, not a workbook or PDF form",
            R::RichText => "a rich-text (RTF) document, not a workbook or PDF form",
            R::EmailMessage => "an email message, not a workbook or PDF form",
            R::EmlFile => {
                "an email message: drop it into the inbox of `rolecall watch`, which reads \
                 its attachments and answers the sender"
            }
            R::Csv => {
                "a CSV text file: Rolecall reads the Accounts Worksheet (.xlsx, .xls, .xlsb, \
                 .ods) or the PDF form"
            }
            R::Text => "a text file, not a workbook or PDF form",
            R::Unknown => "not a workbook or PDF form (its content is not recognised)",
            R::DamagedZip => "a damaged zip archive, not a workbook that can be opened",
            R::TooManyEntries => "a zip archive with too many entries to be a workbook",
            R::Word => "a Word document, not a workbook or PDF form",
            R::PowerPoint => "a PowerPoint presentation, not a workbook or PDF form",
            R::OpenDocumentText => "an OpenDocument text, not a spreadsheet",
            R::OpenDocumentPresentation => "an OpenDocument presentation, not a spreadsheet",
            R::OpenDocumentTemplate => {
                "an OpenDocument spreadsheet template: save it as a spreadsheet (.ods) first"
            }
            R::OpenDocumentOther => "an OpenDocument file that is not a spreadsheet",
            R::OtherZip => "a zip archive that is not a workbook",
            R::OutlookMessage => {
                "an Outlook message (.msg), not a workbook or PDF form: save its attachment \
                 and send that"
            }
            R::OtherOle => "an old-style Office file that holds no Excel workbook",
        };
        f.write_str(words)
    }
}

impl serde::Serialize for SkipReason {
    /// As its words: the `--json` schema keeps a sentence.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What kind of submission a file is, judged by its content; why not, when it is not one
/// Rolecall reads.
pub fn sniff(path: &Path) -> Result<Format, SkipReason> {
    let mut file = File::open(path).map_err(|e| SkipReason::Unopenable(e.to_string()))?;
    let mut head = Vec::with_capacity(1024);
    (&mut file)
        .take(1024)
        .read_to_end(&mut head)
        .map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    if head.is_empty() {
        return Err(SkipReason::Empty);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return sniff_zip(file);
    }
    if head.starts_with(&OLE_MAGIC) {
        return sniff_ole(file);
    }
    if contains(&head, b"%PDF-") {
        return Ok(Format::Pdf);
    }
    Err(describe_other(&head, path))
}

/// Names what a file is that is neither a zip, an OLE2 file nor a PDF.
fn describe_other(head: &[u8], path: &Path) -> SkipReason {
    let lower: Vec<u8> = head.iter().take(512).map(u8::to_ascii_lowercase).collect();
    let trimmed = lower.trim_ascii_start();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if trimmed.starts_with(b"<!doctype html")
        || trimmed.starts_with(b"<html")
        || contains(trimmed, b"<table")
    {
        return SkipReason::WebPage;
    }
    if head.starts_with(b"\x89PNG")
        || head.starts_with(b"\xFF\xD8\xFF")
        || head.starts_with(b"GIF8")
    {
        return SkipReason::Image;
    }
    if head.starts_with(b"{\\rtf") {
        return SkipReason::RichText;
    }
    if ext == "eml" || (is_text(head) && looks_like_email(&lower)) {
        return SkipReason::EmailMessage;
    }
    match (is_text(head), ext == "csv") {
        (true, true) => SkipReason::Csv,
        (true, false) => SkipReason::Text,
        _ => SkipReason::Unknown,
    }
}

/// True when the bytes look like text: valid UTF-8 (allowing a cut character at the end)
/// and no NUL bytes.
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fn looks_like_email(lower: &[u8]) -> bool {
    [
        &b"received:"[..],
        b"return-path:",
        b"message-id:",
        b"mime-version:",
    ]
    .iter()
    .any(|h| lower.starts_with(h))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Zip-based formats: xlsx, xlsb and ods, told apart by their parts.
fn sniff_zip(file: File) -> Result<Format, SkipReason> {
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|_| SkipReason::DamagedZip)?;
    if zip.len() > ZIP_MAX_ENTRIES {
        return Err(SkipReason::TooManyEntries);
    }
    let has = |name: &str| zip.index_for_name(name).is_some();
    if has("xl/workbook.xml") {
        return Ok(Format::Xlsx);
    }
    if has("xl/workbook.bin") {
        return Ok(Format::Xlsb);
    }
    if has("word/document.xml") {
        return Err(SkipReason::Word);
    }
    if has("ppt/presentation.xml") {
        return Err(SkipReason::PowerPoint);
    }
    if let Some(i) = zip.index_for_name("mimetype") {
        let mut mime = String::new();
        if let Ok(entry) = zip.by_index(i) {
            let _ = entry.take(200).read_to_string(&mut mime);
        }
        let mime = mime.trim();
        return match mime {
            "application/vnd.oasis.opendocument.spreadsheet" => Ok(Format::Ods),
            "application/vnd.oasis.opendocument.text" => Err(SkipReason::OpenDocumentText),
            "application/vnd.oasis.opendocument.presentation" => {
                Err(SkipReason::OpenDocumentPresentation)
            }
            "application/vnd.oasis.opendocument.spreadsheet-template" => {
                Err(SkipReason::OpenDocumentTemplate)
            }
            _ => Err(SkipReason::OpenDocumentOther),
        };
    }
    Err(SkipReason::OtherZip)
}

/// OLE2 compound files: `.xls` has a `Workbook` (or old `Book`) stream; `.doc` has a
/// `WordDocument` stream.
///
/// Rather than following the sector chains, this scans the file's 128-byte-aligned blocks for
/// directory entries: an entry starts with its UTF-16LE name and has the name's byte length at
/// offset 64 and the object type (2 = stream) at offset 66. Cheap, bounded, and good enough to
/// tell a workbook from a Word document; the reader does the real parsing.
fn sniff_ole(mut file: File) -> Result<Format, SkipReason> {
    file.seek(SeekFrom::Start(0))
        .map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file.take(OLE_SCAN_LIMIT));
    let mut block = [0u8; 128];
    let mut word = false;
    let mut powerpoint = false;
    let mut outlook = false;
    while reader.read_exact(&mut block).is_ok() {
        let Some(name) = directory_entry_name(&block) else {
            continue;
        };
        match name.as_str() {
            "Workbook" | "Book" | "WORKBOOK" | "BOOK" => return Ok(Format::Xls),
            "WordDocument" => word = true,
            "PowerPoint Document" => powerpoint = true,
            n if n.starts_with("__substg1.0_") => outlook = true,
            _ => {}
        }
    }
    Err(if word {
        SkipReason::Word
    } else if powerpoint {
        SkipReason::PowerPoint
    } else if outlook {
        SkipReason::OutlookMessage
    } else {
        SkipReason::OtherOle
    })
}

/// The name of an OLE2 stream directory entry, if the block looks like one.
fn directory_entry_name(block: &[u8; 128]) -> Option<String> {
    let name_len = u16::from_le_bytes([block[64], block[65]]) as usize;
    let object_type = block[66];
    if object_type != 2 || !(4..=64).contains(&name_len) || !name_len.is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = block[..name_len - 2]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    // The name is NUL-terminated inside the declared length.
    if block[name_len - 2] != 0 || block[name_len - 1] != 0 {
        return None;
    }
    String::from_utf16(&units).ok()
}

/// Lower-case hex SHA-256 of a submission's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A submission's id: the day it was received and the start of its content hash,
/// `20250314-3fa9c2d41b`.
pub fn submission_id(date: jiff::civil::Date, sha256_hex: &str) -> String {
    let short: String = sha256_hex.chars().take(10).collect();
    format!(
        "{:04}{:02}{:02}-{short}",
        date.year(),
        date.month(),
        date.day()
    )
}

/// A path that is not a submission, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The file or folder.
    pub path: PathBuf,
    /// Why it was skipped (in plain words through `Display`).
    pub reason: SkipReason,
}

/// The submissions found among the paths given, and everything skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// Submission files with their format, in the order given (folders: sorted by path).
    pub submissions: Vec<(PathBuf, Format)>,
    /// Files that are not submissions, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Extensions people use for submissions: a file named like one is answered even when its
/// content is something else, so that the sender learns why.
pub const SUBMISSION_EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xls", "xlsb", "ods", "pdf"];

/// Sorts the given files and folders into submissions and skipped paths.
///
/// A folder contributes its files, recursively and sorted by path; hidden files and folders
/// (name starting with `.`) are passed over silently. Nothing is ever dropped without a
/// reason, except hidden entries inside a folder.
pub fn collect(paths: &[PathBuf]) -> Collected {
    let mut out = Collected::default();
    for path in paths {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut out.skipped);
            files.sort();
            for f in files {
                classify(&f, &mut out);
            }
        } else if path.exists() {
            classify(path, &mut out);
        } else {
            out.skipped.push(Skipped {
                path: path.clone(),
                reason: SkipReason::Missing,
            });
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(Skipped {
                path: dir.to_path_buf(),
                reason: SkipReason::FolderUnreadable(e.to_string()),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // `metadata` follows symlinks: a link to a file is read like the file.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, files, skipped),
            Ok(_) => files.push(path),
            Err(e) => skipped.push(Skipped {
                path,
                reason: SkipReason::Unreadable(e.to_string()),
            }),
        }
    }
}

fn classify(path: &Path, out: &mut Collected) {
    let is_eml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    if is_eml {
        out.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason: SkipReason::EmlFile,
        });
        return;
    }
    match sniff(path) {
        Ok(format) => out.submissions.push((path.to_path_buf(), format)),
        Err(reason) => out.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_id_is_date_and_short_hash() {
        let hash = sha256_hex(b"abc");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let date = jiff::civil::date(2025, 3, 4);
        assert_eq!(submission_id(date, &hash), "20250304-ba7816bf8f");
    }

    #[test]
    fn plain_files_are_named_in_plain_words() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], &str); 5] = [
            ("empty.xlsx", b"", "an empty file"),
            (
                "notes.xlsx",
                b"just some notes\n",
                "a text file, not a workbook or PDF form",
            ),
            ("form.bin", b"%PDF-1.7\n...", ""),
            (
                "page.xls",
                b"<html><table><tr><td>1</td></tr></table></html>",
                "a web page (HTML)",
            ),
            ("pic.xlsx", b"\x89PNG\r\n\x1a\n\0\0", "an image"),
        ];
        for (name, bytes, want) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            match sniff(&p) {
                Ok(f) => assert_eq!((name, f), ("form.bin", Format::Pdf)),
                Err(reason) => assert!(reason.to_string().starts_with(want), "{name}: {reason}"),
            }
        }
    }

    /// Writes a zip with the given (name, content) entries.
    fn zip_with(path: &Path, entries: &[(&str, &str)]) {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, content) in entries {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(content.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn zips_are_told_apart_by_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        type Entries<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Entries, Result<Format, &str>); 5] = [
            (&[("xl/workbook.xml", "<workbook/>")], Ok(Format::Xlsx)),
            (&[("xl/workbook.bin", "")], Ok(Format::Xlsb)),
            (
                &[("mimetype", "application/vnd.oasis.opendocument.spreadsheet")],
                Ok(Format::Ods),
            ),
            (
                &[("mimetype", "application/vnd.oasis.opendocument.text")],
                Err("an OpenDocument text, not a spreadsheet"),
            ),
            (
                &[("notes.txt", "hi")],
                Err("a zip archive that is not a workbook"),
            ),
        ];
        for (i, (entries, want)) in cases.into_iter().enumerate() {
            // Extensions lie: every file is called .xlsx.
            let p = dir.path().join(format!("{i}.xlsx"));
            zip_with(&p, entries);
            let got = sniff(&p).map_err(|r| r.to_string());
            assert_eq!(got, want.map_err(String::from), "{entries:?}");
        }
        let p = dir.path().join("letter.xlsx");
        zip_with(&p, &[("word/document.xml", "<w:document/>")]);
        assert_eq!(sniff(&p), Err(SkipReason::Word));
        assert!(
            sniff(&p)
                .unwrap_err()
                .to_string()
                .starts_with("a Word document")
        );
    }

    #[test]
    fn ole_directory_entries_are_recognised() {
        let mut block = [0u8; 128];
        for (i, u) in "Workbook".encode_utf16().enumerate() {
            block[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
        }
        block[64] = 18;
        block[66] = 2;
        assert_eq!(directory_entry_name(&block).as_deref(), Some("Workbook"));
        block[66] = 1;
        assert_eq!(directory_entry_name(&block), None);
    }
}
