"""The services' messages for people, gathered from the source, and their catalog.

What reaches a person is a problem's ``detail`` and ``title`` and a validator's refusal:
the arguments of ``Problem``, ``problem_response``, ``forbidden``, ``unauthorized``,
``not_found`` (its sentence, ``"<what> not found"``), ``HTTPException``, a rate limit's
``detail`` and anything marked ``N_``. They must be string literals (fields go in
``{name}`` with ``params``), or names of constants marked ``N_``: a message computed
where it is raised (an f-string, a concatenation, ``str(exc)``) cannot be translated,
and is reported.

``./mrbill messages`` adds the new ones to ``platform_api/kernel/locale/pt_BR.po`` (for a
translator to fill in) and drops those no longer said; a test fails while one is missing
or has no translation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from platform_api.kernel.i18n import CATALOG, VALIDATION

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("platform_api",)
# name -> (position of the message among the positional arguments, its keyword)
_CALLS = {
    "Problem": (1, "detail"),
    "problem_response": (1, "detail"),
    "HTTPException": (1, "detail"),
    "forbidden": (0, "detail"),
    "unauthorized": (0, "detail"),
    "not_found": (0, "what"),
    "N_": (0, None),
    "hit": (None, "detail"),
}
# The helpers that pass a message they were given on.
_PASS_THROUGH = ("platform_api/kernel/errors.py", "platform_api/kernel/ratelimit.py")


@dataclass
class Messages:
    found: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # msgid -> places
    unfit: list[str] = field(default_factory=list)  # places of messages that are not literals

    def add(self, message: str, place: tuple[str, int]) -> None:
        self.found.setdefault(message, []).append(place)


def extract(root: Path = ROOT) -> Messages:
    messages = Messages()
    for source in SOURCES:
        for path in sorted((root / source).rglob("*.py")):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            relative = str(path.relative_to(root))
            for call in _calls(ast.parse(path.read_text(), relative)):
                _take(call, relative, messages)
    return messages


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _take(call: ast.Call, path: str, messages: Messages) -> None:
    func = call.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    if name not in _CALLS:
        return
    position, keyword = _CALLS[name]
    args: list[ast.expr] = []
    if position is not None and len(call.args) > position:
        args.append(call.args[position])
    args += [k.value for k in call.keywords if k.arg in (keyword, "title")]
    if name == "not_found" and not args:
        messages.add("Resource not found", (path, call.lineno))
    for arg in args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            text = arg.value + " not found" if name == "not_found" else arg.value
            messages.add(text, (path, call.lineno))
        elif isinstance(arg, ast.JoinedStr | ast.BinOp | ast.Call) and path not in _PASS_THROUGH:
            # (a name or a table stands for a constant marked N_ where it is defined)
            messages.unfit.append(f"{path}:{call.lineno}: {name}(...) with a computed message")


def load_catalog(path: Path = CATALOG) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale="pt_BR")


def update_catalog(path: Path = CATALOG, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """Add the messages said in the source and missing from the catalog, drop those no longer
    said (validation types stay: they are pydantic's); returns (added, dropped)."""
    catalog = load_catalog(path)
    messages = extract(root)
    added = [m for m in messages.found if catalog.get(m) is None]
    dropped = [
        str(m.id)
        for m in catalog
        if m.id and m.context != VALIDATION and str(m.id) not in messages.found
    ]
    for message in dropped:
        catalog.delete(message)
    for message, places in messages.found.items():
        existing = catalog.get(message)
        if existing is None:
            catalog.add(message, "", locations=places)
        else:
            existing.locations = places
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, include_lineno=False)
    return added, dropped
