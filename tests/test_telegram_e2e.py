"""The real bot over real HTTP against the fake Bot API server, once with each framework."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot import bootstrap
from bot.core import Button, FileReply, Incoming, Keyboard, Kind, Reply
from bot.core.config import Settings
from bot.core.conversation import Context, DocumentHandler, Flow, Move, Next, Step
from bot.delivery import Limits, Outbox
from bot.router import Registry
from bot.runner import run_telegram
from handlers import build_registry
from models import Delivery, Role, User, Visit
from tests import telegram_kit
from tests.botapi import FakeBotAPI
from tests.conftest import ADMIN_ID
from tests.kit import heard
from tests.telegram_kit import FRAMEWORKS, Bot, bot_settings, running_bot
from tests.test_botapi_server import tiny_png

LIAISON = 1002  # a seeded demo person: the Beijing liaison office
bot = telegram_kit.bot
framework = telegram_kit.framework
pytest_generate_tests = telegram_kit.pair_frameworks_with_backends


async def test_admin_invites_and_a_newcomer_joins(bot: Bot) -> None:
    admin = bot.person(ADMIN_ID, first_name="王局长")
    await admin.send("/invite")
    units = admin.keyboard_message()
    pressed = await admin.press("驻北京联络处")
    assert units.edited and units.buttons() == [], "the press edits its message and drops the keyboard"
    assert "驻北京联络处" in units.text
    await admin.press("驻外机构")
    link = admin.last_text
    assert "https://t.me/investbot_test_bot?start=" in link
    code = link.split("start=")[1].split()[0]
    assert all(q in bot.api.answered_callbacks for q in admin.queries), pressed

    newcomer = bot.person(777_000_000_123, first_name="李联络")
    await newcomer.send(f"/start {code}")
    assert any(heard(t, "start.welcome") for t in newcomer.texts())
    # Joining gives the person their role's own command menu.
    menu = bot.api.commands({"type": "chat", "chat_id": 777_000_000_123})
    assert "lead" in [c["command"] for c in menu] and "invite" not in [c["command"] for c in menu]


async def test_guided_lead_with_presses_and_one_message_lead(bot: Bot) -> None:
    officer = bot.person(LIAISON, first_name="李联络")
    await officer.send("/lead")
    assert "哪家企业" in officer.last_text
    await officer.send("宁德时代新能源科技股份有限公司")
    chains = officer.keyboard_message()
    assert all(len(d.encode()) <= 64 and d.isascii() for d in chains.callback_data())
    await officer.press("新能源")
    assert chains.edited and chains.buttons() == [] and chains.text.endswith("新能源")
    await officer.send("拟在西北建设储能电池基地")
    await officer.send("20亿")
    summary = officer.last_text
    assert "20亿元" in summary and "宁德时代新能源科技股份有限公司" in summary
    await officer.press("确认保存")
    assert "#" in officer.last_text

    before = len(officer.messages)
    await officer.send("/lead 比亚迪 拟在张掖建设电池回收工厂 投资约5亿 新能源")
    # A complete one-message lead is answered with one message: the summary, with its buttons.
    assert len(officer.messages) == before + 1
    assert "5亿元" in officer.last_text and "比亚迪" in officer.last_text
    assert officer.keyboard_message().message_id == officer.messages[-1].message_id
    await officer.press("确认保存")
    assert "#" in officer.last_text
    # Every press was answered, so no button kept spinning.
    assert officer.queries and all(q in bot.api.answered_callbacks for q in officer.queries)


async def test_a_stale_press_is_expired_and_a_redelivered_update_is_handled_once(bot: Bot) -> None:
    officer = bot.person(LIAISON)
    await officer.send("/lead")
    await officer.send("隆基绿能")
    chains = officer.keyboard_message()
    data = chains.button_data("新能源")
    await officer.press("新能源")
    # The same old button, pressed again (a second device, or a quick double tap).
    stale = bot.api.press_button(LIAISON, chains.message_id, data, strict=False)
    await bot.tracker.wait(bot.api.pending_updates[-1])
    assert bot.api.answered_callbacks[stale].text == "这个选项已过期，请使用最新消息中的按钮。"
    assert "计划" in officer.last_text, "the conversation did not move"

    before = len(officer.messages)
    update_id = await officer.send("/help")
    answered = len(officer.messages)
    assert answered > before
    # Telegram sends it once more: the poller knows it was handled, takes it and confirms it.
    bot.api.redeliver(update_id)
    await bot.api.wait_for(lambda: update_id not in bot.api.pending_updates, what="the redelivery confirmed")
    await officer.send("/help")
    assert bot.tracker.done[update_id] == 1, "the redelivered update was handled again"
    assert len(officer.messages) == answered + (answered - before), "the redelivered update was answered again"


async def test_one_persons_updates_are_answered_in_order(bot: Bot) -> None:
    officer = bot.person(LIAISON)
    ids = [bot.api.send_text(LIAISON, text) for text in ("/help", "/lead", "/cancel", "/lang")]
    for update_id in ids:
        await bot.tracker.wait(update_id)
    texts = officer.texts()
    assert len(texts) == 4, texts
    assert "/lead" in texts[0]
    assert texts[1].startswith("是哪家企业")
    assert texts[2] == "已取消线索。"
    assert texts[3] == "请选择语言 / Choose a language:"


async def test_command_menus_per_language_and_per_person(bot: Bot) -> None:
    api = bot.api
    # By default (not registered yet): only /help, which says how to get an invitation.
    assert [c["command"] for c in api.commands(None, "zh")] == ["help"]
    assert api.commands(None, "en")[0]["description"] == "list the commands you can use"
    assert api.commands(None, "") == api.commands(None, "zh")
    liaison = {"type": "chat", "chat_id": LIAISON}
    await api.wait_for(lambda: api.commands(liaison), what="the liaison's own menu")
    names = [c["command"] for c in api.commands(liaison)]
    assert "lead" in names and "invite" not in names and names[-1] == "cancel"

    officer = bot.person(LIAISON)
    await officer.send("/lang")
    await officer.press("English")
    assert api.commands(liaison)[0]["description"] == "list the commands you can use"

    admin = bot.person(ADMIN_ID)
    await admin.send("/help")
    chat = {"type": "chat", "chat_id": ADMIN_ID}
    await api.wait_for(lambda: "invite" in [c["command"] for c in api.commands(chat)], what="the admin's menu")


async def test_an_exception_in_a_handler_is_answered_and_the_bot_keeps_going(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    router = bot.runner.router
    assert router is not None

    async def broken(ctx: object, msg: object) -> None:
        raise RuntimeError("boom")

    router.registry.commands["help"] = replace(router.registry.commands["help"], run=broken)
    officer = bot.person(LIAISON)
    update_id = await officer.send("/help")
    # Nothing was being filled in, so the apology promises nothing kept.
    assert officer.last_text == "出了点问题，请稍后再试。"
    failed = [r for r in caplog.records if r.exc_info and f"update {update_id} " in r.getMessage()]
    assert failed and "boom" in str(failed[0].exc_info[1] if failed[0].exc_info else "")
    await officer.send("/lead")
    assert "哪家企业" in officer.last_text


# -- locations, photos and files: a small test-only conversation ---------------------------


def _field_registry() -> Registry:
    """The real handlers plus /where: share a location (or skip), then send a photo."""
    registry = build_registry()

    async def start(ctx: Context, msg: Incoming) -> Next:
        return ctx.goto("place")

    async def ask_place(ctx: Context) -> None:
        keyboard = Keyboard.column([Button("📍", request_location=True), Button("skip", "skip")])
        ctx.say("where are you?", keyboard)

    async def on_place(ctx: Context, msg: Incoming) -> Next:
        if msg.kind is Kind.LOCATION and msg.location is not None:
            ctx.say(f"at {msg.location.latitude},{msg.location.longitude}", remove_keyboard=True)
        elif ctx.choice(msg) == "skip":
            ctx.say("skipped", remove_keyboard=True)
        else:
            return Next(Move.AGAIN, "share or skip")
        return ctx.goto("photo")

    async def ask_photo(ctx: Context) -> None:
        ctx.say("a photo please")

    async def on_photo(ctx: Context, msg: Incoming) -> Next:
        if msg.kind is not Kind.PHOTO or msg.file is None:
            return Next(Move.AGAIN, "a photo please")
        content = await ctx.app.download(msg.file.file_id)
        ctx.send_file("same.png", content, caption=f"{len(content)} bytes", photo=True)
        return ctx.done()

    registry.add_flow(
        Flow(
            name="where",
            command="where",
            roles=frozenset(Role),
            start=start,
            steps={"place": Step(ask_place, on_place), "photo": Step(ask_photo, on_photo)},
            title_key="flow.lead",
        )
    )

    async def on_document(ctx: Context, msg: Incoming) -> None:
        assert msg.file is not None
        content = await ctx.app.download(msg.file.file_id)
        ctx.send_file("upper.txt", content.upper(), caption=msg.file.file_name or "")

    registry.documents = DocumentHandler(on_document)
    return registry


@pytest.fixture
async def field_bot(framework: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    monkeypatch.setattr(bootstrap, "build_registry", _field_registry)
    async with running_bot(settings, framework) as running:
        yield running


async def test_locations_photos_and_documents_reach_the_core_and_files_go_out(field_bot: Bot) -> None:
    bot, api = field_bot, field_bot.api
    officer = bot.person(LIAISON)
    await officer.send("/where")
    asking = api.last_message(LIAISON)
    keyboard = asking.reply_markup or {}
    assert keyboard["keyboard"][0][0] == {"text": "📍", "request_location": True}
    assert keyboard.get("one_time_keyboard") is True

    await bot.tracker.wait(api.share_location(LIAISON, 39.0, 100.45))
    assert "at 39.0,100.45" in officer.texts()
    removal = next(m for m in officer.messages if m.shown == "at 39.0,100.45")
    assert (removal.params.get("reply_markup") or {}).get("remove_keyboard") is True

    picture = tiny_png(64, 48)
    await bot.tracker.wait(api.send_photo(LIAISON, picture, caption="site"))
    photo = bot.tracker.seen[-1]
    assert photo.kind is Kind.PHOTO and photo.text == "site" and photo.file is not None
    assert api.file(photo.file.file_id).content == picture, "the largest size reaches the core"
    sent = api.last_message(LIAISON)
    assert sent.method == "sendPhoto" and sent.photo == picture

    await bot.tracker.wait(api.send_document(LIAISON, "plan.txt", b"grid storage"))
    doc = bot.tracker.seen[-1]
    assert doc.kind is Kind.DOCUMENT and doc.file is not None and doc.file.file_name == "plan.txt"
    reply = api.last_message(LIAISON)
    assert reply.document is not None and reply.document.content == b"GRID STORAGE"
    assert reply.caption == "plan.txt"

    await bot.tracker.wait(api.send_sticker(LIAISON))
    assert bot.tracker.seen[-1].kind is Kind.OTHER


async def test_a_reply_keyboard_button_reads_as_a_press(field_bot: Bot) -> None:
    officer = field_bot.person(LIAISON)
    await officer.send("/where")
    await officer.send("skip")
    assert "skipped" in officer.texts()
    assert officer.last_text == "a photo please"


async def test_the_outbox_sends_documents_and_photos(bot: Bot) -> None:
    app = bot.app
    await app.outbox.enqueue(LIAISON, [FileReply("report.csv", b"a,b\n1,2\n", "monthly")], kind="test")
    await app.outbox.enqueue(ADMIN_ID, [FileReply("chart.png", tiny_png(8, 8), photo=True)], kind="test")
    document = await bot.api.wait_for_message(LIAISON)
    photo = await bot.api.wait_for_message(ADMIN_ID)
    assert document.document is not None and document.document.filename == "report.csv"
    assert document.document.content == b"a,b\n1,2\n" and document.caption == "monthly"
    assert photo.method == "sendPhoto" and photo.photo == tiny_png(8, 8)


# -- webhook mode ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_accepts_the_secret_and_rejects_the_rest(settings: Settings, framework: str) -> None:
    port = free_port()
    webhook = {
        "webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
        "webhook_secret": SecretStr("s3cret-Token_1"),
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
    }
    async with running_bot(settings, framework, **webhook) as bot:
        api = bot.api
        assert api.webhook is not None and api.webhook.secret_token == "s3cret-Token_1"
        assert api.webhook.allowed_updates == ["message", "callback_query"]

        update_id = api.send_text(LIAISON, "/help")
        assert await api.deliver_webhook(update_id) == 200
        # Answered only once handled: the reply is already there.
        assert "/lead" in api.last_message(LIAISON).shown
        assert await api.deliver_webhook(api.send_text(LIAISON, "/lead"), secret_token=None) == 401
        assert await api.deliver_webhook(api.send_text(LIAISON, "/lead"), secret_token="wrong") == 403
        assert len(api.messages(LIAISON)) == 1

        # Telegram redelivers after a timeout: accepted, and handled once.
        assert await api.deliver_webhook(update_id) == 200
        assert len(api.messages(LIAISON)) == 1

        await api.deliver_webhook(api.send_text(LIAISON, "/lead"))
        await api.deliver_webhook(api.send_text(LIAISON, "宁德时代"))
        chains = api.last_message(LIAISON)
        query = api.press_button(LIAISON, chains.message_id, chains.button_data("新能源"))
        assert await api.deliver_webhook(api.pending_updates[-1]) == 200
        assert query in api.answered_callbacks and chains.edited
        assert not api.calls_to("getUpdates"), "webhook mode never polls"


# -- the outbound path -------------------------------------------------------------------


# The outbound path is the same on either database: one backend is enough for this long test.
# The server's one-second count is strict: sends in flight are counted by the pacer until a
# second after their answer, so a loaded machine slows the burst instead of bunching it.
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_burst_under_429s_arrives_complete_in_order_and_spaced(settings: Settings, framework: str) -> None:
    # Forty chats ask for more than 30 a second; three messages each keep their gaps in view.
    chats = [5_000_000_000 + n for n in range(40)]
    per_chat = 3
    async with running_bot(settings, framework) as bot:
        api, outbox = bot.api, bot.app.outbox
        api.fail_next("sendMessage", 3, retry_after=1)
        for n in range(per_chat):
            for chat in chats:
                await outbox.enqueue(chat, [Reply(f"{chat}:{n}")], kind="burst")
        total = len(chats) * per_chat
        await api.wait_for(
            lambda: sum(len(api.messages(c)) for c in chats) >= total, timeout=30, what="the whole burst"
        )
        assert len([c for c in api.calls_to("sendMessage") if c.status == 429]) == 3
        for chat in chats:
            messages = api.messages(chat)
            assert [m.text for m in messages] == [f"{chat}:{n}" for n in range(per_chat)]
            gaps = [b.sent_at - a.sent_at for a, b in itertools.pairwise(messages)]
            assert min(gaps) >= 0.9, (chat, gaps)
        sends = sorted(c.at for c in api.calls_to("sendMessage") if c.ok)
        # Never more than 30 in any one second, as the server counts them.
        busiest = max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends)
        assert busiest <= 30, busiest
        await outbox.flush()  # lets the senders record what they sent
        async with bot.app.db.session() as session:
            rows = (await session.exec(select(Delivery).where(Delivery.kind == "burst"))).all()
        assert len(rows) == total and {r.status for r in rows} == {"sent"}


async def test_blocked_and_deleted_chats_are_given_up_and_recorded(settings: Settings, framework: str) -> None:
    blocked, deleted, fine = 1003, 1004, 1005
    async with running_bot(settings, framework) as bot:
        api, outbox = bot.api, bot.app.outbox
        api.block(blocked)
        api.delete_chat(deleted)
        for chat in (blocked, deleted, fine):
            for n in range(2 if chat != fine else 1):
                await outbox.enqueue(chat, [Reply(f"note {n}")], kind="notice")
        await api.wait_for_message(fine)
        await outbox.flush()
        async with bot.app.db.session() as session:
            rows = (await session.exec(select(Delivery).where(Delivery.kind == "notice"))).all()
            users = (await session.exec(select(User).where(col(User.telegram_id).in_([blocked, deleted, fine])))).all()
        status = {(r.chat_id, r.status) for r in rows}
        assert status == {(blocked, "failed"), (deleted, "failed"), (fine, "sent")}
        reachable = {u.telegram_id: u.unreachable_at is None for u in users}
        assert reachable == {blocked: False, deleted: False, fine: True}
        # One try per unreachable chat; the rest of its queue fails without asking again.
        tried = [c.params["chat_id"] for c in api.calls_to("sendMessage")]
        assert tried.count(blocked) == 1 and tried.count(deleted) == 1
        await outbox.enqueue(deleted, [Reply("later")], kind="notice")
        await outbox.flush()
        assert [c.params["chat_id"] for c in api.calls_to("sendMessage")].count(deleted) == 1

        # Writing to the bot again makes the person reachable again.
        api.unblock(blocked)
        await bot.person(blocked).send("/help")
        async with bot.app.db.session() as session:
            user = (await session.exec(select(User).where(User.telegram_id == blocked))).one()
        assert user.unreachable_at is None


async def test_two_outboxes_on_one_database_never_send_a_row_twice(bot: Bot) -> None:
    app = bot.app
    rival = Outbox(app.db, app.outbox.transport, limits=Limits())
    chats = [6_000_000_000 + n for n in range(10)]
    for chat in chats:
        for n in range(2):
            await app.outbox.enqueue(chat, [Reply(f"{n}")], kind="shared")
    # Three senders now: the bot's own worker (woken by the queue), its flush, and the rival.
    await asyncio.gather(app.outbox.flush(), rival.flush())
    await app.outbox.flush()
    for chat in chats:
        assert [m.text for m in bot.api.messages(chat)] == ["0", "1"]
    async with app.db.session() as session:
        rows = (await session.exec(select(Delivery).where(Delivery.kind == "shared"))).all()
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


# -- shutdown ----------------------------------------------------------------------------


async def test_sigterm_finishes_the_update_in_flight_and_stops(
    settings: Settings, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import start as start_module

    slow_started = asyncio.Event()
    original = start_module.lang

    async def slow_lang(ctx: Context, msg: Incoming) -> None:
        slow_started.set()
        await asyncio.sleep(0.5)
        await original(ctx, msg)

    monkeypatch.setattr(start_module, "lang", slow_lang)
    async with FakeBotAPI() as api:
        task = asyncio.create_task(run_telegram(bot_settings(settings, api, framework)))
        await api.wait_for_calls("getUpdates")
        api.send_text(LIAISON, "/lang")
        await asyncio.wait_for(slow_started.wait(), 10)
        os.kill(os.getpid(), signal.SIGTERM)  # as a process manager stops the bot
        await asyncio.wait_for(task, 20)
        # The scheduled jobs ran too (run_telegram's default) and may have sent a digest.
        assert "请选择语言 / Choose a language:" in [m.shown for m in api.messages(LIAISON)]
        polls = len(api.calls_to("getUpdates"))
        api.send_text(LIAISON, "/help")
        await asyncio.sleep(0.3)
        assert len(api.calls_to("getUpdates")) == polls, "no polling after stop"


async def test_a_long_answer_is_split_and_a_long_notice_cut(bot: Bot) -> None:
    from bot.core import Notice
    from bot.telegram import split_text

    router = bot.runner.router
    assert router is not None

    async def long_help(ctx: Context, msg: Incoming) -> None:
        ctx.say("\n".join(f"第{n}行：" + "很长的说明" * 20 for n in range(100)))

    router.registry.commands["help"] = replace(router.registry.commands["help"], run=long_help)
    officer = bot.person(LIAISON)
    await officer.send("/help")
    texts = officer.texts()
    assert len(texts) == len(split_text("\n".join(f"第{n}行：" + "很长的说明" * 20 for n in range(100)))) > 1
    assert all(len(t) <= 4096 for t in texts) and texts[0].startswith("第0行") and texts[-1].startswith("第")

    async def shouting(ctx: Context, msg: Incoming, arg: str) -> None:
        ctx.out.append(Notice("注意" * 150))

    router.registry.actions["lang"] = replace(router.registry.actions["lang"], run=shouting)
    await officer.send("/lang")
    query = await officer.press("English")
    answer = bot.api.answered_callbacks[query].text
    assert answer is not None and len(answer) == 200 and answer.endswith("…")


async def test_a_visit_with_a_shared_location_and_a_photo(bot: Bot) -> None:
    county, api = bot.person(1003, first_name="赵干事"), bot.api
    await county.send("/visit")
    await county.send("宁德时代新能源科技股份有限公司")
    asking = api.last_message(1003)
    assert (asking.reply_markup or {})["keyboard"][0][0]["request_location"] is True
    await bot.tracker.wait(api.share_location(1003, 38.93, 100.45))
    assert any("已收到定位" in text for text in county.texts())
    await county.send("企业计划在西北建储能基地")
    await county.send("月底前提交用地方案")
    await bot.tracker.wait(api.send_photo(1003, tiny_png(32, 24)))
    assert "38.93000" in county.last_text and "照片：1张" in county.last_text
    await county.press("确认保存")
    assert "#" in county.last_text
    async with bot.app.db.session() as session:
        [visit] = (await session.exec(select(Visit))).all()
    assert (visit.latitude, visit.longitude) == (38.93, 100.45)
    [photo_id] = visit.photos
    assert await bot.app.download(photo_id) == tiny_png(32, 24), "the largest size was kept, and downloads"


async def test_a_location_shared_outside_a_conversation_starts_a_visit_there(bot: Bot) -> None:
    county, api = bot.person(1003, first_name="赵干事"), bot.api
    await bot.tracker.wait(api.share_location(1003, 38.93, 100.45))
    assert heard(county.last_text, "visit.ask.enterprise")
    await county.send("宁德时代新能源科技股份有限公司")
    await county.send("企业计划在西北建储能基地")
    await county.send("月底前提交用地方案")
    await county.press("确认保存")
    assert heard(county.last_text, "visit.saved")
    async with bot.app.db.session() as session:
        [visit] = (await session.exec(select(Visit))).all()
    assert (visit.latitude, visit.longitude) == (38.93, 100.45)


# On SQLite an update's transaction holds the file's one write lock from its first write to
# its commit, so a handler that waits after writing (here: after noting the person's language)
# holds up every other writer; PostgreSQL locks rows.
@pytest.mark.parametrize("backend", ["pg"])
async def test_a_slow_person_does_not_hold_up_another(bot: Bot) -> None:
    router = bot.runner.router
    assert router is not None
    help_command = router.registry.commands["help"]
    release = asyncio.Event()

    async def slow_for_one(ctx: Context, msg: Incoming) -> None:
        if msg.user_id == LIAISON:
            await asyncio.wait_for(release.wait(), 10)
        await help_command.run(ctx, msg)

    router.registry.commands["help"] = replace(help_command, run=slow_for_one)
    slow = bot.api.send_text(LIAISON, "/help")
    fast = bot.api.send_text(1003, "/help@investbot_test_bot")
    await bot.tracker.wait(fast)
    assert bot.tracker.done[slow] == 0 and "/visit" in bot.api.last_message(1003).shown
    release.set()
    await bot.tracker.wait(slow)
    assert "/lead" in bot.api.last_message(LIAISON).shown


async def test_the_runner_starts_and_stops_the_scheduled_jobs(settings: Settings) -> None:
    async with running_bot(settings, "ptb", scheduler=True) as bot:
        leadership = bot.runner.leadership
        assert leadership is not None
        jobs = await bot.api.wait_for(lambda: leadership.jobs, what="the scheduled jobs")
        assert jobs.scheduler.running and "sweep" in jobs.job_ids()
    assert not jobs.scheduler.running and leadership.jobs is None


async def test_stopping_right_after_starting_does_not_hang(settings: Settings, framework: str) -> None:
    async with asyncio.timeout(20):
        async with running_bot(settings, framework):
            stopping = time.monotonic()  # a SIGTERM that arrives while the bot is still starting
        # Leaving running_bot is the stop: it must not wait on a poll that was never going to end.
        assert time.monotonic() - stopping < 5
