"""Projects under first-talk first-report 首谈首报 (§14), their progress, transfers and leaders (§15).

A stage change is where §15 and §17 meet it: reaching 洽谈 forms the project's task force
(``services.taskforce``), and a major project reaches 签约 only after its reviews
(``services.signing``).

The first registration of a project owns it. Two registrations of one project (the same
enterprise and a similar name) are serialized per enterprise inside the transaction:
before looking for the project, the registration bumps ``Enterprise.registration_seq``,
which takes the row lock on PostgreSQL and the database write lock on SQLite, so the
second registration waits, then finds the first one's project and is refused. An
enterprise that is new to the register has no row to lock yet: see
``services.enterprises.take_turn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from bot.core.db import Database
from bot.core.i18n import Translator
from models import (
    ACTIVE_STAGES,
    STAGE_ORDER,
    AuditEntry,
    Chain,
    Dispute,
    Enterprise,
    FundsEntry,
    LeaderLevel,
    Member,
    Project,
    ReviewKind,
    Role,
    Stage,
    Unit,
    User,
    utcnow,
)
from services import audit, settings, signing, taskforce
from services.access import Purpose, scope
from services.disputes import ruled_separate
from services.enterprises import resolve_draft
from services.names import name_similarity, normalize_name

#: Two project names of one enterprise scoring this or more (0–100) are one project.
SAME_PROJECT = 85.0
# §15: the policy's thresholds, as defaults the bureau may change.
MUNICIPAL_SETTING, DEFAULT_MUNICIPAL = "leader_municipal_from_yuan", 100_000_000
PRINCIPAL_SETTING, DEFAULT_PRINCIPAL = "leader_principal_from_yuan", 1_000_000_000
INDUSTRIAL_FAMILY = "1+3"  # the eco-industry family 生态工业 holds the industrial chains

_PROJECT_WORDS = re.compile(r"(?:建设项目|项目|工程|project)+$")
_PHASE = re.compile(r"([一二三四五六七八九十\d]+)期|phase(\d+)")


class ProjectError(Exception):
    """A change refused; ``code`` picks the message ``project.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def words(self, _: Translator) -> dict[str, str]:
        """What the message says besides the project's number, in the reader's language."""
        return {}


class ReviewsMissing(ProjectError):
    """§17: a major project cannot be signed before its reviews (``services.signing``)."""

    def __init__(self, missing: list[ReviewKind]) -> None:
        super().__init__("reviews_missing")
        self.missing = missing

    def words(self, _: Translator) -> dict[str, str]:
        return {"missing": _("signing.list_sep").join(_(f"signing.kind.{kind.value}") for kind in self.missing)}


def project_key(name: str) -> str:
    """A project name's stem: ``储能电池基地建设项目`` → ``储能电池基地``."""
    stem = normalize_name(name)
    return _PROJECT_WORDS.sub("", stem) or stem


def same_project(a: str, b: str) -> bool:
    """Whether two names of one enterprise's projects are one project (phase 一期 ≠ 二期)."""
    left, right = project_key(a), project_key(b)
    if _PHASE.findall(left) != _PHASE.findall(right):
        return False
    return name_similarity(left, right) >= SAME_PROJECT


# -- reading ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectRow:
    project: Project
    enterprise: Enterprise
    executing: Unit
    first_talk: Unit
    chain: Chain | None
    leader: User | None

    @property
    def id(self) -> int:
        assert self.project.id is not None
        return self.project.id


def _rows() -> Any:
    executing, first = aliased(Unit), aliased(Unit)
    return (
        Select(Project, Enterprise, executing, first, Chain, User)
        .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
        .join(executing, col(executing.id) == Project.executing_unit_id)
        .join(first, col(first.id) == Project.first_talk_unit_id)
        .outerjoin(Chain, col(Chain.id) == Project.chain_id)
        .outerjoin(User, col(User.id) == Project.leader_user_id)
    )


