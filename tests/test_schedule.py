"""A year on the clock: each person gets exactly the digests and reminders due, once,
with the right numbers — across a restart in the middle and a second process."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from sqlmodel import col, select

from bot.app import App
from bot.core import FileReply, Reply, from_payload
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox
from bot.scheduler import Scheduler, send_due, triggers
from models import Delivery
from services import charts, schedule
from services.money import format_money
from services.periods import first_working_day, last_day_of_month, month_of, week_of
from tests.fixtures_year import TZ, YearData, build_year
from tests.kit import RecordingTransport

UNITS_WITH_YEARLY_TARGETS = (1003, 1004, 1005, 1006, 1007)
PNG_STUB = b"\x89PNG stub"


async def stub_draw(chart: charts.Chart) -> bytes:
    return PNG_STUB


CHECKS = (time(9, 30), time(17, 30))
DOWN_FROM = datetime(2026, 6, 29, 12, 0, tzinfo=TZ)
DOWN_UNTIL = datetime(2026, 7, 2, 0, 0, tzinfo=TZ)


def expected_keys(year: YearData) -> set[str]:
    """The calendar, written out by hand from the seed's default times."""
    chain, liaison, bureau, leader = (year.users[t].id for t in (1005, 1002, 1001, 1008))
    keys = set()
    # Monday digests of the week before; on 1 January the digest of 29 December is caught up.
    keys.add(f"chain_digest:2025-W52:{chain}")
    day = date(2026, 1, 5)
    while day.year == 2026:
        keys.add(f"chain_digest:{week_of(day - timedelta(days=7)).key}:{chain}")
        day += timedelta(days=7)
    # Liaison: a reminder three days before each month's end and the close on its last day;
    # December 2025's close (31 Dec 17:00) is caught up on 1 January.
    keys.add(f"liaison_close:2025-12:{liaison}")
    for m in range(1, 13):
        keys.add(f"liaison_reminder:2026-{m:02d}:{liaison}")
        keys.add(f"liaison_close:2026-{m:02d}:{liaison}")
    # The bureau's overview of the month before, on each first working day (1 Jan 2026 is a Thursday).
    keys.add(f"bureau_overview:2025-12:{bureau}")
    for m in range(1, 12):
        keys.add(f"bureau_overview:2026-{m:02d}:{bureau}")
    # Leaders: 20 December 2025 is caught up; 30 June falls in the downtime and is caught up.
    keys |= {f"leader_summary:{p}:{leader}" for p in ("2025-H2", "2026-H1", "2026-H2")}
    # Every unit with a yearly target (a county, the zone, a chain lead department, a
    # department, a state-owned company): one note on the 10th of each month.
    for telegram_id in UNITS_WITH_YEARLY_TARGETS:
        keys |= {f"unit_targets:2026-{m:02d}:{year.users[telegram_id].id}" for m in range(1, 13)}
    return keys


def new_app(settings: Settings, transport: RecordingTransport, clock: Any) -> App:
    db = Database(settings.database_url)
    return App(settings=settings, db=db, outbox=Outbox(db, transport), clock=clock)


async def deliveries(app: App) -> list[Delivery]:
    async with app.db.session() as session:
        return list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())


def text_of(row: Delivery) -> str:
    items = [from_payload(p) for p in row.payload["items"]]
    return "\n".join(i.text for i in items if isinstance(i, Reply))


