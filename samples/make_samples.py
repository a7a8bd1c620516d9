#!/usr/bin/env python3
"""Makes the sample Accounts Worksheets in samples/worksheets/ with real spreadsheet producers.

    python3 samples/make_samples.py

openpyxl writes the .xlsx files; LibreOffice (headless) converts the clean batch to .ods and
.xls, so the reader is tested on files made by the programs coordinators actually use, not by
Rolecall's own writer. Rerun it after editing samples/catalog/: every sheet carries the
catalog version, and tests/integration/catalog.rs fails when the stamp no longer matches.

Outputs:
  clean-batch.xlsx / .ods / .xls   a valid batch: no errors, no warnings.
  mistakes.xlsx                    one request line per typical mistake.
  mistakes.expected.json           where each finding must point (the oracle for the tests).
  not-a-coordinator.xlsx           a valid batch sent by someone who is not a coordinator.
  not-a-coordinator.expected.json

The layout follows src/layout.rs: sheet "Accounts"; requester block labels in A2:A6 with
values in B2:B6; the header row on row 8 (columns A..N); one request line per row from row 9.
Primary IDs are text cells (leading zeros kept) unless a mistake needs a number; expiry dates
are real date cells. Dates are far in the future so the samples stay valid for years.
"""

import datetime
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "catalog"
OUT = HERE / "worksheets"

SHEET = "Accounts"
# Field::ALL in src/layout.rs, in order: columns A..N.
HEADERS = [
    "Action",
    "Primary ID",
    "Last name",
    "First name",
    "Email",
    "Account type",
    "Institution",
    "Role profile",
    "Role",
    "Add or remove",
    "Library",
    "Circulation desk / service unit",
    "Expiry date",
    "Notes",
]
COL = {h: chr(ord("A") + i) for i, h in enumerate(HEADERS)}
HEADER_ROW = 8
FIRST_ROW = HEADER_ROW + 1
# RequesterField::ALL labels, rows 2..6.
REQUESTER_LABELS = [
    "Requester name",
    "Requester email",
    "Institution",
    "Requester phone",
    "Catalog version",
]

GCSU = "01FALSC_GCSU"
COORDINATOR = ("Dana Whitfield", "dwhitfield@gcsu.example.edu")


def catalog_version():
    """Same as load::version: SHA-256 over name NUL meaning NUL, files sorted by name, where
    a file's meaning is its parsed TOML as compact JSON with sorted keys."""
    h = hashlib.sha256()
    for path in sorted(CATALOG.glob("*.toml"), key=lambda p: p.name):
        meaning = json.dumps(tomllib.loads(path.read_text(encoding="utf-8")), sort_keys=True,
                             separators=(",", ":"), ensure_ascii=False)
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(meaning.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def d(y, m, day):
    return datetime.datetime(y, m, day)


# Short names for the columns, used by line().
KEYS = {
    "action": "Action",
    "id": "Primary ID",
    "last": "Last name",
    "first": "First name",
    "email": "Email",
    "type": "Account type",
    "institution": "Institution",
    "profile": "Role profile",
    "role": "Role",
    "change": "Add or remove",
    "library": "Library",
    "desk": "Circulation desk / service unit",
    "expiry": "Expiry date",
    "notes": "Notes",
}


def line(**fields):
    """A request line: {header: value}, from the short names in KEYS."""
    return {KEYS[key]: value for key, value in fields.items()}


def write_workbook(path, requester, lines, version):
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "Alma User Accounts Worksheet"
    ws["A1"].font = Font(bold=True, size=14)
    name, email, phone = requester
    values = [name, email, GCSU, phone, version]
    for i, (label, value) in enumerate(zip(REQUESTER_LABELS, values)):
        row = 2 + i
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        cell = ws.cell(row=row, column=2, value=value)
        cell.number_format = "@"
    fill = PatternFill("solid", fgColor="DDEBF7")
    for c, header in enumerate(HEADERS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=c, value=header)
        cell.font = Font(bold=True)
        cell.fill = fill
    for r, fields in enumerate(lines, start=FIRST_ROW):
        for header, value in fields.items():
            if value is None:
                continue
            cell = ws[f"{COL[header]}{r}"]
            cell.value = value
            if isinstance(value, datetime.datetime):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str):
                # Text format, as the template sets it, so Excel keeps IDs like 00412345.
                cell.number_format = "@"
            if header == "Role" and isinstance(value, str) and "\n" in value:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [13, 16, 16, 16, 30, 13, 18, 30, 34, 13, 14, 24, 13, 30]
    for header, width in zip(HEADERS, widths):
        ws.column_dimensions[COL[header]].width = width
    ws.column_dimensions["A"].width = 18
    ws.freeze_panes = f"A{FIRST_ROW}"
    wb.save(path)