async def get(db: Database, member: Member, project_id: int, purpose: Purpose = Purpose.SEE) -> ProjectRow | None:
    """One project, if this person may see (or work on) it — otherwise as if it did not exist."""
    async with db.session() as session:
        row = (await session.exec(_rows().where(Project.id == project_id, scope(member, Project, purpose)))).first()
        return ProjectRow(*row) if row else None


async def card_of(db: Database, project_id: int) -> ProjectRow | None:
    """A project as the bot itself reads it, to tell the people concerned (never for a person's request)."""
    async with db.session() as session:
        row = (await session.exec(_rows().where(Project.id == project_id))).first()
        return ProjectRow(*row) if row else None


async def visible(
    db: Database,
    member: Member,
    *,
    purpose: Purpose = Purpose.SEE,
    active_only: bool = False,
    name: str | None = None,
    limit: int = 30,
) -> list[ProjectRow]:
    """The projects this person may see (or work on), most recently moved first.

    ``name`` keeps those whose name is like it (fuzzy, so it is matched here, not in SQL).
    """
    query = _rows().where(scope(member, Project, purpose))
    if active_only:
        query = query.where(col(Project.stage).in_([s.value for s in ACTIVE_STAGES]))
    query = query.order_by(col(Project.last_progress_at).desc(), col(Project.id).desc())
    if not name:
        query = query.limit(limit)
    async with db.session() as session:
        rows = [ProjectRow(*row) for row in (await session.exec(query)).all()]
    if name:
        key = project_key(name)
        rows = [r for r in rows if key in r.project.normalized_name or same_project(r.project.name, name)]
    return rows[:limit]


async def count_visible(db: Database, member: Member) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(Project).where(scope(member, Project))
        return int((await session.exec(query)).one())


def _lagging(now: datetime, days: int, member: Member | None) -> list[ColumnElement[bool]]:
    conditions = [
        col(Project.stage).in_([s.value for s in ACTIVE_STAGES]),
        col(Project.last_progress_at) <= now - timedelta(days=days),
    ]
    if member is not None:
        conditions.append(scope(member, Project))
    return conditions


async def lagging(
    db: Database, now: datetime, days: int, member: Member | None = None, *, limit: int | None = None
) -> list[ProjectRow]:
    """Active projects whose stage and funds have not moved for ``days`` (§16), longest idle first;
    ``member`` narrows to what they see."""
    query = _rows().where(*_lagging(now, days, member)).order_by(col(Project.last_progress_at), col(Project.id))
    if limit is not None:
        query = query.limit(limit)
    async with db.session() as session:
        rows = await session.exec(query)
        return [ProjectRow(*row) for row in rows.all()]


async def count_lagging(db: Database, now: datetime, days: int, member: Member | None = None) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(Project).where(*_lagging(now, days, member))
        return int((await session.exec(query)).one())


lagging_days = settings.lagging_days


# -- registering ------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectDraft:
    enterprise_id: int | None
    enterprise_name: str
    credit_code: str | None
    name: str
    chain_id: int | None
    planned_yuan: int
    first_talk_date: date
    stage: Stage
    description: str
    # Another unit's active projects with this enterprise the person said this one is not,
    # and why: kept in the history, for the bureau to judge.
    different_from: tuple[int, ...] = ()
    why_different: str = ""


@dataclass(frozen=True)
class Registered:
    """The project that was there first: who registered it and when."""

    project_id: int
    name: str
    unit_id: int
    unit_zh: str
    unit_en: str
    registered_at: datetime
    first_talk_date: date

    def unit_name(self, locale: str) -> str:
        return self.unit_en if locale == "en" and self.unit_en else self.unit_zh


class AlreadyRegistered(Exception):
    def __init__(self, first: Registered) -> None:
        super().__init__(f"project #{first.project_id} was registered first")
        self.first = first


