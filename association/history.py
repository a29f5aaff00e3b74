"""What happened, in plain Japanese: the audit log's acts by name, and one member's history
(its membership events and every recorded act on it and on its contacts) as one timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, DateTimeField, F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, Contact, Member, MembershipEvent, render_summary
from .nendo import wareki

# Every act the apps record through association.services.audit(), by its code. An unknown code
# (a new act not named here yet) is shown as it is; tests/association/test_history.py fails on one.
ACTION_LABELS = {
    "joined": _("入会"),
    "rejoined": _("再入会"),
    "left": _("退会"),
    "kind_changed": _("会員種別の変更"),
    "guest_registered": _("非会員として登録"),
    "member_updated": _("会員情報の更新"),
    "agreement_recorded": _("連携協定の登録"),
    "contact_added": _("担当者の登録"),
    "contact_updated": _("担当者情報の更新"),
    "contact_deactivated": _("担当者の無効化"),
    "contact_handed_over": _("担当者の引き継ぎ"),
    "contact_erased": _("個人情報の削除"),
    "contacts_exported": _("担当者一覧の書き出し"),
    "participants_exported": _("参加者一覧の書き出し"),
    "second_factor_enrolled": _("二段階認証の設定"),
    "second_factor_reset": _("二段階認証のリセット"),
    "recovery_codes_renewed": _("回復コードの再発行"),
    "training_saved": _("研修会の保存"),
    "training_called_off": _("研修会の中止"),
    "training_duplicated": _("研修会の複製"),
    "training_mailed": _("参加者へのメール"),
    "calendar_feed_issued": _("カレンダー配信URLの発行"),
    "calendar_feed_revoked": _("カレンダー配信URLの無効化"),
    "registration_cancelled": _("申込みの取消"),
    "registration_substituted": _("参加者の交代"),
    "registration_on_behalf": _("事務局による代理申込み"),
    "registration_confirmed_out_of_turn": _("キャンセル待ちからの参加確定（順番外）"),
    "registration_moved_to_waiting_list": _("参加確定からキャンセル待ちへの移動"),
    "waiting_list_reordered": _("キャンセル待ちの並べ替え"),
    "portal_viewed_as_member": _("ポータルの閲覧のみ表示（事務局）"),
    "portal_view_as_ended": _("ポータルの閲覧のみ表示の終了"),
    "attendance_marked": _("出欠の記録"),
    "bulletin_scheduled": _("会報の送信予約"),
    "bulletin_started": _("会報の送信開始"),
    "bulletin_paused": _("会報の一時停止"),
    "bulletin_resumed": _("会報の送信再開"),
    "bulletin_cancelled": _("会報の送信中止"),
    "bulletin_failed": _("会報のエラー停止"),
    "bulletin_resent": _("会報の失敗分の再送"),
    "list_added": _("配信リストへの追加"),
    "list_removed": _("配信リストからの削除"),
    "list_opted_out": _("配信停止"),
    "list_resubscribed": _("配信の再開"),
    "suppression_added": _("配信停止アドレスの登録"),
    "suppression_removed": _("配信停止アドレスの解除"),
    "document_published": _("資料の公開"),
    "document_withdrawn": _("資料の公開終了"),
    "inquiry_created": _("照会の作成"),
    "inquiry_scheduled": _("照会の送信予約"),
    "inquiry_sent": _("照会の送信"),
    "inquiry_reminded": _("照会の督促"),
    "inquiry_reopened": _("照会の回答受付の再開"),
    "inquiry_exported": _("照会の回答の書き出し"),
}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


@dataclass(frozen=True)
class HistoryLine:
    """One line of a member's history: when (as the secretariat reads it), what, and by whom."""

    at: dt.datetime
    when: str
    what: str
    detail: str
    by: str


