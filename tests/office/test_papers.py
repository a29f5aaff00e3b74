"""Papers to print: the attendance sheet and certificates as PDFs with the Japanese fonts
embedded, read back as text; a certificate's code checked by anyone, forged codes refused."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from association import services as association
from association.models import User
from events import services as events
from events.models import Registration, Training
from office import papers
from tests.conftest import lg


def _text(data: bytes) -> tuple[list[str], PdfReader]:
    reader = PdfReader(io.BytesIO(data))
    return [page.extract_text() for page in reader.pages], reader


def _embedded_fonts(reader: PdfReader) -> set[str]:
    """Names of the fonts whose program is in the file (FontFile, FontFile2 or FontFile3)."""
    found = set()
    for page in reader.pages:
        resources: Any = page["/Resources"].get_object()
        fonts = resources.get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is None:
                    continue
                descriptor = descriptor.get_object()
                if any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    found.add(str(descriptor["/FontName"]))
    return found


@pytest.fixture
def training_day(registry):
    zone = timezone.get_current_timezone()
    start = dt.datetime(2026, 6, 1, 13, 30, tzinfo=zone)
    training = events.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title="令和8年度 全体研修会",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            capacity=100,
            per_member_limit=60,
            venue_name="江戸川区総合文化センター",
            status=Training.Status.PUBLISHED,
        )
    )
    people = []
    for n, (name, kana, lg_name) in enumerate(
        (
            ("山田 太郎", "やまだ たろう", "北海道札幌市"),
            ("佐藤 美咲", "さとう みさき", "東京都江戸川区"),
            ("青木 一郎", "あおき いちろう", "東京都江戸川区"),
            ("高橋 由美子", "たかはし ゆみこ", "東京都足立区"),
        )
    ):
        government = lg(lg_name)
        member = getattr(government, "member", None) or association.admit_member(government)
        people.append(
            association.add_contact(
                member,
                name=name,
                kana=kana,
                email=f"p{n}@{government.code}.example.jp",
            )
        )
    regs = [
        events.register_for_training(training, contact=p, now=start - dt.timedelta(days=30))
        for p in people
    ]
    after = training.ends_at
    events.mark_attendance(regs[:2], attendance=Registration.Attendance.ATTENDED, now=after)
    events.mark_attendance(regs[2:3], attendance=Registration.Attendance.ABSENT, now=after)
    return training, regs


def test_the_attendance_sheet_lists_everyone_by_block_prefecture_and_kana(training_day):
    training, _regs = training_day
    pages, reader = _text(papers.attendance_sheet(training))
    text = "\n".join(pages)
    assert "令和8年度 全体研修会" in text and "令和8年6月1日（月）" in text
    assert "署名" in text and "1 / 1 ページ" in text
    order = [text.index(n) for n in ("山田 太郎", "高橋 由美子", "青木 一郎", "佐藤 美咲")]
    # 北海道・東北 first; in 東京都 あだちく before えどがわく; in 江戸川区 あおき before さとう
    assert order == sorted(order)
    assert any("IPAexGothic" in name for name in _embedded_fonts(reader))


def test_a_long_sheet_breaks_into_numbered_pages_with_the_header_on_each(training_day):
    training, _regs = training_day
    member = association.admit_member(lg("東京都港区"))
    for n in range(45):
        contact = association.add_contact(
            member,
            name=f"職員{n:02d} {'長' * 20}",
            kana=f"しょくいん{n:02d}",
            email=f"s{n}@minato.example.jp",
        )
        events.register_for_training(
            training, contact=contact, now=training.starts_at - dt.timedelta(days=30)
        )
    pages, _reader = _text(papers.attendance_sheet(training))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"{number} / {len(pages)} ページ" in page
        assert "出欠表（受付名簿）" in page and "氏名" in page  # header row repeated


def test_certificates_are_made_only_for_those_marked_attended(training_day):
    training, regs = training_day
    pages, reader = _text(papers.certificates(list(papers.attended(training))))
    assert len(pages) == 2
    assert "佐藤 美咲 様" in pages[1] and "山田 太郎 様" in pages[0]
    assert all("参加証明書" in p and "令和8年6月1日（月）" in p for p in pages), pages
    assert all("自殺のない社会づくり市区町村会" in p for p in pages)
    assert papers.certificate_code(regs[1]) in pages[1].replace("\n", "")
    assert "青木" not in "".join(pages) and "高橋" not in "".join(pages)
    assert any("IPAexMincho" in name for name in _embedded_fonts(reader))
    # Asked for someone absent, it still makes no certificate for them.
    assert len(_text(papers.certificates([regs[2]]))[0]) == 1  # the "nobody" page only


def test_anyone_can_check_a_certificate_and_learns_only_the_name_and_training(client, training_day):
    _training, regs = training_day
    code = papers.certificate_code(regs[1])
    page = client.get(reverse("certificate", args=[code]))
    html = page.content.decode()
    assert page.status_code == 200 and "本物です" in html
    assert "佐藤 美咲" in html and "令和8年度 全体研修会" in html
    sato = regs[1].contact
    for private in (sato.email, sato.kana, sato.member.name):
        assert private not in html


@pytest.mark.parametrize(
    "forged", ["", "1-AAAAAAAAAA", "abc", "1", "99999999-ZZZZZZZZZZ", "1-" + "A" * 200]
)
def test_a_forged_or_absent_certificate_code_is_not_found(client, training_day, forged):
    _training, regs = training_day
    assert papers.find_certificate(forged) is None
    if forged:
        assert client.get(reverse("certificate", args=[forged])).status_code == 404
    absent = papers.certificate_code(regs[2])  # a real code of someone not marked attended
    assert papers.find_certificate(absent) is None


def test_the_secretariat_downloads_the_sheet_and_all_certificates(client, training_day):
    training, _regs = training_day
    client.force_login(User.objects.create_superuser("j", "j@example.jp", "x-long-passphrase"))
    page = client.get(reverse("admin:events_training_change", args=[training.pk])).content
    assert "出欠表（PDF）" in page.decode()
    sheet = client.get(reverse("office:attendance_sheet", args=[training.pk]))
    assert sheet["Content-Type"] == "application/pdf" and sheet.content.startswith(b"%PDF")
    certificates = client.get(reverse("office:certificates", args=[training.pk]))
    assert len(_text(certificates.content)[0]) == 2


def test_staff_without_the_contact_permission_get_no_papers(client, training_day):
    training, _regs = training_day
    staff = User.objects.create_user("hojo", "hojo@example.jp", "x-long-passphrase", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_registration"))
    client.force_login(staff)
    assert client.get(reverse("office:attendance_sheet", args=[training.pk])).status_code == 403


def test_an_attendee_downloads_their_own_certificate_from_the_portal(client, training_day):
    _training, regs = training_day
    sato = regs[1].contact
    code = sato.member.local_government_id
    client.force_login(sato.user)
    mine = client.get(reverse("papers:my_certificate", args=[code, regs[1].pk]))
    assert mine.status_code == 200
    assert "佐藤 美咲 様" in _text(mine.content)[0][0]
    colleague = client.get(reverse("papers:my_certificate", args=[code, regs[2].pk]))
    assert colleague.status_code == 404  # 青木's, and absent besides
    other = client.get(reverse("papers:my_certificate", args=[code, regs[0].pk]))
    assert other.status_code in (403, 404)  # another municipality's attendee


def test_badges_fit_ten_to_an_a4_label_sheet(training_day):
    training, _regs = training_day
    member = association.admit_member(lg("東京都港区"))
    for n in range(8):
        contact = association.add_contact(
            member, name=f"港 {n}郎", kana=f"みなと {n}", email=f"b{n}@minato.example.jp"
        )
        events.register_for_training(
            training, contact=contact, now=training.starts_at - dt.timedelta(days=30)
        )
    pages, reader = _text(papers.badges(training))
    assert len(pages) == 2  # 12 badges: 10 on the first sheet, 2 on the second
    assert "東京都江戸川区" in pages[0] and "さとう みさき" in pages[0] and "佐藤 美咲" in pages[0]
    assert sum(p.count("港 ") for p in pages) == 8
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
    assert any("IPAexGothic" in name for name in _embedded_fonts(reader))


def test_a_notice_is_addressed_to_the_head_of_each_registered_municipality(training_day):
    training, regs = training_day
    association.update_contact(regs[1].contact, by=None, department="健康部 保健予防課")
    pages, _reader = _text(papers.notices(training))
    assert len(pages) == 3  # 札幌市, 足立区, 江戸川区 (two people on one page)
    edogawa = next(p for p in pages if "東京都江戸川区" in p)
    assert "健康部 保健予防課" in edogawa and "所属長 様" in edogawa
    assert "佐藤 美咲" in edogawa and "青木 一郎" in edogawa and "高橋" not in edogawa
    assert "令和8年6月1日（月） 13:30〜16:30" in edogawa and "開催について（通知）" in edogawa


def test_staff_download_their_own_municipalitys_notice_from_the_portal(client, training_day):
    training, regs = training_day
    sato = regs[1].contact
    code = sato.member.local_government_id
    client.force_login(sato.user)
    response = client.get(reverse("papers:my_notice", args=[code, training.pk]))
    assert response.status_code == 200
    (page,) = _text(response.content)[0]
    assert "東京都江戸川区" in page and "北海道札幌市" not in page and "高橋" not in page
    other = client.get(reverse("papers:my_notice", args=["011002", training.pk]))
    assert other.status_code in (403, 404)  # not her municipality