async def _similar(
    session: AsyncSession, enterprise_id: int, name: str, unit_id: int | None = None
) -> Registered | None:
    # A project the bureau ruled is not the one this unit claimed no longer stands in its way.
    separate = await ruled_separate(session, enterprise_id=enterprise_id, unit_id=unit_id) if unit_id else set()
    rows = await session.exec(
        select(Project, Unit.name_zh, Unit.name_en)
        .join(Unit, col(Unit.id) == Project.first_talk_unit_id)
        .where(Project.enterprise_id == enterprise_id)
        .order_by(col(Project.created_at), col(Project.id))
    )
    for project, zh, en in rows.all():
        if project.id not in separate and same_project(project.name, name):
            assert project.id is not None
            return Registered(
                project.id,
                project.name,
                project.first_talk_unit_id,
                zh,
                en,
                project.created_at,
                project.first_talk_date,
            )
    return None


async def active_of_others(db: Database, *, enterprise_id: int, unit_id: int) -> list[Registered]:
    """Other units' active projects with an enterprise, whatever they are called (first registered first)."""
    async with db.session() as session:
        rows = await session.exec(
            select(Project, Unit.name_zh, Unit.name_en)
            .join(Unit, col(Unit.id) == Project.first_talk_unit_id)
            .where(
                Project.enterprise_id == enterprise_id,
                Project.first_talk_unit_id != unit_id,
                Project.executing_unit_id != unit_id,
                col(Project.stage).in_([s.value for s in ACTIVE_STAGES]),
            )
            .order_by(col(Project.created_at), col(Project.id))
        )
        separate = await ruled_separate(session, enterprise_id=enterprise_id, unit_id=unit_id)
        found = []
        for project, zh, en in rows.all():
            assert project.id is not None
            if project.id in separate:
                continue
            found.append(
                Registered(
                    project.id,
                    project.name,
                    project.first_talk_unit_id,
                    zh,
                    en,
                    project.created_at,
                    project.first_talk_date,
                )
            )
        return found


async def registered_first(
    db: Database, *, enterprise_id: int, name: str, unit_id: int | None = None
) -> Registered | None:
    """The same project, if some unit has registered it (checked early, and again when saving)."""
    async with db.session() as session:
        return await _similar(session, enterprise_id, name, unit_id)


async def leader_level_for(db: Database, planned_yuan: int | None, industrial: bool) -> LeaderLevel | None:
    """§15: ≥ 10亿 → the principal leaders; an industrial project ≥ 1亿 → a municipal leader."""
    if planned_yuan is None:
        return None
    if planned_yuan >= await settings.get_int(db, PRINCIPAL_SETTING, DEFAULT_PRINCIPAL):
        return LeaderLevel.PRINCIPAL
    if industrial and planned_yuan >= await settings.get_int(db, MUNICIPAL_SETTING, DEFAULT_MUNICIPAL):
        return LeaderLevel.MUNICIPAL
    return None


async def _load(session: AsyncSession, member: Member, project_id: int, purpose: Purpose) -> Project:
    project = (
        await session.exec(select(Project).where(Project.id == project_id, scope(member, Project, purpose)))
    ).first()
    if project is None:
        raise ProjectError("not_found")
    return project


def _log(
    session: AsyncSession, member: Member, project_id: int, *, action: str, at: datetime | None, **detail: Any
) -> None:
    """Put a change into the project's history, in the change's own transaction."""
    audit.record(session, actor_id=member.id, entity="project", entity_id=project_id, action=action, at=at, **detail)


