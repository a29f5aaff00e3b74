"""The portal's 照会 and survey pages. Each view authorises through
association.services.portal_contact() (own municipality only) and calls inquiries.services,
where the one rule for who may change an answer lives."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from association.forms import MemberForm
from association.models import Contact, Member, User
from association.services import portal_contact
from association.view_as import viewing_as
from mailing.rendering import compile_body
from questions import xlsx
from questions.forms import AnswerForm

from . import results, services
from .models import Inquiry, Reply


def body_html(inquiry: Inquiry) -> str:
    # Sanitised by mailing.rendering (nh3), as a bulletin's body is.
    return mark_safe(compile_body(inquiry.body).html) if inquiry.body.strip() else ""


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


class UploadForm(MemberForm):
    file = forms.FileField(
        label=gettext_lazy("記入した調査票（.xlsx）"),
        error_messages={"required": gettext_lazy("ファイルを選んでください。")},
    )


def member_replies(member: Member) -> list[Reply]:
    """A municipality's 照会, newest first, for its portal."""
    return list(
        Reply.objects.filter(
            member=member,
            contact__isnull=True,
            inquiry__kind=Inquiry.Kind.INQUIRY,
            inquiry__status=Inquiry.Status.OPEN,
        )
        .select_related("inquiry")
        .order_by("-inquiry__sent_at", "-id")
    )


def _reply(me: Contact, pk: int) -> Reply:
    # Only the user's own municipality's reply is ever found: another municipality's 照会
    # number gives 404, as does a 照会 this municipality was not asked.
    return get_object_or_404(
        Reply.objects.select_related("inquiry__question_set", "answer_set", "member"),
        inquiry_id=pk,
        member=me.member,
        contact__isnull=True,
        inquiry__kind=Inquiry.Kind.INQUIRY,
        inquiry__status=Inquiry.Status.OPEN,
    )


@login_required
def answer_mine(request: HttpRequest, pk: int) -> HttpResponse:
    """The link in a 照会's request (one URL for every member, as the mail is one bulletin):
    the answer page of the reader's own municipality that was asked; 404 for anyone else."""
    reply = (
        Reply.objects.filter(
            inquiry_id=pk,
            contact__isnull=True,
            inquiry__kind=Inquiry.Kind.INQUIRY,
            inquiry__status=Inquiry.Status.OPEN,
            member__in=Contact.objects.for_user(_user(request)).values("member_id"),
        )
        .select_related("member")
        .order_by("member__local_government_id")
        .first()
    )
    if reply is None or reply.member is None:
        raise Http404
    return redirect("inquiries:answer", code=reply.member.local_government_id, pk=pk)


@login_required
def member_list(request: HttpRequest, code: str) -> HttpResponse:
    me = portal_contact(_user(request), code)
    ctx = {"member": me.member, "me": me, "replies": member_replies(me.member)}
    return render(request, "inquiries/member_list.html", ctx)


