from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from association import exporting


class Command(BaseCommand):
    help = "担当者の一覧を CSV（UTF-8 BOM 付き）または Excel（.xlsx）で書き出す。"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--output", "-o", help="書き出し先のファイル（CSV は省略で標準出力）")
        parser.add_argument(
            "--include-inactive",
            action="store_true",
            help="無効の担当者と退会した団体の担当者も含める",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        contacts = exporting.export_queryset(include_inactive=options["include_inactive"])
        if options["format"] == "xlsx":
            if not options["output"]:
                raise CommandError(_("xlsx は --output でファイルを指定してください。"))
            data = exporting.export_xlsx(contacts)
        else:
            data = exporting.export_csv(contacts)
        if options["output"]:
            path = Path(options["output"])
            path.write_bytes(data)
            self.stderr.write(
                _("%(count)d 件を %(path)s に書き出しました。")
                % {"count": contacts.count(), "path": path}
            )
        else:
            self.stdout.write(data.decode("utf-8"), ending="")
