//! The blank Accounts Worksheet and the result workbook, read back the way a person's
//! spreadsheet program (and Rolecall's reader) would see them: cell by cell with calamine,
//! and, for what calamine does not read (notes, drop-downs, formulas), in the sheet XML.

use calamine::{Data, Reader, SheetVisible, Xlsx};
use regex::Regex;
use rolecall::catalog::{
    Catalog, Coordinator, EntryParameter, EntryScope, Institution, Library, ParameterKind, Policy,
    Profile, ProfileEntry, Role, ScopeKind, Unit,
};
use rolecall::changeset::{ChangeSet, Operation, RoleRef, SCHEMA, SubmissionInfo};
use rolecall::document::{Document, RequestRow, Value, ValueKind};
use rolecall::finding::{Finding, Rule};
use rolecall::layout::{Field, HEADER_ROW, MESSAGES_HEADER, RequesterField, STATUS_HEADER};
use rolecall::location::Location;
use rolecall::report::{result_bytes, write_result};
use rolecall::template::{worksheet_bytes, write_worksheet};
use rolecall::validate::{
    AccountType, Line, LineStatus, Outcome, Parameter, Request, Scope, SubmissionStatus,
};
use std::io::{Cursor, Read};

// ---------------------------------------------------------------- fixtures built by hand

fn role(code: u32, name: &str, area: &str, scope: ScopeKind) -> Role {
    Role {
        code,
        name: name.into(),
        aliases: vec![],
        area: area.into(),
        scope,
        parameter: None,
        named_user: code != 200,
        privileged: false,
        approvers: 1,
    }
}

fn unit(code: &str, name: &str) -> Unit {
    Unit {
        code: code.into(),
        name: name.into(),
    }
}

/// A small catalog: two institutions, a desk role, a privileged role, a profile.
fn catalog() -> Catalog {
    let mut desk = role(
        32,
        "Circulation Desk Operator",
        "Fulfillment",
        ScopeKind::Library,
    );
    desk.parameter = Some(ParameterKind::CirculationDesk);
    let mut receiving = role(37, "Receiving Operator", "Acquisitions", ScopeKind::Library);
    receiving.parameter = Some(ParameterKind::ServiceUnit);
    let mut admin = role(
        26,
        "General System Administrator",
        "Administration",
        ScopeKind::Institution,
    );
    admin.privileged = true;
    Catalog {
        dir: "samples/catalog".into(),
        bundled: true,
        version: "c0ffee12".into(),
        roles: vec![
            desk,
            receiving,
            admin,
            role(
                204,
                "Cataloger",
                "Resource Management",
                ScopeKind::Institution,
            ),
            role(54, "Purchasing Operator", "Acquisitions", ScopeKind::Either),
            role(200, "Patron", "Fulfillment", ScopeKind::Institution),
        ],
        profiles: vec![Profile {
            name: "Circulation Student Worker".into(),
            aliases: vec![],
            description: "Front desk student: check-in and check-out at one desk".into(),
            entries: vec![ProfileEntry {
                role: 32,
                scope: EntryScope::RequestLibrary,
                parameter: EntryParameter::FromRequest(ParameterKind::CirculationDesk),
                active: true,
            }],
        }],
        institutions: vec![
            Institution {
                code: "01FALSC_GCSU".into(),
                name: "Gulf Coast State University".into(),
                named_user_allotment: 40,
                primary_id: Default::default(),
                create: None,
                libraries: vec![
                    Library {
                        code: "MAIN".into(),
                        name: "Main Library".into(),
                        desks: vec![
                            unit("DEFAULT_CIRC_DESK", "Main circulation desk"),
                            unit("RESERVES", "Reserves desk"),
                        ],
                        service_units: vec![unit("MAIN_RECEIVING", "Receiving")],
                    },
                    Library {
                        code: "LAW".into(),
                        name: "Law Library".into(),
                        desks: vec![unit("LAW_DESK", "Law circulation")],
                        service_units: vec![],
                    },
                ],
            },
            Institution {
                code: "01FALSC_UNF".into(),
                name: "University of North Florida".into(),
                named_user_allotment: 60,
                primary_id: Default::default(),
                create: None,
                libraries: vec![Library {
                    code: "MAIN".into(),
                    name: "Carpenter Library".into(),
                    desks: vec![unit("DEFAULT_CIRC_DESK", "Circulation")],
                    service_units: vec![],
                }],
            },
        ],
        coordinators: vec![Coordinator {
            name: "Pat Coordinator".into(),
            email: "pat@gcsu.edu".into(),
            institutions: vec!["01FALSC_GCSU".into()],
        }],
        policy: Policy {
            help_desk_name: "FLVC Help Desk".into(),
            help_desk_email: "help@flvc.org".into(),
            generic_patterns: vec![Regex::new("(?i)circdesk").unwrap()],
            generic_any: None,
            allow_list: vec![],
            inactivity_days: 90,
            inactivity_grace_days: 30,
            separation_of_duties: vec![],
        },
    }
}

const SHEET: &str = "Accounts";

fn at(row: u32, field: Field) -> Location {
    Location::cell(SHEET, row, field.template_col())
}

fn value(row: u32, field: Field, text: &str, kind: ValueKind) -> (Field, Value) {
    (
        field,
        Value {
            text: text.into(),
            location: at(row, field),
            kind,
        },
    )
}

fn request_row(row: u32, values: &[(Field, &str, ValueKind)]) -> RequestRow {
    RequestRow {
        location: Location::Row {
            sheet: SHEET.into(),
            row,
        },
        values: values
            .iter()
            .map(|(f, t, k)| value(row, *f, t, *k))
            .collect(),
    }
}

fn document(rows: Vec<RequestRow>) -> Document {
    let requester = [
        (RequesterField::Name, "Pat Coordinator"),
        (RequesterField::Email, "pat@gcsu.edu"),
        (RequesterField::Institution, "01FALSC_GCSU"),
        (RequesterField::CatalogVersion, "0ld0ld00"),
    ]
    .into_iter()
    .map(|(f, t)| {
        (
            f,
            Value {
                text: t.into(),
                location: Location::cell(SHEET, f.template_row(), 2),
                kind: ValueKind::Text,
            },
        )
    })
    .collect();
    Document {
        format: Some(rolecall::document::Format::Xlsx),
        sheet: Some(SHEET.into()),
        requester,
        columns: Field::ALL.iter().map(|f| (*f, f.template_col())).collect(),
        header_row: Some(HEADER_ROW),
        extra_columns: vec![],
        rows,
        findings: vec![],
        unread_lines: 0,
    }
}

