"""The 調査票 round trip: written pre-filled, read back all or nothing, safely."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questions import services, values, xlsx
from questions.models import Question

from .conftest import by_text, full_answers, make_survey
from .strategies import japanese

Kind = Question.Kind
HEADER = [("団体コード", "131237"), ("団体名", "東京都江戸川区")]


def stored(survey) -> dict[int, object]:
    """full_answers as the service stores them."""
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    return services.answer_values(answer_set)


def fill(data: bytes, edits: Mapping[tuple[str, str], object]) -> bytes:
    """Edit cells the way a person in Excel would, and save."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    for (sheet, cell), value in edits.items():
        book[sheet][cell] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def answer_cell(data: bytes, code: str) -> str:
    sheet = openpyxl.load_workbook(io.BytesIO(data))[xlsx.FORM_SHEET]
    for row in sheet.iter_rows():
        if row[0].value == code:
            return f"C{row[0].row}"
    raise LookupError(code)


def test_a_prefilled_form_reads_back_as_the_same_answers(survey):
    answers = stored(survey)
    data = xlsx.write_form(survey, title="調査票", header=HEADER, answers=answers)
    reading = xlsx.read_form(survey, data)
    assert reading.ok, reading.messages()
    assert {k: v for k, v in reading.values.items() if v is not None} == answers
    assert reading.header == {"団体コード": "131237", "団体名": "東京都江戸川区"}


def test_the_code_stays_text_and_typed_formulas_stay_text(survey):
    q = by_text(survey)
    data = xlsx.write_form(
        survey,
        title='=HYPERLINK("http://evil")',
        header=[("団体コード", "011002")],
        answers={q["担当課名"].pk: "=1+1"},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data))[xlsx.FORM_SHEET]
    assert sheet["B4"].value == "011002" and sheet["B4"].data_type == "s"
    assert sheet["A1"].data_type == "s"
    cell = sheet[answer_cell(data, "問1")]
    assert cell.value == "=1+1" and cell.data_type == "s"


def test_an_office_fills_the_form_in_excel(survey):
    blank = xlsx.write_form(survey, title="調査票", header=HEADER)
    q = by_text(survey)
    edits = {
        (xlsx.FORM_SHEET, answer_cell(blank, "問1")): "健康部",
        (xlsx.FORM_SHEET, answer_cell(blank, "問3")): 12000,
        (xlsx.FORM_SHEET, answer_cell(blank, "問4")): "策定中",
        (xlsx.FORM_SHEET, answer_cell(blank, "問5-2")): "○",
        (xlsx.FORM_SHEET, answer_cell(blank, "問5-4")): "〇",
        (xlsx.FORM_SHEET, answer_cell(blank, "問6")): "はい",
        ("表1", "B4"): "相談窓口",
        ("表1", "C4"): 1500,
        ("表1", "B6"): "啓発",
    }
    reading = xlsx.read_form(survey, fill(blank, edits))
    assert reading.ok, reading.messages()
    assert reading.values[q["自殺対策の予算額"].pk] == "12000"
    assert reading.values[q["連携している機関"].pk] == ["医療機関", "民間団体"]
    assert reading.values[q["ゲートキーパー研修を実施していますか"].pk] is True
    assert reading.values[q["令和8年度の主な事業"].pk] == [["相談窓口", "1500"], ["啓発", ""]]


def test_every_problem_is_named_by_sheet_and_cell_and_nothing_is_kept(survey):
    blank = xlsx.write_form(survey, title="調査票", header=HEADER)
    budget = answer_cell(blank, "問3")
    mark = answer_cell(blank, "問5-1")
    edits = {
        (xlsx.FORM_SHEET, answer_cell(blank, "問1")): "健康部",
        (xlsx.FORM_SHEET, budget): "約1万",
        (xlsx.FORM_SHEET, answer_cell(blank, "問4")): "検討中",
        (xlsx.FORM_SHEET, mark): "たぶん",
        ("表1", "C5"): "千円",
    }
    reading = xlsx.read_form(survey, fill(blank, edits))
    assert reading.values == {}
    messages = reading.messages()
    assert (
        f"「調査票」シートの{budget}（問3）: 数値で入力してください（「約1万」は数値として読めません）。"
        in messages
    )
    assert any(
        m.startswith(f"「調査票」シートの{mark}（問5-1）: 選ぶ行には「○」") for m in messages
    )
    assert any("（問4）: 「検討中」は選択肢にありません" in m for m in messages)
    assert (
        "「表1」シートのC5（予算額（千円））: 数値で入力してください（「千円」は数値として読めません）。"
        in messages
    )


def test_a_file_for_another_question_set_is_refused(survey):
    other = make_survey()
    reading = xlsx.read_form(survey, xlsx.write_form(other, title="別"))
    assert reading.messages() == [
        "この調査票は別の照会（または別の様式）のものです。正しい調査票をダウンロードしてください。"
    ]