# ---------------------------------------------------------------------------------------------
# The clean batch: every line valid, no warnings.
# ---------------------------------------------------------------------------------------------

CLEAN = [
    line(action="Add", id="00412345", last="Alvarez", first="Sofia",
         email="sofia.alvarez@gcsu.example.edu", type="Internal", institution=GCSU,
         profile="Circulation Student Worker", library="MAIN", desk="DEFAULT_CIRC_DESK",
         expiry=d(2031, 5, 31), notes="Student assistant, main desk"),
    line(action="Add", id="00398811", last="Nguyen", first="Thanh",
         email="thanh.nguyen@gcsu.example.edu", type="Internal", role="Cataloger",
         notes="New cataloging librarian"),
    # Two roles in one cell share the row's library and desk.
    line(action="Add", id="00455120", last="Brooks", first="Jordan",
         email="jordan.brooks@gcsu.example.edu", type="Internal",
         role="Circulation Desk Operator; Requests Operator", library="LAW",
         desk="DEFAULT_CIRC_DESK"),
    # The same person's next row: name and email may be left empty.
    line(action="Add", id="00455120", role="Physical Inventory Operator", library="LAW"),
    # Two roles separated by a line break.
    line(action="Add", id="00467001", last="Kim", first="Hana",
         email="hana.kim@gcsu.example.edu", type="Internal",
         role="Electronic Inventory Operator\nLicense Manager", expiry=d(2032, 6, 30)),
    line(action="Modify", id="00287654", last="Patel", first="Ravi",
         email="ravi.patel@gcsu.example.edu", role="Receiving Operator", change="Add",
         library="MAIN", desk="ACQ_RECEIVING"),
    line(action="Modify", id="00301122", last="Campbell", first="Erin",
         role="Circulation Desk Operator", change="Remove", library="HEALTH",
         desk="DEFAULT_CIRC_DESK", notes="Moved to reference; keeps her other roles"),
    line(action="Delete", id="00276543", last="Hughes", first="Morgan",
         notes="Retired"),
    line(action="Modify", id="G20455871", last="Lindqvist", first="Erik",
         type="External", role="Course Reserves Manager", change="Add", library="MAIN",
         notes="SIS-loaded faculty account"),
]

# ---------------------------------------------------------------------------------------------
# The mistakes: one line per typical mistake, everything else on the line valid.
# Each entry: (line, [(rule, column header, severity), ...]). Rows are assigned in order.
# ---------------------------------------------------------------------------------------------


def person(n, last_name, first_name, **more):
    """An Add line for a new, valid person; `more` overrides or adds fields."""
    fields = dict(action="Add", id=f"0051{n:04d}", last=last_name, first=first_name,
                  email=f"{first_name.lower()}.{last_name.lower()}@gcsu.example.edu",
                  type="Internal", role="Cataloger")
    fields.update(more)
    return line(**fields)


