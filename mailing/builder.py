"""The one builder of every message a bulletin makes.

`Composer(bulletin)` renders the bulletin once: the subject, the text and the HTML with the
placeholders left in, and the headers split into a per-bulletin part (From, Reply-To, List-Id,
List-Unsubscribe-Post, Auto-Submitted, Precedence) and a per-recipient part (To, Subject when it
holds a placeholder, Message-ID, List-Unsubscribe). Each transport takes its output and nothing
else:

- SMTP sends `composer.as_bytes(recipient)`: the whole message as bytes, the fixed header lines
  encoded once per bulletin, the rest per recipient (mailing.sending.Transport);
- a batch provider gets `merge_templates()`, `merge_data()` and `batch_headers()` (the same
  headers, the per-recipient ones as anymail merge headers);
- every other Django backend (anymail per-message providers, the outbox, tests) gets
  `composer.message(recipient)`, whose fields are the same decoded values and whose `message()`
  is the parsed `as_bytes()` (so Amazon SES, which sends raw MIME, sends exactly those bytes);
- the preview and the archive read `composer.build(recipient)` / `render()`;
- a test send is a send through the same transport of a composer made with `test=True`.

How the bytes are written, and why:

- Header text that is not plain ASCII becomes RFC 2047 encoded-words (UTF-8, B), at most 75
  characters each, folded at 78 columns (RFC 5322), so a Subject or List-Id of any length takes
  as many words as it needs. The spaces of the text go inside the words: the space between two
  encoded-words is dropped by every decoder (RFC 2047 §6.2), and the standard library's own
  folder loses a space of the text that falls at a fold (「髙﨑 ｶﾀｶﾅ」 came back 「髙﨑ｶﾀｶﾅ」).
  A display name (From, To) is one encoded-word: in an address the standard library's parser
  (and some clients) keep the space between two words, against §6.2, so a split name would
  read 「佐藤美 咲」; one word reads the same everywhere, and the longest name the forms allow
  still fits a line of 998 bytes. Plain ASCII goes as written (the standard library quotes a
  display name that needs it).
- Every header value is checked for CR/LF before it is written (`HeaderError`): a line break
  typed into a name or a subject cannot add a header. Forms refuse them at input
  (mailing.forms); this is the last guard for old data.
- Text and HTML parts are UTF-8 with Content-Transfer-Encoding: base64, so that every byte on
  the wire is 7-bit. 8bit would need the relay to advertise 8BITMIME and `MAIL FROM ... BODY=
  8BITMIME` to be declared on every hop, which a LGWAN gateway or an old relay may not do (they
  refuse or mangle 8-bit bodies); quoted-printable turns each Japanese character into nine bytes
  and breaks lines with soft line breaks that some gateways' 無害化 text conversion leaves in,
  while base64 costs a third more and is what Japanese mail clients (Outlook, Thunderbird,
  Becky!, Gmail) send and read for UTF-8 themselves. A URL therefore reaches the reader on one
  line, as written in the text part.
"""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import email.utils
import functools
import hmac
import html
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from .rendering import URL_SUFFIX, compile_body, substitute, url_value
from .tokens import preferences_url, unsubscribe_mailto, unsubscribe_url

if TYPE_CHECKING:
    from association.models import Contact

    from .models import Bulletin, Delivery, MailingList

# The policy every header is encoded with: RFC 5322 line ends for SMTP, 78 columns.
POLICY = email.policy.default.clone(linesep="\r\n", max_line_length=78)
MAX_LINE = 998  # RFC 5322 §2.1.1, without CRLF
LINE = 78  # the line length RFC 5322 recommends, as POLICY folds

# Placeholder -> merge field name in a provider's template language.
MERGE_KEYS = {
    "宛名": "atena",
    "団体名": "org",
    "氏名": "name",
    "所属": "dept",
    "メールアドレス": "email",
    "リスト名": "list",
    "配信停止URL": "unsub",
}


class HeaderError(ValueError):
    """A header value that cannot be written (a line break in it, or an address that is not
    one). The message says which header, in Japanese, for the delivery's error."""


