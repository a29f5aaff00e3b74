from django.core.management.base import BaseCommand

from association.demo import (
    DEMO_COORDINATOR_EMAIL,
    SECRETARIAT_USERNAME,
    secretariat_password,
)


class Command(BaseCommand):
    help = "make run の案内（URL とデモ用ログイン）を表示する。"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        url = options["url"].rstrip("/")
        self.stdout.write(
            f"""
============================================================
 Renkei（連携）を起動します / Starting Renkei
------------------------------------------------------------
 事務局管理 (admin)   : {url}/admin/
   ユーザー名: {SECRETARIAT_USERNAME}   パスワード: {secretariat_password()}
   確認コード: 初回ログインで認証アプリ（Google Authenticator など）を設定します。
     アプリがない場合（デモのみ）: .venv/bin/python manage.py demo_totp {SECRETARIAT_USERNAME}
 会員ポータル (portal) : {url}/portal/
   ログイン: {DEMO_COORDINATOR_EMAIL}（取りまとめ担当・江戸川区）
   確認コードはメール送信箱で確認（事務局管理にログインしてから）: {url}/dev/outbox/
 ヘルスチェック       : {url}/healthz
 停止: Ctrl-C
============================================================
"""
        )
