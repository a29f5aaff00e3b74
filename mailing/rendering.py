"""A bulletin body: Markdown with a fixed set of placeholders, rendered to sanitised HTML and to
a plain-text part that stands alone (LGWAN turns HTML into text and disables links, so every
URL is printed in full on its own line).

The body is never a template: `{{ 氏名 }}` and friends are replaced by plain string substitution
from a documented set, and anything else in double braces is refused when the bulletin is saved.
Markdown is rendered once per bulletin (`compile_body`); each recipient costs one substitution.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote

import markdown
import nh3
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The documented placeholder set: name in the body -> what it stands for.
PLACEHOLDERS: dict[str, object] = {
    "団体名": gettext_lazy("団体名（例: 東京都江戸川区）"),
    "氏名": gettext_lazy("氏名"),
    "所属": gettext_lazy("所属部署"),
    "メールアドレス": gettext_lazy("宛先のメールアドレス"),
    "リスト名": gettext_lazy("メーリングリスト名"),
    "配信停止URL": gettext_lazy("この宛先の配信停止ページのURL"),
}

# Filled in by the message wrapper (templates/emails/bulletin.*), not available in a body: every
# message already opens with the address line (団体名・所属・氏名 様 / 団体名 御中 / 各位).
WRAPPER_PLACEHOLDERS = ("宛名",)

PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
URL_RE = re.compile(r"https?://[^\s<>\"'（）「」、。]+", re.IGNORECASE)
# A bare URL in Markdown source that is not already a link target or an autolink.
BARE_URL_RE = re.compile(r"(?<![(<\"'=\]])(https?://[^\s<>()\"'（）「」、。]+)", re.IGNORECASE)

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def placeholders_in(text: str) -> list[str]:
    return [match.group(1) for match in PLACEHOLDER_RE.finditer(text)]


def validate_placeholders(text: str) -> None:
    """Refuse any `{{ … }}` outside the documented set, and any template tag syntax."""
    unknown = sorted({name for name in placeholders_in(text) if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            _("使えない差し込み項目があります: %(names)s。使えるのは %(allowed)s です。")
            % {
                "names": "、".join("{{ " + name + " }}" for name in unknown),
                "allowed": "、".join("{{ " + name + " }}" for name in PLACEHOLDERS),
            },
            code="placeholder",
        )
    if "{%" in text or "{#" in text:
        raise ValidationError(
            _("本文に「{%」「{#」は使えません。"),
            code="template_syntax",
        )


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace each known placeholder by its value (unknown ones were refused on save). A
    placeholder inside a URL (`{{団体名:url}}`, marked by compile_body) takes its value
    percent-encoded, so the URL stays one unbroken word whatever the value holds."""
    return PLACEHOLDER_RE.sub(lambda m: _value(values, m.group(1), m.group(0)), text)


URL_SUFFIX = ":url"


def _value(values: Mapping[str, str], name: str, missing: str) -> str:
    if name in values:
        return values[name]
    if name.endswith(URL_SUFFIX) and name[: -len(URL_SUFFIX)] in values:
        return url_value(values[name[: -len(URL_SUFFIX)]])
    return missing


def url_value(value: str) -> str:
    return quote(value, safe="")


def _tight(text: str) -> str:
    """Placeholders written without their spaces: `{{ 団体名 }}` inside a URL would otherwise
    end the URL at the space."""
    return PLACEHOLDER_RE.sub(lambda m: "{{" + m.group(1) + "}}", text)


def _mark_urls(text: str) -> str:
    """Placeholders inside a URL become `{{名前:url}}` (percent-encoded when substituted)."""

    def mark(url: re.Match[str]) -> str:
        return PLACEHOLDER_RE.sub(
            lambda m: (
                m.group(0)
                if m.group(1).endswith(URL_SUFFIX)
                else "{{" + m.group(1) + URL_SUFFIX + "}}"
            ),
            url.group(0),
        )

    return URL_RE.sub(mark, text)


def _linkify(source: str) -> str:
    return BARE_URL_RE.sub(r"<\1>", source)