async def register(db: Database, *, member: Member, draft: ProjectDraft, now: datetime, today: date) -> Project:
    """Register a first-talk project for the person's unit, or raise :class:`AlreadyRegistered`."""
    if member.unit_id is None:
        raise PermissionError("a project belongs to a unit")
    industrial = True
    async with db.session() as session:
        if draft.chain_id is not None:
            chain = await session.get(Chain, draft.chain_id)
            industrial = chain is None or chain.family == INDUSTRIAL_FAMILY
    level = await leader_level_for(db, draft.planned_yuan, industrial)
    review_threshold = await signing.threshold(db)
    async with db.session() as session:
        owed = await signing.owed_on_landing(
            session,
            project_id=None,
            planned_yuan=draft.planned_yuan,
            before=None,
            after=draft.stage,
            threshold_yuan=review_threshold,
        )
        if owed:
            raise ReviewsMissing(owed)
        enterprise = await resolve_draft(session, draft, chain_id=draft.chain_id, actor_id=member.id, now=now)
        assert enterprise.id is not None
        # Take turns per enterprise before looking: see the module's docstring.
        await session.exec(
            update(Enterprise)
            .where(col(Enterprise.id) == enterprise.id)
            .values(registration_seq=col(Enterprise.registration_seq) + 1)
        )
        first = await _similar(session, enterprise.id, draft.name, member.unit_id)
        if first is not None:
            raise AlreadyRegistered(first)
        stage = draft.stage
        project = Project(
            enterprise_id=enterprise.id,
            name=draft.name,
            normalized_name=project_key(draft.name),
            chain_id=draft.chain_id,
            planned_yuan=draft.planned_yuan,
            funds_in_place_yuan=0,
            first_talk_date=draft.first_talk_date,
            stage=stage,
            description=draft.description,
            industrial=industrial,
            first_talk_unit_id=member.unit_id,
            executing_unit_id=member.unit_id,
            registered_by=member.id,
            leader_level_needed=level,
            signed_on=today if _reached(stage, Stage.SIGNED) else None,
            started_on=today if _reached(stage, Stage.STARTED) else None,
            last_progress_at=now,
            created_at=now,
        )
        session.add(project)
        await session.flush()
        assert project.id is not None
        _log(
            session,
            member,
            project.id,
            action="registered",
            at=now,
            name=draft.name,
            enterprise=enterprise.name,
            unit_id=member.unit_id,
            planned_yuan=draft.planned_yuan,
            stage=stage.value,
            **(
                {"different_from": list(draft.different_from), "reason": draft.why_different}
                if draft.different_from
                else {}
            ),
        )
        if level is not None:
            _log(session, member, project.id, action="leader_needed", at=now, level=level)
        if _reached(stage, Stage.NEGOTIATION):
            await taskforce.form(session, project, by=member.id, now=now)
        return project


def _reached(stage: Stage, milestone: Stage) -> bool:
    return stage in STAGE_ORDER and STAGE_ORDER.index(stage) >= STAGE_ORDER.index(milestone)


async def dispute(
    db: Database, *, member: Member, project_id: int, reason: str, now: datetime | None = None
) -> Dispute:
    """A unit's claim that it had the first talk: sent to the bureau to decide."""
    if member.unit_id is None:
        raise PermissionError("a dispute comes from a unit")
    async with db.session() as session:
        project = await session.get(Project, project_id)
        if project is None:
            raise ProjectError("not_found")
        row = Dispute(
            project_id=project_id,
            claimant_unit_id=member.unit_id,
            claimant_user_id=member.id,
            reason=reason,
            created_at=now or utcnow(),
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        _log(
            session,
            member,
            project_id,
            action="disputed",
            at=now,
            dispute_id=row.id,
            unit_id=member.unit_id,
            reason=reason,
        )
        return row


# -- progress ---------------------------------------------------------------------------
def needs_reason(current: Stage, new: Stage) -> bool:
    """Dropping, reopening and going backwards need a reason; moving forward does not."""
    if new is Stage.DROPPED or current is Stage.DROPPED:
        return True
    return STAGE_ORDER.index(new) < STAGE_ORDER.index(current)


async def set_stage(
    db: Database, *, member: Member, project_id: int, stage: Stage, reason: str | None, now: datetime, today: date
) -> Project:
    review_threshold = await signing.threshold(db)
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.WORK)
        current = Stage(project.stage)
        if stage is current:
            raise ProjectError("same_stage")
        if needs_reason(current, stage) and not reason:
            raise ProjectError("reason_needed")
        owed = await signing.owed_on_landing(
            session,
            project_id=project.id,
            planned_yuan=project.planned_yuan,
            before=current,
            after=stage,
            threshold_yuan=review_threshold,
        )
        if owed:
            raise ReviewsMissing(owed)
        project.stage = stage
        project.drop_reason = reason if stage is Stage.DROPPED else None
        if stage is Stage.SIGNED and project.signed_on is None:
            project.signed_on = today
        if stage is Stage.STARTED and project.started_on is None:
            project.started_on = today
        project.last_progress_at = now
        session.add(project)
        _log(
            session, member, project_id, action="stage", at=now, before=current.value, after=stage.value, reason=reason
        )
        if _reached(stage, Stage.NEGOTIATION):
            await taskforce.form(session, project, by=member.id, now=now)
        return project


