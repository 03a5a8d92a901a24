import asyncio
from pathlib import Path

import pytest

from loadtests import bench_search


def test_a_tiny_run_reports_every_query_class(tmp_path: Path) -> None:
    lines = asyncio.run(bench_search.run(2, 300, 25, batch=128, seed=1, directory=tmp_path))

    text = "\n".join(lines)
    assert "2 tenants x 300 POCs = 600" in text
    assert "600 documents" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| ")}
    assert set(bench_search.CLASSES) <= set(rows)
    for kind in bench_search.CLASSES:
        cells = [c.strip() for c in rows[kind].strip("|").split("|")]
        assert cells[1] == "25"
        assert float(cells[2]) <= float(cells[4]) <= float(cells[5])  # p50 <= p99 <= max
    # Without words the whole visible part of a tenant matches: most of its 300 POCs.
    facets = [c.strip() for c in rows["facets"].strip("|").split("|")]
    assert 200 < float(facets[6]) <= 300


def test_the_command_line_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    bench_search.main(["--tenants", "1", "--per-tenant", "100", "--queries", "5"])

    out = capsys.readouterr().out
    assert "| query class | queries | p50 ms |" in out
    assert "| typo | 5 |" in out
