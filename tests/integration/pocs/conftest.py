"""POC fixtures live in ``tests.harness.pocs`` (shared with the search service's tests)."""

from tests.harness.pocs import MakePoc

__all__ = ["MakePoc"]