# --- recipients and their address line ----------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    organisation: str = ""
    department: str = ""
    delivery_id: int | None = None
    # The list link's token when the caller has it (mailing.tokens.link_tokens).
    token: str = ""

    @classmethod
    def of_delivery(cls, delivery: Delivery) -> Recipient:
        return cls(
            email=delivery.email,
            name=delivery.recipient_name,
            organisation=delivery.organisation,
            department=delivery.department,
            delivery_id=delivery.pk,
        )

    @classmethod
    def of_contact(cls, contact: Contact) -> Recipient:
        return cls(
            email=contact.email,
            name=contact.name,
            organisation=contact.member.name,
            department=contact.department,
        )


GROUP_ADDRESS = "ご担当者各位"


# Line breaks and other control characters: never in a header, and in a name or a subject
# only ever by mistake (a paste, an old import). Spaces, full-width spaces included, are kept.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
LINE_BREAK_RE = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")


def _one_line(value: str) -> str:
    return CONTROL_RE.sub(" ", value).strip(" ")


def refuse_line_breaks(value: str, *, field: str, label: str) -> None:
    """The one input rule for text that goes into a mail header (a bulletin's subject, a
    list's name and subject prefix): a line break is refused with a message naming the field.
    Raises ValidationError({field: …})."""
    from django.core.exceptions import ValidationError

    if LINE_BREAK_RE.search(value):
        raise ValidationError(
            {
                field: ValidationError(
                    _("%(label)sに改行は使えません（メールの見出しになるため）。")
                    % {"label": label},
                    code="line_break",
                )
            }
        )


def address_line(recipient: Recipient) -> str:
    """団体名・所属・氏名 様 for a person; 団体名 御中 without a name; 各位 for nobody in
    particular. Never two forms at once."""
    name, organisation = _one_line(recipient.name), _one_line(recipient.organisation)
    department = _one_line(recipient.department)
    if name:
        lines = [organisation, department, f"{name} 様"]
        return "\n".join(line for line in lines if line)
    if organisation:
        return " ".join(p for p in (organisation, department) if p) + " 御中"
    return GROUP_ADDRESS


def display_name(recipient: Recipient) -> str:
    """The To header's name: the person (氏名 様) or the organisation (団体名 御中)."""
    name = _one_line(recipient.name)
    if name:
        return f"{name} 様"
    organisation = _one_line(recipient.organisation)
    return f"{organisation} 御中" if organisation else ""


def message_id_for(delivery_id: int, bulletin_id: int, domain: str = "") -> str:
    """Stable across retries, so a receiver can drop a resent copy, and unguessable: 128 bits
    keyed by SECRET_KEY, so that it tells nobody how many were sent or which row is whose, and
    no one can name another recipient's message to a webhook."""
    mac = _message_id_key(settings.SECRET_KEY).copy()
    mac.update(f"{bulletin_id}.{delivery_id}".encode())
    token = base64.b32encode(mac.digest()[:16]).decode().rstrip("=").lower()
    return f"<{token}@{domain or message_id_domain()}>"


@functools.lru_cache(maxsize=4)
def _message_id_key(secret: str) -> hmac.HMAC:
    # Derived once per secret (per recipient it cost more than the rest of the id).
    return salted_hmac("mailing.message-id", b"", secret=secret, algorithm="sha256")


def message_id_domain() -> str:
    return _domain(getattr(settings, "MAILING_MESSAGE_ID_DOMAIN", ""), settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=8)
def _domain(configured: str, default_from: str) -> str:
    if configured:
        return str(configured)
    _name, address = email.utils.parseaddr(default_from)
    return address.rpartition("@")[2] or "renkei.invalid"


# --- header encoding ----------------------------------------------------------------------

HEADER_LABELS = {
    "From": "送信者",
    "To": "宛先",
    "Subject": "件名",
    "Reply-To": "返信先",
    "List-Id": "リスト名",
}


