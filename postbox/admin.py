"""The secretariat's view of mail to one person: 送信できなかったメール (what finally failed,
and why) and the whole record (個別メール). Read-only: the rows are written by the sender.

Addresses, subjects and bodies are personal data: they show only to a viewer who may see
contacts (the contact view permission); everyone else sees the kind, the state and the reason
with the address taken out."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import FailedMail, OutgoingMail


def can_see_personal_data(request: HttpRequest) -> bool:
    """The one rule for personal data in the admin (until association offers its own)."""
    return bool(request.user.has_perm("association.view_contact"))


def _without_address(text: str, mail: OutgoingMail) -> str:
    address = mail.to_address
    if not address:
        return text
    return re.sub(re.escape(address), str(_("（宛先）")), text, flags=re.IGNORECASE)


class _ReadOnly(admin.ModelAdmin):
    """Columns and fields depend on the viewer: with the contact view permission, the address,
    subject and body; without it, the kind, the state and the reason with the address out.
    (Chosen per request in get_list_display/get_fields: a ModelAdmin is shared by threads.)"""

    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "created_at"
    columns: tuple[str, ...] = ()
    title = gettext_lazy("個別メール")
    PERSONAL = frozenset({"to", "subject", "error"})

    class Media:
        css = {"all": ("postbox/admin.css",)}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _for(self, request: HttpRequest, names: tuple[str, ...]) -> tuple[str, ...]:
        """NAMES as this viewer may see them: the reason as the server said it ("error") for
        those who see the address anyway, with the address taken out ("reason") for others."""
        if can_see_personal_data(request):
            return tuple(n for n in names if n != "reason")
        return tuple(n for n in names if n not in self.PERSONAL)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return self._for(request, self.columns)

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> tuple[str, ...]:
        return (self.columns[0],)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Searching by address would tell who got mail: only for those who may see it.
        if can_see_personal_data(request):
            return ("to", "subject", "reference")
        return ("reference",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields: tuple[str, ...] = (
            "kind",
            "status",
            "to",
            "subject",
            "error",
            "reason",
            "attempts",
            "created_at",
            "next_attempt_at",
            "sent_at",
            "failed_at",
            "expires_at",
            "reference",
            "message_id",
            "provider_message_id",
        )
        if can_see_personal_data(request):
            fields += ("body", "attachment_names", "headers", "reply_to", "error_detail")
        return list(self._for(request, fields))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return super().changelist_view(request, {"title": self.title, **(extra_context or {})})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> Any:
        context = {"title": _("メールの詳細"), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, context)

    @admin.display(description=gettext_lazy("送信できなかった理由"))
    def reason(self, obj: OutgoingMail) -> str:
        """The address taken out, for viewers who may not see it."""
        return _without_address(obj.error, obj) or "-"

    @admin.display(description=gettext_lazy("本文（テキスト）"))
    def body(self, obj: OutgoingMail) -> str:
        if obj.body_cleared:
            return _("（確認コードを含むため、送信処理が終わった時点で本文を消去しました）")
        return obj.text

    @admin.display(description=gettext_lazy("添付ファイル"))
    def attachment_names(self, obj: OutgoingMail) -> str:
        return "、".join(item.get("filename", "") for item in obj.attachments) or "-"


@admin.register(FailedMail)
class FailedMailAdmin(_ReadOnly):
    # The kind says what the mail was; its subject and the tries are on the detail page.
    columns = ("failed_at", "kind", "to", "error", "reason")
    list_filter = ("kind",)
    date_hierarchy = "failed_at"
    ordering = ("-failed_at", "-id")
    title = gettext_lazy("送信できなかったメール")

    def get_queryset(self, request: HttpRequest) -> QuerySet[FailedMail]:
        return super().get_queryset(request).filter(status=OutgoingMail.Status.FAILED)


@admin.register(OutgoingMail)
class OutgoingMailAdmin(_ReadOnly):
    columns = ("created_at", "kind", "to", "status", "attempts", "sent_at", "error", "reason")
    list_filter = ("status", "kind")
    title = gettext_lazy("個別メールの送信記録")