def test_a_file_whose_questions_changed_since_download_is_refused(survey):
    data = xlsx.write_form(survey, title="調査票")
    services.save_question(survey, kind=Kind.SHORT_TEXT, text="追加の設問")
    reading = xlsx.read_form(survey, data)
    assert "新しい調査票をダウンロード" in reading.messages()[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "古い Excel 形式（.xls）は読めません"),
        ("団体コード,回答\n131237,はい\n".encode("cp932"), "Excel ファイル（.xlsx）ではありません"),
        (b"PK\x03\x04broken", "Excel ファイルが壊れているため読めません"),
        (b"PK\x03\x04" + b"x" * (3 * 1024 * 1024), "ファイルが大きすぎます"),
    ],
)
def test_what_is_not_a_form_gets_a_clear_message(survey, data, message):
    reading = xlsx.read_form(survey, data)
    assert not reading.ok and message in reading.messages()[0]


def test_a_zip_bomb_is_refused_before_it_is_inflated(survey):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100 * 1024
    reading = xlsx.read_form(survey, data)
    assert reading.messages() == [
        "ファイルの中身が大きすぎるため読めません。調査票の様式のまま保存してください。"
    ]


def _with_sheet_xml(data: bytes, name: str, xml: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, xml if item.filename == name else source.read(item.filename))
    return out.getvalue()


@pytest.mark.parametrize(
    "doctype",
    [
        # XXE: an external entity that would read a local file
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        # billion laughs
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    ],
)
def test_hostile_xml_inside_the_file_is_refused(survey, doctype, caplog):
    data = xlsx.write_form(survey, title="調査票", header=HEADER)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert sheet.startswith(b"<worksheet")  # openpyxl writes no XML declaration
    hostile = doctype + sheet.replace(
        b"<sheetData>", b"<sheetData>&e;" if b"ENTITY e" in doctype else b"<sheetData>&d;", 1
    )
    reading = xlsx.read_form(survey, _with_sheet_xml(data, "xl/worksheets/sheet1.xml", hostile))
    assert not reading.ok
    assert reading.messages() == [
        "Excel ファイルを読めません。調査票の様式のまま「.xlsx」形式で保存し直してください。"
    ]
    assert "defusedxml.common.EntitiesForbidden" in caplog.text  # refused by defusedxml


# --- generated input ---------------------------------------------------------------------------

NO_FIXTURE_RESET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _answers_strategy(survey):
    q = by_text(survey)
    line = japanese(values.MAX_SHORT_TEXT).map(values.clean_line)
    cell = japanese(40).map(values.clean_line)
    return st.fixed_dictionaries(
        {
            q["担当課名"].pk: line,
            q["計画の概要"].pk: japanese(600).map(values.clean_lines),
            q["自殺対策の予算額"].pk: st.integers(0, 10**10).map(str),
            q["計画の策定状況"].pk: st.sampled_from(q["計画の策定状況"].choices),
            q["連携している機関"].pk: st.lists(st.sampled_from(q["連携している機関"].choices)),
            q["ゲートキーパー研修を実施していますか"].pk: st.booleans(),
            q["令和8年度の主な事業"].pk: st.lists(
                st.tuples(cell, st.integers(0, 10**6).map(str)).map(list), max_size=5
            ),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=NO_FIXTURE_RESET)
@given(data=st.data())
def test_any_answers_survive_the_round_trip(survey, data):
    raw = data.draw(_answers_strategy(survey))
    answers = {
        pk: values.parse(question, raw[pk])
        for pk, question in ((q.pk, q) for q in survey.questions.all())
    }
    written = xlsx.write_form(survey, title="調査票", header=HEADER, answers=answers)
    reading = xlsx.read_form(survey, written)
    assert reading.ok, reading.messages()
    assert reading.values == answers


@settings(max_examples=40, deadline=None, suppress_health_check=NO_FIXTURE_RESET)
@given(
    damage=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=6)
)
def test_a_damaged_file_gives_messages_never_an_exception(survey, damage):
    data = bytearray(xlsx.write_form(survey, title="調査票", header=HEADER))
    for position, chunk in damage:
        at = position % len(data)
        data[at : at + len(chunk)] = chunk
    reading = xlsx.read_form(survey, bytes(data))
    assert reading.ok or reading.values == {}
    assert all(isinstance(m, str) and m for m in reading.messages())


def test_the_export_has_one_row_per_answerer_and_tables_on_their_own_sheet(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    data = xlsx.export_answers(
        survey,
        header=["団体コード", "団体名"],
        rows=[(["011002", "北海道札幌市"], answer_set.pk), (["131237", "東京都江戸川区"], None)],
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["回答一覧"]
    assert [c.value for c in sheet[1]][:4] == [
        "団体コード",
        "団体名",
        "問1 担当課名",
        "問2 計画の概要",
    ]
    assert sheet["A2"].value == "011002" and sheet["A2"].data_type == "s"
    row = [c.value for c in sheet[2]]
    assert row[4] == 12500  # a number stays a number
    assert row[6] == "保健所、学校"
    assert row[7] == "はい"
    assert [c.value for c in sheet[3]][2:] == [None] * 6
    table = book["表1"]
    assert [c.value for c in table[2]] == ["団体コード", "団体名", "行", "事業名", "予算額（千円）"]
    assert [c.value for c in table[3]] == ["011002", "北海道札幌市", 1, "こころの相談窓口", 3000]
    assert [c.value for c in table[4]][2:] == [2, "SNS相談", 1200]
