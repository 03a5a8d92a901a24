"""change_since: an access change wins over tickets issued up to the clocks' margin after it."""

from __future__ import annotations

import pytest

from rooms import CLOCK_SKEW_SECONDS, change_since


@pytest.mark.parametrize(
    ("issued_at", "skew", "state"),
    [
        (90.0, 5.0, "revoked"),  # issued before the change
        (100.0, 5.0, "revoked"),  # the change's own second
        (103.0, 5.0, "revoked"),  # issuer's clock ahead: looks newer, is not
        (105.0, 5.0, "revoked"),  # at the margin: still the change's
        (106.0, 5.0, None),  # beyond it: a ticket issued after the change
        (100.0, 0.0, "revoked"),  # no margin: a ticket from the change's own second is older
        (101.0, 0.0, None),
    ],
)
def test_a_change_wins_within_the_margin(issued_at: float, skew: float, state: str | None) -> None:
    assert change_since(("revoked", 100.0), issued_at, skew=skew) == state


def test_no_change_leaves_the_ticket_its_role() -> None:
    assert change_since(None, 0.0, skew=CLOCK_SKEW_SECONDS) is None
