from itertools import islice

from loadtests.trace import build_document, typing_trace


def test_trace_is_deterministic_and_shaped_like_typing() -> None:
    ops = list(typing_trace(20_000, seed=7))
    assert ops == list(typing_trace(20_000, seed=7))
    assert ops != list(islice(typing_trace(20_000, seed=8), 20_000))
    deletes = sum(op.delete for op in ops)
    assert 0.2 < deletes / len(ops) < 0.4
    assert all(len(op.insert) + op.delete == 1 for op in ops)


def test_document_replays_the_trace() -> None:
    text = ""
    for op in typing_trace(5_000, seed=3):
        text = text[: op.pos] + op.insert + text[op.pos + op.delete :]

    built = build_document(5_000, ops_per_update=700, seed=3)

    assert built.text == text
    assert len(built.updates) == 8
    assert built.deletes == sum(op.delete for op in typing_trace(5_000, seed=3))
