"""Files are published on the site and linked from bulletins, never attached (LGWAN)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from association.models import User
from mailing import services
from mailing.models import Document


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def secretariat(db):
    return User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")


def pdf(name="研修資料.pdf", content=b"%PDF-1.4 test"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_a_published_document_is_served_by_its_url_without_login(client, secretariat):
    document = services.publish_document(
        title="ゲートキーパー研修 資料", upload=pdf(), by=secretariat
    )
    assert document.url.endswith(f"/mail/files/{document.token}/研修資料.pdf")
    response = client.get(reverse("mailing:document", args=[document.token, document.filename]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"


def test_a_wrong_token_or_name_finds_nothing(client, secretariat):
    document = services.publish_document(title="資料", upload=pdf(), by=secretariat)
    assert (
        client.get(reverse("mailing:document", args=["guess", document.filename])).status_code
        == 404
    )
    assert (
        client.get(reverse("mailing:document", args=[document.token, "other.pdf"])).status_code
        == 404
    )


def test_it_refuses_a_program_and_says_why(secretariat):
    with pytest.raises(ValidationError, match="この種類のファイルは公開できません"):
        services.publish_document(
            title="x", upload=SimpleUploadedFile("setup.exe", b"MZ"), by=secretariat
        )
    assert not Document.objects.exists()


def test_withdrawing_a_document_deletes_the_file(
    client, secretariat, django_capture_on_commit_callbacks
):
    document = services.publish_document(title="資料", upload=pdf(), by=secretariat)
    path = document.file.path
    url = reverse("mailing:document", args=[document.token, document.filename])
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw_document(document, by=secretariat)
    assert client.get(url).status_code == 404
    import os

    assert not os.path.exists(path)


def test_the_admin_publishes_a_document_and_the_compose_page_shows_its_url(client, secretariat):
    client.force_login(secretariat)
    response = client.post(
        reverse("admin:mailing_document_add"), {"title": "研修資料", "file": pdf()}
    )
    assert response.status_code == 302
    document = Document.objects.get()
    page = client.get(reverse("admin:mailing_bulletin_add")).content.decode()
    assert document.url in page
    response = client.post(
        reverse("admin:mailing_document_add"),
        {"title": "危険", "file": SimpleUploadedFile("x.exe", b"MZ")},
    )
    assert response.status_code == 200
    assert "この種類のファイルは公開できません" in response.content.decode()


def test_a_bulletin_links_the_document_on_its_own_line_in_the_text_part(
    all_members_list, alice, secretariat
):
    document = services.publish_document(title="資料", upload=pdf(), by=secretariat)
    bulletin = services.save_bulletin(
        None,
        mailing_list=all_members_list,
        subject="資料のご案内",
        body=f"研修資料を掲載しました。\n\n[研修資料]({document.url})",
    )
    rendered = services.preview_bulletin(bulletin, contact=alice)
    assert document.url in rendered.text.splitlines()