def markdown_to_html(source: str) -> str:
    rendered = markdown.markdown(
        _linkify(source), extensions=["tables", "sane_lists", "nl2br", "fenced_code"]
    )
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class _TextWriter(HTMLParser):
    """Sanitised HTML to plain text that reads well after LGWAN strips everything: links become
    their text followed by the URL on its own line."""

    BLOCKS = {"p", "div", "pre", "table", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.links: list[tuple[str, int]] = []  # (href, length of current text at <a>)
        self.lists: list[list[int]] = []  # a counter per open list; [-1] marks <ul>
        self.quote = 0
        self.pre = 0
        self.heading = ""
        self.pending_urls: list[str] = []

    # -- output helpers
    def _flush(self) -> None:
        text = "".join(self.current)
        self.current = []
        if not self.pre:
            text = " ".join(text.split()) if text.strip() else ""
        for raw_line in text.split("\n") if self.pre else [text]:
            if raw_line or self.pre:
                self.lines.append(("> " * self.quote) + raw_line)
        for url in self.pending_urls:
            self.lines.append(("> " * self.quote) + url)
        self.pending_urls = []

    def _blank(self) -> None:
        self._flush()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS or tag in ("h6", "hr"):
            self._blank()
        if tag in ("h1", "h2"):
            self.current.append("■ ")
        elif tag in ("h3", "h4", "h5", "h6"):
            self.current.append("◆ ")
        elif tag == "br":
            self._flush()
        elif tag == "hr":
            self.lines.append("―" * 20)
            self.lines.append("")
        elif tag in ("ul", "ol"):
            self.lists.append([-1] if tag == "ul" else [0])
        elif tag == "li":
            self._flush()
            indent = "  " * max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                self.current.append(f"{indent}{self.lists[-1][0]}. ")
            else:
                self.current.append(f"{indent}・")
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len("".join(self.current))))
        elif tag in ("td", "th") and "".join(self.current).strip():
            self.current.append(" | ")
        elif tag == "tr":
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.current)[start:].strip()
            if href and href.lower().startswith(("http://", "https://")):
                if text == href:
                    # The URL alone: give it its own line.
                    self.current = [("".join(self.current)[:start]).rstrip()]
                    self._flush()
                    self.lines.append(("> " * self.quote) + href)
                else:
                    self.pending_urls.append(href)
            elif href.lower().startswith("mailto:") and text != href[7:]:
                self.current.append(f"（{href[7:]}）")
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._blank()
        elif tag == "blockquote":
            self._flush()
            self.quote = max(self.quote - 1, 0)
            self._blank()
        elif tag == "pre":
            self._flush()
            self.pre = max(self.pre - 1, 0)
            self._blank()
        elif tag in self.BLOCKS or tag == "h6":
            self._blank()
        elif tag in ("li", "tr"):
            self._flush()

    def handle_data(self, data: str) -> None:
        self.current.append(data)

    def text(self) -> str:
        self._flush()
        lines = [_url_on_own_line(line) for line in self.lines]
        return "\n".join(lines).strip("\n") + "\n"


def _url_on_own_line(line: str) -> str:
    """A URL inside running text moves to a line of its own (LGWAN keeps it copyable)."""
    match = URL_RE.search(line)
    if match is None or match.group(0) == line.strip().removeprefix("> ").strip():
        return line
    prefix = "> " * (len(line) - len(line.lstrip("> ")) > 0)
    parts: list[str] = []
    rest = line
    while (match := URL_RE.search(rest)) is not None:
        before = rest[: match.start()].rstrip()
        if before.strip("> "):
            parts.append(before)
        parts.append(prefix + match.group(0))
        rest = rest[match.end() :]
        rest = prefix + rest.lstrip() if rest.strip() else ""
    if rest.strip("> "):
        parts.append(rest)
    return "\n".join(parts)


def html_to_text(sanitised_html: str) -> str:
    writer = _TextWriter()
    writer.feed(sanitised_html)
    writer.close()
    return re.sub(r"\n{3,}", "\n\n", writer.text())


@dataclass(frozen=True)
class CompiledBody:
    """A body rendered once; `text` and `html` still hold the placeholders."""

    text: str
    html: str

    def for_recipient(self, values: Mapping[str, str]) -> tuple[str, str]:
        escaped = {key: html.escape(value) for key, value in values.items()}
        return substitute(self.text, values), substitute(self.html, escaped)


def compile_body(source: str) -> CompiledBody:
    body_html = markdown_to_html(_tight(source))
    text = html_to_text(body_html)
    return CompiledBody(text=_mark_urls(text), html=_mark_urls(body_html))