/// Three lines: one accepted (with a warning), one with a misspelt role, one whose desk
/// cell is empty; and a catalog-version warning on the requester block.
fn outcome() -> Outcome {
    use ValueKind::{Date, Number, Text};
    let jane = request_row(
        9,
        &[
            (Field::Action, "Add", Text),
            (Field::PrimaryId, "123", Number),
            (Field::LastName, "Doe", Text),
            (Field::FirstName, "Jane", Text),
            (Field::Email, "jane.doe@gcsu.edu", Text),
            (Field::AccountType, "Internal", Text),
            (Field::Role, "Circulation Desk Operator", Text),
            (Field::Library, "MAIN", Text),
            (Field::Unit, "DEFAULT_CIRC_DESK", Text),
            (Field::Expiry, "2026-06-30", Date),
        ],
    );
    let omar = request_row(
        10,
        &[
            (Field::Action, "Modify", Text),
            (Field::PrimaryId, "000456", Text),
            (Field::Role, "Catalogr; Purchasing Operator", Text),
        ],
    );
    // Row 11 was blank in the file: the reader skipped it.
    let lee = request_row(
        12,
        &[
            (Field::Action, "Add", Text),
            (Field::PrimaryId, "000789", Text),
            (Field::LastName, "Lee", Text),
            (Field::Role, "Circulation Desk Operator", Text),
            (Field::Library, "MAIN", Text),
        ],
    );
    let doc = document(vec![jane.clone(), omar.clone(), lee.clone()]);
    let jane_request = Request {
        action: rolecall::validate::Action::Add,
        person: rolecall::validate::Person {
            primary_id: "123".into(),
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            email: Some("jane.doe@gcsu.edu".into()),
            account_type: AccountType::Internal,
        },
        institution: "01FALSC_GCSU".into(),
        roles: vec![],
    };
    Outcome {
        findings: vec![
            Finding::warning(
                Rule::CatalogVersion,
                Location::cell(SHEET, 6, 2),
                "This worksheet was made from catalog 0ld0ld00; the current one is c0ffee12.",
            )
            .suggest("Check the drop-downs of this workbook: they are current."),
        ],
        lines: vec![
            Line {
                row: jane,
                status: LineStatus::Accepted,
                rejected_with: None,
                findings: vec![Finding::warning(
                    Rule::IdLeadingZeros,
                    at(9, Field::PrimaryId),
                    "Primary ID 123 was a number: leading zeros may have been lost.",
                )],
                request: Some(jane_request),
            },
            Line {
                row: omar,
                status: LineStatus::Rejected,
                rejected_with: None,
                findings: vec![
                    Finding::error(
                        Rule::UnknownRole,
                        at(10, Field::Role),
                        "\"Catalogr\" is not an Alma role.",
                    )
                    .suggest("Did you mean Cataloger?"),
                ],
                request: None,
            },
            Line {
                row: lee,
                status: LineStatus::Rejected,
                rejected_with: None,
                findings: vec![
                    Finding::error(
                        Rule::ParameterRequired,
                        at(12, Field::Unit),
                        "Circulation Desk Operator needs a circulation desk of library MAIN.",
                    )
                    .suggest("MAIN has DEFAULT_CIRC_DESK, RESERVES"),
                    Finding::error(
                        Rule::MissingField,
                        at(12, Field::Email),
                        "Add needs the person's email.",
                    ),
                ],
                request: None,
            },
        ],
        requester_name: Some("Pat Coordinator".into()),
        requester_email: Some("pat@gcsu.edu".into()),
        institution: Some("01FALSC_GCSU".into()),
        document: doc,
    }
}

fn changeset() -> ChangeSet {
    ChangeSet {
        schema: SCHEMA.into(),
        submission: SubmissionInfo {
            id: "20250301-ab12cd34ef".into(),
            source: "gcsu-march.xlsx".into(),
            sha256: "ab12cd34ef".repeat(6) + "abcd",
            processed_at: "2025-03-01T10:00:00Z".into(),
            requester_name: Some("Pat Coordinator".into()),
            requester_email: Some("pat@gcsu.edu".into()),
        },
        catalog_version: "c0ffee12".into(),
        state_version: None,
        state: None,
        operations: vec![
            Operation::CreateAccount {
                institution: "01FALSC_GCSU".into(),
                primary_id: "123".into(),
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                email: "jane.doe@gcsu.edu".into(),
                account_type: AccountType::Internal,
                needs_approval: false,
                lines: vec!["Accounts!9:9".into()],
            },
            Operation::AddRole {
                institution: "01FALSC_GCSU".into(),
                primary_id: "123".into(),
                role: RoleRef {
                    code: 32,
                    name: "Circulation Desk Operator".into(),
                },
                scope: Scope::Library("MAIN".into()),
                parameters: vec![Parameter {
                    kind: ParameterKind::CirculationDesk,
                    value: "DEFAULT_CIRC_DESK".into(),
                    scope: "MAIN".into(),
                }],
                expiry: Some("2026-06-30".into()),
                needs_approval: false,
                separation_of_duties: None,
                profile: None,
                lines: vec!["Accounts!9:9".into()],
            },
        ],
    }
}

// ---------------------------------------------------------------- reading back

struct Book {
    bytes: Vec<u8>,
}

impl Book {
    fn new(bytes: Vec<u8>) -> Self {
        Book { bytes }
    }

    fn xlsx(&self) -> Xlsx<Cursor<Vec<u8>>> {
        Xlsx::new(Cursor::new(self.bytes.clone())).expect("opens as xlsx")
    }

    fn sheet_names(&self) -> Vec<String> {
        self.xlsx().sheet_names()
    }

    /// The cell at a 1-based row and an Excel column letter, as calamine reads it.
    fn cell(&self, sheet: &str, reference: &str) -> Data {
        let (row, col) = parse_ref(reference);
        let range = self.xlsx().worksheet_range(sheet).expect("sheet exists");
        range
            .get_value((row - 1, col - 1))
            .cloned()
            .unwrap_or(Data::Empty)
    }

    fn text(&self, sheet: &str, reference: &str) -> String {
        match self.cell(sheet, reference) {
            Data::String(s) => s,
            Data::Empty => String::new(),
            other => panic!("{sheet}!{reference} is not text: {other:?}"),
        }
    }

    /// All non-empty rows of a sheet as text, from a 1-based row on.
    fn rows(&self, sheet: &str, from: u32) -> Vec<Vec<String>> {
        let range = self.xlsx().worksheet_range(sheet).expect("sheet exists");
        range
            .rows()
            .skip(from as usize - 1 - range.start().map_or(0, |s| s.0 as usize))
            .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect()
    }

