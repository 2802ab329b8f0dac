"""Who sees and works on which records — the one rule every listing, search, export and action uses.

- county / zone, department, SOE: their own unit's leads and visits, and the projects their
  unit executes or registered first (the first-talk credit keeps a project in view after a
  transfer); they work on the projects they execute and on the visits they filed;
- liaison office: its own leads, and the visits it filed (it registers no projects);
- chain lead: besides its own unit's, the records of its chains (``Chain.lead_unit_id`` is
  its unit): leads and projects of those chains, and visits to the enterprises of those
  chains — registered under the chain or kept in its target-enterprise library;
- bureau: everything;
- city leader: the projects assigned to them.

An enterprise is visible when it is reached from a visible lead, visit or project, or, for a
chain lead, when it belongs to one of its chains. Transfers and leader assignment are the
bureau's decisions (``Purpose.DECIDE``).

The enterprise register itself is the city's, shared by name (``Sight``): anyone registered
who types a name or a credit code — a lookup, a "did you mean" suggestion, ``/find`` — is told
that the register holds that enterprise, under which name and credit code, so that two units
never register one enterprise twice. Nothing else of it: its chain, tags, contacts, library
entries and every lead, visit and project on it stay within ``scope``, and listings and
exports hold only the enterprises ``scope`` reaches — the register answers a name, it is not
handed out whole. The policy's own warnings (another unit's recent visit §17, another unit's
project on the same enterprise §14) say which unit and when, and no more.

Each rule is a SQL condition for a query's ``where``, so listings, searches and exports filter
in the database rather than after loading everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models import Chain, Enterprise, Lead, LibraryEntry, Member, Project, Role, Visit

Record = type[Project] | type[Visit] | type[Lead] | type[Enterprise]


class Purpose(StrEnum):
    SEE = "see"  # listings, cards, searches, exports, history
    WORK = "work"  # progress: stage, funds, planned amount, notes; a visit's follow-up date
    DECIDE = "decide"  # the bureau's decisions: transfers, leader assignment


def scope(member: Member, record: Record, purpose: Purpose = Purpose.SEE) -> ColumnElement[bool]:
    """A WHERE clause: the rows of ``record`` this person may see (or work on)."""
    if member.role is Role.BUREAU:
        return true()
    if purpose is Purpose.DECIDE:
        return false()
    if record is Project:
        return _projects(member, purpose)
    if record is Visit:
        return _visits(member, purpose)
    if record is Lead:
        return _leads(member) if purpose is Purpose.SEE else false()
    return _enterprises(member) if purpose is Purpose.SEE else false()


def sees_everything(member: Member) -> bool:
    return member.role is Role.BUREAU


class Sight(StrEnum):
    """How much of an enterprise a person may see."""

    RECORD = "record"  # the enterprise's record, and their records on it (``scope``)
    REGISTER = "register"  # only its entry in the shared register: name and credit code


@dataclass(frozen=True)
class RegisterEntry:
    """All the shared register tells of an enterprise outside a person's scope."""

    id: int
    name: str
    credit_code: str | None


def in_register() -> ColumnElement[bool]:
    """A WHERE clause: the enterprises whose register entry anyone registered may be told of.

    Every live record: one merged into another answers under the one it was merged into.
    """
    return col(Enterprise.merged_into).is_(None)


async def sights(session: AsyncSession, member: Member, ids: Iterable[int]) -> dict[int, Sight]:
    """For each of these live enterprises, how much this person may see of it."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    live = col(Enterprise.id).in_(wanted)
    known = {int(i) for i in (await session.exec(select(Enterprise.id).where(live, in_register()))).all() if i}
    if sees_everything(member):
        return dict.fromkeys(known, Sight.RECORD)
    records = {
        int(i) for i in (await session.exec(select(Enterprise.id).where(live, scope(member, Enterprise)))).all() if i
    }
    return {i: Sight.RECORD if i in records else Sight.REGISTER for i in known}


async def register_entries(session: AsyncSession, ids: Iterable[int]) -> dict[int, RegisterEntry]:
    """The register's entries of these enterprises: name and credit code, read alone."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.exec(
        select(Enterprise.id, Enterprise.name, Enterprise.credit_code).where(
            col(Enterprise.id).in_(wanted), in_register()
        )
    )
    return {int(i): RegisterEntry(int(i), name, code) for i, name, code in rows.all() if i is not None}


def _chain_ids(member: Member) -> SelectOfScalar[int | None]:
    """The chains this person's unit leads."""
    return select(col(Chain.id)).where(col(Chain.lead_unit_id) == member.unit_id)


def _chain_enterprises(member: Member) -> ColumnElement[bool]:
    """Enterprises registered under the chain lead's chains or kept in their libraries."""
    if member.role is not Role.CHAIN_LEAD or member.unit_id is None:
        return false()
    chains = _chain_ids(member)
    library = select(col(LibraryEntry.enterprise_id)).where(
        col(LibraryEntry.chain_id).in_(chains), col(LibraryEntry.removed_at).is_(None)
    )
    return or_(col(Enterprise.id).in_(library), col(Enterprise.chain_id).in_(chains))


def _projects(member: Member, purpose: Purpose) -> ColumnElement[bool]:
    if member.role is Role.LEADER:
        return col(Project.leader_user_id) == member.id if purpose is Purpose.SEE else false()
    if member.unit_id is None or member.role is Role.LIAISON:
        return false()
    executing = col(Project.executing_unit_id) == member.unit_id
    if purpose is Purpose.WORK:
        return executing
    own = or_(executing, col(Project.first_talk_unit_id) == member.unit_id)
    if member.role is Role.CHAIN_LEAD:
        return or_(own, col(Project.chain_id).in_(_chain_ids(member)))
    return own


def _visits(member: Member, purpose: Purpose) -> ColumnElement[bool]:
    if member.role is Role.LEADER or member.unit_id is None:
        return false()
    if purpose is Purpose.WORK:
        # Their own visits for their present unit: one moved elsewhere leaves the old unit's behind.
        return and_(col(Visit.user_id) == member.id, col(Visit.unit_id) == member.unit_id)
    own = col(Visit.unit_id) == member.unit_id
    if member.role is Role.CHAIN_LEAD:
        chained = select(col(Enterprise.id)).where(_chain_enterprises(member))
        return or_(own, col(Visit.enterprise_id).in_(chained))
    return own


def _leads(member: Member) -> ColumnElement[bool]:
    if member.role is Role.LEADER or member.unit_id is None:
        return false()
    own = col(Lead.unit_id) == member.unit_id
    if member.role is Role.CHAIN_LEAD:
        return or_(own, col(Lead.chain_id).in_(_chain_ids(member)))
    return own


def _enterprises(member: Member) -> ColumnElement[bool]:
    reachable = or_(
        col(Enterprise.id).in_(select(col(Lead.enterprise_id)).where(_leads(member))),
        col(Enterprise.id).in_(select(col(Visit.enterprise_id)).where(_visits(member, Purpose.SEE))),
        col(Enterprise.id).in_(select(col(Project.enterprise_id)).where(_projects(member, Purpose.SEE))),
    )
    if member.role is Role.CHAIN_LEAD:
        return or_(reachable, _chain_enterprises(member))
    return reachable
