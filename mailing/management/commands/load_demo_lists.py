from django.core.management.base import BaseCommand

from mailing import audience, services


class Command(BaseCommand):
    help = "Create the demo mailing lists (全会員, one per block, 連携自治体). Idempotent."

    def handle(self, *args: object, **options: object) -> None:
        for mailing_list in services.load_demo_lists():
            count = audience.recipients(mailing_list).count()
            self.stdout.write(f"{mailing_list.name}: {count}名")
