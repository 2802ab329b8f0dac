"""Digests as people read them: short text in their language, and a chart where it helps.

The figures come from ``services.digests``; this module only words and draws them. The
scheduler (``bot/scheduler.py``) renders through the same functions, so ``/digest`` shows
exactly what the scheduled message says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from fractions import Fraction
from typing import Any, TypeVar

from sqlmodel import col, select

from bot.core import FileReply, Incoming, Outgoing, Reply
from bot.core.app import App
from bot.core.conversation import Command, Context
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers import landing_digest
from handlers.networks import network_lines
from models import Role, Unit
from services import charts, digests, members, rankings, schedule, targets
from services.charts import Bars, Chart, money_unit
from services.digests import (
    COVERAGE,
    STAGES,
    BehindLine,
    BureauDigest,
    ChainDigest,
    LaggingProject,
    LeaderDigest,
    LiaisonDigest,
    StaleDispute,
    UnitTargetsDigest,
    Window,
)
from services.money import format_money
from services.periods import half_of, local_date, month_of, week_of
from services.schedule import (
    BUREAU_OVERVIEW,
    CHAIN_DIGEST,
    LEADER_SUMMARY,
    LIAISON_CLOSE,
    LIAISON_REMINDER,
    UNIT_TARGETS,
    DueItem,
    Occurrence,
)

MAX_LINES = 10
T = TypeVar("T")


def metric_name(_: Translator, metric: str, threshold: int | None, ratio: int | None) -> str:
    return _(
        f"target.metric.{metric}",
        threshold=format_money(threshold or 0, _.locale),
        ratio=ratio or 0,
    )


def _money(_: Translator, yuan: int | None) -> str:
    return _("digest.no_amount") if yuan is None else format_money(yuan, _.locale)


def _lagging_lines(_: Translator, count: int, items: list[LaggingProject]) -> list[str]:
    if not count:
        return [_("digest.lagging.none")]
    lines = [_("digest.lagging.header", count=count)]
    lines += [
        _(
            "digest.lagging.item",
            id=p.project_id,
            name=p.name(_.locale),
            stage=_(f"stage.{p.stage}"),
            days=p.idle_days,
        )
        for p in items
    ]
    if count > len(items):
        lines.append(_("digest.more", count=count - len(items)))
    return lines


def _listed(_: Translator, items: Sequence[T], line: Callable[[T], str]) -> list[str]:
    """The first :data:`MAX_LINES` items, one line each, and how many more there are."""
    lines = [line(item) for item in items[:MAX_LINES]]
    if len(items) > MAX_LINES:
        lines.append(_("digest.more", count=len(items) - MAX_LINES))
    return lines


def _photo(name: str, content: bytes) -> FileReply:
    return FileReply(name, content, "", photo=True)


async def _with_charts(text: str, charts_: Sequence[Chart]) -> list[Outgoing]:
    """The text, then each chart drawn off the event loop."""
    pngs = await charts.draw_all(charts_)
    return [Reply(text), *(_photo(c.name, png) for c, png in zip(charts_, pngs, strict=True))]


def _chart(locale: str, name: str, bars: Callable[[Translator, str], Bars]) -> Chart:
    """``bars`` worded in ``locale``, and in English for a machine without a CJK font."""
    return Chart(bars(Translator(locale), locale), bars(Translator("en"), "en"), locale, name)


# -- chain lead -------------------------------------------------------------------------------
def chain_text(digest: ChainDigest, locale: str, unit: str, *, now: bool = False) -> str:
    _ = Translator(locale)
    w = digest.window
    if not digest.sections:
        return _("digest.chain.none")
    title_key = "digest.chain.title.now" if now else "digest.chain.title"
    lines = [_(title_key, unit=unit, start=f"{w.start:%Y-%m-%d}", end=f"{w.last_day:%Y-%m-%d}")]
    for s in digest.sections:
        lines.append("")
        lines.append(_("digest.chain.section", chain=s.name(locale)))
        lines.append(_("digest.chain.activity", leads=s.new_leads, visits=s.new_visits))
        stages = [
            _("digest.stage.count", stage=_(f"stage.{stage}"), count=s.by_stage.get(stage, 0))
            for stage in STAGES
            if s.by_stage.get(stage, 0)
        ]
        lines.append(
            _("digest.chain.stages", stages=_("digest.sep").join(stages)) if stages else _("digest.chain.no_projects")
        )
        lines.append(_("digest.chain.coverage", size=s.library_size, **s.coverage))
        lines.append(
            _(
                "digest.chain.funds",
                this_year=format_money(s.funds_this_year, locale),
                last_year=format_money(s.funds_last_year, locale),
            )
        )
        lines.extend(_lagging_lines(_, s.lagging_count, s.lagging))
    return "\n".join(lines)


async def render_chain(digest: ChainDigest, locale: str, unit: str, *, now: bool = False) -> list[Outgoing]:
    text = chain_text(digest, locale, unit, now=now)
    if not digest.sections:
        return [Reply(text)]
    return await _with_charts(text, chain_charts(digest, locale))


def chain_charts(digest: ChainDigest, locale: str) -> list[Chart]:
    """The library's coverage against the ≥ 10 target (§3), and the projects by stage, per chain."""
    sections = digest.sections
    coverage = _chart(
        locale,
        "coverage.png",
        lambda _, lang: Bars(
            title=_("chart.coverage.title"),
            labels=[s.name(lang) for s in sections],
            series=[(_(f"chart.coverage.{c}"), [s.coverage.get(c, 0) for s in sections]) for c in COVERAGE],
            unit=_("chart.unit.enterprises"),
            stacked=True,
            counts=True,
            targets=[s.library_target for s in sections],
            target_label=_("chart.coverage.target"),
            empty=_("chart.empty.library"),
        ),
    )
    shown = [stage for stage in STAGES if any(s.by_stage.get(stage, 0) for s in sections)]
    stages = _chart(
        locale,
        "stages.png",
        lambda _, lang: Bars(
            title=_("chart.stages.title"),
            labels=[s.name(lang) for s in sections],
            series=[(_(f"stage.{stage}"), [s.by_stage.get(stage, 0) for s in sections]) for stage in shown],
            unit=_("chart.unit.projects"),
            stacked=True,
            counts=True,
            empty=_("chart.empty.projects"),
        ),
    )
    return [coverage, stages]


