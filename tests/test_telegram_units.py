"""The small shared pieces both Telegram adapters rely on."""

from __future__ import annotations

import pytest

from bot.delivery import ChatUnreachable, DeliveryError, Rejected, RetryAfter, classify_error
from bot.telegram import parse_command


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/start abc123", ("start", "abc123")),
        ("/lead@investbot_test_bot 宁德时代 20亿", ("lead", "宁德时代 20亿")),
        ("/Help@InvestBot_Test_Bot", ("help", "")),
        ("/lead   spaced  ", ("lead", "spaced")),
        ("/lead@some_other_bot x", None),
        ("/", None),
        ("hello /lead", None),
    ],
)
def test_commands_are_read_with_and_without_the_bot_name(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_command(text, "investbot_test_bot") == parsed


def test_api_errors_mean_the_same_under_both_frameworks() -> None:
    retry = classify_error(429, "Too Many Requests: retry after 3", 3.0)
    assert isinstance(retry, RetryAfter) and retry.seconds == 3.0
    assert isinstance(classify_error(403, "Forbidden: bot was blocked by the user"), ChatUnreachable)
    assert isinstance(classify_error(400, "Bad Request: chat not found"), ChatUnreachable)
    assert isinstance(classify_error(403, "Forbidden: user is deactivated"), ChatUnreachable)
    assert isinstance(classify_error(400, "Bad Request: message is too long"), Rejected)
    network = classify_error(None, "connection reset")
    assert type(network) is DeliveryError
