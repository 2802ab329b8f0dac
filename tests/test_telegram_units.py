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


def test_an_update_is_read_from_the_bot_apis_json() -> None:
    """One translation from the Bot API's JSON, whichever framework sends the answers."""
    from bot.core import Kind
    from bot.telegram import incoming

    person = {"id": 9_000_000_001, "is_bot": False, "first_name": "李", "last_name": "联络", "language_code": "zh-hans"}
    chat = {"id": 9_000_000_001, "type": "private"}
    updates = [
        {
            "update_id": 1,
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": chat,
                "from": person,
                "text": "/lead@investbot_test_bot 比亚迪 5亿",
            },
        },
        {
            "update_id": 2,
            "message": {
                "message_id": 6,
                "date": 0,
                "chat": chat,
                "from": person,
                "location": {"latitude": 38.93, "longitude": 100.45},
            },
        },
        {
            "update_id": 3,
            "message": {
                "message_id": 7,
                "date": 0,
                "chat": chat,
                "from": person,
                "document": {"file_id": "F", "file_unique_id": "u", "file_name": "a.xlsx", "file_size": 10},
            },
        },
        {
            "update_id": 4,
            "callback_query": {
                "id": "q1",
                "from": person,
                "chat_instance": "c",
                "data": "3|c1",
                "message": {
                    "message_id": 8,
                    "date": 0,
                    "chat": chat,
                    "text": "属于哪条产业链？",
                    "reply_markup": {"inline_keyboard": [[{"text": "新能源", "callback_data": "3|c1"}]]},
                },
            },
        },
    ]
    read = [incoming(raw, "investbot_test_bot") for raw in updates]
    assert [r[0].update_id for r in read if r is not None] == [1, 2, 3, 4]
    assert [r[0].kind for r in read if r is not None] == [Kind.COMMAND, Kind.LOCATION, Kind.DOCUMENT, Kind.BUTTON]
    first = incoming(updates[0], "investbot_test_bot")
    assert first is not None and first[0].kind is Kind.COMMAND and first[0].args == "比亚迪 5亿"
    assert first[0].full_name == "李 联络"
    press = incoming(updates[3], None)
    assert (
        press is not None
        and press[1] == "q1"
        and press[0].text == "新能源"
        and press[0].message_text == "属于哪条产业链？"
    )


def test_a_forwarded_message_says_whom_it_came_from() -> None:
    from bot.telegram import incoming

    person = {"id": 9_000_000_001, "is_bot": False, "first_name": "李", "language_code": "zh-hans"}
    chat = {"id": 9_000_000_001, "type": "private"}
    colleague = {"id": 9_000_000_002, "is_bot": False, "first_name": "王", "last_name": "五"}
    channel = {"id": -100123, "type": "channel", "title": "张掖发布"}
    origins = [
        ({"type": "user", "date": 0, "sender_user": colleague}, "王 五"),
        ({"type": "hidden_user", "date": 0, "sender_user_name": "赵六"}, "赵六"),
        (
            {"type": "channel", "date": 0, "chat": channel, "message_id": 3, "author_signature": "编辑部"},
            "张掖发布 (编辑部)",
        ),
        (None, None),
    ]
    for number, (origin, expected) in enumerate(origins, start=1):
        message: dict[str, object] = {
            "message_id": number,
            "date": 0,
            "chat": chat,
            "from": person,
            "text": "转发的新闻",
        }
        if origin is not None:
            message["forward_origin"] = origin
        raw = {"update_id": number, "message": message}
        read = incoming(raw, None)
        assert read is not None and read[0].forwarded_from == expected, raw
