import time
import urllib.error
import urllib.request

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
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="この秒数まで、Web サーバーが応答するのを待ってから表示する。",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        url = options["url"].rstrip("/")
        if options["wait"]:
            self._wait_for(f"{url}/healthz", options["wait"])
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

    @staticmethod
    def _wait_for(url: str, seconds: float) -> None:
        """Until the web server answers (any status: a 503 still means it is up)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.5)
