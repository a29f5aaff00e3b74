from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from association import importing


class Command(BaseCommand):
    help = (
        "担当者を CSV（UTF-8 / Shift_JIS）または Excel（.xlsx）から取り込む。"
        "エラーが1件でもあれば何も書き込まない。"
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="書き込まずに、行ごとの処理内容だけを表示する"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("ファイルが見つかりません: %(path)s") % {"path": path})
        dry_run = options["dry_run"]
        plan = importing.import_contacts(path.read_bytes(), filename=path.name, dry_run=dry_run)
        if plan.ignored_columns:
            self.stdout.write(
                _("読み飛ばす列: %(columns)s") % {"columns": "、".join(plan.ignored_columns)}
            )
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(str(error))
            raise CommandError(
                _("エラーが %(count)d 件あります。何も取り込んでいません。")
                % {"count": len(plan.errors)}
            )
        if dry_run or options["verbosity"] > 1:
            for row in plan.rows:
                self.stdout.write(row.describe())
        if dry_run:
            self.stdout.write(
                _("%(summary)s（試行のため、書き込んでいません）") % {"summary": plan.summary()}
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(_("取り込みました: %(summary)s") % {"summary": plan.summary()})
            )
