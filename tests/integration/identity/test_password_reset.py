"""A forgotten password: a one-time link by e-mail (a folder of .eml files here, SES on moto
below), then a new password; nothing tells who has an account."""

from __future__ import annotations

import asyncio
import email
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import aioboto3
import httpx
import pytest
from botocore.exceptions import ClientError

from platform_api.identity.app import create_app
from platform_api.identity.mail import FolderMailer, Mail, Mailer, RetryingMailer, SesMailer
from platform_api.identity.service import Identity
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.databases import tenant_connection
from tests.harness.identity import holding_the_user
from tests.harness.moto import FAKE_CREDENTIALS
from tests.harness.polling import eventually

from .conftest import PASSWORD, Account, SignUp
from .test_members import InviteMember

NEW_PASSWORD = "a brand new password 42"
LINK = re.compile(r"^(?P<org>.+): (?P<url>http\S+/reset#(?P<token>\S+))$", re.MULTILINE)


def _mails_to(folder: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)  # (what the default policy makes)
        if message["To"] == address:
            found.append(message)
    return found


async def _mail_to(folder: Path, address: str, count: int = 1) -> EmailMessage:
    async def mails() -> list[EmailMessage]:
        return _mails_to(folder, address)

    found = await eventually(mails, lambda got: len(got) >= count, what="the mail")
    return found[-1]


@pytest.fixture
def folder(identity_settings: IdentitySettings) -> Path:
    """Where the identity app under test leaves the messages it sends."""
    return Path(identity_settings.mail_folder)


async def _a_mail_went_out_since(
    identity: httpx.AsyncClient, folder: Path, sign_up: SignUp
) -> None:
    """Ask for someone else's link and wait for it. The request decides before it answers
    whether anything is to be sent; this gives a message decided on all the same the time
    another one took to arrive."""
    someone = await sign_up()
    await _forgot(identity, someone.email)
    await _mail_to(folder, someone.email)


def _text(message: EmailMessage) -> str:
    return str(message.get_content())


async def _forgot(identity: httpx.AsyncClient, address: str, language: str = "en") -> None:
    response = await identity.post(
        "/password/forgotten", json={"email": address}, headers={"Accept-Language": language}
    )
    assert response.status_code == 202, response.text


async def _reset(
    identity: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD, language: str = "en"
) -> httpx.Response:
    body = {"token": token, "new_password": password}
    return await identity.post("/password/reset", json=body, headers={"Accept-Language": language})