# -- liaison office -----------------------------------------------------------------------------
async def render_liaison(digest: LiaisonDigest, locale: str, unit: str, *, kind: str | None = None) -> list[Outgoing]:
    _ = Translator(locale)
    title = {LIAISON_REMINDER: "digest.liaison.title.reminder", LIAISON_CLOSE: "digest.liaison.title.close"}.get(
        kind or "", "digest.liaison.title.now"
    )
    lines = [_(title, unit=unit, month=digest.period.key)]
    lines.append(_("digest.liaison.effective", effective=digest.effective, target=digest.target))
    if digest.effective >= digest.target:
        lines.append(_("digest.liaison.met"))
    elif kind == LIAISON_CLOSE:
        lines.append(_("digest.liaison.short", missing=digest.target - digest.effective))
    else:
        lines.append(_pace(_, digest.day, digest.effective, digest.target, digest.expected))
        lines.append(_("digest.liaison.days_left", days=digest.period.days - digest.day))
    lines.append(_("digest.liaison.pending", pending=digest.pending))
    if digest.rejected:
        lines.append(_("digest.liaison.rejected.header", count=len(digest.rejected)))
        lines += _listed(
            _,
            digest.rejected,
            lambda r: _(
                "digest.liaison.rejected.item",
                id=r.lead_id,
                enterprise=r.enterprise,
                reason=r.reason or _("digest.liaison.no_reason"),
            ),
        )
    return [Reply("\n".join(lines))]


def count_text(count: Fraction | int) -> str:
    """A count that may be fractional, as people read it: 6.7, 0.9, 10."""
    return f"{float(count):.1f}".removesuffix(".0")


def _pace(_: Translator, day: int, actual: int, value: int, expected: Fraction) -> str:
    """Where a count stands against the share of its target due by ``day`` (said, not only judged)."""
    params = {"day": day, "actual": actual, "value": value, "expected": count_text(expected)}
    if actual >= value:
        return _("quota.pace.met", **params)
    if actual < expected:
        return _("quota.pace.behind", behind=count_text(expected - actual), **params)
    if actual - expected >= 1:
        return _("quota.pace.ahead", ahead=count_text(actual - expected), **params)
    return _("quota.pace.on", **params)


