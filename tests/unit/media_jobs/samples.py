"""Sample POCs for renderer tests: ordinary ones, and the nasty ones (huge, emoji, RTL)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

LANGUAGES = ["Python", "Rust", "TypeScript", "Go", "Kotlin", "Elixir", "Java", "C++"]
TAGS = ["crdt", "ml", "aws", "postgres", "websocket", "cli", "wasm", "llm", "search", "video"]
STATUSES = ["done", "in_progress", "abandoned", "idea"]


def sample_pocs(count: int, *, year: int = 2025, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pocs = []
    for n in range(count):
        created = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        pocs.append(
            {
                "poc_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": f"POC {n + 1}: {rng.choice(['Realtime', 'Tiny', 'Fast', 'Secure'])} "
                f"{rng.choice(['editor', 'index', 'queue', 'cache', 'parser'])}",
                "description": "Explores how to " + " ".join(rng.choice(TAGS) for _ in range(30)),
                "language": rng.choice(LANGUAGES),
                "frameworks": rng.sample(["FastAPI", "React", "Axum", "Phoenix"], 2),
                "tags": rng.sample(TAGS, rng.randint(1, 4)),
                "status": rng.choice(STATUSES),
                "repository_url": f"https://github.com/mrbill/poc-{n + 1}",
                "started_on": created.isoformat(),
                "finished_on": (created + timedelta(days=rng.randint(1, 30))).isoformat(),
                "created_at": f"{created.isoformat()}T10:00:00+00:00",
                "visibility": "private",
            }
        )
    return sorted(pocs, key=lambda p: p["created_at"])


def nasty_pocs(year: int = 2025) -> list[dict[str, Any]]:
    """A POC with huge text, one with emoji, one in Hebrew and Arabic, one with markup."""
    base = sample_pocs(4, year=year, seed=99)
    base[0].update(
        name="Huge " + "x" * 300,
        description=("Lorem ipsum dolor sit amet " * 2000) + "z" * 5000,
        tags=[f"tag-{i}-" + "y" * 60 for i in range(40)],
        repository_url="https://example.com/" + "a" * 400,
    )
    base[1].update(
        name="Emoji party 🎉🚀🔥 ação",
        description="Ships 🚢 fast ⚡ with ❤️ and naïve café façade",
        tags=["🎉", "fun😀"],
    )
    base[2].update(
        name="שלום עולם מרשים",
        description="مرحبا بالعالم — a right-to-left POC with mixed text",
        language="עברית",
        tags=["עברית", "عربى"],
    )
    base[3].update(name='<b>Markup</b> & "quotes" \x00\x07 control', description=None, tags=[])
    return base
