import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from association import services

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "local-governments.csv"


class Command(BaseCommand):
    help = "全国地方公共団体コードの一覧を読み込む（または新しい一覧で更新する）。"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE))

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"ファイルが見つかりません: {path}")
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"code", "prefecture", "city"} - set(reader.fieldnames or [])
            if missing:
                raise CommandError(f"列が足りません: {', '.join(sorted(missing))}")
            try:
                result = services.load_local_governments(reader)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            f"地方公共団体: 新規 {result.created}、更新 {result.updated}、変更なし {result.unchanged}、"
            f"廃止 {result.retired}、復活 {result.restored}"
        )
        for name in result.retired_with_members:
            self.stdout.write(
                self.style.WARNING(
                    f"注意: 会員の {name} のコードが一覧から消えました（会員情報は保持）"
                )
            )
