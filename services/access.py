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

Each rule is a SQL condition for a query's ``where``, so listings, searches and exports filter
in the database rather than after loading everything.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlmodel import col, select
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
