"""manage.py report_nendo --nendo 2026 --output FILE.xlsx [--block 関東]: the 年度 report the
admin's report page downloads, for a given 年度 (default: the current one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from association.models import Block
from association.nendo import nendo_of
from office.reports import build_report
from office.workbook import report_workbook


class Command(BaseCommand):
    help = "年度の研修参加・会報配信の報告を Excel（.xlsx）に書き出します。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--nendo", type=int, default=None, help="年度（西暦、令和8年度なら 2026）"
        )
        parser.add_argument("--block", default="", help="ブロック名（省略時はすべて）")
        parser.add_argument("--output", required=True, help="書き出す .xlsx ファイル")

    def handle(self, *args: Any, **options: Any) -> None:
        nendo = options["nendo"] or nendo_of()
        if not 1989 <= nendo <= 2200:
            raise CommandError(f"年度「{nendo}」は西暦で指定してください（令和8年度なら 2026）。")
        output = Path(options["output"])
        if output.suffix.lower() != ".xlsx":
            raise CommandError("出力ファイルの拡張子は .xlsx にしてください。")
        block = None
        if options["block"]:
            block = Block.objects.filter(name=options["block"]).first()
            if block is None:
                names = "、".join(Block.objects.values_list("name", flat=True))
                raise CommandError(f"ブロック「{options['block']}」はありません（{names}）。")
        started = time.perf_counter()
        report = build_report(nendo, block=block)
        output.write_bytes(report_workbook(report))
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{report.label}の報告を {output} に書き出しました"
            f"（会員 {len(report.members)}、研修会 {len(report.trainings)}、{seconds:.2f} 秒）。"
        )