async def set_funds(
    db: Database, *, member: Member, project_id: int, total_yuan: int, now: datetime, on: date
) -> Project:
    """Record funds in place to date (the cumulative total people report, not an increment).

    The change is kept as a dated entry (``FundsEntry``) so a year's funds are exact; the
    project's total is kept equal to the sum of its entries in the same transaction.
    """
    if total_yuan < 0:
        raise ProjectError("negative")
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.WORK)
        before = project.funds_in_place_yuan
        if total_yuan == before:
            raise ProjectError("same_funds")
        session.add(
            FundsEntry(
                project_id=project_id,
                on_date=on,
                amount_yuan=total_yuan - before,
                recorded_by=member.id,
                recorded_at=now,
            )
        )
        project.funds_in_place_yuan = total_yuan
        project.last_progress_at = now
        session.add(project)
        _log(session, member, project_id, action="funds", at=now, before=before, after=total_yuan)
        return project


async def funds_entries(db: Database, project_id: int) -> list[FundsEntry]:
    """A project's funds in place as they came, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(FundsEntry)
            .where(FundsEntry.project_id == project_id)
            .order_by(col(FundsEntry.on_date), col(FundsEntry.id))
        )
        return list(rows.all())


async def set_planned(
    db: Database, *, member: Member, project_id: int, planned_yuan: int, now: datetime | None = None
) -> tuple[Project, LeaderLevel | None]:
    """Revise the planned investment; returns the leader level to ask the bureau for, if it changed."""
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.WORK)
        industrial = project.industrial
    level = await leader_level_for(db, planned_yuan, industrial)
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.WORK)
        before = project.planned_yuan
        if planned_yuan == before:
            raise ProjectError("same_planned")
        ask = level if level is not None and level != project.leader_level_needed else None
        project.planned_yuan = planned_yuan
        project.leader_level_needed = level
        session.add(project)
        _log(session, member, project_id, action="planned", at=now, before=before, after=planned_yuan)
        if ask is not None:
            _log(session, member, project_id, action="leader_needed", at=now, level=ask)
        return project, ask


async def add_note(db: Database, *, member: Member, project_id: int, text: str, now: datetime | None = None) -> None:
    async with db.session() as session:
        await _load(session, member, project_id, Purpose.WORK)
        _log(session, member, project_id, action="note", at=now, text=text)


# -- the bureau's decisions -------------------------------------------------------------
@dataclass(frozen=True)
class Transfer:
    project: Project
    from_unit: Unit
    to_unit: Unit


async def transfer(
    db: Database, *, member: Member, project_id: int, to_unit_id: int, reason: str, now: datetime | None = None
) -> Transfer:
    """Move a project to another county or zone: the executing unit changes, the first-talk credit stays."""
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.DECIDE)
        to_unit = await session.get(Unit, to_unit_id)
        if to_unit is None or to_unit.kind not in ("county", "zone") or not to_unit.active:
            raise ProjectError("bad_unit")
        if to_unit_id == project.executing_unit_id:
            raise ProjectError("same_unit")
        from_unit = await session.get(Unit, project.executing_unit_id)
        assert from_unit is not None
        project.executing_unit_id = to_unit_id
        session.add(project)
        _log(
            session,
            member,
            project_id,
            action="transferred",
            at=now,
            from_unit_id=from_unit.id,
            to_unit_id=to_unit_id,
            reason=reason,
        )
        return Transfer(project, from_unit, to_unit)


async def leaders(db: Database, level: LeaderLevel) -> list[User]:
    """The registered city leaders of a level (§15), to choose from."""
    async with db.session() as session:
        rows = await session.exec(
            select(User)
            .where(User.role == Role.LEADER, User.leader_level == level, col(User.active))
            .order_by(col(User.id))
        )
        return list(rows.all())


async def assign_leader(
    db: Database, *, member: Member, project_id: int, leader_user_id: int, now: datetime | None = None
) -> tuple[Project, User]:
    async with db.session() as session:
        project = await _load(session, member, project_id, Purpose.DECIDE)
        leader = await session.get(User, leader_user_id)
        if leader is None or leader.role != Role.LEADER or not leader.active:
            raise ProjectError("not_a_leader")
        before = project.leader_user_id
        project.leader_user_id = leader_user_id
        session.add(project)
        _log(
            session,
            member,
            project_id,
            action="leader_assigned",
            at=now,
            before=before,
            after=leader_user_id,
            level=leader.leader_level,
        )
        return project, leader


# -- history ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One entry of a project's history, for whoever renders it (a card here, /history elsewhere)."""

    at: datetime
    actor_id: int | None
    actor: str
    action: str
    detail: dict[str, Any]


