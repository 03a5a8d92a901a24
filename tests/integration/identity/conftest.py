"""Identity service fixtures live in ``tests/integration/conftest.py`` (the dojo suite shares them)."""

from tests.integration.conftest import PASSWORD, Account, SignUp

__all__ = ["PASSWORD", "Account", "SignUp"]