async def test_a_forgotten_password_is_reset_with_the_link_once(
    identity: httpx.AsyncClient, identity_settings: IdentitySettings, folder: Path, sign_up: SignUp
) -> None:
    account = await sign_up()
    name = (await identity.get("/me", headers=account.auth)).json()["tenant"]["name"]
    await _forgot(identity, account.email.upper())  # (addresses are compared as normalised)
    mail = await _mail_to(folder, account.email)
    assert mail["Subject"] == "Reset your Mr Bill password"
    [link] = LINK.finditer(_text(mail))
    assert link["org"] == name
    assert link["url"].startswith(f"{identity_settings.public_base_url}/reset#")

    refreshed = await identity.post("/token/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 200
    assert (await _reset(identity, link["token"])).status_code == 204
    # The new password logs in, the old does not; every session of before has ended.
    login = {"email": account.email, "password": NEW_PASSWORD}
    assert (await identity.post("/login", json=login)).status_code == 200
    old = {"email": account.email, "password": PASSWORD}
    assert (await identity.post("/login", json=old)).status_code == 401
    again = await identity.post(
        "/token/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert again.status_code == 401
    # Once: the link is spent.
    used = await _reset(identity, link["token"], "yet another password")
    assert used.status_code == 404
    assert "not valid" in used.json()["detail"]


async def test_asking_says_nothing_about_who_has_an_account(
    identity: httpx.AsyncClient, folder: Path, sign_up: SignUp
) -> None:
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    await _forgot(identity, nobody)  # (the same 202 as for an account)
    await _a_mail_went_out_since(identity, folder, sign_up)
    assert _mails_to(folder, nobody) == []


async def test_a_new_password_spends_every_other_link(
    identity: httpx.AsyncClient, folder: Path, sign_up: SignUp
) -> None:
    account = await sign_up()
    await _forgot(identity, account.email)
    first = await _mail_to(folder, account.email)
    await _forgot(identity, account.email, "pt-BR")
    second = await _mail_to(folder, account.email, 2)
    assert second["Subject"] == "Redefina sua senha do Mr Bill"
    assert "Se não foi você, ignore esta mensagem" in _text(second)
    [older] = LINK.finditer(_text(first))
    [newer] = LINK.finditer(_text(second))
    assert (await _reset(identity, newer["token"])).status_code == 204
    refused = await _reset(identity, older["token"], "yet another password", "pt-BR")
    assert refused.status_code == 404
    assert refused.json()["detail"].startswith("Este link para redefinir a senha não é válido")


async def test_one_mail_lists_every_organization_of_the_address(
    identity: httpx.AsyncClient, folder: Path, sign_up: SignUp
) -> None:
    first = await sign_up()
    second = await sign_up()
    # The first person joins the second organization too, with the same address.
    invitation = await identity.post(
        "/invitations", json={"email": first.email, "role": "member"}, headers=second.auth
    )
    accept = {"token": invitation.json()["token"], "full_name": "Twice", "password": PASSWORD}
    assert (await identity.post("/invitations/accept", json=accept)).status_code == 201
    await _forgot(identity, first.email)
    links = list(LINK.finditer(_text(await _mail_to(folder, first.email))))
    assert len(links) == 2
    assert len({link["token"] for link in links}) == 2


async def test_a_deactivated_account_gets_no_link(
    identity: httpx.AsyncClient,
    folder: Path,
    sign_up: SignUp,
    invite_member: InviteMember,
) -> None:
    owner = await sign_up()
    member: Account = await invite_member(owner)
    await _forgot(identity, member.email)
    [link] = LINK.finditer(_text(await _mail_to(folder, member.email)))
    deactivated = await identity.post(f"/users/{member.user_id}/deactivate", headers=owner.auth)
    assert deactivated.status_code == 200
    assert (await _reset(identity, link["token"])).status_code == 404
    await _forgot(identity, member.email)
    await _a_mail_went_out_since(identity, folder, sign_up)
    assert len(_mails_to(folder, member.email)) == 1  # no new link


async def test_asking_is_rate_limited_per_address(
    identity: httpx.AsyncClient, identity_settings: IdentitySettings, folder: Path, sign_up: SignUp
) -> None:
    account = await sign_up()
    budget = int(identity_settings.reset_rate_per_account.split("/")[0])
    for _ in range(budget):
        await _forgot(identity, account.email)
    refused = await identity.post("/password/forgotten", json={"email": account.email})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    await _mail_to(folder, account.email, budget)


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("no-dot", 404),
        (f"{uuid.uuid4().hex}.made-up", 404),
        ("not-a-uuid.secret", 404),
        ("", 422),
        ("x" * 201, 422),
    ],
)
async def test_a_made_up_link_is_refused(
    identity: httpx.AsyncClient, token: str, status: int
) -> None:
    response = await _reset(identity, token)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_ses_sends_the_message_as_built(aws_endpoint: str) -> None:
    sender = "no-reply@mrbill.dev"
    session = aioboto3.Session()
    async with session.client("sesv2", region_name="sa-east-1", endpoint_url=aws_endpoint) as ses:
        await ses.create_email_identity(EmailIdentity=sender)
    mailer = SesMailer(f"Mr Bill <{sender}>", region="sa-east-1", endpoint_url=aws_endpoint)
    to = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    await mailer.send(Mail(to=to, subject="Olá", text="Link: x", language="pt-BR"))
    async with httpx.AsyncClient() as client:  # moto keeps what was sent
        sent = (await client.get(f"{aws_endpoint}/moto-api/data.json")).json()
    [raw] = [m["raw_data"] for m in sent["ses"]["RawMessage"] if to in m["destinations"]]
    message = email.message_from_string(raw, policy=default)
    assert (message["From"], message["To"], message["Subject"]) == (
        f"Mr Bill <{sender}>",
        to,
        "Olá",
    )
    assert message["Content-Language"] == "pt-BR"
    assert message.get_content().strip() == "Link: x"  # type: ignore[attr-defined]


