from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from association.models import User


class Command(BaseCommand):
    help = (
        "開発・デモ用: 認証アプリがなくても管理画面に入れるよう、アカウントの認証アプリが"
        "いま表示するはずの6桁を表示する（本番では使えない）。"
        " / Demo only: print the code an account's authenticator app shows now."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if settings.PRODUCTION:
            raise CommandError("本番（RENKEI_ENV=production）では使えません。")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"アカウント {options['username']!r} が見つかりません。")
        # The confirmed app, or the one being set up on the enrolment page.
        device = TOTPDevice.objects.filter(user=user).order_by("-confirmed", "-id").first()
        if device is None:
            raise CommandError(
                "まだ認証アプリがありません。管理画面にパスワードでログインすると設定画面が開きます。"
                "その画面を開いたまま、もう一度このコマンドを実行してください。"
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        remaining = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}  （あと{remaining}秒有効）")
