"""``python -m mrbill_mobile [--api URL] [--lang pt-BR|en]`` (and Briefcase's entry point)."""

from __future__ import annotations

import sys

from .app import main

if __name__ == "__main__":
    main(sys.argv[1:]).main_loop()
