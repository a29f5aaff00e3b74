from django.core.management.base import BaseCommand

from events.demo import load_demo_trainings


class Command(BaseCommand):
    help = "デモ用の研修会と申込みを読み込む。すでにあるものはそのまま（何度実行しても同じ）。"

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        created = load_demo_trainings()
        self.stdout.write(
            f"デモ研修会: 研修会 {created['trainings']}、申込み {created['registrations']} を追加しました。"
        )
