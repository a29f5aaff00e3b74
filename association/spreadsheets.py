"""Reading spreadsheets that people upload, safely: the one place that opens an uploaded .xlsx.

An .xlsx is a zip of XML files, so a hostile one can be a zip bomb (a few hundred KB that
inflate to gigabytes), an entity bomb ("billion laughs"), an external entity (XXE) that reads a
local file, or simply malformed. Every reader of uploads (the contact import, the member import,
調査票 uploads) goes through open_xlsx() or read_xlsx_rows(), which:

- refuse a zip whose members would inflate beyond MAX_UNCOMPRESSED_BYTES, or hold more than
  MAX_MEMBERS files, before any XML is parsed. zipfile never inflates a member past the size the
  archive declares for it (a member that lies about its size fails its CRC check), so the
  declared sizes bound the memory;
- parse the XML through defusedxml: openpyxl uses it whenever it is installed (it is a
  dependency of ours; openpyxl.DEFUSEDXML must be True, checked here), which forbids entity
  declarations and external references;
- stop at MAX_ROWS rows and MAX_COLUMNS columns, whatever the sheet's <dimension> claims;
- turn every failure of the parser into UnreadableFile with a Japanese message, so that a
  broken file is a message to the person, never an HTTP 500, and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
# A contact list of every member (10,000 rows) inflates to about 6 MB; parsed shared strings
# take a few times their XML size in memory, so this bound is also the memory bound.
MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
# openpyxl streams a sheet in read-only mode but holds the whole shared-strings table, at about
# 100 bytes of memory per string however short: 6 MB of them is some 60 MB at worst, while a
# contact list of every member needs about 3 MB.
MAX_SHARED_STRINGS_BYTES = 6 * 1024 * 1024
MAX_MEMBERS = 500
MAX_ROWS = 20_000
MAX_COLUMNS = 100


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (not the rows in it); the message is for people."""


def _broken() -> UnreadableFile:
    return UnreadableFile(
        _(
            "Excel ファイルを読めません。ファイルが壊れているか、Excel の形式ではありません。"
            "Excel で開いて「Excel ブック（.xlsx）」として保存し直してください。"
        )
    )


def check_size(data: bytes) -> None:
    """Any upload (CSV too) beyond MAX_FILE_BYTES is refused before it is decoded."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(
            _("ファイルが大きすぎます（%(limit)d MB まで）。ファイルを分けてください。")
            % {"limit": MAX_FILE_BYTES // (1024 * 1024)}
        )


def check_xlsx(data: bytes) -> None:
    """Refuse, before parsing, a file that is not a zip or would inflate too far."""
    check_size(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        # NotImplementedError: a damaged header naming a zip version or method zipfile lacks
        raise _broken() from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise _broken()
        total = sum(member.file_size for member in members)
        strings = sum(
            m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml")
        )
        if total > MAX_UNCOMPRESSED_BYTES or strings > MAX_SHARED_STRINGS_BYTES:
            raise UnreadableFile(
                _(
                    "Excel ファイルの中身が大きすぎます（展開すると %(size)d MB、上限は"
                    " %(limit)d MB）。不要なシートや書式を消して保存し直すか、CSV で保存して"
                    "ください。"
                )
                % {
                    "size": total // (1024 * 1024),
                    "limit": MAX_UNCOMPRESSED_BYTES // (1024 * 1024),
                }
            )


@contextlib.contextmanager
def open_xlsx(data: bytes, *, read_only: bool = True) -> Iterator[Any]:
    """The workbook in DATA (openpyxl, values not formulas), after check_xlsx(). Any parser
    failure inside the block, also while iterating rows, becomes UnreadableFile."""
    import openpyxl

    if not openpyxl.DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
        raise RuntimeError("defusedxml must be installed so that openpyxl parses XML safely")
    check_xlsx(data)
    book = None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=read_only, data_only=True)
        yield book
    except UnreadableFile:
        raise
    except Exception as exc:
        # A hostile or broken file can make the parser fail in many ways (ParseError,
        # defusedxml's EntitiesForbidden, KeyError for a missing part, a bad CRC, TypeError
        # deep in openpyxl…): each means the same to the person uploading it.
        logger.info("unreadable spreadsheet: %s: %s", type(exc).__name__, exc)
        if _is_unsafe(exc):
            raise UnreadableFile(
                _(
                    "このファイルには安全に読めない内容（XML の実体定義や外部参照）が含まれて"
                    "います。Excel で開いて「Excel ブック（.xlsx）」として保存し直してください。"
                )
            ) from None
        raise _broken() from None
    finally:
        if book is not None:
            book.close()


def _is_unsafe(exc: BaseException) -> bool:
    """Whether defusedxml refused it (openpyxl may wrap the refusal in its own ValueError)."""
    from defusedxml import DefusedXmlException

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def read_xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(row number as Excel shows it, cell values) for each row of the first sheet, up to
    MAX_ROWS rows of MAX_COLUMNS columns; more rows is an error, extra columns are cut."""
    with open_xlsx(data) as book:
        if not book.worksheets:
            raise _broken()
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS, values_only=True)
        for number, values in enumerate(rows, start=1):
            if number > MAX_ROWS:
                raise too_many_rows()
            yield number, list(values)


def too_many_rows() -> UnreadableFile:
    return UnreadableFile(
        _("行が多すぎます（%(limit)s 行まで）。ファイルを分けて取り込んでください。")
        % {"limit": f"{MAX_ROWS:,}"}
    )
