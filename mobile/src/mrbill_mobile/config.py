"""Start-up settings: which API to talk to and in which language."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LOCAL_API = "http://localhost:8080"  # the local stack's single entry port (./mrbill up)


@dataclass(frozen=True)
class AppConfig:
    api_url: str = LOCAL_API
    language: str | None = None  # None: from the system locale
    data_dir: Path | None = None  # None: the platform's app data folder (from Toga)

    @classmethod
    def from_args(cls, argv: Sequence[str] | None = None) -> AppConfig:
        """``--api URL --lang pt-BR``, or ``MRBILL_API_URL`` / ``MRBILL_LANG``."""
        parser = argparse.ArgumentParser(prog="mrbill-mobile")
        parser.add_argument("--api", default=os.environ.get("MRBILL_API_URL", LOCAL_API))
        parser.add_argument("--lang", default=os.environ.get("MRBILL_LANG"))
        parser.add_argument("--data-dir", default=os.environ.get("MRBILL_DATA_DIR"))
        args = parser.parse_args(argv)
        data_dir = Path(args.data_dir) if args.data_dir else None
        return cls(args.api, args.lang, data_dir)
