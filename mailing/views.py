"""Public and portal pages of the mailing app: unsubscribe (link and RFC 8058 one-click), the
portal preference page and the members-only archive. Each view parses, authorises and calls
mailing.services; the secretariat's screens live in mailing.admin."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from association.models import Contact, Member, User
from association.nendo import nendo_label, nendo_of, nendo_range
from association.search import folded_q

from . import audience, services
from .forms import ArchiveSearchForm, PreferenceForm
from .models import Addressee, Bulletin, Document, MailingList, Subscription


def _user(request: HttpRequest) -> User:
    # Only used behind login_required.
    return cast(User, request.user)


# --- unsubscribe -----------------------------------------------------------------------------


def _bad_token(request: HttpRequest) -> HttpResponse:
    return render(request, "mailing/unsubscribe_invalid.html", status=400)


@csrf_exempt  # authorised by the signed token; RFC 8058 one-click POSTs carry no CSRF token
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what will happen (link scanners that prefetch change nothing); POST acts.
    A POST whose body is `List-Unsubscribe=One-Click` is the mail client's one-click."""
    try:
        if request.method != "POST":
            result = services.read_unsubscribe_request(token)
            return render(request, "mailing/unsubscribe.html", {"result": result})
        if request.POST.get("List-Unsubscribe") == "One-Click":
            services.unsubscribe_by_token(token, source=Subscription.Source.ONE_CLICK)
            # The page tells what is true now: the address no longer receives the list.
            ctx = {"result": services.read_unsubscribe_request(token), "one_click": True}
            return render(request, "mailing/unsubscribe.html", ctx)
        if request.POST.get("action") == "resubscribe":
            try:
                services.resubscribe_by_token(token, source=Subscription.Source.LINK)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("配信を再開しました。"))
        else:
            services.unsubscribe_by_token(token, source=Subscription.Source.LINK)
            messages.success(request, _("配信を停止しました。"))
    except signing.BadSignature:
        return _bad_token(request)
    return redirect(request.path)  # the same link, short (/u/…) or old (/mail/unsubscribe/…/)


# --- portal preferences ------------------------------------------------------------------------


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    contacts = list(
        Contact.objects.for_user(user).select_related("member__local_government__prefecture")
    )
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("変更できませんでした。もう一度お試しください。"))
            return redirect("mailing:preferences")
        contact = next((c for c in contacts if c.pk == form.cleaned_data["contact"]), None)
        if contact is None:
            raise PermissionDenied
        mailing_list = get_object_or_404(
            MailingList, pk=form.cleaned_data["mailing_list"], is_active=True
        )
        try:
            if form.cleaned_data["action"] == PreferenceForm.OPT_OUT:
                services.opt_out(mailing_list, contact, source=Subscription.Source.PORTAL, by=user)
                done = _("「%(list)s」の配信を停止しました。")
            else:
                services.resubscribe(
                    mailing_list, contact, source=Subscription.Source.PORTAL, by=user
                )
                done = _("「%(list)s」の配信を受け取るようにしました。")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, done % {"list": mailing_list.name})
        return redirect("mailing:preferences")
    sections = [(contact, services.list_choices(contact)) for contact in contacts]
    return render(request, "mailing/preferences.html", {"sections": sections})


# --- archive -------------------------------------------------------------------------------------


def _archive_lists(user: User) -> QuerySet[MailingList]:
    """The lists whose archive USER may read: the secretariat reads every list; municipality
    staff read the lists whose audience rule covers their municipality, or that they were added
    to by hand. Raises PermissionDenied for anyone else."""
    if user.is_staff:
        return MailingList.objects.all()
    # Staff of a non-member (guest) municipality read no member archive.
    contacts = list(
        Contact.objects.for_user(user)
        .filter(member__status=Member.Status.ACTIVE)
        .only("pk", "member_id")
    )
    if not contacts:
        raise PermissionDenied
    member_ids = {c.member_id for c in contacts}
    allowed = set(
        Subscription.objects.filter(
            contact__in=contacts, status=Subscription.Status.ADDED
        ).values_list("mailing_list_id", flat=True)
    )
    # A few queries per list: lists are counted in tens, not thousands.
    lists = MailingList.objects.exclude(pk__in=allowed).prefetch_related("blocks", "prefectures")
    for mailing_list in lists:
        if audience.rule_members(mailing_list).filter(pk__in=member_ids).exists():
            allowed.add(mailing_list.pk)
    return MailingList.objects.filter(pk__in=allowed)