def pace_text(_: Translator, line: targets.Line) -> str:
    return _pace(_, line.day, line.actual, line.value, line.expected)


def target_lines(_: Translator, lines: Sequence[targets.Line], *, missing: bool = False) -> list[str]:
    """Each target with its pace (``/quota``); with ``missing``, what is still owed and by when."""
    out = []
    for line in lines:
        chain = _("quota.chain", chain=line.chain_name(_.locale)) if line.chain_id is not None else ""
        out.append(
            _(
                "quota.line",
                metric=metric_name(_, line.metric, line.threshold_yuan, line.funds_ratio_pct),
                chain=chain,
                period=_(f"target.period.{line.period.kind}"),
                value=line.value,
            )
        )
        out.append(pace_text(_, line))
        if missing and not line.met:
            out.append(
                _(
                    "digest.targets.missing",
                    missing=line.value - line.actual,
                    period_end=f"{line.period.last_day:%Y-%m-%d}",
                )
            )
    return out


# -- every unit with a yearly target ---------------------------------------------------------------
async def render_unit_targets(digest: UnitTargetsDigest, locale: str, unit: str) -> list[Outgoing]:
    _ = Translator(locale)
    if not digest.lines:
        return [Reply(_("digest.targets.none", unit=unit))]
    lines = [_("digest.targets.title", unit=unit, month=digest.period.key, date=f"{digest.as_of:%Y-%m-%d}")]
    lines += target_lines(_, digest.lines, missing=True)
    lines.append(_("digest.targets.footer") if digest.missing else _("digest.targets.all_met"))
    return [Reply("\n".join(lines))]


# -- the bureau -----------------------------------------------------------------------------------
def _behind_lines(_: Translator, behind: list[BehindLine]) -> list[str]:
    if not behind:
        return [_("digest.bureau.behind.none")]

    def item(b: BehindLine) -> str:
        line = b.line
        name = metric_name(_, line.metric, line.threshold_yuan, line.funds_ratio_pct)
        if line.chain_id is not None:
            name += _("quota.chain", chain=line.chain_name(_.locale))
        return _(
            "digest.bureau.behind.item",
            unit=b.name(_.locale),
            target=name,
            actual=line.actual,
            value=line.value,
            expected=count_text(line.expected),
        )

    return [_("digest.bureau.behind.header", count=len(behind)), *_listed(_, behind, item)]


def _stale_dispute_lines(_: Translator, digest: BureauDigest) -> list[str]:
    """Disputes left without a ruling longer than the bureau's setting: each by number, for /disputes."""
    if not digest.stale_disputes:
        return []

    def item(d: StaleDispute) -> str:
        return _(
            "digest.bureau.stale_dispute",
            number=d.dispute_id,
            project=d.project_id,
            name=d.project,
            first=d.first.name(_.locale),
            claimant=d.claimant.name(_.locale),
            days=d.days_open,
        )

    header = _("digest.bureau.stale_disputes", count=len(digest.stale_disputes), days=digest.stale_after_days)
    return [header, *_listed(_, digest.stale_disputes, item)]


def bureau_text(digest: BureauDigest, locale: str, *, now: bool = False) -> str:
    _ = Translator(locale)
    lines = [_("digest.bureau.title.now" if now else "digest.bureau.title", month=digest.period.key)]
    for row in [*digest.rows, digest.total]:
        name = _("digest.bureau.total") if row is digest.total else row.name(locale)
        lines.append(
            _(
                "digest.bureau.row",
                unit=name,
                funds=format_money(row.funds_year, locale),
                big=row.big_projects,
                new=row.new_first_talk,
                signed=row.signed,
                started=row.started,
            )
        )
    lines.append("")
    lines.extend(_behind_lines(_, digest.behind))
    lines.extend(_lagging_lines(_, digest.lagging_count, digest.lagging))
    lines.append(_("digest.bureau.disputes", disputes=digest.open_disputes, flagged=digest.flagged_visits))
    if digest.networks is not None:
        lines.extend(network_lines(_, digest.networks))
    lines.extend(_stale_dispute_lines(_, digest))
    lines.extend(landing_digest.bureau_lines(_, digest))
    return "\n".join(lines)


