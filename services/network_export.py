"""The networks' workbook (§9–§13), written with the exporter's own sheets and headers.

As things stand at export time, since follow-through, cadences and deadlines are states
rather than events of the period: each event's follow-through, the signing lists, the
directory, the opportunity lists and who is interested, fund-backed and foreign projects.
Signing lists and projects follow the same visibility rule as every export; a unit sees its
own directory, the bureau every unit's; who is interested is for the owner and the bureau.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from models import Contact, Enterprise, EnterpriseTag, Interest, Opportunity, Project, Role, utcnow
from services import contacts, expos, opportunities, projects
from services.access import scope
from services.capital import in_yuan, rate_text

if TYPE_CHECKING:
    from services.export import Exporter


async def write_networks(ex: Exporter) -> None:
    await _events(ex)
    await _directory(ex)
    await _opportunities(ex)
    await _capital(ex)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def _visible_projects(ex: Exporter) -> set[int]:
    async with ex.db.session() as session:
        return {int(i or 0) for i in (await session.exec(select(Project.id).where(scope(ex.member, Project)))).all()}


async def _events(ex: Exporter) -> None:
    now = ex.req.now or utcnow()
    events = await expos.listing(ex.db)
    figures = await expos.follow_through(
        ex.db, [int(e.id or 0) for e in events], now, await projects.lagging_days(ex.db)
    )
    summary, signed = [], []
    share = _share
    visible = await _visible_projects(ex)
    for ft in figures:
        name = ft.expo.name(ex.req.locale)
        summary.append(
            [
                name, ft.expo.starts_on, ft.expo.ends_on, ft.units, ft.leads, ft.visits, ft.count, ft.started,
                share(ft.started, ft.count), ft.operating, share(ft.operating, ft.count),
                ft.planned_yuan, ft.funds_yuan, share(ft.funds_yuan, ft.planned_yuan),
                len(ft.laggards),
            ]
        )  # fmt: skip
        for s in ft.signed:
            if s.project_id in visible:
                signed.append(
                    [name, s.project_id, s.name, s.enterprise, ex._stage(s.stage), s.planned_yuan,
                     s.funds_in_place_yuan, ex._("desk.export.yes") if s.lagging else ""]
                )  # fmt: skip
    ex._sheet(
        ex._("net.export.sheet.events"),
        [
            ("event", "text"), ("starts_on", "date"), ("ends_on", "date"), ("units_taking_part", "int"),
            ("new_leads", "int"), ("visits", "int"), ("signed", "int"), ("started", "int"), ("started_rate", "percent"),
            ("operating", "int"), ("operating_rate", "percent"), ("planned", "wan"), ("funds", "wan"),
            ("funds_ratio", "percent"), ("lagging", "int"),
        ],
        summary,
    )  # fmt: skip
    ex._sheet(
        ex._("net.export.sheet.signing"),
        [
            ("event", "text"), ("number", "int"), ("project", "text"), ("name", "text"), ("stage", "text"),
            ("planned", "wan"), ("funds", "wan"), ("lagging", "text"),
        ],
        signed,
    )  # fmt: skip


async def _directory(ex: Exporter) -> None:
    units, _chains, _people = await ex._names()
    kinds = {k.code: k.name(ex.req.locale) for k in await contacts.kinds(ex.db)}
    now = ex.req.now or utcnow()
    if ex.member.role is Role.BUREAU:
        async with ex.db.session() as session:
            query = select(Contact.unit_id).where(col(Contact.removed_at).is_(None)).distinct()
            unit_ids = sorted((await session.exec(query)).all())
    else:
        unit_ids = [ex.member.unit_id] if ex.member.unit_id is not None else []
    data = []
    for unit_id in unit_ids:
        for row in await contacts.directory(ex.db, unit_id, now):
            c = row.contact
            data.append(
                [
                    units.get(unit_id, ""), row.number, kinds.get(c.kind, c.kind), c.name, c.place, c.reach,
                    c.relation, c.cadence_days, ex._local(c.last_contact_at), ex._local(row.due_at), row.overdue_days,
                    row.leads, row.visits, row.projects,
                ]
            )  # fmt: skip
    ex._sheet(
        ex._("net.export.sheet.directory"),
        [
            ("unit", "text"), ("number", "int"), ("kind", "text"), ("name", "text"), ("place", "text"),
            ("reach", "text"), ("relation", "text"), ("cadence", "int"), ("last_contact", "date"), ("due", "date"),
            ("overdue_days", "int"), ("new_leads", "int"), ("visits", "int"), ("projects", "int"),
        ],
        data,
    )  # fmt: skip


async def _opportunities(ex: Exporter) -> None:
    units, _chains, _people = await ex._names()
    names = {s.code: s.name(ex.req.locale) for s in await opportunities.scenarios(ex.db)}
    async with ex.db.session() as session:
        listed = (await session.exec(select(Opportunity).order_by(col(Opportunity.id)))).all()
        interests = (
            await session.exec(
                select(Interest, Enterprise.name, Opportunity)
                .join(Enterprise, col(Enterprise.id) == Interest.enterprise_id)
                .join(Opportunity, col(Opportunity.id) == Interest.opportunity_id)
                .order_by(col(Interest.at), col(Interest.id))
            )
        ).all()
    counts: dict[int, int] = {}
    for interest, _name, _o in interests:
        counts[interest.opportunity_id] = counts.get(interest.opportunity_id, 0) + 1
    ex._sheet(
        ex._("net.export.sheet.opportunities"),
        [
            ("number", "int"), ("scenario", "text"), ("project", "text"), ("unit", "text"), ("amount", "wan"),
            ("conditions", "text"), ("deadline", "date"), ("interested", "int"),
        ],
        [
            [o.id, names.get(o.scenario, o.scenario), o.title, units.get(o.owner_unit_id, ""), o.size_yuan,
             o.conditions, o.deadline, counts.get(int(o.id or 0), 0)]
            for o in listed
        ],
    )  # fmt: skip
    sees_all = ex.member.role is Role.BUREAU
    ex._sheet(
        ex._("net.export.sheet.interests"),
        [("date", "date"), ("project", "text"), ("name", "text"), ("unit", "text"), ("lead", "int")],
        [
            [ex._local(i.at), o.title, name, units.get(i.unit_id, ""), i.lead_id]
            for i, name, o in interests
            if sees_all or o.owner_unit_id == ex.member.unit_id or i.unit_id == ex.member.unit_id
        ],
    )


async def _capital(ex: Exporter) -> None:
    units, _chains, _people = await ex._names()
    async with ex.db.session() as session:
        rows = (
            await session.exec(
                select(Project, Enterprise)
                .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
                .where(
                    scope(ex.member, Project),
                    col(Project.fund_mode).is_not(None) | (col(Project.foreign_usd) > 0),
                )
                .order_by(col(Project.id))
            )
        ).all()
    data: list[list[Any]] = []
    for p, e in rows:
        data.append(
            [
                p.id, p.name, e.name, units.get(p.executing_unit_id, ""), ex._stage(p.stage),
                ex._(f"net.capital.fund.{p.fund_mode}") if p.fund_mode else "", p.fund_name, p.fund_yuan,
                p.foreign_usd, rate_text(p.usd_rate_e4) if p.usd_rate_e4 else "",
                in_yuan(p.foreign_usd, p.usd_rate_e4) if p.foreign_usd and p.usd_rate_e4 else None,
                ex._("desk.export.yes") if EnterpriseTag.FOREIGN.value in e.tags else "",
                ex._("desk.export.yes") if EnterpriseTag.GLOBAL500.value in e.tags else "",
            ]
        )  # fmt: skip
    ex._sheet(
        ex._("net.export.sheet.capital"),
        [
            ("number", "int"), ("project", "text"), ("name", "text"), ("executing_unit", "text"), ("stage", "text"),
            ("fund_mode", "text"), ("fund", "text"), ("fund_amount", "wan"), ("foreign_usd", "int"),
            ("usd_rate", "text"), ("foreign_yuan", "wan"), ("foreign_enterprise", "text"), ("global500", "text"),
        ],
        data,
    )  # fmt: skip