async def link_for(identity: httpx.AsyncClient, folder: Path, address: str, count: int = 1) -> str:
    await _forgot(identity, address)
    [link] = LINK.finditer(_text(await _mail_to(folder, address, count)))
    return link["token"]


async def test_a_link_expires(
    identity: httpx.AsyncClient,
    folder: Path,
    identity_db: ServiceDatabase,
    sign_up: SignUp,
) -> None:
    account = await sign_up()
    token = await link_for(identity, folder, account.email)
    async with tenant_connection(identity_db.app_dsn, account.tenant_id) as conn:
        await conn.execute("UPDATE password_resets SET expires_at = now() - interval '1 s'")
    assert (await _reset(identity, token)).status_code == 404


async def test_a_password_change_or_a_deactivation_voids_open_links(
    identity: httpx.AsyncClient,
    folder: Path,
    sign_up: SignUp,
    invite_member: InviteMember,
) -> None:
    owner = await sign_up()
    token = await link_for(identity, folder, owner.email)
    change = {"current_password": PASSWORD, "new_password": "a changed password 12"}
    assert (await identity.post("/me/password", json=change, headers=owner.auth)).status_code == 200
    assert (await _reset(identity, token)).status_code == 404

    member = await invite_member(owner)
    token = await link_for(identity, folder, member.email)
    for action in ("deactivate", "reactivate"):
        done = await identity.post(f"/users/{member.user_id}/{action}", headers=owner.auth)
        assert done.status_code == 200
    assert (await _reset(identity, token)).status_code == 404


async def test_two_links_used_at_once_set_one_password(
    identity: httpx.AsyncClient,
    folder: Path,
    identity_db: ServiceDatabase,
    sign_up: SignUp,
) -> None:
    account = await sign_up()
    first = await link_for(identity, folder, account.email)
    second = await link_for(identity, folder, account.email, 2)
    holder, held = await holding_the_user(identity_db, account)
    try:
        using = [
            asyncio.create_task(_reset(identity, first)),
            asyncio.create_task(_reset(identity, second, "the other new password")),
        ]
        await asyncio.sleep(0.3)  # both wait for the account's row
        await held.rollback()
        answers = await asyncio.gather(*using)
    finally:
        await holder.close()
    assert sorted(a.status_code for a in answers) == [204, 404]


async def test_a_log_in_with_the_old_password_during_a_reset_gets_no_session(
    identity: httpx.AsyncClient,
    folder: Path,
    identity_db: ServiceDatabase,
    sign_up: SignUp,
) -> None:
    """The log-in checks the old password before the reset commits and would store its
    session after: it must fail, or the reset could not end that session."""
    account = await sign_up()
    token = await link_for(identity, folder, account.email)
    holder, held = await holding_the_user(identity_db, account)
    try:
        resetting = asyncio.create_task(_reset(identity, token))
        await asyncio.sleep(0.3)  # the reset waits for the row
        old = {"email": account.email, "password": PASSWORD}
        logging_in = asyncio.create_task(identity.post("/login", json=old))
        await asyncio.sleep(0.5)  # the old password checked; its update waits behind the reset
        await held.rollback()
        reset, login = await asyncio.gather(resetting, logging_in)
    finally:
        await holder.close()
    assert reset.status_code == 204
    assert login.status_code == 401


