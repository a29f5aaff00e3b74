"""Hostile .xlsx files, built the way an attacker would: a real workbook whose parts are swapped
for a bomb, a lie or an entity. Used by the attack tests and by the memory-measuring child."""

from __future__ import annotations

import functools
import io
import struct
import zipfile

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
TYPES = "[Content_Types].xml"
HEADER = ["団体コード", "氏名", "ふりがな", "所属", "役職", "メールアドレス", "電話番号", "役割"]
ROW = [
    "131237",
    "佐藤 美咲",
    "さとう みさき",
    "健康部",
    "係長",
    "m@city.edogawa.example.jp",
    "",
    "",
]
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def workbook(rows: list[list[str]] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [HEADER, *(rows if rows is not None else [ROW])]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replace_parts(data: bytes, parts: dict[str, bytes | list[bytes]]) -> bytes:
    """DATA with the named parts replaced (a list of chunks is streamed: no big string here)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info, source.read(info.filename))
        for name, content in parts.items():
            with target.open(name, "w") as part:
                for chunk in content if isinstance(content, list) else [content]:
                    part.write(chunk)
    return out.getvalue()


def _repeat(chunk: bytes, total: int) -> list[bytes]:
    block = chunk * max(1, (1024 * 1024) // len(chunk))
    return [block] * max(1, total // len(block))


@functools.cache
def zip_bomb(inflated: int = 120 * 1024 * 1024) -> bytes:
    """A sheet that inflates to INFLATED bytes of rows (some 200:1), sizes told honestly."""
    row = f'<row><c t="inlineStr"><is><t>{"x" * 40}</t></is></c></row>'.encode()
    head = f'<?xml version="1.0"?><worksheet {NS}><sheetData>'.encode()
    return replace_parts(
        workbook(), {SHEET: [head, *_repeat(row, inflated), b"</sheetData></worksheet>"]}
    )


def lying_zip_bomb(inflated: int = 120 * 1024 * 1024, claimed: int = 1024) -> bytes:
    """The same bomb whose central directory claims the sheet inflates to CLAIMED bytes."""
    data = bytearray(zip_bomb(inflated))
    name = SHEET.encode()
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_length]) == name:
            struct.pack_into("<I", data, at + 24, claimed)  # uncompressed size
        at += 4
    return bytes(data)


def strings_bomb(inflated: int = 6 * 1024 * 1024 - 4096) -> bytes:
    """As many tiny shared strings as fit under the size bound: the worst file we accept."""
    data = workbook()
    types = (
        zipfile.ZipFile(io.BytesIO(data))
        .read(TYPES)
        .replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
    )
    head = f'<?xml version="1.0"?><sst {NS}>'.encode()
    strings = [head, *_repeat(b"<si><t>x</t></si>", inflated), b"</sst>"]
    return replace_parts(data, {TYPES: types, STRINGS: strings})


def entity_bomb() -> bytes:
    """Billion laughs in the sheet: ten levels of ten references."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{"".join(entities)}]>'
        f'<worksheet {NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t>'
        "</is></c></row></sheetData></worksheet>"
    )
    return replace_parts(workbook(), {SHEET: sheet.encode()})


def xxe(path: str) -> bytes:
    """An external entity that would put the file at PATH into a cell."""
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY secret SYSTEM "file://{path}">]>'
        f'<worksheet {NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>団体コード</t>'
        '</is></c><c r="B1" t="inlineStr"><is><t>&secret;</t></is></c></row></sheetData>'
        "</worksheet>"
    )
    return replace_parts(workbook(), {SHEET: sheet.encode()})


def far_corner() -> bytes:
    """A header, then one cell at the sheet's last row and column (XFD1048576), with a
    <dimension> to match: a reader that pads rows to the dimension builds 17 billion cells."""
    sheet = (
        f'<?xml version="1.0"?><worksheet {NS}><dimension ref="A1:XFD1048576"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>団体コード</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    return replace_parts(workbook(), {SHEET: sheet.encode()})


def malformed() -> list[tuple[str, bytes]]:
    good = workbook()
    return [
        ("truncated", good[: len(good) // 2]),
        ("not a zip", b"PK\x03\x04" + b"\x00" * 200),
        ("broken sheet XML", replace_parts(good, {SHEET: b"<worksheet><sheetData><row>"})),
        ("no workbook part", replace_parts(good, {"xl/workbook.xml": b"not xml at all"})),
        ("binary sheet", replace_parts(good, {SHEET: bytes(range(256)) * 10})),
    ]


def future_zip_version(data: bytes | None = None) -> bytes:
    """DATA (a good workbook) whose first central-directory entry asks for zip version 10.0 to
    extract: zipfile refuses such an archive with NotImplementedError, not BadZipFile."""
    damaged = bytearray(data if data is not None else workbook())
    entry = damaged.index(b"PK\x01\x02")
    damaged[entry + 6 : entry + 8] = (100).to_bytes(2, "little")
    return bytes(damaged)