async def render_bureau(digest: BureauDigest, locale: str, *, now: bool = False) -> list[Outgoing]:
    return await _with_charts(bureau_text(digest, locale, now=now), bureau_charts(digest, locale))


def bureau_charts(digest: BureauDigest, locale: str) -> list[Chart]:
    """Funds in place, major projects against target (§2 §8), and each office's leads against its 10 (§5)."""

    def funds(_: Translator, lang: str) -> Bars:
        divisor, unit = money_unit([row.funds_year for row in digest.rows], lang)
        return Bars(
            title=_("chart.funds.title"),
            labels=[row.name(lang) for row in digest.rows],
            series=[("", [row.funds_year / divisor for row in digest.rows])],
            unit=_(unit),
            empty=_("chart.empty.year"),
        )

    out = [_chart(locale, "funds.png", funds)]
    out.append(
        _chart(
            locale,
            "major.png",
            lambda _, lang: Bars(
                title=_("chart.major.title"),
                labels=[b.name(lang) for b in digest.big_landed],
                series=[("", [b.actual for b in digest.big_landed])],
                unit=_("chart.unit.projects"),
                counts=True,
                targets=[b.value for b in digest.big_landed],
                target_label=_("chart.target"),
                empty=_("chart.empty.year"),
            ),
        )
    )
    if digest.leads_by_office:
        out.append(
            _chart(
                locale,
                "leads.png",
                lambda _, lang: Bars(
                    title=_("chart.leads.title", month=digest.period.key),
                    labels=[b.name(lang) for b in digest.leads_by_office],
                    series=[("", [b.actual for b in digest.leads_by_office])],
                    unit=_("chart.unit.leads"),
                    counts=True,
                    targets=[b.value for b in digest.leads_by_office],
                    target_label=_("chart.leads.target"),
                    empty=_("chart.empty.month"),
                ),
            )
        )
    return out


# -- leaders ----------------------------------------------------------------------------------------
async def render_leader(digest: LeaderDigest, locale: str) -> list[Outgoing]:
    _ = Translator(locale)
    half = "h1" if digest.period.key.endswith("H1") else "h2"
    lines = [_(f"digest.leader.title.{half}", year=digest.period.start.year)]
    if digest.projects:
        lines.append(
            _(
                "digest.leader.projects",
                count=len(digest.projects),
                landed=digest.landed,
                planned=format_money(digest.planned_total, locale),
                funds=format_money(digest.funds_total, locale),
            )
        )
        lines += _listed(
            _,
            digest.projects,
            lambda p: _(
                "digest.leader.project",
                id=p.project_id,
                name=p.name(locale),
                stage=_(f"stage.{p.stage}"),
                planned=_money(_, p.planned_yuan),
                funds=format_money(p.funds_yuan, locale),
            ),
        )
    else:
        lines.append(_("digest.leader.no_projects"))
    lines.append(_("digest.leader.targets", met=digest.targets_met, total=digest.targets_total))
    lines.extend(_behind_lines(_, digest.behind))
    lines.extend(landing_digest.ranking_lines(_, digest.rankings))
    return [Reply("\n".join(lines))]


