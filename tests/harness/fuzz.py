"""Property-based API fuzzing (schemathesis): the one test every service's API passes.

Each service's ``test_fuzz.py`` builds its ``schema`` and a module fixture ``fuzz_target``
(a live server's base URL and the headers of an authenticated caller), then takes the test
from :func:`fuzz_test`: every generated request is answered without a server error, and
every failure is ``application/problem+json``. A service may ask for more of schemathesis's
checks (``CONTRACT_CHECKS``: answers match the documented status codes, content types and
response bodies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

FuzzTarget = tuple[str, dict[str, str]]  # base URL, request headers
CONTRACT_CHECKS: tuple[Any, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


def check_case(
    case: schemathesis.Case, target: FuzzTarget, checks: Sequence[Any] = (not_a_server_error,)
) -> None:
    """Send ``case``; no 5xx (or whatever ``checks`` ask), and any error is problem+json."""
    base_url, headers = target
    response = case.call(base_url=base_url, headers=headers)
    case.validate_response(response, checks=list(checks))
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), response.text


def fuzz_test(
    schema: schemathesis.BaseSchema,
    *,
    max_examples: int = 25,
    checks: Sequence[Any] = (not_a_server_error,),
) -> Callable[[schemathesis.Case, FuzzTarget], None]:
    """``test_no_server_errors = fuzz_test(schema)``: a test per operation of ``schema``."""

    @schema.parametrize()
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def test_no_server_errors(case: schemathesis.Case, fuzz_target: FuzzTarget) -> None:
        check_case(case, fuzz_target, checks)

    return test_no_server_errors
