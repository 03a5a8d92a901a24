"""Identity fixtures live in ``tests.harness.identity`` (shared with the other services)."""

from tests.harness.identity import PASSWORD, Account, SignUp

__all__ = ["PASSWORD", "Account", "SignUp"]
