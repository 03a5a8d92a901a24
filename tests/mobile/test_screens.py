"""The screens on Toga's dummy backend (no display), against the real services: log in
(with two-step verification too), search, create, edit, request a video. Assertions are on
widget state."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import toga
from mrbill_mobile.api import ApiClient, ApiError, ContentApi, IdentityApi, PocsApi, SearchApi
from mrbill_mobile.app import MrBillApp
from mrbill_mobile.config import AppConfig
from mrbill_mobile.tokens import MemoryTokenStore

from tests.harness.ywire import eventually
from tests.mobile.authenticator import Authenticator
from tests.mobile.conftest import Person
from tests.mobile.facilitator import Facilitator
from tests.mobile.stack import Stack

AppFactory = Callable[..., MrBillApp]


@pytest.fixture
async def make_app(stack: Stack, tmp_path: Path) -> AsyncIterator[AppFactory]:
    apps: list[MrBillApp] = []

    def make(language: str = "en", **kwargs: object) -> MrBillApp:
        kwargs.setdefault("tokens", MemoryTokenStore())
        kwargs.setdefault("opener", opened.append)
        config = AppConfig(stack.base_url, language, tmp_path)
        app = MrBillApp(config, **kwargs)  # type: ignore[arg-type]
        apps.append(app)
        return app

    opened: list[str] = []
    make.opened = opened  # type: ignore[attr-defined]
    yield make
    for app in apps:
        await app.settle()
        await app.client.aclose()


def w(app: MrBillApp, widget_id: str) -> toga.Widget:
    return app.widgets[widget_id]


def press(app: MrBillApp, widget_id: str) -> None:
    w(app, widget_id)._impl.simulate_press()


def shown(widget: toga.Widget) -> bool:
    """Hidden widgets are taken out of the layout (see ``screens/ui.py``)."""
    return widget.parent is not None


def row_names(app: MrBillApp) -> list[str]:
    """The POC names in the list, as drawn."""
    return [r.children[0].children[0].text for r in app.list_screen.rows.children]


async def log_in(app: MrBillApp, person: Person) -> None:
    w(app, "email").value = person.email
    w(app, "password").value = person.password
    press(app, "submit")
    await app.settle()


async def test_log_in_search_and_log_out(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    for name, language in (("Python chatbot", "python"), ("Go scheduler", "go")):
        await PocsApi(signed_in).create({"name": name, "language": language, "tags": ["demo"]})
    await eventually(_indexed(signed_in, 2), timeout=20, what="the index")
    app = make_app()
    assert app.body.children == [app.login_screen.box]
    assert not shown(app.nav)

    w(app, "email").value = person.email
    w(app, "password").value = "wrong password!"
    press(app, "submit")
    await app.settle()
    assert "Invalid email or password" in app.login_screen.message.text
    assert w(app, "password").value == ""  # not kept after use

    await log_in(app, person)
    assert app.body.children == [app.list_screen.box]
    assert shown(app.nav)
    assert sorted(row_names(app)) == ["Go scheduler", "Python chatbot"]
    assert app.list_screen.count.text == "2 of 2 POCs"
    assert [r.value for r in w(app, "language").items] == ["All languages", "Go (1)", "Python (1)"]

    w(app, "query").value = "chatbto"  # a typo, typed: the search runs after a pause
    await app.settle()
    assert row_names(app) == ["Python chatbot"]
    w(app, "query").value = ""
    await app.settle()
    w(app, "language").value = "Go (1)"
    await app.settle()
    assert row_names(app) == ["Go scheduler"]

    press(app, "nav.logout")
    await app.settle()
    assert app.body.children == [app.login_screen.box]
    assert app.client.tokens.load() is None
    assert app.client.access_token is None


def _indexed(client: ApiClient, count: int) -> Callable[[], object]:
    async def check() -> bool:
        return (await SearchApi(client).search()).total == count

    return check


async def test_a_forgotten_password_opens_the_reset_page(make_app: AppFactory) -> None:
    app = make_app("pt-BR")
    assert w(app, "forgot").text == "Esqueceu a senha?"
    press(app, "forgot")
    assert make_app.opened[-1] == f"{app.config.api_url}/password/forgotten"  # type: ignore[attr-defined]


def unwrapped(text: str) -> str:
    """A label's text as one line (``ui.say`` breaks long messages for a phone's width)."""
    return " ".join(text.split())


async def test_log_in_with_two_step_verification(
    make_app: AppFactory, authenticator: Authenticator, person: Person
) -> None:
    """A right password asks for the authenticator's code on the same screen; a wrong code
    says why and stays there; the right one goes in as a log-in does."""
    app = make_app()
    screen = app.login_screen
    await log_in(app, person)
    assert app.body.children == [screen.box]
    assert not shown(app.nav)
    assert screen.heading.text == "Two-step verification"
    assert shown(screen.code_fields)
    assert not shown(screen.credentials)
    assert not shown(screen.forgot_button)
    assert not shown(screen.switch_button)
    assert shown(screen.back_button)
    assert w(app, "submit").text == "Verify"
    assert "One of your recovery codes works here too." in unwrapped(screen.code_hint.text)
    assert not shown(screen.message)
    assert screen.password.value == ""  # (hidden: no longer in app.widgets)
    assert app.client.tokens.load() is None

    w(app, "code").value = authenticator.wrong_code()
    press(app, "submit")
    await app.settle()
    assert unwrapped(screen.message.text) == "The code is wrong or expired"
    assert shown(screen.code_fields)
    assert w(app, "code").value == ""
    assert not shown(app.banner)

    w(app, "code").value = await authenticator.code()
    press(app, "submit")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    assert app.client.tokens.load()  # kept as after any log-in
    assert app.window.title == f"Mr Bill · {person.organization}"

    press(app, "nav.logout")
    await app.settle()
    assert app.body.children == [screen.box]
    assert shown(screen.credentials)  # the next log-in starts from the password
    assert not shown(screen.code_fields)
    assert w(app, "submit").text == "Log in"


async def test_two_step_log_in_in_portuguese_back_expired_and_a_recovery_code(
    make_app: AppFactory, authenticator: Authenticator, person: Person
) -> None:
    """Back to the password by choice, then by force after the fifth wrong code (the
    service's message, in Portuguese); a recovery code in the same field goes in."""
    app = make_app("pt-BR")
    screen = app.login_screen
    await log_in(app, person)
    assert screen.heading.text == "Verificação em duas etapas"
    assert w(app, "submit").text == "Verificar"
    assert w(app, "back").text == "Voltar para a senha"
    assert "códigos de recuperação também serve aqui" in unwrapped(screen.code_hint.text)

    press(app, "back")
    assert shown(screen.credentials)
    assert shown(screen.forgot_button)
    assert shown(screen.switch_button)
    assert not shown(screen.code_fields)
    assert not shown(screen.back_button)
    assert screen.heading.text == "Entrar no Mr Bill"
    assert w(app, "submit").text == "Entrar"
    assert w(app, "email").value == person.email

    await log_in(app, person)
    for _ in range(4):
        w(app, "code").value = authenticator.wrong_code()
        press(app, "submit")
        await app.settle()
    assert unwrapped(screen.message.text) == "O código está errado ou expirou"
    assert shown(screen.code_fields)
    w(app, "code").value = authenticator.wrong_code()
    press(app, "submit")
    await app.settle()
    assert not shown(screen.code_fields)  # the fifth: this log-in is over
    assert shown(screen.credentials)
    assert unwrapped(screen.message.text) == "Este acesso expirou: digite sua senha de novo"

    await log_in(app, person)
    assert shown(screen.code_fields)
    assert not shown(screen.message)
    w(app, "code").value = authenticator.recovery_codes[0]
    press(app, "submit")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    assert app.list_screen.count.text.startswith("Nenhuma POC")


async def test_sign_up_in_portuguese(make_app: AppFactory, person: Person) -> None:
    app = make_app("pt-BR")
    assert w(app, "submit").text == "Entrar"
    press(app, "switch")
    assert not shown(app.login_screen.forgot_button)  # (not while signing up)
    assert w(app, "submit").text == "Cadastrar"
    assert shown(app.login_screen.signup_fields)
    w(app, "organization").value = person.organization
    w(app, "full_name").value = ""
    w(app, "email").value = "ana.souza"
    w(app, "password").value = "short"
    press(app, "submit")
    await app.settle()
    # The API's validation messages, under their fields; no field names of the API's.
    shown_texts = labels(app.login_screen.box)
    assert "Corrija os campos marcados em vermelho." in shown_texts
    for message in ("Deve ter pelo menos 1 caractere", "E-mail inválido"):
        assert message in shown_texts
    assert "Deve ter pelo menos 10 caracteres" in shown_texts
    assert not [text for text in shown_texts if "full_name" in text or "password:" in text]
    w(app, "full_name").value = "Ana Souza"
    w(app, "email").value = person.email
    w(app, "password").value = person.password
    press(app, "submit")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    assert app.list_screen.count.text.startswith("Nenhuma POC")
    assert app.main_window.title == f"Mr Bill · {person.organization}"


async def test_create_validate_and_edit(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    app = make_app()
    await log_in(app, person)
    press(app, "new")
    await app.settle()
    assert app.body.children == [app.form_screen.box]
    assert not shown(app.form_screen.delete_button)

    press(app, "save")  # empty name: the API says why, under the field
    await app.settle()
    name_error = app.form_screen.errors["name"]
    assert shown(name_error)
    assert "at least 1 character" in name_error.text

    w(app, "form-name").value = "Feature flags service"
    w(app, "form-language").value = "Kotlin"
    w(app, "form-tags").value = "flags, Backend #flags"
    w(app, "form-status").value = "In progress"
    press(app, "save")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    assert row_names(app) == ["Feature flags service"]  # at once, before the index catches up
    poc = app.list_screen.model.state.items[0]
    assert poc.tags == ("flags", "backend")
    assert poc.status == "in_progress"

    press(app, f"edit-{poc.poc_id}")
    await app.settle()
    assert w(app, "form-name").value == "Feature flags service"
    assert shown(app.form_screen.delete_button)
    assert w(app, "form-tags").value == "flags, backend"
    w(app, "form-name").value = "Feature flags at the edge"
    press(app, "save")
    await app.settle()
    assert row_names(app)[0] == "Feature flags at the edge"
    assert (await PocsApi(signed_in).get(poc.poc_id)).version == poc.version + 1

    press(app, f"edit-{poc.poc_id}")
    await app.settle()
    press(app, "delete")
    await app.settle()
    assert "Feature flags at the edge" not in row_names(app)


async def test_request_a_video_and_open_it(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    await PocsApi(signed_in).create({"name": "Video star", "language": "python"})
    app = make_app()
    await log_in(app, person)
    press(app, "nav.content")
    assert app.body.children == [app.content_screen.box]
    assert w(app, "year").value == datetime.date.today().year
    assert not w(app, "open").enabled
    press(app, "video")
    await app.settle(within=90)
    assert w(app, "progress").value == 100
    assert app.content_screen.state.text.startswith("Video ")
    assert "ready" in app.content_screen.state.text
    assert w(app, "open").enabled
    press(app, "open")
    await app.settle()
    assert make_app.opened
    assert ".mp4" in make_app.opened[-1]


async def test_offline_banner_keeps_the_list(
    make_app: AppFactory, signed_in: ApiClient, person: Person, stack: Stack
) -> None:
    await PocsApi(signed_in).create({"name": "Still here"})
    await eventually(_indexed(signed_in, 1), timeout=20, what="the index")
    app = make_app()
    await log_in(app, person)
    assert row_names(app) == ["Still here"]
    assert not shown(app.banner)
    app.client.base_url = "http://127.0.0.1:9"
    press(app, "refresh")
    await app.settle()
    assert shown(app.banner)
    assert "offline" in app.banner.text
    assert row_names(app) == ["Still here"]
    app.client.base_url = stack.base_url
    press(app, "refresh")
    await app.settle()
    assert not shown(app.banner)


async def test_resume_and_watch_a_dojo(
    make_app: AppFactory, signed_in: ApiClient, facilitator: Facilitator
) -> None:
    """A launch with a stored refresh token goes straight in; then the dojo screen: a
    colleague's live dojo, watched with the observer invite code they sent."""
    tokens = MemoryTokenStore()
    tokens.save(signed_in.tokens.load() or "")
    dojo = await facilitator.create("Kata: FizzBuzz", start=True)
    dojo_id = dojo["dojo_id"]
    app = make_app(tokens=tokens)
    await app.settle()
    assert app.body.children == [app.list_screen.box]

    press(app, "nav.dojos")
    await app.settle()
    press(app, f"watch-{dojo_id}")
    await app.settle()
    assert "invite code" in app.dojo_screen.message.text
    w(app, "invite-code").value = (await facilitator.invite(dojo_id))["code"]
    press(app, f"watch-{dojo_id}")
    await app.settle()
    assert not shown(app.dojo_screen.message)
    assert shown(app.dojo_screen.code_view)
    assert app.dojo_screen.watching.text == "Watching “Kata: FizzBuzz” (read-only)"

    writer = await facilitator.writer(dojo_id)
    await writer.insert("for i in range(1, 101):\n")
    await eventually(lambda: "range(1, 101)" in app.dojo_screen.code_view.value, what="live code")
    press(app, "stop")
    await app.settle()
    assert not shown(app.dojo_screen.code_view)
    assert app.dojo_screen.observer is None


async def test_infinite_scroll_loads_the_next_page(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    for n in range(5):
        await PocsApi(signed_in).create({"name": f"Spike {n}"})
    await eventually(_indexed(signed_in, 5), timeout=20, what="the index")
    app = make_app()
    app.list_screen.model.page_size = 2
    await log_in(app, person)
    assert len(row_names(app)) == 2
    assert shown(app.list_screen.more)
    scroll = app.list_screen.scroll
    scroll.vertical_position = scroll.max_vertical_position  # the user reaches the bottom
    await app.settle()
    assert len(row_names(app)) == 4
    press(app, "more")  # the button does the same where scroll events are scarce
    await app.settle()
    assert sorted(row_names(app)) == [f"Spike {n}" for n in range(5)]
    assert not shown(app.list_screen.more)
    assert app.list_screen.count.text == "5 of 5 POCs"


async def test_a_dojo_ending_while_watched(
    make_app: AppFactory, signed_in: ApiClient, person: Person, facilitator: Facilitator
) -> None:
    """The facilitator ends the dojo: the screen says so at once and keeps the final code,
    and the app stops watching (no connection, no ticket renewals)."""
    dojo = await facilitator.create("Kata: Mars rover", start=True)
    app = make_app("pt-BR")
    await log_in(app, person)
    press(app, "nav.dojos")
    await app.settle()
    w(app, "invite-code").value = (await facilitator.invite(dojo["dojo_id"]))["code"]
    press(app, f"watch-{dojo['dojo_id']}")
    await app.settle()
    writer = await facilitator.writer(dojo["dojo_id"])
    await writer.insert("rover = (0, 0, 'N')\n")
    await eventually(lambda: "rover" in app.dojo_screen.code_view.value, what="live code")
    observer = app.dojo_screen.observer
    assert observer is not None

    await facilitator.end(dojo["dojo_id"])
    await eventually(lambda: app.dojo_screen.observer is None, timeout=10, what="the end")
    await app.settle()
    assert (
        unwrapped(app.dojo_screen.watching.text)
        == "“Kata: Mars rover” terminou. Este é o código final."
    )
    assert not observer.connected
    assert all(task.done() for task in observer._tasks)
    assert shown(app.dojo_screen.code_view)
    assert app.dojo_screen.code_view.value == "rover = (0, 0, 'N')\n"
    assert not shown(app.dojo_screen.message)


async def test_log_out_while_searching_and_following_a_report(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """Logging out on purpose is not a session that ended: no such message, and whoever
    logs in next sees nothing of the last session's report."""
    await PocsApi(signed_in).create({"name": "Reported then logged out"})
    app = make_app()
    await log_in(app, person)
    w(app, "query").value = "reported"
    press(app, "nav.content")
    press(app, "report")
    press(app, "nav.logout")
    await app.settle()
    await app.settle()  # (anything the log-out left running has run by now)
    assert app.body.children == [app.login_screen.box]
    assert not shown(app.login_screen.message)
    assert not shown(app.banner)

    await log_in(app, person)
    assert w(app, "query").value == ""
    press(app, "nav.content")
    assert app.content_screen.state.text == "Nothing requested yet."
    assert w(app, "progress").value == 0
    assert not w(app, "open").enabled
    assert w(app, "report").enabled


async def test_an_edit_made_meanwhile_on_the_web_is_kept(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """Someone changes the POC (If-Match: the version they read) while it is open here:
    saving says so, loads their change, keeps the one typed here, and saves both."""
    pocs = PocsApi(signed_in)
    poc = await pocs.create({"name": "Rate limiter", "description": "Token bucket"})
    app = make_app("pt-BR")
    await log_in(app, person)
    app.show_form(poc.poc_id)
    await app.settle()
    w(app, "form-name").value = "Rate limiter — açúcar 🍬"

    await pocs.update(poc, {"description": "Leaky bucket, from the web"})
    press(app, "save")
    await app.settle()
    assert app.body.children == [app.form_screen.box]
    assert unwrapped(app.form_screen.message.text).startswith("Alguém alterou esta POC")
    assert w(app, "form-name").value == "Rate limiter — açúcar 🍬"
    assert w(app, "form-description").value == "Leaky bucket, from the web"

    press(app, "save")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    saved = await pocs.get(poc.poc_id)
    assert (saved.name, saved.description) == (
        "Rate limiter — açúcar 🍬",
        "Leaky bucket, from the web",
    )


async def test_a_refused_search_says_why(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """A search the API refuses (a pasted text longer than a query may be) is not silent."""
    await PocsApi(signed_in).create({"name": "Visible anyway"})
    await eventually(_indexed(signed_in, 1), timeout=20, what="the index")
    app = make_app("pt-BR")
    await log_in(app, person)
    w(app, "query").value = "visible " * 30
    await app.settle()
    said = [text for text in labels(app.list_screen.box) if "200" in text]
    assert said  # the API's message: at most 200 characters
    assert row_names(app) == ["Visible anyway"]  # what was shown stays
    w(app, "query").value = "visible"
    await app.settle()
    assert not [text for text in labels(app.list_screen.box) if "200" in text]
    assert row_names(app) == ["Visible anyway"]


def labels(widget: toga.Widget) -> list[str]:
    """The text of every label shown in ``widget``."""
    own = [widget.text] if isinstance(widget, toga.Label) else []
    inner = getattr(widget, "content", None) or widget
    return own + [text for child in inner.children for text in labels(child)]


async def test_a_search_that_finds_nothing_says_so(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """No match is not an empty organization: no invitation to add a first POC."""
    await PocsApi(signed_in).create({"name": "Kafka lag monitor", "language": "go"})
    await eventually(_indexed(signed_in, 1), timeout=20, what="the index")
    app = make_app("pt-BR")
    await log_in(app, person)
    w(app, "query").value = "zzqxw"
    await app.settle()
    assert row_names(app) == []
    assert app.list_screen.count.text == "Nenhuma POC corresponde a esta busca."
    w(app, "query").value = ""
    await app.settle()
    assert row_names(app) == ["Kafka lag monitor"]


async def test_a_filter_stays_shown_while_nothing_matches(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """A language filter with words that match nothing still shows as chosen (its facet is
    gone from the answer), so that it can be seen and taken off."""
    for name, language in (("Go scheduler", "go"), ("Python chatbot", "python")):
        await PocsApi(signed_in).create({"name": name, "language": language})
    await eventually(_indexed(signed_in, 2), timeout=20, what="the index")
    app = make_app()
    await log_in(app, person)
    w(app, "language").value = "Go (1)"
    await app.settle()
    assert row_names(app) == ["Go scheduler"]
    w(app, "query").value = "zzqxw"
    await app.settle()
    assert row_names(app) == []
    assert w(app, "language").value == "Go (0)"
    w(app, "query").value = ""
    await app.settle()
    assert w(app, "language").value == "Go (1)"
    w(app, "query").value = "zzqxw"
    await app.settle()
    w(app, "language").value = "All languages"
    w(app, "query").value = ""
    await app.settle()
    assert sorted(row_names(app)) == ["Go scheduler", "Python chatbot"]


async def test_the_banner_fits_a_phone(
    make_app: AppFactory, signed_in: ApiClient, person: Person, stack: Stack
) -> None:
    """Long messages in the banner are broken into lines (a label does not wrap, and would
    widen the window past the screen), and the offline one still goes when back online."""
    pocs = PocsApi(signed_in)
    poc = await pocs.create({"name": "Deleted elsewhere first"})
    app = make_app("pt-BR")
    await log_in(app, person)
    app.show_form(poc.poc_id)
    await app.settle()
    await pocs.update(poc, {"description": "changed meanwhile"})
    press(app, "delete")  # with the version read: refused, and the banner says why
    await app.settle()
    assert shown(app.banner)
    assert "A POC mudou desde que você a leu" in unwrapped(app.banner.text)
    assert max(len(line) for line in app.banner.text.splitlines()) <= 52

    app.client.base_url = "http://127.0.0.1:9"
    press(app, "nav.pocs")
    press(app, "refresh")
    await app.settle()
    assert unwrapped(app.banner.text) == app.t("offline")
    assert max(len(line) for line in app.banner.text.splitlines()) <= 52
    app.client.base_url = stack.base_url
    press(app, "refresh")
    await app.settle()
    assert not shown(app.banner)


async def test_too_many_log_in_attempts_say_when_to_try_again(
    make_app: AppFactory, new_client: Callable[..., ApiClient], signed_in: ApiClient, person: Person
) -> None:
    """The per-account log-in budget spent: the message says when to try again, from the
    answer's Retry-After, as the web app does."""
    other = IdentityApi(new_client())
    for _ in range(10):
        with pytest.raises(ApiError):
            await other.login(person.email, "not the password")
    app = make_app("pt-BR")
    await log_in(app, person)
    said = unwrapped(app.login_screen.message.text)
    assert said.startswith("Muitas tentativas de login. Tente de novo em ")
    assert said.endswith(("segundos.", "um minuto."))


async def test_asking_again_after_a_lost_answer_makes_one_report(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """The report was made but its answer lost (the gateway timed out): tapping again sends
    the same Idempotency-Key, so the API answers with that report instead of a second."""
    await PocsApi(signed_in).create({"name": "Reported once"})
    app = make_app()
    await log_in(app, person)
    real = app.client._http.send
    lose = [True]

    async def answer_lost(request: httpx.Request, **kwargs: object) -> httpx.Response:
        response = await real(request, **kwargs)  # type: ignore[arg-type]
        if lose and request.method == "POST" and "content-requests" in str(request.url):
            lose.clear()
            return httpx.Response(504, html="<html>504 Gateway Time-out</html>")
        return response

    app.client._http.send = answer_lost  # type: ignore[method-assign]
    press(app, "nav.content")
    press(app, "report")
    await app.settle()
    assert "offline" in app.banner.text
    press(app, "report")
    await app.settle(within=60)
    assert "ready" in app.content_screen.state.text
    made = await ContentApi(signed_in).recent()
    assert len(made) == 1


async def test_a_poc_that_cannot_be_loaded_is_not_edited_as_a_new_one(
    make_app: AppFactory, signed_in: ApiClient, person: Person, stack: Stack
) -> None:
    """Edit, offline: the empty form that would have saved a new POC goes back to the list."""
    pocs = PocsApi(signed_in)
    poc = await pocs.create({"name": "Only one of me"})
    await eventually(_indexed(signed_in, 1), timeout=20, what="the index")
    app = make_app()
    await log_in(app, person)
    app.client.base_url = "http://127.0.0.1:9"
    press(app, f"edit-{poc.poc_id}")
    await app.settle()
    assert app.body.children == [app.list_screen.box]
    assert "offline" in app.banner.text
    app.client.base_url = stack.base_url
    press(app, f"edit-{poc.poc_id}")
    await app.settle()
    assert w(app, "form-name").value == "Only one of me"
    assert w(app, "save").enabled
    w(app, "form-name").value = "Only one of me, edited"
    press(app, "save")
    await app.settle()
    assert (await pocs.get(poc.poc_id)).name == "Only one of me, edited"
    listed = await signed_in.json("GET", "pocs", "/pocs")
    assert [p["name"] for p in listed["items"]] == ["Only one of me, edited"]


async def test_a_long_poc_name_keeps_its_edit_button_on_screen(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """A name as long as the API takes (100 characters) is broken into lines in the list,
    so that the row stays as wide as a phone and its Edit button within reach."""
    name = "Plataforma de observabilidade distribuída com rastreamento ponta a ponta e alertas 🚨"
    name = (name + " inteligentes de verdade")[:100]
    await PocsApi(signed_in).create({"name": name, "tags": ["observabilidade", "opentelemetry"]})
    await eventually(_indexed(signed_in, 1), timeout=20, what="the index")
    app = make_app("pt-BR")
    await log_in(app, person)
    (row,) = app.list_screen.rows.children
    title, details = (label.text for label in row.children[0].children)
    assert unwrapped(title) == unwrapped(name)
    assert max(len(line) for line in (*title.splitlines(), *details.splitlines())) <= 38
    assert row.children[1].text == "Editar"


async def test_a_long_dojo_title_keeps_its_watch_button_on_screen(
    make_app: AppFactory, signed_in: ApiClient, person: Person, facilitator: Facilitator
) -> None:
    title = "Randori de sexta: refatorando o legado de faturamento com testes de caracterização"
    dojo = await facilitator.create(title, start=True)
    app = make_app("pt-BR")
    await log_in(app, person)
    press(app, "nav.dojos")
    await app.settle()
    (row,) = app.dojo_screen.live.children
    name, details = (label.text for label in row.children[0].children)
    assert unwrapped(name) == title
    assert max(len(line) for line in (*name.splitlines(), *details.splitlines())) <= 40
    assert row.children[1].id == f"watch-{dojo['dojo_id']}"


async def test_an_error_banner_is_left_behind_with_its_screen(
    make_app: AppFactory, signed_in: ApiClient, person: Person
) -> None:
    """A refused action's red banner goes when one moves on to another screen (it stayed
    over every screen until the next error or the log-out)."""
    pocs = PocsApi(signed_in)
    poc = await pocs.create({"name": "Refused delete"})
    app = make_app()
    await log_in(app, person)
    app.show_form(poc.poc_id)
    await app.settle()
    await pocs.update(poc, {"description": "changed meanwhile"})
    press(app, "delete")
    await app.settle()
    assert "changed since you read it" in unwrapped(app.banner.text)
    press(app, "nav.dojos")
    await app.settle()
    assert not shown(app.banner)


async def test_a_launch_offline_resumes_the_session_when_back_online(
    make_app: AppFactory, signed_in: ApiClient, stack: Stack
) -> None:
    """Opened without network, with a stored session: offline banner on the log-in screen,
    then in as soon as the API answers, without the password."""
    tokens = MemoryTokenStore()
    tokens.save(signed_in.tokens.load() or "")
    client = ApiClient("http://127.0.0.1:9", tokens=tokens)
    app = make_app(client=client)
    await eventually(lambda: shown(app.banner), what="the offline banner")
    assert app.body.children == [app.login_screen.box]
    assert "offline" in app.banner.text
    client.base_url = stack.base_url
    await eventually(lambda: app.body.children == [app.list_screen.box], what="the session")
    await app.settle()
    assert not shown(app.banner)
