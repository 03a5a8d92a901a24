import pytest

from loadtests.compaction_bench import keystroke_updates, main
from loadtests.trace import typing_trace


def test_keystrokes_are_one_update_each_and_make_the_trace_text() -> None:
    updates, text = keystroke_updates(3_000, seed=5)
    expected = ""
    for op in typing_trace(3_000, seed=5):
        expected = expected[: op.pos] + op.insert + expected[op.pos + op.delete :]
    assert len(updates) == 3_000
    assert text == expected


def test_both_strategies_restore_the_typed_text(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--keystrokes", "3000", "--rows", "500", "--loads", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == ["document (ours)", "merge"]
    assert all(row.endswith("| same |") for row in rows)
    assert [int(row.split("|")[2]) for row in rows] == [6, 6]
    ours, merged = (float(row.split("|")[5].replace(",", "")) for row in rows)
    assert ours < merged  # the document, not every keystroke
