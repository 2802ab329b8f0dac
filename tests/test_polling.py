"""Our own long polling (``bot/polling.py``), through the real runner, under both frameworks.

An update is confirmed to Telegram (a later ``getUpdates`` offset past it) only once it was
handled: a bot stopped in the middle of one gets it again at the next start, and answers it
once. The update's JSON goes straight to the core, as on the webhook path.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import bot.runner
from bot.core import Incoming, Kind, Response
from bot.core.config import Settings
from bot.core.i18n import translate
from bot.polling import LongPoller
from bot.runner import TelegramRunner
from tests import telegram_kit
from tests.botapi import BotAPIError, FakeBotAPI
from tests.kit import heard
from tests.telegram_kit import Bot, bot_settings, running_bot
from tests.test_crash import settled, stored
from tests.test_multiprocess import ROOT, bot_env

LIAISON, COUNTY = 1002, 1003  # seeded demo people
ONE_MESSAGE_LEAD = "/lead 宁德时代 拟建储能基地 投资约20亿 新能源"
bot_fixture = telegram_kit.bot
framework = telegram_kit.framework
pytest_generate_tests = telegram_kit.pair_frameworks_with_backends


def saved_text() -> str:
    return translate("zh", "lead.saved", number="")[:6]


async def test_a_command_and_a_press_are_answered_and_confirmed(settings: Settings, framework: str) -> None:
    async with running_bot(settings, framework) as running:
        api = running.api
        officer = running.person(LIAISON)
        await officer.send("/lang")
        assert officer.last_text == "请选择语言 / Choose a language:"
        query = await officer.press("English")
        assert query in api.answered_callbacks
        assert heard(officer.last_text, "lang.set", locale="en")
        last_update = running.tracker.seen[-1].update_id
        assert last_update is not None

    methods = [call.method for call in api.calls]
    # The webhook is cleared (its pending updates kept) before the first poll.
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert api.calls_to("deleteWebhook")[0].params.get("drop_pending_updates") in (None, False)
    polls = api.calls_to("getUpdates")
    assert polls[0].params["allowed_updates"] == ["message", "callback_query"]
    assert polls[0].params["timeout"] == 1
    # At stop, one last call tells Telegram what was handled.
    assert polls[-1].params["timeout"] == 0
    assert polls[-1].params["offset"] == last_update + 1
    assert api.pending_updates == []


@asynccontextmanager
async def started(api: FakeBotAPI, settings: Settings, framework: str) -> AsyncIterator[TelegramRunner]:
    runner = TelegramRunner(bot_settings(settings, api, framework), scheduler=False, poll_timeout=1.0)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def test_an_update_interrupted_by_a_stop_is_delivered_again_and_answered_once(
    settings: Settings, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stop that does not wait for the update stuck below: as good as a crash for it.
    monkeypatch.setattr(bot.runner, "SHUTDOWN_GRACE", 0.1)
    reached = asyncio.Event()
    async with FakeBotAPI() as api:
        async with started(api, settings, framework) as first:
            api.send_text(LIAISON, ONE_MESSAGE_LEAD)
            summary = await api.wait_for_message(LIAISON, contains="宁德时代")
            router = first.router
            assert router is not None
            queue = router._queue

            async def queue_and_hang(msg: Incoming, response: Response) -> None:
                # The lead and its answer are written, not committed, when the bot goes down.
                await queue(msg, response)
                if msg.kind is Kind.BUTTON:
                    reached.set()
                    await asyncio.Event().wait()

            monkeypatch.setattr(router, "_queue", queue_and_hang)
            press = api.press_button(LIAISON, summary.message_id, summary.button_data("确认保存"))
            update_id = api.pending_updates[-1]
            await asyncio.wait_for(reached.wait(), 10)
        assert update_id in api.pending_updates, "the unfinished update was not confirmed"
        assert not any(saved_text() in m.shown for m in api.messages(LIAISON))
        leads, _ = await stored(settings.database_url)
        assert leads == []

        async with started(api, settings, framework):
            await api.wait_for(lambda: any(saved_text() in m.shown for m in api.messages(LIAISON)), what="saved")
            leads, rows = await settled(settings.database_url)
        assert len(leads) == 1
        assert sum(saved_text() in m.shown for m in api.messages(LIAISON)) == 1
        assert {row.status for row in rows} == {"sent"}
        assert press in api.answered_callbacks
        assert api.pending_updates == []


async def test_a_slow_update_holds_up_neither_other_people_nor_the_loop(bot_fixture: Bot) -> None:
    running, api = bot_fixture, bot_fixture.api
    router = running.runner.router
    assert router is not None
    handle = router.handle
    release, slow_started = asyncio.Event(), asyncio.Event()

    async def slow_for_one(msg: Incoming) -> Response:
        if msg.user_id == LIAISON:
            slow_started.set()
            # Before the update's transaction: nothing of it holds the database meanwhile.
            await asyncio.wait_for(release.wait(), 20)
        return await handle(msg)

    router.handle = slow_for_one  # type: ignore[method-assign]
    slow = api.send_text(LIAISON, "/help")
    await asyncio.wait_for(slow_started.wait(), 10)
    fast = api.send_text(COUNTY, "/help")
    await running.tracker.wait(fast)
    assert running.tracker.done[slow] == 0 and "/visit" in api.last_message(COUNTY).shown
    # Telegram answers at once while an update is unconfirmed: the poller must not spin on it.
    polls = len(api.calls_to("getUpdates"))
    await asyncio.sleep(1.5)
    assert len(api.calls_to("getUpdates")) - polls < 10
    assert slow in api.pending_updates, "the slow update is not confirmed while in flight"
    release.set()
    await running.tracker.wait(slow)
    assert "/lead" in api.last_message(LIAISON).shown


async def test_failing_polls_are_retried_and_unreadable_updates_skipped(
    bot_fixture: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    running, api = bot_fixture, bot_fixture.api
    api.error_next("getUpdates", BotAPIError(502, "Bad Gateway"))
    api.error_next("getUpdates", BotAPIError(409, "Conflict: terminated by other getUpdates request"))
    api.fail_next("getUpdates", 1, retry_after=1)
    # Updates the core cannot read: a message that is not an object, one without a chat.
    broken = api.push_update({"message": "not a message"})
    headless = api.push_update(
        {"message": {"message_id": 1, "date": 0, "from": {"id": COUNTY, "is_bot": False}, "text": "/help"}}
    )
    officer = running.person(LIAISON)
    await officer.send("/help")
    assert "/lead" in officer.last_text
    failed = [call.status for call in api.calls_to("getUpdates") if call.status != 200]
    assert failed[:3] == [502, 409, 429]
    await api.wait_for(lambda: not {broken, headless} & set(api.pending_updates), what="the unreadable confirmed")
    assert api.messages(COUNTY) == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"update {broken} failed" in logged and f"update {headless} failed" in logged

    # Items that are no update at all (not an object, no id) are passed over too.
    real = api._get_updates

    async def with_junk(params: dict[str, Any]) -> list[Any]:
        api.handle("getUpdates", real)
        return ["junk", {"message": {}}, *await real(params)]

    api.handle("getUpdates", with_junk)
    await officer.send("/lang")
    assert officer.last_text == "请选择语言 / Choose a language:"


async def test_the_update_reaches_the_core_without_the_frameworks_objects(
    bot_fixture: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiogram.types import Update as AiogramUpdate
    from telegram import Update as PTBUpdate

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("an update was parsed into the framework's objects")

    monkeypatch.setattr(PTBUpdate, "de_json", refused)
    monkeypatch.setattr(AiogramUpdate, "model_validate", refused)
    officer = bot_fixture.person(LIAISON)
    await officer.send("/lang")
    await officer.press("English")
    assert heard(officer.last_text, "lang.set", locale="en")


# -- the poller alone ----------------------------------------------------------------------


async def test_the_offset_waits_for_the_slowest_update_and_each_is_handled_once() -> None:
    async with FakeBotAPI() as api:
        release = asyncio.Event()
        fed: list[int] = []
        first, second = api.send_text(LIAISON, "/help"), api.send_text(COUNTY, "/help")

        async def feed(data: dict[str, Any]) -> None:
            if data["update_id"] == first:
                await release.wait()
            fed.append(data["update_id"])

        poller = LongPoller(feed, server=api.root, token=api.token, timeout=1)
        await poller.start()
        try:
            await api.wait_for(lambda: fed == [second], what="the second update handled")
            polls = len(api.calls_to("getUpdates"))
            await api.wait_for(lambda: len(api.calls_to("getUpdates")) > polls, what="a poll after it")
            # Finished, but behind one still in flight: neither is confirmed yet.
            assert sorted(api.pending_updates) == [first, second]
            release.set()
            await api.wait_for(lambda: api.pending_updates == [], what="both confirmed")
        finally:
            await poller.stop(1)
    # Telegram handed both out on every poll meanwhile; each was handled once.
    assert fed == [second, first]


async def test_a_refused_token_is_logged_and_retried_at_the_longest_back_off(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeBotAPI() as api:

        async def feed(data: dict[str, Any]) -> None:
            raise AssertionError("nothing comes in with a wrong token")

        token = "1:WRONGsecret"
        poller = LongPoller(feed, server=api.root, token=token, timeout=1, first_backoff=0.01, max_backoff=0.05)
        await poller.start()
        try:
            await api.wait_for(lambda: len(api.calls_to("deleteWebhook")) >= 3, what="retries")
        finally:
            await poller.stop(1)
    assert {call.status for call in api.calls_to("deleteWebhook")} == {401}
    refused = [r for r in caplog.records if r.name == "bot.polling" and "token was refused" in r.getMessage()]
    assert len(refused) >= 3 and all(r.levelname == "ERROR" and r.args and r.args[-1] == 0.05 for r in refused)
    assert not any(token in r.getMessage() for r in caplog.records)


# -- a real process, killed ---------------------------------------------------------------


async def start_polling_process(
    api: FakeBotAPI, framework: str, url: str, tmp: Path, name: str, *crash: str
) -> asyncio.subprocess.Process:
    env = bot_env(api, framework, url, tmp)
    polls = len(api.calls_to("getUpdates"))
    with (tmp / f"{name}.log").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.crashpoint", *crash, cwd=ROOT, env=env, stdout=out, stderr=out
        )
    await api.wait_for(lambda: len(api.calls_to("getUpdates")) > polls, timeout=60, what=f"{name} polling")
    return process


# The poller is the same code under both frameworks (they only send): one framework here, on
# both databases; the in-process test above stops an aiogram bot mid-update, and
# tests/test_crash.py kills each framework's webhook process. An aiogram process takes
# several seconds just to import aiogram on this machine.
@pytest.mark.slow
@pytest.mark.parametrize("where", ["before-commit", "before-send"])
async def test_a_polling_bot_killed_mid_update_answers_it_once_after_restart(
    database_url: str, tmp_path: Path, where: str
) -> None:
    framework = "ptb"
    marker = tmp_path / "reached"
    async with FakeBotAPI(token="4242:TEST") as api:
        doomed = await start_polling_process(api, framework, database_url, tmp_path, "doomed", where, str(marker))
        try:
            api.send_text(LIAISON, ONE_MESSAGE_LEAD)
            summary = await api.wait_for_message(LIAISON, contains="宁德时代", timeout=30)
            press = api.press_button(LIAISON, summary.message_id, summary.button_data("确认保存"))
            update_id = api.pending_updates[-1]
            await api.wait_for(marker.exists, timeout=30, what=f"the {where} point")
        finally:
            doomed.kill()
            await doomed.wait()
        assert update_id in api.pending_updates, "Telegram was told the unfinished update was handled"
        assert not any(saved_text() in m.shown for m in api.messages(LIAISON)), "nothing was sent before the crash"
        leads, _ = await stored(database_url)
        assert len(leads) == (0 if where == "before-commit" else 1)

        back = await start_polling_process(api, framework, database_url, tmp_path, "back", "restart")
        try:
            await api.wait_for(
                lambda: any(saved_text() in m.shown for m in api.messages(LIAISON)), timeout=30, what="saved"
            )
            leads, rows = await settled(database_url)
            assert len(leads) == 1
            assert {row.status for row in rows} == {"sent"}
            assert sum(saved_text() in m.shown for m in api.messages(LIAISON)) == 1
            assert press in api.answered_callbacks, "the redelivered press was answered"
            await api.wait_for(lambda: update_id not in api.pending_updates, what="the press confirmed")
        finally:
            back.terminate()
            with contextlib.suppress(ProcessLookupError):
                await back.wait()
