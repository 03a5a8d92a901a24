"""The local stack's port offset and the web app's build freshness check."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infra.local import nginx, webapp
from infra.local.services import SERVICES, collab_ports, port_offset, services


def test_offset_moves_every_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRBILL_PORT_OFFSET", "1000")
    offset = port_offset()
    assert [s.port for s in services(offset)] == [s.port + 1000 for s in SERVICES]
    assert collab_ports(offset) == (9201, 9202, 9203)
    monkeypatch.setenv("MRBILL_PORT_OFFSET", "-5")
    with pytest.raises(ValueError, match="MRBILL_PORT_OFFSET"):
        port_offset()


def test_nginx_serves_the_app_with_a_csp(tmp_path: Path) -> None:
    conf = nginx.render(
        tmp_path, entry_port=18080, web_root=tmp_path / "dist", collab_ports=[18201]
    )
    assert "listen 127.0.0.1:18080;" in conf
    assert "Content-Security-Policy" in conf
    assert "script-src 'self'" in conf
    # The content service's links name the entry as localhost; the page may be on 127.0.0.1.
    assert "media-src 'self' data: http://localhost:18080 http://127.0.0.1:18080;" in conf
    assert "try_files $uri /index.html" in conf


def test_web_build_is_stale_until_built_after_its_sources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "main.tsx"
    source.write_text("x")
    assert webapp.is_stale(tmp_path)
    built = tmp_path / "dist" / "index.html"
    built.parent.mkdir()
    built.write_text("<html>")
    later = time.time() + 10
    os.utime(built, (later, later))
    assert not webapp.is_stale(tmp_path)
    os.utime(source, (later + 10, later + 10))
    assert webapp.is_stale(tmp_path)
