"""manage.py import_members FILE [--dry-run]: the member roster (Excel or CSV) brought in, all
or nothing; --dry-run prints what each row would do and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from association.member_import import import_members


class Command(BaseCommand):
    help = "会員名簿（Excel・CSV）を取り込みます。エラーが1つでもあれば何も書き込みません。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="取り込むファイル（.xlsx または .csv）")
        parser.add_argument(
            "--dry-run", action="store_true", help="書き込まずに、行ごとの処理内容だけを表示する"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"ファイル {path} が見つかりません。")
        plan = import_members(path.read_bytes(), filename=path.name, dry_run=options["dry_run"])
        for row in plan.rows:
            self.stdout.write(row.describe())
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"エラーが {len(plan.errors)} 件あるため、何も取り込みませんでした。"
            )
        if options["dry_run"]:
            self.stdout.write(f"確認のみ（書き込みなし）: {plan.summary()}")
        else:
            self.stdout.write(f"取り込みました: {plan.summary()}")