def _answer_page(
    request: HttpRequest,
    me: Contact,
    reply: Reply,
    form: AnswerForm,
    upload: UploadForm,
    upload_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    ctx: dict[str, Any] = {
        "member": me.member,
        "me": me,
        "reply": reply,
        "inquiry": reply.inquiry,
        "form": form,
        "upload": upload,
        "upload_errors": upload_errors or [],
        "is_open": reply.is_open(),
        "can_submit": me.is_coordinator,
        "can_edit": reply.is_open() and (me.is_coordinator or not reply.is_submitted),
        "deadline_message": services.deadline_message(reply),
        "history": list(services.history(reply)[:50]),
        "body_html": body_html(reply.inquiry),
    }
    return render(request, "inquiries/answer.html", ctx, status=status)


@login_required
def answer(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = portal_contact(_user(request), code)
    reply = _reply(me, pk)
    question_set = reply.inquiry.question_set
    current = services.questions.answer_values(reply.answer_set)
    upload = UploadForm()
    if request.method != "POST":
        form = AnswerForm(
            question_set,
            answers=current,
            revision=reply.answer_set.revision,
            disabled=not (reply.is_open() and (me.is_coordinator or not reply.is_submitted)),
        )
        return _answer_page(request, me, reply, form, upload)
    submit = request.POST.get("action") == "submit"
    form = AnswerForm(question_set, request.POST, answers=current, require=submit)
    if form.is_valid():
        try:
            services.save_reply(
                reply,
                form.answers(),
                contact=me,
                by=_user(request),
                submit=submit,
                expected_revision=form.expected_revision(),
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("この操作は行えません。"))
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            messages.success(
                request,
                _("回答を提出しました。期限までは修正できます。")
                if submit
                else _("下書きを保存しました。提出は取りまとめ担当の方が行います。")
                if not me.is_coordinator
                else _("下書きを保存しました。"),
            )
            return redirect("inquiries:answer", code=code, pk=pk)
    return _answer_page(request, me, reply, form, upload, status=400)


@login_required
def form_xlsx(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = portal_contact(_user(request), code)
    reply = _reply(me, pk)
    response = HttpResponse(services.xlsx_form(reply), content_type=xlsx.XLSX_TYPE)
    name = f"chosahyo-{reply.inquiry.pk}-{me.member.local_government_id}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def upload(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = portal_contact(_user(request), code)
    reply = _reply(me, pk)
    upload_form = UploadForm(request.POST, request.FILES)
    current = services.questions.answer_values(reply.answer_set)
    form = AnswerForm(
        reply.inquiry.question_set, answers=current, revision=reply.answer_set.revision
    )
    if not upload_form.is_valid():
        return _answer_page(request, me, reply, form, upload_form, status=400)
    data = upload_form.cleaned_data["file"].read(xlsx.MAX_FILE_BYTES + 1)
    submit = request.POST.get("action") == "submit"
    try:
        changed = services.upload_reply(reply, data, contact=me, by=_user(request), submit=submit)
    except PermissionDenied as exc:
        errors = [str(exc)]
    except ValidationError as exc:
        errors = list(exc.messages)
    else:
        messages.success(
            request,
            (
                _("調査票を読み込み、回答を提出しました（%(n)d問を更新）。")
                if submit
                else _("調査票を読み込みました（%(n)d問を更新）。")
            )
            % {"n": len(changed)},
        )
        return redirect("inquiries:answer", code=code, pk=pk)
    return _answer_page(request, me, reply, form, upload_form, upload_errors=errors, status=400)


# --- surveys ---------------------------------------------------------------------------------


@login_required
def survey(request: HttpRequest, pk: int) -> HttpResponse:
    inquiry = get_object_or_404(
        Inquiry.objects.select_related("training", "question_set"),
        pk=pk,
        kind=Inquiry.Kind.SURVEY,
        status=Inquiry.Status.OPEN,
    )
    contact = Contact.objects.for_user(_user(request)).select_related("member").first()
    # Viewing a member's portal read-only, a GET writes nothing: no invitation made on the spot.
    find = services.invitation_for if viewing_as(request) else services.invite_attendee
    invitation = find(inquiry, contact) if contact else None
    if contact is None or invitation is None:
        raise Http404
    ctx: dict[str, Any] = {
        "inquiry": inquiry,
        "invitation": invitation,
        "member": contact.member,
        "body_html": body_html(inquiry),
    }
    if invitation.answered:
        return render(request, "inquiries/survey_done.html", ctx)
    if inquiry.is_past_deadline():
        return render(request, "inquiries/survey_done.html", {**ctx, "closed": True})
    form = AnswerForm(inquiry.question_set, request.POST or None, require=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.answer_survey(inquiry, contact, form.answers())
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            messages.success(request, _("ご回答ありがとうございました。"))
            return redirect("inquiries:survey", pk=pk)
    ctx["form"] = form
    return render(request, "inquiries/survey.html", ctx, status=400 if form.errors else 200)


# --- published results -----------------------------------------------------------------------


def may_read_results(user: User) -> bool:
    """Published results are for the secretariat and the staff of active members only (not a
    guest municipality's), as the bulletin archive is. The results pages and the archive's
    list of results (templatetags.inquiries_portal.archived_results) both ask this."""
    if not user.is_authenticated:
        return False
    return user.is_staff or (
        Contact.objects.for_user(user).filter(member__status=Member.Status.ACTIVE).exists()
    )


def _require_member_reader(user: User) -> None:
    if not may_read_results(user):
        raise PermissionDenied


def published_results() -> QuerySet[Inquiry]:
    """The results the secretariat published, newest deadline first."""
    return Inquiry.objects.filter(published=True, status=Inquiry.Status.OPEN).order_by(
        "-deadline", "-id"
    )


@login_required
def published_list(request: HttpRequest) -> HttpResponse:
    _require_member_reader(_user(request))
    inquiries = published_results()
    return render(request, "inquiries/published_list.html", {"inquiries": inquiries})


@login_required
def published(request: HttpRequest, pk: int) -> HttpResponse:
    """A 照会's aggregate, published by the secretariat (free text only if it chose so)."""
    _require_member_reader(_user(request))
    inquiry = get_object_or_404(published_results(), pk=pk)
    ctx = results.context(inquiry, include_text=inquiry.publish_text)
    return render(request, "inquiries/published.html", ctx)
