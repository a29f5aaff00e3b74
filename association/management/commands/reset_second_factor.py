from django.core.management.base import BaseCommand, CommandError

from association import accounts
from association.models import User


class Command(BaseCommand):
    help = (
        "事務局アカウントの二段階認証（認証アプリと回復コード）をリセットする。"
        "次回パスワードでログインしたときに認証アプリを設定し直す。"
        " / Reset a secretariat account's lost second factor."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--note", default="manage.py reset_second_factor")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        user = User.objects.filter(username=options["username"]).first()
        if user is None or not (user.is_staff or user.is_superuser):
            raise CommandError(f"事務局のアカウント {options['username']!r} が見つかりません。")
        removed = accounts.reset_second_factor(user, note=options["note"])
        self.stdout.write(
            f"{user.get_username()}: 二段階認証をリセットしました（{removed} 件削除）。"
            "次回ログイン時に認証アプリを設定し直します。"
        )
