from django.core.management.base import BaseCommand

from association.demo import load_demo_data


class Command(BaseCommand):
    help = "デモデータ（連携自治体・担当者・事務局アカウント）を読み込む。既存のデータは保持する。"

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        created = load_demo_data()
        self.stdout.write(
            f"デモデータ: 会員 {created['members']}、協定 {created['agreements']}、"
            f"担当者 {created['contacts']} を追加しました。"
        )