# -- a run of scheduled digests -------------------------------------------------------------------
class DigestRun:
    """The digests of one scheduled run (or one preview), each figure counted once for all recipients.

    The first item of a kind builds that kind's figures for every recipient of the run in
    one pass (one GROUP BY per figure across all units, target progress once per day
    counted); each digest is then worded once per language and its charts drawn once.
    """

    def __init__(self, app: App, items: Sequence[DueItem]) -> None:
        self.app = app
        self.items = list(items)
        self._data: dict[tuple[Any, ...], Any] = {}
        self._out: dict[tuple[Any, ...], list[Outgoing]] = {}
        self.progress = targets.ProgressByDay(app.db, app.tz)
        self._foreseen = False
        self._units: dict[int, Unit] | None = None

    async def _foresee(self) -> None:
        """Tell the run's progress every day its digests will read, so one pass counts them all."""
        self._foreseen = True
        for o in {item.occurrence for item in self.items}:
            if o.kind == BUREAU_OVERVIEW:
                self.progress.expect(await rankings.interview_days(self.app.db, min(o.period.last_day, o.as_of)))
            elif o.kind in (UNIT_TARGETS, LEADER_SUMMARY):
                self.progress.expect([o.as_of])

    async def _unit_name(self, unit_id: int | None, locale: str) -> str:
        if self._units is None:
            self._units = await members.every_unit(self.app.db)
        unit = self._units.get(unit_id) if unit_id is not None else None
        return unit.name(locale) if unit else ""

    def _peers(self, o: Occurrence) -> list[int]:
        """The units of every item of the run due for the same occurrence."""
        return sorted({i.unit_id for i in self.items if i.occurrence == o and i.unit_id is not None})

    def _leaders(self, o: Occurrence) -> list[int]:
        return sorted({i.user_id for i in self.items if i.occurrence == o})

    async def _build(self, item: DueItem) -> Any:
        o, app = item.occurrence, self.app
        if not self._foreseen:
            await self._foresee()
        key: tuple[Any, ...] = (o.kind, o.period, o.as_of)
        if o.kind == CHAIN_DIGEST:
            if key not in self._data:
                self._data[key] = await digests.build_chain_digests(app.db, self._peers(o), window_of(o), app.tz)
            batch = self._data[key]
            if item.unit_id not in batch:
                batch.update(await digests.build_chain_digests(app.db, [item.unit_id or 0], window_of(o), app.tz))
            return batch[item.unit_id]
        if o.kind in (LIAISON_REMINDER, LIAISON_CLOSE):
            if key not in self._data:
                self._data[key] = await digests.build_liaison_digests(app.db, self._peers(o), o.period, o.as_of, app.tz)
            batch = self._data[key]
            if item.unit_id not in batch:
                batch.update(
                    await digests.build_liaison_digests(app.db, [item.unit_id or 0], o.period, o.as_of, app.tz)
                )
            return batch[item.unit_id]
        if o.kind == BUREAU_OVERVIEW:
            if key not in self._data:
                self._data[key] = await digests.build_bureau_digest(
                    app.db, o.period, app.tz, today=o.as_of, lines_on=self.progress
                )
            return self._data[key]
        if o.kind == UNIT_TARGETS:
            lines = await self.progress.on(o.as_of)
            return await digests.build_unit_targets_digest(
                app.db, item.unit_id or 0, o.period, o.as_of, app.tz, lines=lines
            )
        assert o.kind == LEADER_SUMMARY
        if key not in self._data:
            self._data[key] = await digests.build_leader_digests(
                app.db, self._leaders(o), o.period, o.as_of, app.tz, lines_on=self.progress
            )
        batch = self._data[key]
        if item.user_id not in batch:
            batch.update(
                await digests.build_leader_digests(
                    app.db, [item.user_id], o.period, o.as_of, app.tz, lines_on=self.progress
                )
            )
        return batch[item.user_id]

    async def render(self, item: DueItem) -> list[Outgoing]:
        """What ``item``'s recipient is sent: the text, then any charts."""
        o = item.occurrence
        recipient = item.user_id if o.kind == LEADER_SUMMARY else item.unit_id
        out_key = (o.kind, o.period, o.as_of, recipient, item.locale)
        if out_key in self._out:
            return self._out[out_key]
        data = await self._build(item)
        unit = await self._unit_name(item.unit_id, item.locale)
        now = o.as_of < o.period.last_day  # a period still under way (a preview, /digest)
        out: list[Outgoing]
        if o.kind == CHAIN_DIGEST:
            out = await render_chain(data, item.locale, unit, now=now)
        elif o.kind in (LIAISON_REMINDER, LIAISON_CLOSE):
            out = await render_liaison(data, item.locale, unit, kind=o.kind)
        elif o.kind == BUREAU_OVERVIEW:
            out = await render_bureau(data, item.locale, now=now)
        elif o.kind == UNIT_TARGETS:
            out = await render_unit_targets(data, item.locale, unit)
        else:
            out = await render_leader(data, item.locale)
        self._out[out_key] = out
        return out


