"""Dojos: the upcoming and live ones, and watching one as an observer."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api import ApiError, Dojo, DojoSource, Ticket


@dataclass
class DojoLists:
    live: list[Dojo] = field(default_factory=list)
    upcoming: list[Dojo] = field(default_factory=list)


async def load_dojos(source: DojoSource) -> DojoLists:
    live = await source.list("active")
    upcoming = await source.list("scheduled")
    upcoming.sort(key=lambda d: d.scheduled_start_time or "")
    return DojoLists(live, upcoming)


async def has_ended(source: DojoSource, dojo_id: str) -> bool:
    """Whether the dojo is over (ended or archived), as its API says: the room's own map only
    signals that something changed, since any writer in the room could write it too."""
    return (await source.get(dojo_id)).status in ("ended", "archived")


class NeedsInvite(Exception):
    """You are not a participant yet: an invite code is needed to join as an observer."""


async def observer_ticket(source: DojoSource, dojo_id: str, code: str | None = None) -> Ticket:
    """A ticket for the dojo's room; joins first with ``code`` when one is given."""
    if code:
        await source.join(code.strip().rsplit("#", 1)[-1])  # a pasted link works too
    try:
        return await source.ticket(dojo_id)
    except ApiError as exc:
        if exc.status == 403:
            raise NeedsInvite(exc.message) from exc
        raise
