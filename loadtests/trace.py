"""A deterministic, realistic typing trace, and the Yjs document it produces.

No public editing trace ships in a PyPI or npm package, so we generate one shaped like the
well-known automerge-paper trace (260k single-character operations, about 30% deletions,
mostly typing at the cursor with backspace runs and occasional jumps elsewhere). The text
typed is code-like ASCII, so that Yjs and Python agree on every index.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, Text

TOKENS = (
    "def ", "return ", "self", ".", "(", ")", ":", ", ", " = ", "\n", "\n    ", "\n        ",
    "if ", "else", "for ", " in ", "range", "len", "value", "items", "result", "None", "True",
    "# ", "import ", "from ", "class ", "yield ", "await ", "async ", "0", "1", "[", "]", '"',
    "name", "room", "update", "doc", "text", "client", "+ ", "- ", "* ", "== ", "not ",
)  # fmt: skip
BACKSPACE_RUN_START = 0.07  # per typed character: starts a run of deletions
BACKSPACE_RUN_MEAN = 5.0  # extra deletions after the first one, on average
CURSOR_JUMP = 0.002  # per operation: the author moves the cursor elsewhere


@dataclass(frozen=True, slots=True)
class Op:
    """Delete `delete` characters at `pos`, then insert `insert` there."""

    pos: int
    delete: int
    insert: str


def typing_trace(ops: int = 260_000, *, seed: int = 2026) -> Iterator[Op]:
    """`ops` single-character insertions and deletions, the same for a given seed."""
    rng = random.Random(seed)
    length = cursor = backspaces = 0
    typed = ""
    for _ in range(ops):
        if length and rng.random() < CURSOR_JUMP:
            cursor = rng.randint(0, length)
        if backspaces and cursor:
            backspaces -= 1
            cursor -= 1
            length -= 1
            yield Op(cursor, 1, "")
            continue
        if not typed:
            typed = rng.choice(TOKENS)
        char, typed = typed[0], typed[1:]
        yield Op(cursor, 0, char)
        cursor += 1
        length += 1
        if rng.random() < BACKSPACE_RUN_START:
            backspaces = 1 + int(rng.expovariate(1 / BACKSPACE_RUN_MEAN))


@dataclass(frozen=True)
class BuiltDocument:
    """The updates that replay a trace (one per `ops_per_update` operations) and the result."""

    updates: list[bytes]
    text: str
    ops: int
    deletes: int
    state_bytes: int


def build_document(
    ops: int = 260_000, *, ops_per_update: int = 1000, seed: int = 2026, text_name: str = "text"
) -> BuiltDocument:
    """Replay the trace into a pycrdt document, one transaction per `ops_per_update` ops."""
    doc: Doc[Any] = Doc()
    text = doc.get(text_name, type=Text)
    updates: list[bytes] = []
    deletes = done = 0
    trace = typing_trace(ops, seed=seed)
    while done < ops:
        before = doc.get_state()
        with doc.transaction():
            for op in trace:
                if op.delete:
                    del text[op.pos : op.pos + op.delete]
                    deletes += 1
                else:
                    text.insert(op.pos, op.insert)
                done += 1
                if done % ops_per_update == 0:
                    break
        updates.append(doc.get_update(before))
    return BuiltDocument(updates, str(text), ops, deletes, len(doc.get_update()))
