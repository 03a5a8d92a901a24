"""The services' messages for people, gathered from the source, and their catalog.

What reaches a person is a problem's ``detail`` and ``title`` and a validator's refusal:
the arguments of ``Problem``, ``problem_response``, ``forbidden``, ``unauthorized``,
``not_found`` (its sentence, ``"<what> not found"``), ``HTTPException``, a rate limit's
``detail``, ``Invalid`` and anything marked ``N_``. They must be string literals (fields
go in ``{name}`` with ``params``), or module constants marked ``N_`` (or tables of them):
anything else (an f-string, a concatenation, ``str(exc)``, an unmarked name) cannot be
looked up in the catalog, and is reported.

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
    "Invalid": (0, None),
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
            tree = ast.parse(path.read_text(), relative)
            marked = _marked_constants(tree)
            for call in _calls(tree):
                _take(call, relative, messages, marked)
    return messages


def _marked_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to a message marked ``N_``, or to a table of such messages."""

    def marked(value: ast.expr) -> bool:
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "N_"
        )

    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            value = node.value
            if marked(value) or (
                isinstance(value, ast.Dict) and value.values and all(map(marked, value.values))
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _take(call: ast.Call, path: str, messages: Messages, marked: set[str]) -> None:
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
        elif path not in _PASS_THROUGH and not _names_marked(arg, marked):
            messages.unfit.append(f"{path}:{call.lineno}: {name}(...) with a computed message")


def _names_marked(arg: ast.expr, marked: set[str]) -> bool:
    """Whether ``arg`` is a message marked ``N_`` where it is written, a constant marked so
    (or an entry of a table of them), or the ``template`` of an ``Invalid`` passed on."""
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "N_":
        return bool(arg.args) and isinstance(arg.args[0], ast.Constant)
    if isinstance(arg, ast.Attribute):
        return arg.attr == "template"
    if isinstance(arg, ast.Subscript):
        arg = arg.value
    return isinstance(arg, ast.Name) and arg.id in marked


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