def window_of(o: Occurrence) -> Window:
    """The days a chain digest covers: its week, cut at ``as_of`` while the week is under way."""
    return Window(o.period.start, min(o.period.end, o.as_of + timedelta(days=1)))


# -- /digest ------------------------------------------------------------------------------------------
async def show_digest(ctx: Context, msg: Incoming) -> None:
    """Show the person's digest as it stands now; the bureau may name any unit."""
    member, app = ctx.user, ctx.app
    if msg.args.strip() and member.role is Role.BUREAU:
        await show_unit_digest(ctx, msg.args.strip())
        return
    today = local_date(ctx.now(), app.tz)
    unit = member.unit_name(ctx.locale)
    items: list[Outgoing]
    if member.role is Role.CHAIN_LEAD and member.unit_id is not None:
        week = week_of(today)
        window = Window(week.start, today + timedelta(days=1))
        data = await digests.build_chain_digest(app.db, member.unit_id, window, app.tz, as_of=ctx.now())
        items = await render_chain(data, ctx.locale, unit, now=True)
    elif member.role is Role.LIAISON and member.unit_id is not None:
        liaison = await digests.build_liaison_digest(app.db, member.unit_id, month_of(today), today, app.tz)
        items = await render_liaison(liaison, ctx.locale, unit)
    elif member.role is Role.BUREAU:
        bureau = await digests.build_bureau_digest(app.db, month_of(today), app.tz, as_of=ctx.now(), today=today)
        items = await render_bureau(bureau, ctx.locale, now=True)
    elif member.role is Role.LEADER:
        leader = await digests.build_leader_digest(app.db, member.id, half_of(today), today, app.tz)
        items = await render_leader(leader, ctx.locale)
    elif member.unit_id is not None and await has_yearly_targets(ctx, member.unit_id):
        note = await digests.build_unit_targets_digest(app.db, member.unit_id, month_of(today), today, app.tz)
        items = await render_unit_targets(note, ctx.locale, unit)
    else:
        items = [Reply(ctx._("digest.nothing"))]
    ctx.out.extend(items)


async def has_yearly_targets(ctx: Context, unit_id: int) -> bool:
    today = local_date(ctx.now(), ctx.app.tz)
    lines = await targets.for_unit(ctx.app.db, unit_id, today=today, tz=ctx.app.tz)
    return any(line.period.kind == "year" for line in lines)


async def show_unit_digest(ctx: Context, text: str) -> None:
    """The digest a named unit gets, as it stands today (the bureau's view of any unit)."""
    app = ctx.app
    unit = await find_unit(ctx, text)
    if unit is None or unit.id is None:
        async with app.db.session() as session:
            q = select(Unit).where(col(Unit.active)).order_by(col(Unit.id)).limit(4)
            examples = "、".join(u.name(ctx.locale) for u in (await session.exec(q)).all())
        ctx.say(ctx._("digest.pick.unknown", text=text, examples=examples))
        return
    today = local_date(ctx.now(), app.tz)
    kind = await schedule.kind_for_unit(app.db, unit)
    if kind is None:
        ctx.say(ctx._("digest.targets.none", unit=unit.name(ctx.locale)))
        return
    occurrence = schedule.occurrence_now(kind, today, app.tz, ctx.now())
    item = DueItem(occurrence, ctx.user.id, ctx.user.telegram_id, unit.id, ctx.locale)
    ctx.out.extend(await DigestRun(app, [item]).render(item))


async def find_unit(ctx: Context, text: str) -> Unit | None:
    wanted = text.strip().lower()
    async with ctx.app.db.session() as session:
        units = list((await session.exec(select(Unit).where(col(Unit.active)))).all())
    exact = [u for u in units if wanted in (u.code.lower(), u.name_zh, u.name_en.lower())]
    if exact:
        return exact[0]
    partial = [u for u in units if wanted in u.name_zh or wanted in u.name_en.lower()]
    return partial[0] if len(partial) == 1 else None


def register(registry: Registry) -> None:
    registry.add_command(Command("digest", show_digest, help_key="help.digest"))