def member_history(member: Member, *, show_people: bool, limit: int = 50) -> list[HistoryLine]:
    """MEMBER's membership events (joined, left with its reason, rejoined…) and the acts
    recorded on it and on its contacts, newest first, in one query: both kinds of row as the
    same columns (an act once per person it links, so that no second query fetches them)."""
    columns = ("source", "row_id", "at", "act", "text", "username", "first", "last")
    people = ("link_role", "link_contact", "link_name")
    events = (
        MembershipEvent.objects.filter(member=member)
        .annotate(
            source=Value("event"),
            row_id=F("pk"),
            at=Cast("effective_on", DateTimeField()),
            act=F("action"),
            text=F("note"),
            username=F("recorded_by__username"),
            first=F("recorded_by__first_name"),
            last=F("recorded_by__last_name"),
            link_role=Value(None, output_field=CharField()),
            link_contact=Value(None, output_field=IntegerField()),
            link_name=Value(None, output_field=CharField()),
        )
        .values(*columns, *people)
        .order_by()
    )
    contact_ids = (
        Contact.objects.filter(member=member)
        .annotate(as_text=Cast("pk", CharField()))
        .values("as_text")
    )

    def acts(on: Q) -> QuerySet[AuditEntry, dict[str, Any]]:
        return (
            AuditEntry.objects.filter(on)
            .exclude(action__in=MEMBERSHIP_ACTIONS)
            .annotate(
                source=Value("audit"),
                row_id=F("pk"),
                at=F("created_at"),
                act=F("action"),
                text=F("summary"),
                username=F("actor__username"),
                first=F("actor__first_name"),
                last=F("actor__last_name"),
                link_role=F("person_links__role"),
                link_contact=F("person_links__contact_id"),
                link_name=F("person_links__contact__name"),
            )
            .values(*columns, *people)
            .order_by()
        )

    # Two parts, not one OR: each is then a range of the audit log's (object_type, object_id)
    # index instead of a scan of the whole log.
    on_member = acts(Q(object_type="member", object_id=str(member.pk)))
    on_contacts = acts(Q(object_type="contact", object_id__in=contact_ids))
    # An act links at most a few people (old and new): enough rows for LIMIT acts.
    most = limit * LINKS_PER_ACT
    rows = list(events.union(on_member, on_contacts, all=True).order_by("-at", "-row_id")[:most])
    grouped: dict[tuple[str, int], dict] = {}
    for row in rows:
        line = grouped.setdefault((row["source"], row["row_id"]), {**row, "people": {}})
        if row["link_role"] is not None:
            line["people"][row["link_role"]] = (row["link_contact"], row["link_name"])
    if len(rows) == most:
        # The cut may have fallen among the last act's people: that act waits for a longer page.
        grouped.pop(next(reversed(grouped)))
    lines = [_line(row, show_people=show_people) for row in grouped.values()]
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines[:limit]


# The membership events tell these acts (with their date and reason); their audit entries
# would say the same twice.
MEMBERSHIP_ACTIONS = ["joined", "rejoined", "left", "kind_changed", "guest_registered"]
LINKS_PER_ACT = 3


def _line(row: dict, *, show_people: bool) -> HistoryLine:
    # As User.get_full_name() or get_username(); no one recorded it: the system did.
    full_name = f"{row['first'] or ''} {row['last'] or ''}".strip()
    by = full_name or row["username"] or str(_("システム"))
    if row["source"] == "event":
        day = (
            timezone.localtime(row["at"]).date()
            if isinstance(row["at"], dt.datetime)
            else row["at"]
        )
        return HistoryLine(
            at=timezone.make_aware(dt.datetime.combine(day, dt.time())),
            when=wareki(day),
            what=str(MembershipEvent.Action(row["act"]).label),
            detail=row["text"],
            by=by,
        )
    local = timezone.localtime(row["at"])
    return HistoryLine(
        at=row["at"],
        when=f"{wareki(local)} {local:%H:%M}",
        what=action_label(row["act"]),
        detail=render_summary(row["text"], row["people"], show_people=show_people),
        by=by,
    )
