"""Service logs: one JSON object per line, and nothing of a failing frame's variables."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from platform_api.kernel.logging import configure_logging


def _login(password: str) -> None:
    token = f"refresh-{password}"
    raise ValueError(f"login failed after {len(token)} characters")


def test_an_exception_is_logged_with_its_traceback_but_not_the_frames_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access").disabled
    configure_logging("identity")
    try:
        try:
            _login("correct-horse-battery-staple")
        except ValueError:
            structlog.get_logger("test").exception("login_crashed")
        line = capsys.readouterr().out.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        root.handlers[:], root.level = handlers, level
        logging.getLogger("uvicorn.access").disabled = access
    record = json.loads(line)
    assert record["message"] == "login_crashed"
    assert record["service"] == "identity"
    (error,) = record["exception"]
    assert error["exc_type"] == "ValueError"
    assert [frame["name"] for frame in error["frames"]][-1] == "_login"
    assert "correct-horse-battery-staple" not in line
    assert all("locals" not in frame for frame in error["frames"])


def test_a_logger_writes_to_the_stdout_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logger made while output went elsewhere (a capture since closed) writes where
    output goes now, instead of failing on the closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access").disabled
    then, now = io.StringIO(), io.StringIO()
    try:
        monkeypatch.setattr(sys, "stdout", then)
        configure_logging("search")
        logger = structlog.get_logger("test")
        logger.info("first")
        then.close()
        monkeypatch.setattr(sys, "stdout", now)
        logger.info("second")
        logging.getLogger("test").warning("third")
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level
        logging.getLogger("uvicorn.access").disabled = access
    assert [json.loads(line)["message"] for line in now.getvalue().splitlines()] == [
        "second",
        "third",
    ]