def _check(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\0" in value:
        label = HEADER_LABELS.get(name, name)
        raise HeaderError(
            _("%(field)s（%(header)s ヘッダー）に改行が含まれているため送れません。")
            % {"field": label, "header": name}
        )


def encode_text_header(name: str, value: str) -> bytes:
    """NAME: VALUE as folded, 7-bit header lines. Plain ASCII is folded at its own spaces;
    anything else becomes RFC 2047 encoded-words (UTF-8, B), each at most 75 characters, split
    between characters and folded between words. Spaces go inside the words: the space that
    separates two encoded-words is dropped by every decoder (RFC 2047 §6.2), so a space of the
    text at a fold would be lost (the standard library's folder does just that)."""
    _check(name, value)
    if value.isascii() and "=?" not in value:
        return _fold_ascii(name, value)
    words = encoded_words(value, first=LINE - len(name) - 2)
    return f"{name}: {CRLF_SP.join(words)}\r\n".encode("ascii")


CRLF_SP = "\r\n "
EW_MAX = 75  # RFC 2047 §2


def _ew_length(size: int) -> int:
    return len("=?utf-8?b??=") + 4 * -(-size // 3)


def encoded_words(text: str, *, first: int = EW_MAX) -> list[str]:
    """TEXT as B encoded-words of UTF-8: the first at most FIRST characters long (what is left
    of the header's first line), the others at most 75, never splitting a character."""
    limit = max(min(first, EW_MAX), _ew_length(4))
    words: list[str] = []
    chunk = b""
    for char in text:
        data = char.encode("utf-8")
        if chunk and _ew_length(len(chunk) + len(data)) > limit:
            words.append(_ew(chunk))
            chunk = b""
            limit = EW_MAX
        chunk += data
    if chunk or not words:
        words.append(_ew(chunk))
    return words


def _ew(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _fold_ascii(name: str, value: str) -> bytes:
    """ASCII text folded before its own spaces (unfolding gives it back exactly)."""
    line = f"{name}:"
    lines: list[str] = []
    for i, word in enumerate(value.split(" ")):
        piece = " " + word
        if i and len(line) + len(piece) > LINE:
            lines.append(line)
            line = piece
        else:
            line += piece
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def encode_list_id(name: str, list_id: str) -> bytes:
    """List-Id: phrase <id> (RFC 2919). A phrase of plain words goes as written; any other
    (Japanese, quotes, <>, backslashes) as encoded-words, so the id stays the only <…>."""
    _check("List-Id", name)
    _check("List-Id", list_id)
    if not name:
        return f"List-Id: <{list_id}>\r\n".encode("ascii")
    if all(word and ATEXT_RE.match(word) for word in name.split(" ")):
        return _fold_ascii("List-Id", f"{name} <{list_id}>")
    words = encoded_words(name, first=LINE - len("List-Id: "))
    tail = f"<{list_id}>"
    if len(words[-1]) + 1 + len(tail) + (len("List-Id: ") if len(words) == 1 else 1) <= 78:
        words[-1] += " " + tail
    else:
        words.append(tail)
    return f"List-Id: {CRLF_SP.join(words)}\r\n".encode("ascii")


ATEXT_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def ascii_address(addr: str) -> str:
    """The address as it goes on the wire: an internationalised domain in punycode (IDNA); a
    local part outside ASCII would need SMTPUTF8 all the way, which we do not rely on."""
    _check("To", addr)
    local, at, domain = addr.rpartition("@")
    if not at or not local:
        raise HeaderError(_("メールアドレスの形式が正しくありません: %(addr)s") % {"addr": addr})
    if not local.isascii():
        raise HeaderError(
            _("ASCII 以外の文字を含むメールアドレスには送れません: %(addr)s") % {"addr": addr}
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise HeaderError(
                _("メールアドレスのドメインが正しくありません: %(addr)s") % {"addr": addr}
            ) from None
    return f"{local}@{domain}"


def ascii_value(name: str, encoded: bytes) -> str:
    """An encoded header's value on one line, for an API that takes header values as given
    (the space left between encoded-words is dropped by decoders)."""
    folded = encoded.decode("ascii")
    return folded.removeprefix(f"{name}:").strip().replace(CRLF_SP, " ").removesuffix("\r\n")


def encode_address_header(name: str, display: str, addr: str) -> bytes:
    """NAME: "display" <addr>, the display name in one encoded-word when it is not ASCII (see
    the module note), folded before the address when the line would be long."""
    _check(name, display)
    addr = ascii_address(addr)
    display = _one_line(display)
    if not display:
        return f"{name}: {addr}\r\n".encode("ascii")
    if display.isascii() and "=?" not in display:
        return encode_text_header_object(name, Address(display_name=display, addr_spec=addr))
    word = "=?utf-8?b?" + base64.b64encode(display.encode("utf-8")).decode("ascii") + "?="
    if len(name) + 2 + len(word) > MAX_LINE:
        # Beyond any length the forms allow: the standard library's several words.
        return encode_text_header_object(name, Address(display_name=display, addr_spec=addr))
    if len(name) + 2 + len(word) + 1 + len(addr) + 2 <= LINE:
        return f"{name}: {word} <{addr}>\r\n".encode("ascii")
    return f"{name}: {word}\r\n <{addr}>\r\n".encode("ascii")


def encode_text_header_object(name: str, value: Any) -> bytes:
    return POLICY.header_factory(name, value).fold(policy=POLICY).encode("ascii")


def format_address(display: str, addr: str) -> str:
    """'display <addr>' as text (quoted where RFC 5322 needs it), for fields that take it."""
    if not display or not addr:
        return addr
    local, _at, domain = addr.rpartition("@")
    return str(Address(display_name=display, username=local, domain=domain))


def parse_from(value: str) -> tuple[str, str]:
    """DEFAULT_FROM_EMAIL ('名前 <addr>') as (display name, address)."""
    display, addr = email.utils.parseaddr(value)
    return display, addr


def _b64_lines(data: bytes) -> bytes:
    """base64 in lines of 76 characters, CRLF-terminated (RFC 2045 §6.8)."""
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def _canonical(text: str) -> bytes:
    """Text in its canonical form for base64: UTF-8 with CRLF line ends (RFC 2045 §6.8)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


_DATE_CACHE: dict[int, bytes] = {}


def _date_line() -> bytes:
    now = int(time.time())
    line = _DATE_CACHE.get(now)
    if line is None:
        _DATE_CACHE.clear()
        line = f"Date: {email.utils.formatdate(now, localtime=True)}\r\n".encode("ascii")
        _DATE_CACHE[now] = line
    return line


# --- the built message --------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A message as text: what the preview and the archive show, and what every transport
    sends (headers decoded, in the order written)."""

    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Built:
    recipient: Recipient
    values: dict[str, str]
    subject: str
    text: str
    html: str
    to_display: str
    # Decoded, in the order they are written; the per-recipient ones are To, Subject,
    # Message-ID and List-Unsubscribe.
    headers: dict[str, str]


def _html_values(values: dict[str, str]) -> dict[str, str]:
    escaped = {k: html.escape(v).replace("\n", "<br>") for k, v in values.items()}
    # Inside a URL (href and link text) a value goes percent-encoded from its own text.
    return escaped | {k + URL_SUFFIX: url_value(v) for k, v in values.items()}


class PrebuiltEmail(EmailMultiAlternatives):
    """A Django message whose fields are the builder's values and whose MIME form is the
    builder's bytes: anymail's per-message backends read the fields, backends that send MIME
    (SMTP, Amazon SES, the outbox) get the bytes."""

    raw: bytes = b""

    def message(self, *, policy: Any = None) -> Any:
        parsed = email.message_from_bytes(self.raw, _class=_BuiltMIME, policy=POLICY)
        assert isinstance(parsed, _BuiltMIME)
        parsed.raw = self.raw
        return parsed


class _BuiltMIME(email.message.EmailMessage):
    """The builder's bytes, parsed: written back as those very bytes unless a backend changed
    a header (Amazon SES adds its own), in which case the standard library writes it."""

    raw = b""
    changed = False

    def __setitem__(self, name: str, value: Any) -> None:
        self.changed = True
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self.changed = True
        super().__delitem__(name)

    def as_bytes(self, unixfrom: bool = False, policy: Any = None, **kwargs: Any) -> bytes:
        if self.changed or not self.raw:
            return super().as_bytes(unixfrom, policy)
        if kwargs.get("linesep", "\r\n") == "\n":
            return self.raw.replace(b"\r\n", b"\n")
        return self.raw


class Composer:
    """One bulletin's message, rendered once with the placeholders left in."""

    def __init__(
        self,
        bulletin: Bulletin,
        mailing_list: MailingList | None = None,
        *,
        test: bool = False,
        archive: bool = False,
    ) -> None:
        """ARCHIVE: the copy the archive shows, to 各位, with no unsubscribe link of anyone's."""
        self.bulletin = bulletin
        self.mailing_list = mailing_list or bulletin.mailing_list
        ml = self.mailing_list
        compiled = compile_body(bulletin.body)
        context: dict[str, Any] = {
            "site_name": settings.SITE_NAME,
            "list_name": ml.name,
            "reason": ml.description.strip(),
            "prefix": ml.subject_prefix,
            "subject": bulletin.subject,
            "atena": "{{ 宛名 }}",
            "email": "{{ メールアドレス }}",
            "unsubscribe_url": "{{ 配信停止URL }}",
            "preferences_url": preferences_url(),
            "archive": archive,
        }
        subject = _one_line(render_to_string("emails/bulletin.subject.txt", context))
        self.subject = (_("【テスト送信】") + subject) if test else subject
        self.text = render_to_string("emails/bulletin.txt", context | {"body": compiled.text})
        self.html = (
            render_to_string(
                "emails/bulletin.html", context | {"body_html": mark_safe(compiled.html)}
            )
            if ml.send_html
            else ""
        )
        self.from_email = settings.DEFAULT_FROM_EMAIL
        self.from_display, self.from_address = parse_from(self.from_email)
        reply_to = bulletin.reply_to or ml.reply_to
        self.reply_to = [reply_to] if reply_to else []
        list_domain = getattr(settings, "MAILING_LIST_ID_DOMAIN", "") or message_id_domain()
        self.list_name = _one_line(ml.name)
        self.list_id_part = f"{ml.slug}.{list_domain}"
        self.list_id = f"{self.list_name} <{self.list_id_part}>"
        self.bulletin_headers: dict[str, str] = {
            "From": self.from_email,
            **({"Reply-To": ", ".join(self.reply_to)} if self.reply_to else {}),
            "List-Id": self.list_id,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
        }
        self._subject_is_fixed = "{{" not in self.subject
        self._boundary = f"=_renkei_{uuid.uuid4().hex}"
        self._head: tuple[bytes, bytes] | None = None
        self._subject_line: bytes | None = None
        self._tokens: dict[str, str] = {}
        self._batch_headers: dict[str, str] | None = None
        # Per-recipient headers from what is read once per bulletin.
        self._message_id_domain = message_id_domain()
        mark = "RENKEITOKEN"
        self._list_unsubscribe = (
            f"<{unsubscribe_url('A' * 22)}>, <{unsubscribe_mailto(mark)}>".replace(
                "A" * 22, "{token}"
            ).replace(mark, "{token}")
        )

    # -- values and headers, as text

    def prepare(self, recipients: Sequence[Recipient]) -> None:
        """Fetch (or make) the link tokens of a batch of recipients in two queries, unless
        they are already at hand. Only the tokens of the last batch are kept, so a long drain
        holds no more than one chunk of them."""
        from .tokens import link_tokens

        emails = {r.email.lower() for r in recipients if r.email and not r.token}
        missing = emails - self._tokens.keys()
        if missing:
            kept = {e: t for e, t in self._tokens.items() if e in emails}
            self._tokens = kept | link_tokens(self.mailing_list.pk, missing)

    def token_for(self, recipient: Recipient) -> str:
        if recipient.token:
            return recipient.token
        token = self._tokens.get(recipient.email.lower())
        if token is None:
            from .tokens import link_tokens

            token = link_tokens(self.mailing_list.pk, [recipient.email])[recipient.email.lower()]
        return token

    def values(self, recipient: Recipient) -> dict[str, str]:
        if not recipient.email:
            # The archive's copy: addressed to 各位, pointing at the preference page.
            return {
                "宛名": GROUP_ADDRESS,
                "団体名": "",
                "氏名": "",
                "所属": "",
                "メールアドレス": _("各宛先"),
                "リスト名": self.mailing_list.name,
                "配信停止URL": preferences_url(),
                "_token": "",
            }
        token = self.token_for(recipient)
        return {
            "宛名": address_line(recipient),
            "団体名": recipient.organisation,
            "氏名": recipient.name,
            "所属": recipient.department,
            "メールアドレス": recipient.email,
            "リスト名": self.mailing_list.name,
            "配信停止URL": unsubscribe_url(token),
            "_token": token,
        }

    def recipient_headers(self, recipient: Recipient, values: dict[str, str]) -> dict[str, str]:
        token = values["_token"]
        headers = {}
        if recipient.delivery_id is not None:
            headers["Message-ID"] = self.message_id(recipient)
        if token:
            headers["List-Unsubscribe"] = self._list_unsubscribe.format(token=token)
        return headers

    def message_id(self, recipient: Recipient) -> str:
        if recipient.delivery_id is None:
            return ""
        return message_id_for(recipient.delivery_id, self.bulletin.pk, self._message_id_domain)

    def subject_for(self, values: dict[str, str]) -> str:
        if self._subject_is_fixed:
            return self.subject
        return _one_line(substitute(self.subject, {k: _one_line(v) for k, v in values.items()}))

    def build(self, recipient: Recipient) -> Built:
        values = self.values(recipient)
        subject = self.subject_for(values)
        to_display = display_name(recipient)
        to = format_address(to_display, recipient.email)
        headers = {
            "From": self.from_email,
            **({"To": to} if recipient.email else {}),
            "Subject": subject,
            **{k: v for k, v in self.bulletin_headers.items() if k != "From"},
            **self.recipient_headers(recipient, values),
        }
        return Built(
            recipient=recipient,
            values=values,
            subject=subject,
            text=substitute(self.text, values),
            html=substitute(self.html, _html_values(values)) if self.html else "",
            to_display=to_display,
            headers=headers,
        )

    def render(self, recipient: Recipient) -> Rendered:
        built = self.build(recipient)
        return Rendered(
            subject=built.subject, text=built.text, html=built.html, headers=built.headers
        )

    # -- bytes (SMTP, and the MIME form of every other message)

    def _fixed_head(self) -> tuple[bytes, bytes]:
        """The header lines that are the same for every recipient, encoded once: From, and
        what follows the per-recipient lines."""
        if self._head is None:
            from_line = encode_address_header("From", self.from_display, self.from_address)
            lines = []
            if self.reply_to:
                lines.append(encode_text_header("Reply-To", ", ".join(self.reply_to)))
            lines += [
                encode_list_id(self.list_name, self.list_id_part),
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                b"Auto-Submitted: auto-generated\r\n",
                b"Precedence: bulk\r\n",
                b"MIME-Version: 1.0\r\n",
            ]
            if self.html:
                lines.append(
                    b'Content-Type: multipart/alternative;\r\n boundary="'
                    + self._boundary.encode("ascii")
                    + b'"\r\n'
                )
            self._head = (from_line, b"".join(lines))
        return self._head

    def as_bytes(self, recipient: Recipient, built: Built | None = None) -> bytes:
        """The whole message for RECIPIENT, CRLF line ends, every byte 7-bit. Raises
        HeaderError for a header that cannot be written."""
        built = built or self.build(recipient)
        if self._subject_is_fixed:
            if self._subject_line is None:
                self._subject_line = encode_text_header("Subject", self.subject)
            subject_line = self._subject_line
        else:
            subject_line = encode_text_header("Subject", built.subject)
        from_line, rest = self._fixed_head()
        lines = [_date_line(), from_line]
        if recipient.email:
            lines.append(encode_address_header("To", built.to_display, recipient.email))
        lines.append(subject_line)
        for name in ("Message-ID", "List-Unsubscribe"):
            value = built.headers.get(name)
            if value:
                _check(name, value)
                if name == "List-Unsubscribe" and len(value) + 18 > LINE:
                    value = value.replace(">, <", ">,\r\n <")
                lines.append(f"{name}: {value}\r\n".encode("ascii"))
        lines.append(rest)
        text_part = b'Content-Type: text/plain; charset="utf-8"\r\n'
        text_part += b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(
            _canonical(built.text)
        )
        if not self.html:
            return b"".join(lines) + text_part
        boundary = b"--" + self._boundary.encode("ascii")
        html_part = b'Content-Type: text/html; charset="utf-8"\r\n'
        html_part += b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(
            _canonical(built.html)
        )
        return b"".join(
            [
                *lines,
                b"\r\n",
                boundary + b"\r\n",
                text_part,
                boundary + b"\r\n",
                html_part,
                boundary + b"--\r\n",
            ]
        )

    # -- a Django message (per-message anymail providers, the outbox, tests)

    def message(self, recipient: Recipient, *, connection: Any = None) -> PrebuiltEmail:
        from postbox.transport import tracking_off

        built = self.build(recipient)
        headers = {
            k: v for k, v in built.headers.items() if k not in ("From", "To", "Subject", "Reply-To")
        }
        # Already encoded, as for a batch: some providers refuse a header that is not ASCII.
        headers["List-Id"] = self.batch_headers()["List-Id"]
        message = PrebuiltEmail(
            subject=built.subject,
            body=built.text,
            from_email=self.from_email,
            to=[built.headers["To"]],
            reply_to=self.reply_to,
            headers=headers,
            connection=connection,
        )
        if built.html:
            message.attach_alternative(built.html, "text/html")
        message.raw = self.as_bytes(recipient, built)
        tracking_off(message, connection)
        return message

    # -- a provider's batch API

    def merge_templates(self, api: Any) -> tuple[str, str, str]:
        """Subject, text and HTML with placeholders turned into API's merge fields; the HTML
        fields get their own escaped values (`x_h`)."""
        text_fields = {k: api.text_field % v for k, v in MERGE_KEYS.items()}
        html_fields = {k: api.html_field % v for k, v in MERGE_KEYS.items()}
        # A placeholder inside a URL: its own field, percent-encoded (`x_u`, `x_u_h`).
        text_fields |= {k + URL_SUFFIX: api.text_field % (v + "_u") for k, v in MERGE_KEYS.items()}
        html_fields |= {k + URL_SUFFIX: api.html_field % (v + "_u") for k, v in MERGE_KEYS.items()}
        subject_fields = {k: api.text_field % (v + "_s") for k, v in MERGE_KEYS.items()}
        return (
            substitute(self.subject, subject_fields),
            substitute(self.text, text_fields),
            substitute(self.html, html_fields) if self.html else "",
        )

    def merge_data(self, values: dict[str, str]) -> dict[str, str]:
        data = {MERGE_KEYS[k]: values[k] for k in MERGE_KEYS}
        for key, name in MERGE_KEYS.items():
            data[name + "_h"] = html.escape(values[key]).replace("\n", "<br>")
            # The subject's fields take one-line values (as subject_for() does).
            data[name + "_s"] = _one_line(values[key])
            data[name + "_u"] = data[name + "_u_h"] = url_value(values[key])
        return data

    def batch_headers(self) -> dict[str, str]:
        """The per-bulletin headers a batch call carries for everyone (From and Reply-To go
        in the provider's own fields), already encoded: providers take custom headers as
        ASCII only and pass them on as given."""
        if self._batch_headers is None:
            headers = {
                k: v for k, v in self.bulletin_headers.items() if k not in ("From", "Reply-To")
            }
            encoded = encode_list_id(self.list_name, self.list_id_part)
            headers["List-Id"] = ascii_value("List-Id", encoded)
            self._batch_headers = headers
        return dict(self._batch_headers)

    def batch_recipient(self, recipient: Recipient) -> tuple[str, dict[str, str], dict[str, str]]:
        """For one recipient of a batch: the To entry, the merge data and the merge headers.
        Checks every header the same way as as_bytes()."""
        built = self.build(recipient)
        for name, value in built.headers.items():
            _check(name, value)
        ascii_address(recipient.email)
        return (
            built.headers["To"],
            self.merge_data(built.values),
            {k: built.headers[k] for k in ("List-Unsubscribe", "Message-ID") if k in built.headers},
        )


__all__ = (
    "MERGE_KEYS",
    "Built",
    "Composer",
    "HeaderError",
    "PrebuiltEmail",
    "Recipient",
    "Rendered",
    "address_line",
    "message_id_for",
)