async def history(db: Database, project_id: int) -> list[Event]:
    """Everything that happened to a project, oldest first: registration, stages, funds, transfers …"""
    async with db.session() as session:
        rows = await session.exec(
            select(AuditEntry, User.full_name)
            .outerjoin(User, col(User.id) == AuditEntry.actor_id)
            .where(AuditEntry.entity == "project", AuditEntry.entity_id == project_id)
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        )
        return [Event(entry.at, entry.actor_id, name or "", entry.action, dict(entry.detail)) for entry, name in rows]


async def unit_names(db: Database, ids: set[int]) -> dict[int, Unit]:
    async with db.session() as session:
        rows = await session.exec(select(Unit).where(col(Unit.id).in_(ids)))
        return {u.id: u for u in rows.all() if u.id is not None}


async def transfer_targets(db: Database, exclude: int) -> list[Unit]:
    async with db.session() as session:
        rows = await session.exec(
            select(Unit)
            .where(col(Unit.kind).in_(("county", "zone")), col(Unit.active), Unit.id != exclude)
            .order_by(col(Unit.id))
        )
        return list(rows.all())


async def people_of(db: Database, unit_ids: set[int]) -> list[User]:
    async with db.session() as session:
        rows = await session.exec(
            select(User).where(col(User.unit_id).in_(unit_ids), col(User.active)).order_by(col(User.id))
        )
        return list(rows.all())


def _waiting(member: Member) -> list[ColumnElement[bool]]:
    return [
        scope(member, Project),
        col(Project.stage).in_([s.value for s in ACTIVE_STAGES]),
        col(Project.leader_level_needed).is_not(None),
        col(Project.leader_user_id).is_(None),
    ]


async def waiting_for_leader(db: Database, member: Member, *, limit: int | None = None) -> list[ProjectRow]:
    """Active projects big enough for leader assignment (§15) that no leader holds yet, the longest waiting first."""
    query = _rows().where(*_waiting(member)).order_by(col(Project.first_talk_date), col(Project.id))
    if limit is not None:
        query = query.limit(limit)
    async with db.session() as session:
        rows = await session.exec(query)
        return [ProjectRow(*row) for row in rows.all()]


async def count_waiting_for_leader(db: Database, member: Member) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(Project).where(*_waiting(member))
        return int((await session.exec(query)).one())
