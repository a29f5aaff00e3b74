"""manage.py export_members --output FILE.csv: the member list with agreements and contact
counts, in the columns import_members reads back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from association.member_import import export_members_csv


class Command(BaseCommand):
    help = "会員団体の一覧（連携協定・担当者数つき）を CSV に書き出します。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="書き出す .csv ファイル")

    def handle(self, *args: Any, **options: Any) -> None:
        Path(options["output"]).write_bytes(export_members_csv())
        self.stdout.write(f"{options['output']} に書き出しました。")
