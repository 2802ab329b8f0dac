"""The DingTalk adapter's pieces without a running bot: reading errors, typed coordinates,
the access token's life, what an error may say, the parts a message is sent in, and the
cards kept for later presses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import SecretStr

from bot.adapters.dingtalk import (
    MAX_TEXT,
    DingTalkTransport,
    OpenAPI,
    classify,
    coordinates,
    message_id_of,
    out_track_id,
    update_id,
)
from bot.app import App
from bot.core import Button, FileReply, Keyboard, Location, Reply
from bot.core.config import Settings
from bot.delivery import ChatUnreachable, DeliveryError, Rejected, RetryAfter
from services import platforms
from tests.dingtalk import dingtalk_settings
from tests.dingtalk.server import CLIENT_SECRET, FakeDingTalk
from tests.test_token_redaction import ROOT, wrong_path

__all__ = ["wrong_path"]  # a fixture, found by name


def test_rate_limits_wait_gone_staff_give_up_refusals_stop_and_server_trouble_retries() -> None:
    limited = classify(429, {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "请求太频繁"}, 2.5)
    assert isinstance(limited, RetryAfter) and limited.seconds == 2.5
    assert isinstance(classify(403, {"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}), RetryAfter)
    assert isinstance(classify(200, {"errcode": 90018, "errmsg": "请求频率过快"}), RetryAfter)
    assert isinstance(classify(400, {"code": "invalidParameter.staffId.notExisted"}), ChatUnreachable)
    assert isinstance(classify(400, {"code": "param.cardNotExist", "message": "卡片不存在"}), Rejected)
    server = classify(503, {"code": "ServiceUnavailable"})
    assert type(server) is DeliveryError, "5xx is retried, not given up"
    assert type(classify(401, {"code": "InvalidAuthentication"})) is DeliveryError


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        ("38.93,100.45", Location(38.93, 100.45)),
        (" 38.93，100.45 ", Location(38.93, 100.45)),
        ("38.93 100.45", Location(38.93, 100.45)),
        ("-33.5, -70", Location(-33.5, -70.0)),
    ],
)
def test_typed_coordinates_are_a_location(typed: str, where: Location) -> None:
    assert coordinates(typed) == where


@pytest.mark.parametrize("typed", ["张掖经开区", "3000万", "91.5,100", "38.9,190", "38.93", "1,2,3", "5亿 10"])
def test_anything_else_is_not(typed: str) -> None:
    assert coordinates(typed) is None


def test_ids_round_trip_and_foreign_cards_are_not_ours() -> None:
    assert message_id_of(out_track_id(1_796_304_390_696_000)) == 1_796_304_390_696_000
    assert message_id_of("someone-else.12") is None and message_id_of("investbot.12x") is None
    assert update_id("msgA") == update_id("msgA") != update_id("msgB")
    assert 0 <= update_id("msgA") < 2**62


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _settings(fake: FakeDingTalk) -> Settings:
    return dingtalk_settings(Settings(database_url="sqlite://"), fake)


async def test_the_token_is_cached_renewed_before_it_expires_and_after_a_401() -> None:
    async with FakeDingTalk() as fake:
        clock = Clock()
        api = OpenAPI(_settings(fake), clock=clock)
        try:
            first = await api.token()
            assert await api.token() == first and fake.token_requests == 1
            clock.now += 7200 - 300 - 1  # just inside the margin DingTalk's expiry leaves
            assert await api.token() == first
            clock.now += 2
            second = await api.token()
            assert second != first and fake.token_requests == 2

            fake.tokens_issued.clear()  # DingTalk revoked it early (the secret was reset)
            await api.send_robot("staff1", "sampleText", {"content": "你好"})
            assert fake.token_requests == 3 and [m.text for m in fake.chat("staff1")] == ["你好"]
            # The older host says so with an error code in a 200 answer; the upload's form is sent again.
            fake.tokens_issued.clear()
            media_id = await api.upload("周报.png", b"\x89PNG", image=True)
            assert fake.token_requests == 4 and fake.media[media_id] == ("周报.png", b"\x89PNG")
        finally:
            await api.close()


async def test_wrong_credentials_and_lost_connections_name_no_secret() -> None:
    async with FakeDingTalk() as fake:
        settings = _settings(fake).model_copy(update={"dingtalk_client_secret": SecretStr("wrong-" + CLIENT_SECRET)})
        api = OpenAPI(settings)
        try:
            with pytest.raises(Rejected) as refused:
                await api.token()
            assert CLIENT_SECRET not in str(refused.value)
        finally:
            await api.close()
        good = OpenAPI(_settings(fake))
        token = await good.token()
    # The server is gone now: the upload URL carries the token, the error must not.
    try:
        with pytest.raises(DeliveryError) as lost:
            await good.upload("a.png", b"\x89PNG", image=True)
        assert token not in str(lost.value) and CLIENT_SECRET not in str(lost.value)
        assert not isinstance(lost.value, Rejected | ChatUnreachable), "a lost connection is retried"
    finally:
        await good.close()


@pytest.mark.parametrize("server", ["wrong_path", "not-a-url"])
def test_a_failed_start_on_dingtalk_never_prints_the_secret(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    api = str(request.getfixturevalue("wrong_path")) if server == "wrong_path" else server
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_PLATFORM": "dingtalk",
        "DINGTALK_CLIENT_ID": "dingtestrobot0001",
        "DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
        "DINGTALK_API_SERVER": api,
        "DINGTALK_OAPI_SERVER": api,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--no-scheduler"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 1, printed
    assert "investbot run failed" in printed
    assert CLIENT_SECRET not in printed


def test_a_long_text_and_a_captioned_file_are_sent_in_the_same_parts_every_time() -> None:
    transport = DingTalkTransport(cast(Any, None))  # naming the parts needs no connection
    text = "".join(f"第{n}行：储能电池基地项目推进情况。\n" for n in range(800))
    parts = transport.parts(Reply(text))
    assert len(parts) >= 3 and all(isinstance(p, Reply) and len(p.text) <= MAX_TEXT for p in parts)
    assert "".join(p.text for p in parts if isinstance(p, Reply)) == text
    assert transport.parts(Reply(text)) == parts, "a retry must name the same parts"
    report = FileReply("周报.xlsx", b"PK", caption="本周周报")
    assert transport.parts(report) == (FileReply("周报.xlsx", b"PK"), Reply("本周周报"))
    card = Reply(text[:200], Keyboard(((Button("确认保存", "lead:ok"),),)))
    assert transport.parts(card) == (card,), "a card is one message"
    assert transport.parts(Reply("好的")) == (Reply("好的"),)


async def test_cards_are_kept_changed_and_the_old_ones_pruned(app: App) -> None:
    db = app.db
    await platforms.keep_card(db, "dingtalk", 1_000, chat_id=7, text="属于哪条产业链？", labels={"c:1": "新能源"})
    await platforms.keep_card(db, "dingtalk", 2_000, chat_id=7, text="要更新什么？", labels={})
    await platforms.keep_card(db, "dingtalk", 1_000, chat_id=7, text="属于哪条产业链？\n→ 新能源", labels={})
    kept = await platforms.card(db, "dingtalk", 1_000)
    assert kept is not None and kept.text.endswith("→ 新能源") and kept.labels == {}
    assert await platforms.card(db, "telegram", 1_000) is None, "another platform's ids are its own"
    await platforms.forget_cards(db, "dingtalk", before=1_500)
    assert await platforms.card(db, "dingtalk", 1_000) is None
    assert await platforms.card(db, "dingtalk", 2_000) is not None
