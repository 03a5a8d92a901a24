"""Which failures to send a message are worth another try."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from platform_api.identity.mail import passing


def _ses(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendEmail",
    )


@pytest.mark.parametrize(
    ("error", "again"),
    [
        (_ses("TooManyRequestsException", 429), True),
        (_ses("InternalFailure", 500), True),
        (_ses("ServiceUnavailable", 503), True),
        (_ses("MessageRejected", 400), False),
        (_ses("SendingPausedException", 400), False),
        (_ses("AccessDeniedException", 403), False),
        (EndpointConnectionError(endpoint_url="https://email.sa-east-1.amazonaws.com"), True),
        (ReadTimeoutError(endpoint_url="https://email.sa-east-1.amazonaws.com"), True),
        (FileExistsError("a file where the folder goes"), True),
        (NoCredentialsError(), False),
        (TypeError("a bug"), False),
    ],
)
def test_only_passing_failures_are_tried_again(error: BaseException, again: bool) -> None:
    assert passing(error) is again