    /// The text of every zip entry whose name matches `prefix`.
    fn parts(&self, prefix: &str) -> Vec<(String, String)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(self.bytes.clone())).unwrap();
        let mut out = Vec::new();
        for i in 0..zip.len() {
            let mut file = zip.by_index(i).unwrap();
            let name = file.name().unwrap().to_string();
            if name.starts_with(prefix) {
                let mut s = String::new();
                file.read_to_string(&mut s).unwrap();
                out.push((name, s));
            }
        }
        out
    }

    /// The XML of a sheet, found by its name through the workbook's relationships.
    fn sheet_xml(&self, name: &str) -> String {
        let index = self
            .sheet_names()
            .iter()
            .position(|n| n == name)
            .expect("sheet exists");
        // rust_xlsxwriter numbers sheetN.xml in tab order.
        let part = format!("xl/worksheets/sheet{}.xml", index + 1);
        self.parts(&part).pop().expect("sheet xml").1
    }

    /// The number format code of a cell (`@` for text).
    fn num_format(&self, sheet: &str, cell: &str) -> String {
        let xml = self.sheet_xml(sheet);
        let style: usize = Regex::new(&format!(r#"<c r="{cell}" s="(\d+)""#))
            .unwrap()
            .captures(&xml)
            .map_or(0, |c| c[1].parse().unwrap());
        let styles = self.parts("xl/styles.xml").pop().unwrap().1;
        let xfs = &styles[styles.find("<cellXfs").unwrap()..];
        let xf = xfs.split("<xf ").nth(style + 1).unwrap();
        let id = Regex::new(r#"numFmtId="(\d+)""#)
            .unwrap()
            .captures(xf)
            .unwrap()[1]
            .to_string();
        match id.as_str() {
            "0" => "General".into(),
            "49" => "@".into(),
            _ => Regex::new(&format!(r#"<numFmt numFmtId="{id}" formatCode="([^"]*)""#))
                .unwrap()
                .captures(&styles)
                .map(|c| unescape(&c[1]))
                .unwrap_or(id),
        }
    }

    /// What a person sees of a cell's format: the style index of the cell in the sheet XML
    /// (none: the default), resolved through `xl/styles.xml` to its number format, fill,
    /// border, wrapping and protection. `None` when the sheet has no such cell at all.
    fn look(&self, sheet: &str, cell: &str) -> Option<Look> {
        let xml = self.sheet_xml(sheet);
        let tag = Regex::new(&format!(r#"<c r="{cell}"( s="(\d+)")?[ />]"#))
            .unwrap()
            .captures(&xml)?;
        let style: usize = tag.get(2).map_or(0, |s| s.as_str().parse().unwrap());
        let styles = self.parts("xl/styles.xml").pop().unwrap().1;
        let section = |name: &str| -> Vec<String> {
            let start = styles.find(&format!("<{name}")).unwrap();
            let end = styles[start..].find(&format!("</{name}>")).unwrap() + start;
            let item = Regex::new(r"(?s)<(fill|border|xf)\b([^>]*/>|[^>]*>.*?</(fill|border|xf)>)")
                .unwrap();
            item.find_iter(&styles[start..end])
                .map(|m| m.as_str().to_string())
                .collect()
        };
        let xf = section("cellXfs")[style].clone();
        let attr = |name: &str| -> usize {
            Regex::new(&format!(r#"{name}="(\d+)""#))
                .unwrap()
                .captures(&xf)
                .map_or(0, |c| c[1].parse().unwrap())
        };
        let fill = &section("fills")[attr("fillId")];
        let border = &section("borders")[attr("borderId")];
        let rgb = Regex::new(r#"rgb="([0-9A-F]+)""#).unwrap();
        let left = Regex::new(r#"<left style="(\w+)"><color rgb="([0-9A-F]+)"/>"#).unwrap();
        Some(Look {
            num_format: match attr("numFmtId") {
                0 => "General".into(),
                49 => "@".into(),
                id => Regex::new(&format!(r#"<numFmt numFmtId="{id}" formatCode="([^"]*)""#))
                    .unwrap()
                    .captures(&styles)
                    .map(|c| unescape(&c[1]))
                    .unwrap(),
            },
            fill: fill
                .contains(r#"patternType="solid""#)
                .then(|| rgb.captures(fill).unwrap()[1].to_string()),
            border: left
                .captures(border)
                .map(|c| format!("{} {}", &c[1], &c[2])),
            wrap: xf.contains(r#"wrapText="1""#),
            // Cells are locked unless the format says otherwise.
            locked: !xf.contains(r#"<protection locked="0"/>"#),
        })
    }

    /// Every note's cell reference and text, from all comments parts.
    fn notes(&self) -> Vec<(String, String)> {
        let re = Regex::new(r#"(?s)<comment ref="([A-Z]+[0-9]+)"[^>]*>(.*?)</comment>"#).unwrap();
        let tags = Regex::new(r"<[^>]+>").unwrap();
        self.parts("xl/comments")
            .iter()
            .flat_map(|(_, xml)| {
                re.captures_iter(xml)
                    .map(|c| (c[1].to_string(), unescape(&tags.replace_all(&c[2], ""))))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A cell's format as a person sees it (`Book::look`).
#[derive(Debug, Clone, PartialEq)]
struct Look {
    /// Number format code: `@` (text), `yyyy-mm-dd`, `General`.
    num_format: String,
    /// Solid fill colour (ARGB), if the cell is filled.
    fill: Option<String>,
    /// Left border style and colour (`thin FFBFBFBF`): every side is drawn alike.
    border: Option<String>,
    /// Text wraps.
    wrap: bool,
    /// Locked when the sheet is protected.
    locked: bool,
}

impl Look {
    /// A cell of the form's grid (`Styles::text`): text, thin grey border, unlocked.
    fn grid() -> Look {
        Look {
            num_format: "@".into(),
            fill: None,
            border: Some("thin FFBFBFBF".into()),
            wrap: false,
            locked: false,
        }
    }

    fn date(self) -> Look {
        Look {
            num_format: "yyyy-mm-dd".into(),
            ..self
        }
    }

    fn filled(self, argb: &str) -> Look {
        Look {
            fill: Some(argb.into()),
            ..self
        }
    }

    fn locked(self) -> Look {
        Look {
            locked: true,
            ..self
        }
    }

    fn wrapped(self) -> Look {
        Look { wrap: true, ..self }
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn parse_ref(reference: &str) -> (u32, u32) {
    let letters: String = reference
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let row: u32 = reference[letters.len()..].parse().unwrap();
    let col = letters
        .bytes()
        .fold(0, |acc, b| acc * 26 + u32::from(b - b'A' + 1));
    (row, col)
}

fn letter(field: Field) -> String {
    rolecall::location::column_letters(field.template_col())
}

/// The column of a field in the result workbook: two to the right of the template's, after
/// Status (A) and Messages (B).
fn result_letter(field: Field) -> String {
    rolecall::location::column_letters(field.template_col() + 2)
}

// ---------------------------------------------------------------- the blank template

#[test]
fn template_has_the_header_on_row_8_with_every_heading() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    for field in Field::ALL {
        let cell = format!("{}{}", letter(field), HEADER_ROW);
        assert_eq!(book.text(SHEET, &cell), field.header(), "{cell}");
    }
    // Nothing after the last heading: the reader must not meet a stray column.
    let after = rolecall::location::column_letters(Field::ALL.len() as u32 + 1);
    assert_eq!(book.text(SHEET, &format!("{after}{HEADER_ROW}")), "");
}

#[test]
fn template_requester_block_has_labels_and_the_catalog_version() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    assert!(
        book.text(SHEET, "A1").contains("FLVC Help Desk"),
        "title names the help desk"
    );
    for field in RequesterField::ALL {
        assert_eq!(
            book.text(SHEET, &format!("A{}", field.template_row())),
            field.label()
        );
    }
    assert_eq!(book.text(SHEET, "B6"), "c0ffee12");
    assert_eq!(
        book.text(SHEET, "B2"),
        "",
        "the name is for the requester to fill"
    );
}

#[test]
fn template_sheets_are_the_form_and_its_references() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    assert_eq!(
        book.sheet_names(),
        [
            "Accounts",
            "Instructions",
            "Roles",
            "Libraries",
            "Profiles",
            "Lists"
        ]
    );
    let meta = book.xlsx().sheets_metadata().to_vec();
    let lists = meta.iter().find(|s| s.name == "Lists").unwrap();
    assert_eq!(lists.visible, SheetVisible::Hidden);
    assert!(
        meta.iter()
            .filter(|s| s.name != "Lists")
            .all(|s| s.visible == SheetVisible::Visible)
    );
}

#[test]
fn template_lists_hold_the_catalog_values_without_patron() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    let rows = book.rows("Lists", 1);
    let column = |heading: &str| -> Vec<String> {
        let col = rows[0].iter().position(|h| h == heading).expect(heading);
        rows[1..]
            .iter()
            .map(|r| r.get(col).cloned().unwrap_or_default())
            .filter(|v| !v.is_empty())
            .collect()
    };
    assert_eq!(column("Action"), ["Add", "Modify", "Delete", "Restore"]);
    assert_eq!(column("Institution"), ["01FALSC_GCSU", "01FALSC_UNF"]);
    let roles = column("Role");
    assert!(roles.contains(&"Circulation Desk Operator".to_string()));
    assert!(
        !roles.contains(&"Patron".to_string()),
        "Patron is never requested"
    );
    assert_eq!(roles.len(), 5);
    // MAIN is in both institutions: listed once.
    assert_eq!(column("Library"), ["MAIN", "LAW"]);
    assert_eq!(
        column("Circulation desk / service unit"),
        [
            "DEFAULT_CIRC_DESK",
            "RESERVES",
            "MAIN_RECEIVING",
            "LAW_DESK"
        ]
    );
    assert_eq!(column("Role profile"), ["Circulation Student Worker"]);
}

#[test]
fn template_drop_downs_point_at_the_lists_sheet() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    let xml = book.sheet_xml(SHEET);
    assert!(xml.contains("<dataValidation"), "has data validations");
    // Role drop-down: information style, so "Cataloger; Selector" can be typed.
    let role_col = letter(Field::Role);
    let role = Regex::new(&format!(
        r#"<dataValidation type="list" errorStyle="information"[^>]*sqref="{role_col}9:{role_col}208"[^>]*>\s*<formula1>Lists!\$E\$2:\$E\$6</formula1>"#
    ))
    .unwrap();
    assert!(role.is_match(&xml), "role drop-down in\n{xml}");
    // Institution drop-down in the requester block too.
    assert!(xml.contains(r#"sqref="B4""#));
    // Header hints.
    assert!(xml.contains("promptTitle=\"Primary ID\""));
    // Frozen under the header, filter on the header row.
    assert!(xml.contains(r#"topLeftCell="A9""#));
    assert!(xml.contains(r#"<autoFilter ref="A8:N208"/>"#));
}

#[test]
fn template_formats_ids_as_text_and_expiry_as_a_date() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    // Text ("@") keeps the leading zeros of 000123 when Excel reads what is typed.
    for field in [
        Field::PrimaryId,
        Field::Institution,
        Field::Library,
        Field::Unit,
    ] {
        let cell = format!("{}9", letter(field));
        assert_eq!(book.num_format(SHEET, &cell), "@", "{cell}");
    }
    assert_eq!(book.num_format(SHEET, "M9"), "yyyy-mm-dd");
    assert_eq!(
        book.num_format(SHEET, "B208"),
        "@",
        "the 200th empty row too"
    );
}

#[test]
fn template_reference_sheets_describe_the_catalog() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    let roles = book.rows("Roles", 1);
    assert_eq!(
        roles[0],
        [
            "Code",
            "Role",
            "Area",
            "Scope",
            "Needs",
            "Privileged",
            "Named user"
        ]
    );
    let admin = roles.iter().find(|r| r[0] == "26").unwrap();
    assert_eq!(admin[1], "General System Administrator");
    assert_eq!(admin[5], "yes");
    let desk = roles.iter().find(|r| r[0] == "32").unwrap();
    assert_eq!(desk[3], "library");
    assert_eq!(desk[4], "circulation desk");

    let libraries = book.rows("Libraries", 2);
    assert_eq!(libraries.len(), 3);
    assert_eq!(libraries[0][0], "01FALSC_GCSU");
    assert_eq!(libraries[0][2], "MAIN");
    assert!(libraries[0][4].contains("RESERVES — Reserves desk"));
    assert!(libraries[0][5].contains("MAIN_RECEIVING"));

    let profiles = book.rows("Profiles", 2);
    assert_eq!(profiles[0][0], "Circulation Student Worker");
    assert_eq!(profiles[0][3], "Circulation Desk Operator");
    assert_eq!(profiles[0][5], "the row's circulation desk");

    let instructions = book.rows("Instructions", 1).concat().join("\n");
    for needle in [
        "help@flvc.org",
        "c0ffee12",
        "Patron",
        "semicolon",
        "approves",
    ] {
        assert!(
            instructions.contains(needle),
            "instructions mention {needle}"
        );
    }
}

#[test]
fn template_file_carries_the_catalog_version_property() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worksheet.xlsx");
    write_worksheet(&catalog(), &path).unwrap();
    let book = Book::new(std::fs::read(&path).unwrap());
    let custom = book.parts("docProps/custom.xml").pop().unwrap().1;
    assert!(custom.contains("rolecall_catalog_version"));
    assert!(custom.contains("c0ffee12"));
    let core = book.parts("docProps/core.xml").pop().unwrap().1;
    assert!(core.contains("Alma staff accounts request"));
}

#[test]
fn writing_into_a_missing_folder_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_worksheet(&catalog(), &dir.path().join("no/such/dir.xlsx")).unwrap_err();
    assert!(err.to_string().contains("dir.xlsx"), "{err}");
}

// ---------------------------------------------------------------- the result workbook

fn result() -> Book {
    Book::new(result_bytes(&outcome(), &changeset(), &catalog()).unwrap())
}

#[test]
fn a_result_is_created_when_its_submission_was_processed() {
    // The change set says 2025-03-01T10:00:00Z: the workbook's properties say the same,
    // not the clock of the machine that wrote it.
    let core = result().parts("docProps/core.xml").pop().unwrap().1;
    for element in ["dcterms:created", "dcterms:modified"] {
        let expected =
            format!("<{element} xsi:type=\"dcterms:W3CDTF\">2025-03-01T10:00:00Z</{element}>");
        assert!(core.contains(&expected), "{element} in {core}");
    }
}

#[test]
fn result_sheets_start_with_the_summary() {
    assert_eq!(
        result().sheet_names(),
        ["Summary", "Accounts", "Problems", "Change set", "Lists"]
    );
}

/// The XML of one worksheet part, by its place in the workbook (1-based, as Excel names
/// the parts).
fn sheet_xml(book: &Book, n: usize) -> String {
    let name = format!("xl/worksheets/sheet{n}.xml");
    book.parts(&name)
        .into_iter()
        .find(|(p, _)| *p == name)
        .map(|(_, xml)| xml)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn result_status_and_messages_come_first_on_the_accounts_sheet() {
    let book = result();
    // What a person sees first: the verdict of each line, then why.
    assert_eq!(book.text(SHEET, "A8"), "Status");
    assert_eq!(book.text(SHEET, "B8"), "Messages");
    assert_eq!(book.text(SHEET, "C8"), "Action");
    assert_eq!(book.text(SHEET, "P8"), "Notes");
    assert_eq!(book.text(SHEET, "A10"), "Rejected");
    assert!(
        book.text(SHEET, "B10")
            .contains("\"Catalogr\" is not an Alma role.")
    );
    // The requester block stays where it was: labels in A, values in B.
    assert_eq!(book.text(SHEET, "A2"), "Requester name");
    assert_eq!(book.text(SHEET, "B2"), "Pat Coordinator");
}

#[test]
fn result_list_sheets_print_landscape_one_page_wide_with_the_heading_on_every_page() {
    let book = result();
    // Sheet order: Summary, Accounts, Problems, Change set.
    for (n, name) in [(2, "Accounts"), (3, "Problems"), (4, "Change set")] {
        let xml = sheet_xml(&book, n);
        assert!(
            xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#),
            "{name}: {xml}"
        );
        assert!(
            xml.contains(r#"orientation="landscape""#) && xml.contains(r#"fitToHeight="0""#),
            "{name} is not landscape, one page wide"
        );
        assert!(xml.contains(r#"<printOptions gridLines="1"/>"#), "{name}");
        assert!(
            xml.contains("<oddFooter>&amp;L&amp;A&amp;RPage &amp;P of &amp;N</oddFooter>"),
            "{name}"
        );
    }
    let workbook = book.parts("xl/workbook.xml").remove(0).1;
    // The heading rows: row 8 of Accounts, row 1 of Problems, row 3 of Change set.
    assert!(workbook.contains(r#"<definedName name="_xlnm.Print_Titles" localSheetId="1">Accounts!$8:$8</definedName>"#), "{workbook}");
    assert!(workbook.contains(r#"<definedName name="_xlnm.Print_Titles" localSheetId="2">Problems!$1:$1</definedName>"#), "{workbook}");
    assert!(workbook.contains(r#"<definedName name="_xlnm.Print_Titles" localSheetId="3">'Change set'!$3:$3</definedName>"#), "{workbook}");
    // The result prints its lines only (rows 9 to 12 received), Status to Notes.
    assert!(workbook.contains(r#"<definedName name="_xlnm.Print_Area" localSheetId="1">Accounts!$A$1:$P$12</definedName>"#), "{workbook}");
}

#[test]
fn result_summary_prints_on_one_portrait_page() {
    let xml = sheet_xml(&result(), 1);
    assert!(xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "{xml}");
    assert!(!xml.contains("landscape"), "{xml}");
    // fitToWidth and fitToHeight default to 1 in the file format, so rust_xlsxwriter
    // leaves both out for a 1 x 1 fit; a fit of 1 x 0 would say fitToHeight="0".
    assert!(!xml.contains("fitToHeight"), "{xml}");
}

#[test]
fn result_summary_gives_the_verdict_and_counts() {
    let book = result();
    assert_eq!(outcome().status(), SubmissionStatus::NeedsAttention);
    let rows = book.rows("Summary", 1);
    let get = |label: &str| -> String {
        rows.iter()
            .find(|r| r[0] == label)
            .unwrap_or_else(|| panic!("no {label} in {rows:?}"))[1]
            .clone()
    };
    assert_eq!(get("Verdict"), "Needs attention");
    assert!(get("What to do next").contains("send this workbook back"));
    assert_eq!(get("Submission"), "20250301-ab12cd34ef");
    assert_eq!(get("File received"), "gcsu-march.xlsx");
    assert_eq!(get("Requester email"), "pat@gcsu.edu");
    assert_eq!(
        get("Institution"),
        "01FALSC_GCSU — Gulf Coast State University"
    );
    assert_eq!(get("Catalog version"), "c0ffee12");
    assert_eq!(get("Lines accepted"), "1");
    assert_eq!(get("Lines rejected"), "2");
    assert_eq!(get("Errors"), "3");
    assert_eq!(get("Warnings"), "2");
}

#[test]
fn result_accounts_sheet_keeps_the_template_layout_and_the_values_received() {
    let book = result();
    for field in Field::ALL {
        let cell = format!("{}{}", result_letter(field), HEADER_ROW);
        assert_eq!(book.text(SHEET, &cell), field.header());
    }
    assert_eq!(book.text(SHEET, "A8"), STATUS_HEADER);
    assert_eq!(book.text(SHEET, "B8"), MESSAGES_HEADER);
    assert_eq!(book.text(SHEET, "B2"), "Pat Coordinator");
    assert_eq!(book.text(SHEET, "B4"), "01FALSC_GCSU");
    // The stamp of the catalog this workbook's drop-downs come from.
    assert_eq!(book.text(SHEET, "B6"), "c0ffee12");

    // Row 9 as received; the numeric ID comes back as text.
    assert_eq!(book.text(SHEET, "C9"), "Add");
    assert_eq!(book.cell(SHEET, "D9"), Data::String("123".into()));
    assert_eq!(book.text(SHEET, "G9"), "jane.doe@gcsu.edu");
    assert_eq!(book.text(SHEET, "N9"), "DEFAULT_CIRC_DESK");
    match book.cell(SHEET, "O9") {
        Data::DateTime(d) => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            assert_eq!((y, m, day), (2026, 6, 30));
        }
        other => panic!("expiry is not a date: {other:?}"),
    }
    assert_eq!(book.text(SHEET, "A9"), "Accepted");
    assert!(
        book.text(SHEET, "B9")
            .starts_with("warning: Primary ID 123")
    );

    // Leading zeros kept, several roles in one cell kept as typed.
    assert_eq!(book.text(SHEET, "D10"), "000456");
    assert_eq!(book.text(SHEET, "K10"), "Catalogr; Purchasing Operator");
    assert_eq!(book.text(SHEET, "A10"), "Rejected");
    assert_eq!(
        book.text(SHEET, "B10"),
        "error: \"Catalogr\" is not an Alma role. (Did you mean Cataloger?)"
    );

    // The file's blank row 11 stays blank: rows keep the numbers the Problems sheet names.
    assert_eq!(book.text(SHEET, "C11"), "");
    assert_eq!(book.text(SHEET, "D12"), "000789");
    let messages = book.text(SHEET, "B12");
    assert_eq!(messages.lines().count(), 2, "{messages}");
    assert!(messages.contains("error: Add needs the person's email."));
}

#[test]
fn result_notes_sit_on_the_cells_at_fault() {
    let notes = result().notes();
    let note = |cell: &str| -> String {
        notes
            .iter()
            .filter(|(r, _)| r == cell)
            .map(|(_, t)| t.clone())
            .collect::<Vec<_>>()
            .join("|")
    };
    assert!(
        note("K10").contains("\"Catalogr\" is not an Alma role."),
        "{notes:?}"
    );
    assert!(note("K10").contains("Suggestion: Did you mean Cataloger?"));
    // An empty cell that should have been filled gets the note too.
    assert!(note("N12").contains("needs a circulation desk"));
    assert!(note("G12").contains("needs the person's email"));
    assert!(
        note("D9").contains("Warning: Primary ID 123"),
        "a warning says so"
    );
    // The requester block's catalog version.
    assert!(note("B6").contains("0ld0ld00"));
    // No note on a cell that is fine.
    assert_eq!(note("C9"), "");
}

#[test]
fn result_fills_cells_at_fault() {
    let book = result();
    let styles = book.parts("xl/styles.xml").pop().unwrap().1;
    assert!(styles.contains("FFFFC7CE"), "light red fill for errors");
    assert!(
        styles.contains("FFFFEB9C"),
        "light yellow fill for warnings"
    );
    // I10 (error) and A10 (fine) use different formats.
    let xml = book.sheet_xml(SHEET);
    let style_of = |cell: &str| {
        Regex::new(&format!(r#"<c r="{cell}" s="(\d+)""#))
            .unwrap()
            .captures(&xml)
            .map(|c| c[1].to_string())
    };
    assert_ne!(style_of("K10"), style_of("C10"));
    assert_ne!(
        style_of("D9"),
        style_of("K10"),
        "warning and error look different"
    );
}

#[test]
fn result_cells_carry_the_formats_a_person_sees() {
    let book = result();
    let look = |cell: &str| {
        book.look(SHEET, cell)
            .unwrap_or_else(|| panic!("no {cell}"))
    };
    let grid = Look::grid;
    // Light red (error), light yellow (warning), light green (accepted): Excel's own.
    let (red, yellow, green) = ("FFFFC7CE", "FFFFEB9C", "FFC6EFCE");
    // Row 9 (accepted, a warning on the primary ID): plain text, a date, a marked cell.
    assert_eq!(look("C9"), grid(), "Action");
    assert_eq!(look("G9"), grid(), "Email");
    assert_eq!(look("O9"), grid().date(), "Expiry");
    assert_eq!(look("D9"), grid().filled(yellow), "the warned primary ID");
    assert_eq!(look("P9"), grid(), "an empty Notes cell of a line");
    assert_eq!(look("A9"), grid().filled(green).locked(), "Status");
    assert_eq!(look("B9"), grid().wrapped().locked(), "Messages");
    // Row 10 (rejected): the misspelt role in red, its neighbours plain.
    assert_eq!(look("K10"), grid().filled(red));
    assert_eq!(look("J10"), grid());
    assert_eq!(look("L10"), grid());
    assert_eq!(look("A10"), grid().filled(red).locked());
    // Row 12: empty cells that should have been filled are red; an empty date cell is a
    // date cell still.
    assert_eq!(look("N12"), grid().filled(red));
    assert_eq!(look("G12"), grid().filled(red));
    assert_eq!(look("O12"), grid().date());
    // Row 11 was blank in the file, and the rows below the lines are blank: the grid all
    // the same, for 20 rows below the last line (12), and no cell below.
    for row in [11, 13, 20, 32] {
        assert_eq!(look(&format!("A{row}")), grid().locked(), "A{row}");
        assert_eq!(
            look(&format!("B{row}")),
            grid().wrapped().locked(),
            "B{row}"
        );
        for col in ["C", "D", "K", "N", "P"] {
            assert_eq!(look(&format!("{col}{row}")), grid(), "{col}{row}");
        }
        assert_eq!(look(&format!("O{row}")), grid().date(), "O{row}");
    }
    assert_eq!(book.look(SHEET, "C33"), None);
    assert_eq!(book.look(SHEET, "Q9"), None, "nothing right of Notes");
    // Further down, a typed cell still keeps text as text and a date as a date (the
    // columns' own formats), and the drop-downs reach as far as a blank template's.
    let xml = book.sheet_xml(SHEET);
    let column_format = |col: u32| {
        // `<col min="4" max="6" width=".." style="N" ..>`: the style of the span holding col.
        let span = Regex::new(r#"<col min="(\d+)" max="(\d+)"[^>]* style="(\d+)""#).unwrap();
        let style: usize = span
            .captures_iter(&xml)
            .find(|c| (c[1].parse().unwrap()..=c[2].parse().unwrap()).contains(&col))
            .unwrap_or_else(|| panic!("column {col} has no format"))[3]
            .parse()
            .unwrap();
        let styles = book.parts("xl/styles.xml").pop().unwrap().1;
        let xfs = &styles[styles.find("<cellXfs").unwrap()..];
        let xf = xfs.split("<xf ").nth(style + 1).unwrap();
        let id = &Regex::new(r#"numFmtId="(\d+)""#)
            .unwrap()
            .captures(xf)
            .unwrap()[1];
        Regex::new(&format!(r#"<numFmt numFmtId="{id}" formatCode="([^"]*)""#))
            .unwrap()
            .captures(&styles)
            .unwrap()[1]
            .to_string()
    };
    assert_eq!(column_format(4), "@", "Primary ID (D)");
    assert_eq!(column_format(15), "yyyy-mm-dd", "Expiry (O)");
    assert!(
        Regex::new(r#"sqref="K9:K208""#).unwrap().is_match(&xml),
        "the role drop-down reaches row 208"
    );
    // The Problems sheet: the severity filled, the rule plain, the texts wrapped.
    let problem = |cell: &str| book.look("Problems", cell).unwrap();
    assert_eq!(
        problem("A2"),
        grid().filled(yellow),
        "the first finding is a warning"
    );
    assert_eq!(problem("A4"), grid().filled(red));
    assert_eq!(problem("B2"), grid());
    assert_eq!(problem("C2"), grid().wrapped());
    assert_eq!(problem("E4"), grid().wrapped());
    // The Change set sheet: every cell of an operation's row wrapped, empty ones too.
    let change = |cell: &str| book.look("Change set", cell).unwrap();
    for cell in ["A4", "E4", "H4", "K4", "A5", "K5"] {
        assert_eq!(change(cell), grid().wrapped(), "{cell}");
    }
}

#[test]
fn a_long_result_carries_the_same_formats_as_a_short_one() {
    // Written row by row (constant-memory mode), where a row once left cannot be changed.
    let book = Book::new(result_bytes(&long_outcome(), &changeset(), &catalog()).unwrap());
    let look = |cell: &str| {
        book.look(SHEET, cell)
            .unwrap_or_else(|| panic!("no {cell}"))
    };
    let grid = Look::grid;
    assert_eq!(look("C9"), grid());
    assert_eq!(look("O9"), grid().date());
    assert_eq!(look("D9"), grid().filled("FFFFEB9C"));
    assert_eq!(look("K10"), grid().filled("FFFFC7CE"));
    assert_eq!(look("N12"), grid().filled("FFFFC7CE"));
    // The blank row between the lines.
    assert_eq!(look("A11"), grid().locked());
    assert_eq!(look("C11"), grid());
    assert_eq!(look("O11"), grid().date());
    // The last line, and nothing below it (the lines are more than 200).
    assert_eq!(look("A2512"), grid().filled("FFC6EFCE").locked());
    assert_eq!(look("D2512"), grid());
    assert_eq!(look("O2512"), grid().date());
    assert_eq!(look("P2512"), grid());
    assert_eq!(book.look(SHEET, "C2513"), None);
}

#[test]
fn template_cells_carry_the_grid_formats() {
    let book = Book::new(worksheet_bytes(&catalog()).unwrap());
    let look = |cell: &str| {
        book.look(SHEET, cell)
            .unwrap_or_else(|| panic!("no {cell}"))
    };
    // No Status and Messages columns: the fields start in A; Expiry is M, Notes N.
    for row in [9, 100, 208] {
        for col in ["A", "B", "L", "N"] {
            assert_eq!(look(&format!("{col}{row}")), Look::grid(), "{col}{row}");
        }
        assert_eq!(look(&format!("M{row}")), Look::grid().date(), "M{row}");
    }
    assert_eq!(book.look(SHEET, "A209"), None);
    assert_eq!(book.look(SHEET, "O9"), None);
}

#[test]
fn result_accounts_sheet_keeps_the_drop_downs_filter_and_frozen_header() {
    let xml = result().sheet_xml(SHEET);
    assert!(xml.contains("<dataValidation"));
    assert!(xml.contains("Lists!$E$2:$E$6"));
    assert!(xml.contains(r#"topLeftCell="A9""#));
    assert!(xml.contains(r#"<autoFilter ref="A8:P208"/>"#));
}

#[test]
fn result_problems_sheet_lists_every_finding_submission_first() {
    let rows = result().rows("Problems", 1);
    assert_eq!(
        rows[0],
        ["Severity", "Rule", "Location", "Message", "Suggestion"]
    );
    assert_eq!(rows.len(), 1 + 5);
    assert_eq!(rows[1][0], "warning");
    assert_eq!(rows[1][1], "catalog-version");
    assert_eq!(rows[1][2], "Accounts!B6");
    assert_eq!(rows[3][1], "unknown-role");
    assert_eq!(rows[3][2], "Accounts!I10");
    assert_eq!(rows[3][4], "Did you mean Cataloger?");
    assert_eq!(rows[4][2], "Accounts!L12");
}

#[test]
fn result_change_set_sheet_has_one_row_per_operation() {
    let book = result();
    assert!(book.text("Change set", "A1").contains(SCHEMA));
    let rows = book.rows("Change set", 3);
    assert_eq!(rows[0][0], "Operation");
    assert_eq!(rows.len(), 1 + 2);
    assert_eq!(rows[1][0], "Create account");
    assert_eq!(rows[1][2], "123");
    assert_eq!(rows[2][0], "Add role");
    assert_eq!(rows[2][3], "32");
    assert_eq!(rows[2][4], "Circulation Desk Operator");
    assert_eq!(rows[2][5], "Library MAIN");
    assert_eq!(rows[2][6], "circulation desk DEFAULT_CIRC_DESK (MAIN)");
    assert_eq!(rows[2][7], "2026-06-30");
    assert_eq!(rows[2][9], "Accounts!9:9");
}

#[test]
fn result_can_be_written_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.xlsx");
    write_result(&outcome(), &changeset(), &catalog(), &path).unwrap();
    let book = Book::new(std::fs::read(&path).unwrap());
    assert_eq!(book.text(SHEET, "K10"), "Catalogr; Purchasing Operator");
}

#[test]
fn lines_from_another_layout_are_written_one_after_the_other() {
    // A PDF form or a sheet with its header elsewhere: rows are renumbered from row 9.
    let mut outcome = outcome();
    outcome.document.header_row = Some(3);
    let book = Book::new(result_bytes(&outcome, &changeset(), &catalog()).unwrap());
    assert_eq!(book.text(SHEET, "D11"), "000789");
    assert_eq!(book.text(SHEET, "C12"), "");
    // The Problems sheet still names the place in the file as received.
    let rows = book.rows("Problems", 1);
    assert_eq!(rows[4][2], "Accounts!L12");
    // The notes follow the lines.
    let notes = book.notes();
    assert!(
        notes
            .iter()
            .any(|(r, t)| r == "N11" && t.contains("circulation desk"))
    );
}

#[test]
fn a_line_far_down_the_sheet_is_moved_up_not_padded_with_a_million_rows() {
    let mut outcome = outcome();
    let far = request_row(1_000_000, &[(Field::Action, "Delete", ValueKind::Text)]);
    outcome.document.rows.push(far.clone());
    outcome.lines.push(Line {
        row: far,
        status: LineStatus::Rejected,
        findings: vec![],
        rejected_with: None,
        request: None,
    });
    let bytes = result_bytes(&outcome, &changeset(), &catalog()).unwrap();
    assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
    let book = Book::new(bytes);
    assert_eq!(book.text(SHEET, "C12"), "Delete");
}

#[test]
fn text_longer_than_a_cell_holds_is_cut_and_control_characters_pass() {
    let long = "x".repeat(40_000);
    let mut outcome = outcome();
    let line = &mut outcome.lines[1];
    line.row.values.insert(
        Field::Notes,
        Value {
            text: long.clone(),
            location: at(10, Field::Notes),
            kind: ValueKind::Text,
        },
    );
    line.findings.push(Finding::warning(
        Rule::GenericAccount,
        at(10, Field::Notes),
        long.clone(),
    ));
    // Control characters (a pasted form feed, a NUL from a broken export) still make a
    // workbook that opens.
    line.row.values.insert(
        Field::LastName,
        Value {
            text: "O\u{0}Brien\u{b}\u{1b}".into(),
            location: at(10, Field::LastName),
            kind: ValueKind::Text,
        },
    );
    let book = Book::new(result_bytes(&outcome, &changeset(), &catalog()).unwrap());
    assert_eq!(book.text(SHEET, "P10").len(), 32_767);
    assert!(book.text(SHEET, "E10").contains("Brien"));
}

#[test]
fn an_unreadable_submission_still_gets_a_workbook() {
    let outcome = Outcome {
        document: Document::default(),
        findings: vec![Finding::error(
            Rule::Unreadable,
            Location::File,
            "This file is not a spreadsheet.",
        )],
        lines: vec![],
        requester_name: None,
        requester_email: None,
        institution: None,
    };
    let mut changes = changeset();
    changes.operations.clear();
    let book = Book::new(result_bytes(&outcome, &changes, &catalog()).unwrap());
    let summary = book.rows("Summary", 1);
    assert_eq!(summary[1][1], "Could not be read");
    let problems = book.rows("Problems", 1);
    assert_eq!(problems[1][2], "whole file");
    // The Accounts sheet is an empty form to fill in instead.
    assert_eq!(book.text(SHEET, "A8"), STATUS_HEADER);
    assert_eq!(book.text(SHEET, "C8"), "Action");
    assert_eq!(book.text(SHEET, "C9"), "");
    assert!(book.text("Change set", "A4").starts_with("No operations"));
}

// ---------------------------------------------------------------- formula injection

#[test]
fn text_that_looks_like_a_formula_stays_text() {
    use ValueKind::Text;
    let nasty = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "=cmd|' /C calc'!A0",
    ];
    let row = request_row(
        9,
        &[
            (Field::Action, nasty[0], Text),
            (Field::PrimaryId, nasty[1], Text),
            (Field::LastName, nasty[2], Text),
            (Field::FirstName, nasty[3], Text),
            (Field::Notes, nasty[4], Text),
        ],
    );
    let mut doc = document(vec![row.clone()]);
    doc.requester.insert(
        RequesterField::Name,
        Value {
            text: nasty[0].into(),
            location: Location::cell(SHEET, 2, 2),
            kind: Text,
        },
    );
    let outcome = Outcome {
        document: doc,
        findings: vec![],
        lines: vec![Line {
            row,
            status: LineStatus::Rejected,
            findings: vec![
                Finding::error(Rule::UnknownAction, at(9, Field::Action), nasty[4])
                    .suggest(nasty[3]),
            ],
            rejected_with: None,
            request: None,
        }],
        requester_name: Some(nasty[0].into()),
        requester_email: None,
        institution: Some(nasty[1].into()),
    };
    let mut changes = changeset();
    changes.submission.source = nasty[2].into();
    let book = Book::new(result_bytes(&outcome, &changes, &catalog()).unwrap());

    assert_eq!(book.text(SHEET, "C9"), nasty[0]);
    assert_eq!(book.text(SHEET, "D9"), nasty[1]);
    assert_eq!(book.text(SHEET, "E9"), nasty[2]);
    assert_eq!(book.text(SHEET, "F9"), nasty[3]);
    assert_eq!(book.text(SHEET, "P9"), nasty[4]);
    assert_eq!(book.text(SHEET, "B2"), nasty[0]);
    let problems = book.rows("Problems", 2);
    assert_eq!(problems[0][3], nasty[4]);
    assert_eq!(problems[0][4], nasty[3]);

    for (name, xml) in book.parts("xl/worksheets/") {
        assert!(
            !xml.contains("<f>") && !xml.contains("<f "),
            "{name} holds a formula"
        );
    }
}

// ---------------------------------------------------------------- for a person to look at

/// Writes both workbooks to `target/report-review/` for a look in a spreadsheet program
/// (`cargo test --test report -- --ignored`).
#[test]
#[ignore]
fn write_workbooks_for_review() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-review");
    std::fs::create_dir_all(&dir).unwrap();
    write_worksheet(&catalog(), &dir.join("template.xlsx")).unwrap();
    write_result(
        &outcome(),
        &changeset(),
        &catalog(),
        &dir.join("result.xlsx"),
    )
    .unwrap();
}

/// The three lines of [`outcome`] and 2,500 accepted ones after them (rows 13 to 2512, IDs
/// `L00013` ...): a result long enough for its list sheets to be written row by row.
fn long_outcome() -> Outcome {
    let mut outcome = outcome();
    let jane = outcome.lines[0].clone();
    for row in 13..2513 {
        let mut line = jane.clone();
        line.findings.clear();
        line.row.location = Location::Row {
            sheet: SHEET.into(),
            row,
        };
        for (field, value) in line.row.values.iter_mut() {
            value.location = at(row, *field);
        }
        let id = line.row.values.get_mut(&Field::PrimaryId).unwrap();
        id.text = format!("L{row:05}");
        outcome.document.rows.push(line.row.clone());
        outcome.lines.push(line);
    }
    outcome
}

#[test]
fn a_long_result_is_written_row_by_row_and_reads_the_same() {
    let book = Book::new(result_bytes(&long_outcome(), &changeset(), &catalog()).unwrap());
    let xml = book.sheet_xml(SHEET);
    // Streamed rows hold their text in the cell (no shared-string table for them).
    assert!(
        xml.contains("t=\"inlineStr\""),
        "the Accounts sheet is streamed"
    );
    // The first lines are where they were, marked as in a short result.
    let id = result_letter(Field::PrimaryId);
    assert_eq!(book.text(SHEET, &format!("{id}9")), "123");
    assert_eq!(book.text(SHEET, "A10"), "Rejected");
    let notes = book.notes();
    let note = |cell: &str| notes.iter().any(|(r, t)| r == cell && !t.is_empty());
    assert!(note("K10") && note("N12") && note("G12") && note("D9") && note("B6"));
    assert!(!note("C9"));
    // The long tail, down to the last line and no further.
    assert_eq!(book.text(SHEET, &format!("{id}13")), "L00013");
    assert_eq!(book.text(SHEET, &format!("{id}2512")), "L02512");
    assert_eq!(book.text(SHEET, "A2512"), "Accepted");
    assert_eq!(book.text(SHEET, &format!("{id}2513")), "");
    assert_eq!(
        book.text(SHEET, &format!("{}2512", result_letter(Field::LastName))),
        "Doe"
    );
    // The drop-downs and the filter cover every line.
    assert!(xml.contains("A8:P2512"), "the filter reaches the last line");
    assert!(
        Regex::new(r#"sqref="[A-Z]+9:[A-Z]+2512""#)
            .unwrap()
            .is_match(&xml)
    );
}