# The calendar is what a year proves, and it reads the same from either database; what the
# database does for the sends (claiming each once, catching up after a restart) is proven on
# both by the shorter tests below. PostgreSQL took ten times as long for the same year.
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_year_of_scheduled_sends(
    app: App, settings: Settings, transport: RecordingTransport, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A year draws some 140 charts; what they show is tested in test_charts.py.
    monkeypatch.setattr(charts, "render_png", lambda chart: PNG_STUB)
    monkeypatch.setattr(charts, "draw", stub_draw)
    # The year's visits and projects owe no follow-up, and the hook's five lookups at every
    # check were half the test's time: here it is only seen to be asked every day the bot is
    # up; what it sends is proven by test_visit_follow_ups_are_sent_once_the_days_time_has_come,
    # test_visit and test_landing_*.
    follow_ups_asked: list[date] = []

    async def follow_ups(app: App, now: datetime, times: Any = None) -> int:
        follow_ups_asked.append(now.astimezone(TZ).date())
        return 0

    monkeypatch.setattr("bot.scheduler.run_follow_up_hook", follow_ups)
    year = await build_year(app.db)
    current, restarted = app, None
    day = date(2026, 1, 1)
    first_pass_counts: list[int] = []
    while day.year == 2026:
        for at in CHECKS:
            local = datetime.combine(day, at, tzinfo=TZ)
            if DOWN_FROM <= local < DOWN_UNTIL:
                continue
            if local >= DOWN_UNTIL and restarted is None:
                # The process died during the downtime; a new one starts on the same database.
                restarted = current = new_app(settings, transport, clock)
            now = local.astimezone(UTC)
            clock.now = now
            queued = await send_due(current, now)
            first_pass_counts.append(queued)
            if queued:
                # A job firing twice, or a second look a moment later, sends nothing more.
                assert await send_due(current, now + timedelta(seconds=1)) == 0
            await current.outbox.flush()
        day += timedelta(days=1)
    assert restarted is not None
    year_days = (date(2026, 1, 1) + timedelta(days=n) for n in range(365))
    assert set(follow_ups_asked) == {d for d in year_days if not DOWN_FROM.date() < d < DOWN_UNTIL.date()}

    rows = await deliveries(current)
    keys = [r.dedupe_key for r in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected_keys(year)
    assert all(r.status == "sent" for r in rows)
    assert sum(first_pass_counts) == len(rows)
    # Nobody else got anything, and each queued message reached the chat exactly once.
    recipients = {year.users[t].telegram_id for t in (1001, 1002, 1008, *UNITS_WITH_YEARLY_TARGETS)}
    assert {chat for chat, _ in transport.sent} == recipients
    for row in rows:
        assert sum(1 for chat, _ in transport.sent if chat == row.chat_id) >= 1
    assert len(transport.sent) == sum(len(r.payload["items"]) for r in rows)

    await check_numbers(rows, year)
    await restarted.db.dispose()


async def check_numbers(rows: list[Delivery], year: YearData) -> None:
    zone_user = year.users[1004].id
    for row in rows:
        assert row.dedupe_key is not None
        kind, period, recipient = row.dedupe_key.split(":")
        text = text_of(row)
        if kind == "unit_targets" and int(recipient) == zone_user:
            # The zone's ten projects of ≥ 1亿 a year (§8), as they stand on the 10th.
            as_of = date(2026, int(period[5:]), 10)
            landed = year.landed_over("zone", 100_000_000, date(2026, 1, 1), as_of + timedelta(days=1))
            day = as_of.timetuple().tm_yday
            assert f"第 {day} 天：{landed} / 10" in text, text
            assert ("还差" in text) == (landed < 10)
        if kind in ("liaison_reminder", "liaison_close") and period.startswith("2026"):
            month = month_of(date(2026, int(period[5:]), 1))
            as_of = month.last_day if kind == "liaison_close" else month.last_day - timedelta(days=3)
            figures = year.liaison_figures("liaison_beijing", month.start, as_of)
            assert f"本月有效线索 {figures['effective']} / 10 条" in text, text
            assert f"待审核 {figures['pending']} 条" in text
        elif kind == "chain_digest" and period.startswith("2026"):
            start = date.fromisocalendar(int(period[:4]), int(period[6:]), 1)
            for chain_id in year.chain_ids_of("gxj"):
                f = year.chain_figures(chain_id, start, start + timedelta(days=7))
                assert f"新线索 {f['new_leads']} 条，拜访 {f['new_visits']} 次" in text
            items = [from_payload(p) for p in row.payload["items"]]
            assert any(isinstance(i, FileReply) and i.photo and i.content[:4] == b"\x89PNG" for i in items)
        elif kind == "leader_summary" and period.startswith("2026"):
            as_of = date(2026, 6, 30) if period.endswith("H1") else date(2026, 12, 20)
            mine = [p for p in year.projects if p.leader_user_id == year.users[1008].id and p.first_talk_date <= as_of]
            landed = sum(1 for p in mine if p.stage in {"signed", "started", "operating"})
            assert f"您包抓的项目 {len(mine)} 个，已落地 {landed} 个" in text, text
        elif kind == "bureau_overview" and period.startswith("2026"):
            month = month_of(date(2026, int(period[5:]), 1))
            funds, big, new, signed, started = year.bureau_row("ganzhou", month.start, month.end)
            expected = (
                f"甘州区：到位资金 {format_money(funds, 'zh')}，亿元以上项目 {big} 个，"
                f"新首谈 {new} 个，签约 {signed} 个，开工 {started} 个"
            )
            assert expected in text, text


@pytest.mark.slow
async def test_two_processes_at_once_send_once(
    app: App, settings: Settings, transport: RecordingTransport, clock: Any
) -> None:
    await build_year(app.db)
    other = new_app(settings, transport, clock)
    now = datetime(2026, 11, 30, 9, 30, tzinfo=TZ).astimezone(UTC)  # Monday: chain digest; and the month closes soon
    counts = await asyncio.gather(send_due(app, now), send_due(other, now))
    rows = await deliveries(app)
    assert sum(counts) == len(rows) > 0
    assert len({r.dedupe_key for r in rows}) == len(rows)
    await other.db.dispose()


async def test_late_start_catches_up_once_but_not_stale_messages(app: App) -> None:
    await build_year(app.db)
    # Down from before 20 December until 2 January: the year-end summary, December's close
    # and the Monday digest are caught up; November's reminders are not.
    now = datetime(2027, 1, 2, 10, 0, tzinfo=TZ).astimezone(UTC)
    items = await schedule.due(app.db, now, TZ)
    assert sorted(i.key.rsplit(":", 1)[0] for i in items) == [
        "bureau_overview:2026-12",
        "chain_digest:2026-W52",
        "leader_summary:2026-H2",
        "liaison_close:2026-12",
    ]


def test_occurrence_calendar_edges() -> None:
    times = schedule.Times(0, time(8, 30), 3, time(9), time(17), time(9), ((6, 30), (12, 20)), time(9), time(8))
    # 1 August 2026 is a Saturday: the overview waits for Monday the 3rd.
    assert first_working_day(2026, 8) == date(2026, 8, 3)
    saturday = datetime(2026, 8, 1, 10, 0, tzinfo=TZ).astimezone(UTC)
    kinds = {o.kind: o for o in schedule.occurrences(times, saturday, TZ)}
    assert "bureau_overview" not in kinds  # July's first working day was too long ago
    monday = datetime(2026, 8, 3, 9, 0, tzinfo=TZ).astimezone(UTC)
    kinds = {o.kind: o for o in schedule.occurrences(times, monday, TZ)}
    assert kinds["bureau_overview"].period.key == "2026-07"
    # February's reminder: three days before the 28th.
    feb = datetime(2026, 2, 25, 9, 0, tzinfo=TZ).astimezone(UTC)
    kinds = {o.kind: o for o in schedule.occurrences(times, feb, TZ)}
    assert kinds["liaison_reminder"].as_of == last_day_of_month(2026, 2) - timedelta(days=3)


async def test_bureau_changes_a_time_and_the_schedule_follows(app: App) -> None:
    await schedule.set_time(app.db, "chain_digest", "Tue 9:05", by=None)
    times = await schedule.load_times(app.db)
    assert (times.chain_weekday, times.chain_time) == (1, time(9, 5))
    tuesday = datetime(2026, 12, 1, 9, 10, tzinfo=TZ).astimezone(UTC)
    kinds = {o.kind: o for o in schedule.occurrences(times, tuesday, TZ)}
    assert kinds["chain_digest"].period.start == date(2026, 11, 24)
    with pytest.raises(schedule.BadScheduleValue):
        await schedule.set_time(app.db, "chain_digest", "someday 25:00", by=None)
    # One leader summary per half-year: two in the same half would share one delivery key.
    with pytest.raises(schedule.BadScheduleValue):
        await schedule.set_time(app.db, "leader_summary_dates", "06-30 05-15 12-20", by=None)
    assert await schedule.set_time(app.db, "leader_summary_dates", "07-05 01-10", by=None) == ["01-10", "07-05"]
    trigger = triggers(times, TZ)["chain_digest"]
    nxt = trigger.get_next_fire_time(None, datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    assert nxt == datetime(2026, 12, 1, 9, 5, tzinfo=TZ)


async def test_scheduler_catches_up_at_start_and_fires_on_time(app: App, transport: RecordingTransport) -> None:
    await build_year(app.db)
    # Real time, moved: one second before the Monday digest is due.
    with time_machine.travel(datetime(2026, 11, 30, 8, 29, 59, tzinfo=TZ), tick=True):
        app.clock = lambda: datetime.now(UTC)
        scheduler = Scheduler(app)
        await scheduler.start()
        try:
            job_ids = set(scheduler.job_ids())
            assert {
                "chain_digest",
                "liaison_reminder",
                "liaison_close",
                "bureau_overview",
                "follow_up",
                "sweep",
            } <= job_ids
            assert scheduler.scheduler._job_defaults["misfire_grace_time"] == 6 * 3600
            assert scheduler.scheduler._job_defaults["coalesce"] is True
            caught_up = {r.dedupe_key.rsplit(":", 1)[0] for r in await deliveries(app) if r.dedupe_key}
            # The month's reminder (27 November) is caught up; last Monday's digest is too old now.
            assert caught_up == {"liaison_reminder:2026-11"}
            for _ in range(100):
                await asyncio.sleep(0.1)
                keys = {r.dedupe_key.rsplit(":", 1)[0] for r in await deliveries(app) if r.dedupe_key}
                if "chain_digest:2026-W48" in keys:
                    break
            assert "chain_digest:2026-W48" in keys
            # The bureau moves the digest: the running scheduler picks it up.
            await schedule.set_time(app.db, "chain_digest", "wed 07:00", by=None)
            schedule.notify_changed()
            wednesday = datetime(2026, 12, 2, 7, 0, tzinfo=TZ)
            for _ in range(100):
                await asyncio.sleep(0.05)
                if scheduler.scheduler.get_job("chain_digest").next_run_time == wednesday:
                    break
            assert scheduler.scheduler.get_job("chain_digest").next_run_time == wednesday
        finally:
            await scheduler.stop()


async def test_visit_follow_ups_are_sent_once_the_days_time_has_come(app: App) -> None:
    from bot.scheduler import run_follow_up_hook
    from models import Enterprise, User, Visit

    async with app.db.session() as session:
        filer = (await session.exec(select(User).where(User.telegram_id == 1003))).one()
        enterprise = Enterprise(name="张掖光伏电站", normalized_name="张掖光伏电站")
        session.add(enterprise)
        await session.flush()
        assert enterprise.id is not None and filer.id is not None and filer.unit_id is not None
        session.add(
            Visit(
                enterprise_id=enterprise.id,
                unit_id=filer.unit_id,
                user_id=filer.id,
                visit_date=date(2026, 11, 20),
                next_step="报送用地需求",
                follow_up_date=date(2026, 11, 30),
            )
        )
    early = datetime(2026, 11, 30, 7, 59, tzinfo=TZ).astimezone(UTC)
    on_time = datetime(2026, 11, 30, 8, 0, tzinfo=TZ).astimezone(UTC)
    assert await run_follow_up_hook(app, early) == 0
    assert await run_follow_up_hook(app, on_time) == 1
    assert await run_follow_up_hook(app, on_time + timedelta(hours=3)) == 0
    [row] = [r for r in await deliveries(app) if r.kind == "follow_up"]
    assert row.chat_id == 1003
    reply = from_payload(row.payload["items"][0])
    assert isinstance(reply, Reply) and "张掖光伏电站" in reply.text and "报送用地需求" in reply.text


async def test_digests_speak_the_recipients_language(app: App) -> None:
    year = await build_year(app.db)
    async with app.db.session() as session:
        user = await session.get(type(year.users[1002]), year.users[1002].id)
        assert user is not None
        user.locale = "en"
        session.add(user)
    now = datetime(2026, 11, 27, 9, 30, tzinfo=TZ).astimezone(UTC)
    await send_due(app, now)
    rows = {r.dedupe_key.split(":")[0]: r for r in await deliveries(app) if r.dedupe_key}
    text = text_of(rows["liaison_reminder"])
    figures = year.liaison_figures("liaison_beijing", date(2026, 11, 1), date(2026, 11, 27))
    assert f"Effective leads this month: {figures['effective']} of 10" in text
    assert "day 27:" in text


def test_working_days_follow_the_official_calendar(caplog: pytest.LogCaptureFixture) -> None:
    # 1-3 January 2026 are New Year holidays and Sunday the 4th is a make-up working day (调休).
    assert first_working_day(2026, 1) == date(2026, 1, 4)
    # National Day: 1-7 October off, the 8th (a Thursday) the first working day.
    assert first_working_day(2026, 10) == date(2026, 10, 8)
    assert first_working_day(2026, 8) == date(2026, 8, 3)
    # A year the calendar does not know yet: Monday to Friday, and the log says so.
    with caplog.at_level(logging.WARNING, logger="services.periods"):
        assert first_working_day(2031, 1) == date(2031, 1, 1)  # a Wednesday
        assert first_working_day(2031, 2) == date(2031, 2, 3)  # 1 February 2031 is a Saturday
    assert "does not cover 2031" in caplog.text


async def test_the_october_overview_waits_for_the_first_working_day(app: App) -> None:
    await build_year(app.db)
    holiday = datetime(2026, 10, 2, 10, 0, tzinfo=TZ).astimezone(UTC)  # a Friday, but National Day
    assert not [i for i in await schedule.due(app.db, holiday, TZ) if i.kind == "bureau_overview"]
    back = datetime(2026, 10, 8, 9, 30, tzinfo=TZ).astimezone(UTC)
    [overview] = [i for i in await schedule.due(app.db, back, TZ) if i.kind == "bureau_overview"]
    assert overview.key.startswith("bureau_overview:2026-09:")
    # The job wakes on each of the first fifteen days; ``due`` decides which is the day.
    trigger = triggers(await schedule.load_times(app.db), TZ)["bureau_overview"]
    fire = trigger.get_next_fire_time(None, datetime(2026, 10, 7, 12, 0, tzinfo=TZ))
    assert fire == datetime(2026, 10, 8, 9, 0, tzinfo=TZ)


async def test_the_bureau_moves_the_monthly_targets_note(app: App) -> None:
    year = await build_year(app.db)
    assert await schedule.set_time(app.db, "unit_targets_note", "5 08:15", by=None) == "05 08:15"
    with pytest.raises(schedule.BadScheduleValue):
        await schedule.set_time(app.db, "unit_targets_note", "31 08:15", by=None)  # not every month has it
    times = await schedule.load_times(app.db)
    early = datetime(2026, 11, 5, 8, 0, tzinfo=TZ).astimezone(UTC)
    assert not [i for i in await schedule.due(app.db, early, TZ, times=times) if i.kind == "unit_targets"]
    on_time = datetime(2026, 11, 5, 8, 15, tzinfo=TZ).astimezone(UTC)
    notes = [i for i in await schedule.due(app.db, on_time, TZ, times=times) if i.kind == "unit_targets"]
    # Every person of a unit with a yearly target, and nobody else (not the liaison office,
    # whose target is monthly, nor the bureau or the leaders).
    assert sorted(i.telegram_id for i in notes) == [1003, 1004, 1005, 1006, 1007]
    assert {i.occurrence.as_of for i in notes} == {date(2026, 11, 5)}
    assert year.users[1002].id not in {i.user_id for i in notes}


async def test_a_message_queued_by_another_run_is_skipped_and_the_rest_still_go(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "draw", stub_draw)
    await build_year(app.db)
    now = datetime(2026, 11, 30, 9, 30, tzinfo=TZ).astimezone(UTC)  # Monday: chain digest; the month closes soon
    items = await schedule.due(app.db, now, TZ)
    assert len(items) >= 2
    # Another process queued one of them between this run's look at what is due and its commit.
    first = items[0]
    assert await app.outbox.enqueue(first.telegram_id, [Reply("queued elsewhere")], kind=first.kind, key=first.key)
    monkeypatch.setattr(schedule, "due", lambda *args, **kwargs: _return(items))
    assert await send_due(app, now) == len(items) - 1
    rows = await deliveries(app)
    assert sorted(r.dedupe_key or "" for r in rows) == sorted(i.key for i in items)
    assert text_of(next(r for r in rows if r.dedupe_key == first.key)) == "queued elsewhere"


async def _return(value: Any) -> Any:
    return value
