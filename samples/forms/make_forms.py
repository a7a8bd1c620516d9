#!/usr/bin/env python3
"""Makes the sample Staff User Request Forms in samples/forms/ with third-party PDF tools.

    python3 samples/forms/make_forms.py

The blank comes from `rolecall template form` (built by cargo, with the bundled catalog, so
the hidden `form.catalog_version` matches samples/catalog/); the filling is done by the tools
coordinators' scripts and viewers use, through tests/fixtures/form/formfill.py: pypdf,
pdf-lib (node) and pdftk. Rerun it after editing samples/catalog/.

Outputs:
  clean.pdf               pypdf: a valid Add from the GCSU coordinator, three roles, two of
                          them at a circulation desk of the MAIN library.
  mistakes.pdf            pdf-lib: one form with one typical mistake per field (see
                          mistakes.expected.json: field, rule and what is wrong).
  other-producer.pdf      pdftk from an XFDF file: a valid Modify with non-ASCII names.
  other-producer.xfdf     the XFDF pdftk was given.
"""

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "fixtures" / "form"))
import formfill as ff  # noqa: E402

CLEAN = {
    "requester.name": "Dana Whitfield",
    "requester.email": "dwhitfield@gcsu.example.edu",
    "requester.phone": "850-555-0142",
    "requester.institution": "01FALSC_GCSU",
    "requester.date": "2031-03-14",
    "person.action": "Add",
    "person.primary_id": "0041277",
    "person.last_name": "Okafor",
    "person.first_name": "Adaeze",
    "person.email": "aokafor@gcsu.example.edu",
    "person.account_type": "Internal",
    "person.position": "Circulation Assistant",
    "person.expiry": "2040-06-30",
    "role.32.add": "Yes",
    "role.32.library": "MAIN",
    "role.32.unit": "DEFAULT_CIRC_DESK",
    "role.51.add": "Yes",
    "role.51.library": "MAIN",
    "role.51.unit": "RESERVES_DESK",
    "role.204.add": "Yes",
    "notes": "New hire in Access Services, starting on the evening shift.",
}

# One person, one mistake per field. (field, rule, what is wrong, value written)
MISTAKES = [
    ("person.first_name", "missing-field", "Add needs the first name; it is left empty", None),
    ("person.email", "invalid-email", "not a valid email address", "rnakamura@@gcsu.example.edu"),
    ("person.expiry", "invalid-date", "the expiry date is in the past", "2020-01-31"),
    (
        "role.12.library",
        "library-not-in-institution",
        "MAINN is not a library of Gulf Coast State University (a typo for MAIN)",
        "MAINN",
    ),
    (
        "role.51.unit",
        "parameter-required",
        "Requests Operator needs a circulation desk of MAIN; none is given",
        None,
    ),
    (
        "role.37.unit",
        "parameter-not-in-library",
        "RESERVES_DESK is not a service unit of College of Law Library (LAW)",
        "RESERVES_DESK",
    ),
    (
        "role.221.remove",
        "invalid-role-change",
        "Remove is ticked on an Add: a new account has no role to take away",
        "Yes",
    ),
    (
        "role.26.add",
        "needs-approval",
        "General System Administrator is privileged (a warning, not an error)",
        "Yes",
    ),
]

MISTAKES_FORM = {
    "requester.name": "Dana Whitfield",
    "requester.email": "dwhitfield@gcsu.example.edu",
    # pdf-lib selects a combo option by its display text and writes that text as the value.
    "requester.institution": "01FALSC_GCSU \u2014 Gulf Coast State University",
    "requester.date": "2031-03-14",
    "person.action": "Add",
    "person.primary_id": "0045678",
    "person.last_name": "Nakamura",
    "person.account_type": "Internal",
    # A correct role among the mistakes: it must be accepted.
    "role.32.add": "Yes",
    "role.32.library": "MAIN",
    "role.32.unit": "DEFAULT_CIRC_DESK",
    "role.12.add": "Yes",
    "role.51.add": "Yes",
    "role.51.library": "MAIN",
    "role.37.add": "Yes",
    "role.37.library": "LAW",
    # Only the Remove tick is wrong on this role; its library and desk are right.
    "role.221.library": "MAIN",
    "role.221.unit": "DEFAULT_CIRC_DESK",
}
for field, _, _, value in MISTAKES:
    if value is not None:
        MISTAKES_FORM[field] = value

OTHER = {
    "requester.name": "Tomás Reyes",
    "requester.email": "treyes@swflcolleges.example.org",
    "requester.institution": "01FALSC_CLSC",
    "requester.date": "2031-04-30",
    "person.action": "Modify",
    "person.primary_id": "0098765",
    "person.last_name": "Núñez",
    "person.first_name": "José",
    "person.email": "jose.nunez@clsc.example.edu",
    "person.account_type": "Internal",
    "person.position": "Técnico de circulación",
    "role.32.add": "Yes",
    "role.32.library": "NORTH",
    "role.32.unit": "DEFAULT_CIRC_DESK",
    "role.221.remove": "Yes",
    "role.221.library": "NORTH",
    "role.221.unit": "DEFAULT_CIRC_DESK",
    "notes": "José hands the desk manager duties to Zoë Ødegård and stays on the front desk.",
}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        blank = Path(tmp) / "blank.pdf"
        ff.blank(blank)

        ff.fill_pypdf(blank, HERE / "clean.pdf", CLEAN)
        ff.check(HERE / "clean.pdf", CLEAN)

        ff.fill_pdflib(blank, HERE / "mistakes.pdf", MISTAKES_FORM)
        ff.check(HERE / "mistakes.pdf", MISTAKES_FORM)
        expected = {
            "producer": "pdf-lib 1.17.1",
            "note": "requester.institution holds the option's display text, as pdf-lib "
            "writes it; that is not a mistake (it names 01FALSC_GCSU). role.32 itself is "
            "right, but the person's own mistakes (no first name, a bad email, an expiry in "
            "the past) stop every line of this Add: no line can be accepted.",
            "mistakes": [
                {"field": f, "rule": rule, "what": what} for f, rule, what, _ in MISTAKES
            ],
        }
        (HERE / "mistakes.expected.json").write_text(
            json.dumps(expected, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

        ff.fill_pdftk(
            blank, HERE / "other-producer.pdf", OTHER, xfdf_path=HERE / "other-producer.xfdf"
        )
        ff.check(HERE / "other-producer.pdf", OTHER)
    for name in ["clean.pdf", "mistakes.pdf", "other-producer.pdf"]:
        print(f"samples/forms/{name}: {(HERE / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
