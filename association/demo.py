"""Demo data for `make run`: the partner municipalities of ../shared/seed with their agreements,
two or three plausible contacts each, and a secretariat account. Written through services."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from django.conf import settings
from django.db import transaction

from . import services
from .models import Agreement, LocalGovernment, Member, User

# (団体, 協定日, ハッシュタグ, mail domain) as listed on the association's page.
PARTNERS = [
    ("東京都江戸川区", "2022-01-24", "#いのちSOS江戸川", "city.edogawa"),
    ("京都府京丹後市", "2022-01-19", "#いのちSOS京都", "city.kyotango"),
    ("新潟県見附市", "2022-02-01", "#いのちSOS新潟", "city.mitsuke"),
    ("岩手県", "2022-02-03", "#いのちSOS岩手", "pref.iwate"),
    ("茨城県取手市", "2022-02-03", "#いのちSOS茨城", "city.toride"),
    ("神奈川県座間市", "2022-02-08", "#いのちSOS神奈川", "city.zama"),
    ("東京都足立区", "2022-02-16", "#いのちSOS足立", "city.adachi"),
    ("東京都港区", "2022-03-09", "#いのちSOS港", "city.minato"),
    ("神奈川県横須賀市", "2022-03-15", "#いのちSOS横須賀市", "city.yokosuka"),
    ("福島県郡山市", "2022-03-15", "#いのちSOS郡山市", "city.koriyama"),
    ("佐賀県", "2022-06-01", "#いのちSOSさが", "pref.saga"),
    ("千葉県松戸市", "2022-07-01", "#いのちSOS千葉", "city.matsudo"),
    ("石川県", "2022-07-01", "#いのちSOS石川", "pref.ishikawa"),
    ("静岡県伊東市", "2022-08-24", "#いのちSOS静岡", "city.ito"),
    ("新潟県南魚沼市", "2022-09-26", "#いのちSOS新潟", "city.minamiuonuma"),
    ("茨城県かすみがうら市", "2023-01-17", "#いのちSOS茨城", "city.kasumigaura"),
    ("新潟県長岡市", "2023-02-17", "#いのちSOS新潟", "city.nagaoka"),
    ("山形県山形市", "2023-03-13", "#いのちSOS山形市", "city.yamagata"),
    ("静岡県熱海市", "2023-07-03", "#いのちSOS静岡", "city.atami"),
    ("群馬県大泉町", "2023-07-11", "#いのちSOS群馬", "town.oizumi"),
    ("愛知県大府市", "2023-07-13", "#いのちSOS愛知", "city.obu"),
    ("京都府", "2023-08-23", "#いのちSOS京都", "pref.kyoto"),
    ("東京都日野市", "2023-09-27", "#いのちSOS東京", "city.hino"),
    ("愛知県名古屋市", "2023-10-23", "#いのちSOS名古屋", "city.nagoya"),
]

# Members that are not partners, so that every block has some (joined when the association
# was founded).
OTHER_MEMBERS = [
    ("北海道札幌市", "city.sapporo"),
    ("大阪府堺市", "city.sakai"),
    ("広島県広島市", "city.hiroshima"),
    ("高知県高知市", "city.kochi"),
    ("福岡県北九州市", "city.kitakyushu"),
    ("沖縄県那覇市", "city.naha"),
]

# (氏名, ふりがな, mailbox) — fictional people.
PEOPLE = [
    ("佐藤 美咲", "さとう みさき", "m-sato"),
    ("鈴木 健太", "すずき けんた", "k-suzuki"),
    ("高橋 由美子", "たかはし ゆみこ", "y-takahashi"),
    ("田中 翔", "たなか しょう", "s-tanaka"),
    ("伊藤 真理", "いとう まり", "m-ito"),
    ("渡辺 大輔", "わたなべ だいすけ", "d-watanabe"),
    ("山本 さくら", "やまもと さくら", "s-yamamoto"),
    ("中村 拓也", "なかむら たくや", "t-nakamura"),
    ("小林 恵", "こばやし めぐみ", "m-kobayashi"),
    ("加藤 隆", "かとう たかし", "t-kato"),
    ("吉田 彩", "よしだ あや", "a-yoshida"),
    ("山田 浩二", "やまだ こうじ", "k-yamada"),
]
DEPARTMENTS = [
    ("健康部 保健予防課", "係長"),
    ("福祉部 地域福祉課", "主事"),
    ("保健福祉部 健康づくり課", "主任保健師"),
    ("こころの健康推進室", "室長補佐"),
]

SECRETARIAT_USERNAME = "jimukyoku"
DEMO_COORDINATOR_EMAIL = "m-sato@city.edogawa.example.jp"


def _find(full_name: str) -> LocalGovernment:
    for lg in LocalGovernment.objects.select_related("prefecture"):
        if lg.full_name == full_name:
            return lg
    raise LookupError(full_name)


def secretariat_password() -> str:
    """A random password per checkout, kept under var/ (never in the repository)."""
    path = Path(settings.VAR_DIR) / "demo_secretariat_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    created = {"members": 0, "agreements": 0, "contacts": 0}
    user, made = User.objects.get_or_create(
        username=SECRETARIAT_USERNAME,
        defaults={
            "email": "jimukyoku@renkei.example.jp",
            "is_staff": True,
            "is_superuser": True,
            "first_name": "事務局",
        },
    )
    if made:
        user.set_password(secretariat_password())
        user.save(update_fields=["password"])
    people = iter(PEOPLE * 8)
    founded = dt.date(2011, 7, 1)
    entries = [
        (full_name, domain, dt.date.fromisoformat(signed), hashtag)
        for full_name, signed, hashtag, domain in PARTNERS
    ] + [(full_name, domain, None, "") for full_name, domain in OTHER_MEMBERS]
    for index, (full_name, domain, signed_on, hashtag) in enumerate(entries):
        lg = _find(full_name)
        if signed_on is not None:
            _, made = Agreement.objects.get_or_create(
                local_government=lg, signed_on=signed_on, defaults={"hashtag": hashtag}
            )
            created["agreements"] += made
        if Member.objects.filter(local_government=lg).exists():
            continue
        kind = Member.Kind.SPECIAL if lg.kind == lg.Kind.PREFECTURE else Member.Kind.MEMBER
        joined_on = founded if signed_on is None or index % 3 else signed_on
        member = services.admit_member(lg, kind=kind, joined_on=joined_on, by=user)
        created["members"] += 1
        for n in range(2 + index % 2):
            name, kana, box = next(people)
            department, title = DEPARTMENTS[(index + n) % len(DEPARTMENTS)]
            services.add_contact(
                member,
                by=user,
                name=name,
                kana=kana,
                department=department,
                title=title,
                email=f"{box}@{domain}.example.jp",
                phone=f"03-{5000 + index:04d}-{1000 + n:04d}",
                role="coordinator" if n == 0 else "staff",
            )
            created["contacts"] += 1
    return created
