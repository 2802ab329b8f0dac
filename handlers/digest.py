"""Digests as people read them: short text in their language, and a chart where it helps.

The figures come from ``services.digests``; this module only words and draws them. The
scheduler (``bot/scheduler.py``) renders through the same functions, so ``/digest`` shows
exactly what the scheduled message says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from bot.conversation import Command, Context
from bot.core import FileReply, Incoming, Outgoing, Reply
from bot.i18n import Translator
from bot.router import Registry
from handlers import landing_digest
from models import Role
from services import digests, targets
from services.charts import Bars, bar_chart, chart_locale
from services.digests import (
    COVERAGE,
    STAGES,
    BehindLine,
    BureauDigest,
    ChainDigest,
    LaggingProject,
    LeaderDigest,
    LiaisonDigest,
    Window,
)
from services.money import format_money
from services.periods import half_of, local_date, month_of, week_of
from services.schedule import LIAISON_CLOSE, LIAISON_REMINDER

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


def _chart(locale: str, bars: Callable[[Translator, str], Bars]) -> bytes:
    """Draw ``bars`` worded in ``locale``, or in the language the chart font can show."""
    lang, family = chart_locale(locale)
    return bar_chart(bars(Translator(lang), lang), family=family)


# -- chain lead -------------------------------------------------------------------------------
def render_chain(digest: ChainDigest, locale: str, unit: str, *, now: bool = False) -> list[Outgoing]:
    _ = Translator(locale)
    w = digest.window
    if not digest.sections:
        return [Reply(_("digest.chain.none"))]
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
    out: list[Outgoing] = [Reply("\n".join(lines))]
    if any(s.library_size for s in digest.sections):
        out.append(_photo("chain.png", chain_chart(digest, locale)))
    return out


def chain_chart(digest: ChainDigest, locale: str) -> bytes:
    return _chart(
        locale,
        lambda _, lang: Bars(
            title=_("chart.coverage.title"),
            labels=[s.name(lang) for s in digest.sections],
            series=[(_(f"chart.coverage.{c}"), [s.coverage.get(c, 0) for s in digest.sections]) for c in COVERAGE],
            stacked=True,
        ),
    )


# -- liaison office -----------------------------------------------------------------------------
def render_liaison(digest: LiaisonDigest, locale: str, unit: str, *, kind: str | None = None) -> list[Outgoing]:
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


def _pace(_: Translator, day: int, actual: int, value: int, expected: int) -> str:
    if actual >= value:
        return _("quota.pace.met", day=day, actual=actual, value=value)
    if actual < expected:
        return _("quota.pace.behind", day=day, actual=actual, value=value, behind=expected - actual)
    if actual > expected:
        return _("quota.pace.ahead", day=day, actual=actual, value=value, ahead=actual - expected)
    return _("quota.pace.on", day=day, actual=actual, value=value)


def pace_text(_: Translator, line: targets.Line) -> str:
    return _pace(_, line.day, line.actual, line.value, line.expected)


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
            expected=line.expected,
        )

    return [_("digest.bureau.behind.header", count=len(behind)), *_listed(_, behind, item)]


def render_bureau(digest: BureauDigest, locale: str, *, now: bool = False) -> list[Outgoing]:
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
    lines.extend(landing_digest.bureau_lines(_, digest))
    out: list[Outgoing] = [Reply("\n".join(lines))]
    out.append(_photo("bureau.png", bureau_chart(digest, locale)))
    return out


def bureau_chart(digest: BureauDigest, locale: str) -> bytes:
    return _chart(
        locale,
        lambda _, lang: Bars(
            title=_("chart.funds.title"),
            labels=[row.name(lang) for row in digest.rows],
            series=[("", [row.funds_year / 10_000 for row in digest.rows])],
            unit=_("chart.funds.unit"),
        ),
    )


# -- leaders ----------------------------------------------------------------------------------------
def render_leader(digest: LeaderDigest, locale: str) -> list[Outgoing]:
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


# -- /digest ------------------------------------------------------------------------------------------
async def show_digest(ctx: Context, msg: Incoming) -> None:
    """Show the person's digest as it stands now."""
    member, app = ctx.user, ctx.app
    today = local_date(ctx.now(), app.tz)
    unit = member.unit_name(ctx.locale)
    items: list[Outgoing]
    if member.role is Role.CHAIN_LEAD and member.unit_id is not None:
        week = week_of(today)
        window = Window(week.start, today + timedelta(days=1))
        data = await digests.build_chain_digest(app.db, member.unit_id, window, app.tz, as_of=ctx.now())
        items = render_chain(data, ctx.locale, unit, now=True)
    elif member.role is Role.LIAISON and member.unit_id is not None:
        liaison = await digests.build_liaison_digest(app.db, member.unit_id, month_of(today), today, app.tz)
        items = render_liaison(liaison, ctx.locale, unit)
    elif member.role is Role.BUREAU:
        bureau = await digests.build_bureau_digest(app.db, month_of(today), app.tz, as_of=ctx.now(), today=today)
        items = render_bureau(bureau, ctx.locale, now=True)
    elif member.role is Role.LEADER:
        leader = await digests.build_leader_digest(app.db, member.id, half_of(today), today, app.tz)
        items = render_leader(leader, ctx.locale)
    else:
        items = [Reply(ctx._("digest.nothing"))]
    ctx.out.extend(items)


def register(registry: Registry) -> None:
    registry.add_command(Command("digest", show_digest, help_key="help.digest"))