class _Counted:
    """A mailer's tries, counted."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.tries = 0

    async def send(self, mail: Mail) -> None:
        self.tries += 1
        await self.mailer.send(mail)


def _block(folder: Path) -> None:
    """A file where the folder goes: every message sent there fails until ``_unblock``."""
    folder.write_text("no folder for a moment")


def _unblock(folder: Path) -> None:
    folder.unlink()


async def test_a_message_that_cannot_go_out_yet_is_tried_again(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    _block(folder)
    counted = _Counted(FolderMailer(folder, "no-reply@mrbill.dev"))
    mailer = RetryingMailer(counted, within=30, first_wait=0.05, longest_wait=0.2)
    sending = asyncio.create_task(mailer.send(Mail(to="ana@example.com", subject="s", text="t")))

    async def tries() -> int:
        return counted.tries

    await eventually(tries, lambda n: n >= 3, what="three tries")
    assert not sending.done()
    _unblock(folder)
    await asyncio.wait_for(sending, 5)
    [message] = _mails_to(folder, "ana@example.com")
    assert message["Subject"] == "s"


async def test_a_message_that_cannot_go_out_in_time_fails(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    _block(folder)
    counted = _Counted(FolderMailer(folder, "no-reply@mrbill.dev"))
    mailer = RetryingMailer(counted, within=0.3, first_wait=0.05, longest_wait=0.1)
    # The last failure, or the deadline cutting off a try still under way (a slow disk).
    with pytest.raises((FileExistsError, TimeoutError)):
        await mailer.send(Mail(to="ana@example.com", subject="s", text="t"))
    assert counted.tries > 1


async def test_a_message_ses_refuses_is_not_tried_again(aws_endpoint: str) -> None:
    unverified = f"nobody-{uuid.uuid4().hex[:8]}@unverified.example"
    counted = _Counted(SesMailer(unverified, region="sa-east-1", endpoint_url=aws_endpoint))
    mailer = RetryingMailer(counted, within=30, first_wait=5)
    with pytest.raises(ClientError) as refused:
        await mailer.send(Mail(to="ana@example.com", subject="s", text="t"))
    assert refused.value.response["Error"]["Code"] == "MessageRejected"
    assert counted.tries == 1


@asynccontextmanager
async def _identity_counting_tries(
    settings: IdentitySettings, folder: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, _Counted, Identity]]:
    """An identity service of its own, sending to ``folder``, its mailer's tries counted."""
    app = create_app(settings.model_copy(update={"mail_folder": str(folder)}))
    async with serve(app) as client:
        idn: Identity = app.state.identity
        counted = _Counted(idn.mailer)
        idn.mailer = counted
        yield client, counted, idn


async def _tried(counted: _Counted, times: int) -> None:
    async def tries() -> int:
        return counted.tries

    await eventually(tries, lambda n: n >= times, what=f"{times} tries")


async def test_a_reset_mail_goes_out_once_the_mail_is_back(
    identity_settings: IdentitySettings, sign_up: SignUp, tmp_path: Path
) -> None:
    """Through the service: the first try meets no mail folder, a later one sends."""
    folder = tmp_path / "mail"
    account = await sign_up()
    async with _identity_counting_tries(identity_settings, folder) as (client, counted, _):
        _block(folder)
        await _forgot(client, account.email)
        await _tried(counted, 1)
        _unblock(folder)
        mail = await _mail_to(folder, account.email)
        assert counted.tries >= 2
    assert LINK.search(_text(mail))


async def test_a_stopping_service_gives_up_its_mail(
    identity_settings: IdentitySettings, sign_up: SignUp, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    _block(folder)
    account = await sign_up()
    async with _identity_counting_tries(identity_settings, folder) as (client, counted, idn):
        await _forgot(client, account.email)
        await _tried(counted, 1)
        sending = list(idn.sending)
        assert sending  # (trying again later)
    # Stopped: given up, not left behind.
    assert all(task.cancelled() for task in sending)
    assert not idn.sending


async def test_a_try_under_way_is_cut_off_when_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """SES that accepts the connection and never answers: the send ends at the deadline."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ses = SesMailer(
            "no-reply@mrbill.dev", region="sa-east-1", endpoint_url=f"http://127.0.0.1:{port}"
        )
        mailer = RetryingMailer(ses, within=0.5, first_wait=0.1)
        with pytest.raises(TimeoutError):
            await mailer.send(Mail(to="ana@example.com", subject="s", text="t"))
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
