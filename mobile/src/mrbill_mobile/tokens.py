"""Where the refresh token lives between launches. Never the password; the access token stays
in memory only.

On a phone or a desktop with a keychain, `keyring` keeps it in the platform's secure store
(iOS Keychain, macOS Keychain, Windows Credential Locker, Secret Service). Where keyring has
no usable backend (Android, CI, a bare Linux box) it goes into a file only this user can read,
inside the app's private data folder (on Android, the app sandbox).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Protocol

_log = logging.getLogger(__name__)
SERVICE = "dev.mrbill.mobile"


class TokenStore(Protocol):
    def load(self) -> str | None:
        """The saved refresh token, if any."""
        ...

    def save(self, refresh_token: str) -> None: ...

    def clear(self) -> None: ...


class MemoryTokenStore:
    """Keeps nothing across launches; for tests and for "don't remember me"."""

    def __init__(self) -> None:
        self.token: str | None = None

    def load(self) -> str | None:
        return self.token

    def save(self, refresh_token: str) -> None:
        self.token = refresh_token

    def clear(self) -> None:
        self.token = None


class FileTokenStore:
    """A JSON file with mode 0600 in the app's data folder: the fallback without a keychain."""

    def __init__(self, path: Path, account: str = "default") -> None:
        self.path = path
        self.account = account

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self) -> str | None:
        return self._read().get(self.account)

    def save(self, refresh_token: str) -> None:
        self._write({**self._read(), self.account: refresh_token})

    def clear(self) -> None:
        data = self._read()
        if data.pop(self.account, None) is not None:
            self._write(data)

    def _write(self, data: dict[str, str]) -> None:
        if not data:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # Created 0600 from the start: the token is never readable by others, even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(data, file)
        os.replace(tmp, self.path)


class KeyringTokenStore:
    """The platform's secure credential store, through `keyring`."""

    def __init__(self, account: str = "default", service: str = SERVICE) -> None:
        import keyring

        self._keyring = keyring
        self.account = account
        self.service = service

    def load(self) -> str | None:
        return self._keyring.get_password(self.service, self.account)

    def save(self, refresh_token: str) -> None:
        self._keyring.set_password(self.service, self.account, refresh_token)

    def clear(self) -> None:
        from keyring.errors import PasswordDeleteError

        with contextlib.suppress(PasswordDeleteError):  # nothing stored: already logged out
            self._keyring.delete_password(self.service, self.account)


def keyring_usable() -> bool:
    """Whether keyring found a real backend (not the "fail" or "null" placeholder)."""
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    try:
        return float(getattr(backend, "priority", 0)) > 0
    except Exception:  # a backend whose priority probe fails is not usable
        return False


def default_store(data_dir: Path, account: str) -> TokenStore:
    """keyring when it works here, else the private file; ``MRBILL_TOKEN_STORE=file`` forces it."""
    if os.environ.get("MRBILL_TOKEN_STORE") != "file" and keyring_usable():
        return KeyringTokenStore(account)
    _log.info("no usable keyring backend; keeping the refresh token in %s", data_dir)
    return FileTokenStore(data_dir / "session.json", account)