MISTAKES = [
    # Add without a last name.
    (person(1, "Holloway", "Grace", last=None),
     [("missing-field", "Last name", "error")]),
    (person(2, "Ferreira", "Lucas", email="lucas.ferreira.gcsu.example.edu"),
     [("invalid-email", "Email", "error")]),
    (person(3, "Baptiste", "Noemie", action="Transfer"),
     [("unknown-action", "Action", "error")]),
    (person(4, "Whitaker", "Owen", type="Staff"),
     [("invalid-account-type", "Account type", "error")]),
    # An expiry date already past.
    (person(5, "Castellanos", "Ines", expiry=d(2024, 6, 30)),
     [("invalid-date", "Expiry date", "error")]),
    # A date that no reading makes valid (there is no 31 June, and no month 31).
    (person(6, "Mokoena", "Thandiwe", expiry="31/06/2027"),
     [("invalid-date", "Expiry date", "error")]),
    # A Primary ID typed as a number: Excel dropped its leading zero, so it no longer has
    # the institution's form (primary_id_pattern): refused, with 05510007 suggested.
    (person(7, "Sorensen", "Ingrid", id=5510007),
     [("invalid-primary-id", "Primary ID", "error")]),
    (person(8, "Adeyemi", "Folake", institution="01FALSC_GCU"),
     [("unknown-institution", "Institution", "error")]),
    # NORTH is a library of Cypress Lakes, not of Gulf Coast.
    (person(9, "Marchetti", "Paolo", role="Physical Inventory Operator Extended",
            library="NORTH"),
     [("library-not-in-institution", "Library", "error")]),
    (person(10, "Haddad", "Rania", role="Circulation Desk Operater", library="MAIN",
            desk="DEFAULT_CIRC_DESK"),
     [("unknown-role", "Role", "error")]),
    (person(11, "Kowalski", "Marta", role=None, profile="Circ Student Worker",
            library="MAIN", desk="DEFAULT_CIRC_DESK"),
     [("unknown-profile", "Role profile", "error")]),
    # Course Reserves Manager is library-scoped and takes no desk.
    (person(12, "Oyelaran", "Tunde", role="Course Reserves Manager"),
     [("scope-required", "Library", "error")]),
    (person(13, "Duarte", "Camila", role="Circulation Desk Operator", library="MAIN"),
     [("parameter-required", "Circulation desk / service unit", "error")]),
    # RESERVES_DESK is a desk of MAIN, not of LAW.
    (person(14, "Novak", "Jakub", role="Circulation Desk Operator", library="LAW",
            desk="RESERVES_DESK"),
     [("parameter-not-in-library", "Circulation desk / service unit", "error")]),
    # The same person added and deleted in one batch: both Action cells.
    (person(15, "Fitzgerald", "Aoife"),
     [("conflicting-requests", "Action", "error")]),
    (line(action="Delete", id="00510015", last="Fitzgerald", first="Aoife"),
     [("conflicting-requests", "Action", "error")]),
    (line(action="Delete", id="00510016", last="Yamamoto", first="Kenji",
          role="Cataloger"),
     [("delete-with-roles", "Role", "error")]),
    (person(17, "Esposito", "Chiara", role="Cataloger; Patron"),
     [("patron-implicit", "Role", "warning")]),
    # A shared desk login: only the ID is generic; name and email are a real person's.
    (person(18, "Okafor", "Ngozi", id="circdesk1", role=None,
            profile="Circulation Student Worker", library="MAIN", desk="DEFAULT_CIRC_DESK"),
     [("generic-account", "Primary ID", "error")]),
    (line(action="Modify", id="00510019", last="Brennan", first="Siobhan",
          role="General System Administrator", change="Add"),
     [("needs-approval", "Role", "warning")]),
    # The same role, same library, twice for one person: the second is flagged.
    (person(20, "Lindgren", "Axel", role="Physical Inventory Operator", library="MAIN"),
     []),
    (line(action="Add", id="00510020", role="Physical Inventory Operator", library="MAIN"),
     [("duplicate-role", "Role", "warning")]),
]

NOT_A_COORDINATOR = [
    line(action="Add", id="00520001", last="Reyes", first="Lucia",
         email="lucia.reyes@gcsu.example.edu", type="Internal",
         profile="Circulation Staff", library="MAIN", desk="DEFAULT_CIRC_DESK"),
    line(action="Modify", id="00398811", last="Nguyen", first="Thanh",
         role="Physical Inventory Operator", change="Add", library="HEALTH"),
]


def convert(xlsx, fmt, out_dir):
    """Converts with LibreOffice headless into out_dir (fmt: "ods", "xls:MS Excel 97")."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        sys.exit("LibreOffice (soffice) is needed to make the .ods and .xls samples")
    # A private profile, so a LibreOffice already running for the user does not swallow the job.
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", fmt, "--outdir", str(out_dir), str(xlsx)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180,
        )
    # soffice exits 0 even when a conversion fails, so look for the file.
    made = out_dir / (xlsx.stem + "." + fmt.split(":")[0])
    if not made.exists():
        sys.exit(f"LibreOffice did not write {made}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    version = catalog_version()
    requester = (COORDINATOR[0], COORDINATOR[1], "850-555-0142")

    clean = OUT / "clean-batch.xlsx"
    write_workbook(clean, requester, CLEAN, version)
    convert(clean, "ods", OUT)
    convert(clean, "xls:MS Excel 97", OUT)

    lines, expected = [], []
    for row, (fields, findings) in enumerate(MISTAKES, start=FIRST_ROW):
        # Say in the Notes column which mistake the line shows, for people reading the sample.
        if findings and "Notes" not in fields:
            fields = dict(fields, Notes="Sample mistake: " + ", ".join(f[0] for f in findings))
        lines.append(fields)
        for rule, header, severity in findings:
            expected.append({"rule": rule, "cell": f"{SHEET}!{COL[header]}{row}",
                             "severity": severity})
    write_workbook(OUT / "mistakes.xlsx", requester, lines, version)
    (OUT / "mistakes.expected.json").write_text(json.dumps(expected, indent=2) + "\n")

    stranger = ("Alex Morgan", "amorgan@gcsu.example.edu", "850-555-0199")
    write_workbook(OUT / "not-a-coordinator.xlsx", stranger, NOT_A_COORDINATOR, version)
    # Row 3 column B: the requester email, the cell at fault. Every line is refused with it.
    (OUT / "not-a-coordinator.expected.json").write_text(json.dumps(
        [{"rule": "requester-not-coordinator", "cell": f"{SHEET}!B3", "severity": "error"}],
        indent=2) + "\n")

    print(f"catalog version {version}; wrote:")
    for path in sorted(OUT.iterdir()):
        print(f"  {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
