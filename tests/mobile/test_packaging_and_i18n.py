"""No services needed: Briefcase configuration, icons, message catalogs, token stores."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from mrbill_mobile.config import AppConfig
from mrbill_mobile.i18n import CATALOGS, Translator, detect_language, problem_text
from mrbill_mobile.tokens import FileTokenStore, KeyringTokenStore, default_store

MOBILE = Path(__file__).resolve().parents[2] / "mobile"


def _icons_module():  # the generator is a script, not a package
    spec = importlib.util.spec_from_file_location("make_icons", MOBILE / "scripts/make_icons.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_briefcase_configuration() -> None:
    config = tomllib.loads((MOBILE / "pyproject.toml").read_text())
    briefcase = config["tool"]["briefcase"]
    ((name, app),) = briefcase["app"].items()
    assert f"{briefcase['bundle']}.{name}" == "dev.mrbill.mobile"
    assert app["formal_name"] == "Mr Bill"
    assert (MOBILE / app["sources"][0] / "__main__.py").exists()
    assert "android.permission.INTERNET" in app["android"]["permission"]
    assert any(r.startswith("toga-android") for r in app["android"]["requires"])
    assert any(r.startswith("toga-iOS") for r in app["iOS"]["requires"])
    # Every icon Briefcase looks for is committed, and the script still draws the same set.
    icon = MOBILE / app["icon"]
    wanted = set(_icons_module().files())
    assert wanted <= {p.name for p in icon.parent.glob(f"{icon.name}*.png")}
    assert {"mrbill-round-48.png", "mrbill-square-1280.png", "mrbill-1024.png"} <= wanted


def test_icons_are_drawn(tmp_path: Path) -> None:
    icons = _icons_module()
    image = icons.draw("square", 96)
    assert image.size == (96, 96)
    assert image.getpixel((48, 5))[:3] == icons.GREEN[:3]
    assert icons.draw("adaptive", 108).getpixel((2, 2))[3] == 0  # transparent background


def test_catalogs_have_the_same_messages() -> None:
    assert set(CATALOGS["pt-BR"]) == set(CATALOGS["en"])
    for key, text in CATALOGS["en"].items():
        assert (text.count("{"), key) == (CATALOGS["pt-BR"][key].count("{"), key)


def test_language_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MRBILL_LANG", raising=False)
    assert detect_language("pt_BR") == "pt-BR"
    assert detect_language("en-US") == "en"
    monkeypatch.setenv("MRBILL_LANG", "pt-BR")
    assert detect_language() == "pt-BR"
    assert Translator("pt-BR")("pocs.count", shown=1, total=3) == "1 de 3 POCs"
    assert Translator("fr")("nav.logout") == "Log out"  # unknown language: English


def test_config_from_args(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MRBILL_API_URL", raising=False)
    assert AppConfig.from_args([]).api_url == "http://localhost:8080"
    config = AppConfig.from_args(["--api", "https://mrbill.example", "--lang", "en"])
    assert (config.api_url, config.language) == ("https://mrbill.example", "en")


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


def test_token_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        store = default_store(tmp_path, "https://api")
        assert isinstance(store, KeyringTokenStore)
        store.save("r1")
        assert store.load() == "r1"
        assert backend.secrets == {("dev.mrbill.mobile", "https://api"): "r1"}
        store.clear()
        store.clear()  # twice is fine
        assert store.load() is None
        monkeypatch.setenv("MRBILL_TOKEN_STORE", "file")
        assert isinstance(default_store(tmp_path, "https://api"), FileTokenStore)
    finally:
        keyring.set_keyring(previous)

    files = FileTokenStore(tmp_path / "s.json", "a")
    other = FileTokenStore(tmp_path / "s.json", "b")
    files.save("ta")
    other.save("tb")
    assert (files.load(), other.load()) == ("ta", "tb")
    files.clear()
    other.clear()
    assert not (tmp_path / "s.json").exists()


def test_the_desktop_backend_keeps_none_alive() -> None:
    """The Qt binding must not drop a reference to None on each call that returns nothing:
    on Python 3.11 (None is not immortal before 3.12) PySide6 6.12.0 did, and the desktop
    app aborted ("deallocating None") after a few thousand widget calls, e.g. while
    scrolling through 60 POCs. Run apart: such a binding kills its process."""
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication([])\n"
        "label = QLabel('POC')\n"
        "before = sys.getrefcount(None)\n"
        "for n in range(20000):\n"
        "    label.setGeometry(0, 0, 100, 20 + n % 7)\n"
        "    label.setText(str(n))\n"
        "print(sys.getrefcount(None) - before)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert abs(int(done.stdout.split()[-1])) < 100  # (a few come and go with the loop)


def test_when_to_try_again() -> None:
    en, pt = Translator("en"), Translator("pt-BR")
    assert problem_text(en, "Too many login attempts", None) == "Too many login attempts"
    assert problem_text(en, "Slow down.", 1) == "Slow down. Try again in a second."
    assert problem_text(pt, "Muitas tentativas", 39) == (
        "Muitas tentativas. Tente de novo em 39 segundos."
    )
    assert problem_text(en, "Too many", 60) == "Too many. Try again in a minute."
    assert problem_text(en, "Too many", 61) == "Too many. Try again in 2 minutes."
    assert problem_text(pt, "Limite diário", 3 * 3600) == "Limite diário. Tente de novo em 3 horas."
