"""What happened, in plain Japanese: the audit log's acts by name, and one member's history
(its membership events and every recorded act on it and on its contacts) as one timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuditEntry, Member, MembershipEvent, User
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


def _who(user: User | None) -> str:
    if user is None:
        return str(_("システム"))
    return user.get_full_name() or user.get_username()


def member_history(member: Member, *, show_people: bool, limit: int = 50) -> list[HistoryLine]:
    """MEMBER's membership events (joined, left with its reason, rejoined…) and the acts
    recorded on it and on its contacts, newest first, in three queries."""
    lines = []
    for event in MembershipEvent.objects.filter(member=member).select_related("recorded_by")[
        :limit
    ]:
        moment = timezone.make_aware(dt.datetime.combine(event.effective_on, dt.time()))
        lines.append(
            HistoryLine(
                at=moment,
                when=wareki(event.effective_on),
                what=str(event.get_action_display()),
                detail=event.note,
                by=_who(event.recorded_by),
            )
        )
    contact_ids = [str(pk) for pk in member.contacts.values_list("pk", flat=True)]
    entries = (
        AuditEntry.objects.filter(
            Q(object_type="member", object_id=str(member.pk))
            | Q(object_type="contact", object_id__in=contact_ids)
        )
        .exclude(action__in=["joined", "rejoined", "left", "kind_changed", "guest_registered"])
        .select_related("actor")
        .prefetch_related("person_links__contact")
        .order_by("-created_at", "-id")[:limit]
    )
    for entry in entries:
        local = timezone.localtime(entry.created_at)
        lines.append(
            HistoryLine(
                at=entry.created_at,
                when=f"{wareki(local)} {local:%H:%M}",
                what=action_label(entry.action),
                detail=entry.render(show_people=show_people),
                by=_who(entry.actor),
            )
        )
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines[:limit]
