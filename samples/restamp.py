#!/usr/bin/env python3
"""Re-stamps the sample files and form fixtures with the current catalog version.

    python3 samples/restamp.py OLD NEW

Every sample worksheet and filled form carries the version of the catalog it was made from
(a 12-hex-digit stamp). After a change to samples/catalog/ that changes the version, the
samples would be reported as made from an old catalog; when the producers that made them
(openpyxl, LibreOffice, pypdf, pdf-lib, pdftk) are not at hand, this replaces the stamp in
place, with the standard library only:

- in .xlsx and .ods (zip archives), in every XML part, rewriting the archive entry by entry;
- in .xls and .pdf, byte for byte (the stamp keeps its length, so no offset moves), and
  in a PDF's compressed streams, recompressed into the same number of bytes.

NEW is what `rolecall catalog check --catalog samples/catalog` prints as the version.
"""

import re
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    *sorted((ROOT / "samples/worksheets").glob("*.xlsx")),
    *sorted((ROOT / "samples/worksheets").glob("*.ods")),
    *sorted((ROOT / "samples/worksheets").glob("*.xls")),
    *sorted((ROOT / "samples/forms").glob("*.pdf")),
    *sorted((ROOT / "tests/fixtures/form").rglob("*.pdf")),
]


def restamp_zip(path, old, new):
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    count = sum(data.count(old) for _, data in entries)
    if count == 0:
        return 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w") as out:
        for info, data in entries:
            out.writestr(info, data.replace(old, new), compress_type=info.compress_type)
    tmp.replace(path)
    return count


def restamp_bytes(path, old, new):
    data = path.read_bytes()
    count = data.count(old)
    if path.suffix == ".pdf":
        data, in_streams = restamp_streams(data, old, new)
        count += in_streams
    if count:
        path.write_bytes(data.replace(old, new))
    return count


def compressions(data):
    """The data compressed every way zlib can, to find one that fits."""
    for level in range(1, 10):
        for mem in range(1, 10):
            for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED):
                c = zlib.compressobj(level, zlib.DEFLATED, 15, mem, strategy)
                yield c.compress(data) + c.flush()


def restamp_streams(data, old, new):
    """The stamp inside Flate-compressed streams (pdf-lib keeps field values in object
    streams): each such stream is recompressed to at most its old length and padded, so
    that /Length and every offset after it stay as they were (a Flate decoder stops at the
    end of the zlib data)."""
    out, count, pos = bytearray(), 0, 0
    for m in re.finditer(rb"stream\r?\n", data):
        start = m.end()
        end = data.find(b"endstream", start)
        if start < pos or end < 0:
            continue
        body = data[start:end].rstrip(b"\r\n")
        try:
            plain = zlib.decompressobj().decompress(body)
        except zlib.error:
            continue
        if old not in plain:
            continue
        fixed = plain.replace(old, new)
        packed = min(compressions(fixed), key=len)
        if len(packed) > len(body):
            # A page's printed stamp, most likely: left as it was, and said.
            print(f"  stream at byte {start} does not fit when recompressed: left as it was")
            continue
        out += data[pos:start] + packed + b"\0" * (len(body) - len(packed))
        pos = start + len(body)
        count += plain.count(old)
    out += data[pos:]
    return bytes(out), count


def main():
    if len(sys.argv) != 3 or not all(re.fullmatch(r"[0-9a-f]{12}", v) for v in sys.argv[1:]):
        sys.exit(__doc__)
    old, new = (v.encode() for v in sys.argv[1:])
    for path in FILES:
        if path.suffix in (".xlsx", ".ods"):
            n = restamp_zip(path, old, new)
        else:
            n = restamp_bytes(path, old, new)
        if n:
            print(f"{path.relative_to(ROOT)}: {n}")


if __name__ == "__main__":
    main()