def _nendo_bounds(nendo: int) -> tuple[dt.datetime, dt.datetime]:
    first, last = nendo_range(nendo)
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def _archived(user: User, lists: QuerySet[MailingList]) -> QuerySet[Bulletin]:
    """The sent bulletins USER may read: those of LISTS (_archive_lists) sent to their
    audience, and the addressed ones (a 照会's request, whatever its list) addressed to
    USER's municipality, and no other addressed one."""
    sent = Bulletin.objects.sent()
    if user.is_staff:
        return sent.filter(mailing_list__in=lists)
    members = Contact.objects.for_user(user).values("member_id")
    return sent.filter(
        Q(addressed=False, mailing_list__in=lists)
        | Q(
            Exists(Addressee.objects.filter(bulletin=OuterRef("pk"), member_id__in=members)),
            addressed=True,
        )
    )


@login_required
def archive(request: HttpRequest) -> HttpResponse:
    lists = _archive_lists(_user(request))
    sent = _archived(_user(request), lists)
    nendos = sorted(
        {nendo_of(at) for at in sent.values_list("started_at", flat=True) if at}, reverse=True
    )
    form = ArchiveSearchForm(
        request.GET or None,
        lists=[(ml.pk, ml.name) for ml in lists],
        nendos=[(n, nendo_label(n)) for n in nendos],
    )
    bulletins = sent.select_related("mailing_list").order_by("-started_at", "-id")
    if form.is_bound and not form.is_valid():
        bulletins = bulletins.none()  # a list or 年度 this person cannot see
    elif form.is_valid():
        data = form.cleaned_data
        if data.get("mailing_list"):
            bulletins = bulletins.filter(mailing_list_id=data["mailing_list"])
        if data.get("nendo"):
            start, end = _nendo_bounds(int(data["nendo"]))
            bulletins = bulletins.filter(started_at__gte=start, started_at__lt=end)
        # Folded as every search is (association.search): エドガワ, えどがわ, ｴﾄﾞｶﾞﾜ and 髙/高
        # find the same bulletins, from the stored folded column.
        condition = folded_q(data.get("q") or "", ["search_text"])
        if condition is not None:
            bulletins = bulletins.filter(condition)
    page = Paginator(bulletins, 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # The search as read, for the other sections of the page (published 照会 results, by
    # inquiries' template tag): None when it could not be read, so they show nothing either.
    search = form.cleaned_data if form.is_valid() else (None if form.is_bound else {})
    ctx = {"form": form, "page": page, "query": query.urlencode(), "search": search}
    return render(request, "mailing/archive.html", ctx)


@login_required
def archive_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lists = _archive_lists(_user(request))
    bulletin = get_object_or_404(
        _archived(_user(request), lists).select_related("mailing_list"), pk=pk
    )
    copy = services.archived_copy(bulletin)
    back = reverse("mailing:archive")
    ctx = {"bulletin": bulletin, "copy": copy, "back": back}
    return render(request, "mailing/archive_detail.html", ctx)


# --- published documents -------------------------------------------------------------------


def document_file(request: HttpRequest, token: str, filename: str) -> FileResponse:
    """A published document, by the URL printed in bulletins. No login: recipients often open
    it on another PC than the one behind the LGWAN gateway; the random token is the key."""
    document = get_object_or_404(Document, token=token)
    if document.filename != filename:
        raise Http404
    inline = filename.lower().endswith((".pdf", ".png", ".jpg", ".jpeg", ".txt"))
    response = FileResponse(
        document.file.open("rb"), as_attachment=not inline, filename=document.filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
