"""What a person may see: the bureau everything, a unit its own records, a chain lead its chains.

Each function gives a SQL condition to put in a query's ``where``, so that listings,
searches and exports filter in the database rather than after loading everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, true
from sqlmodel import col, select

from bot.conversation import Member
from bot.db import Database
from models import Chain, Enterprise, Lead, LibraryEntry, Project, Role, Visit


@dataclass(frozen=True)
class Scope:
    everything: bool
    role: Role
    user_id: int
    unit_id: int | None
    chain_ids: frozenset[int]


async def scope_for(db: Database, member: Member) -> Scope:
    chain_ids: frozenset[int] = frozenset()
    if member.role is Role.CHAIN_LEAD and member.unit_id is not None:
        async with db.session() as session:
            rows = await session.exec(select(Chain.id).where(Chain.lead_unit_id == member.unit_id))
            chain_ids = frozenset(int(i) for i in rows.all() if i is not None)
    return Scope(
        everything=member.role is Role.BUREAU,
        role=member.role,
        user_id=member.id,
        unit_id=member.unit_id,
        chain_ids=chain_ids,
    )


def _own_unit(column: object, scope: Scope) -> ColumnElement[bool]:
    return col(column) == scope.unit_id if scope.unit_id is not None else false()


def _in_chains(column: object, scope: Scope) -> ColumnElement[bool]:
    return col(column).in_(scope.chain_ids) if scope.chain_ids else false()


def leads(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    if scope.role is Role.CHAIN_LEAD:
        return or_(_own_unit(Lead.unit_id, scope), _in_chains(Lead.chain_id, scope))
    if scope.role is Role.LEADER:
        return false()
    return _own_unit(Lead.unit_id, scope)


def projects(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    own = or_(_own_unit(Project.executing_unit_id, scope), _own_unit(Project.first_talk_unit_id, scope))
    if scope.role is Role.CHAIN_LEAD:
        return or_(own, _in_chains(Project.chain_id, scope))
    if scope.role is Role.LEADER:
        return col(Project.leader_user_id) == scope.user_id
    if scope.role is Role.LIAISON:
        return false()
    return own


def _chain_enterprises(scope: Scope) -> ColumnElement[bool]:
    """Enterprises in the chain lead's libraries or registered under its chains."""
    if not scope.chain_ids:
        return false()
    library = select(LibraryEntry.enterprise_id).where(
        col(LibraryEntry.chain_id).in_(scope.chain_ids), col(LibraryEntry.removed_at).is_(None)
    )
    return or_(col(Enterprise.id).in_(library), col(Enterprise.chain_id).in_(scope.chain_ids))


def visits(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    if scope.role is Role.CHAIN_LEAD and scope.chain_ids:
        chained = select(Enterprise.id).where(_chain_enterprises(scope))
        return or_(_own_unit(Visit.unit_id, scope), col(Visit.enterprise_id).in_(chained))
    if scope.role in (Role.LIAISON, Role.LEADER):
        return false()
    return _own_unit(Visit.unit_id, scope)


def enterprises(scope: Scope) -> ColumnElement[bool]:
    """Enterprises reachable from records the person may see (all of them for the bureau)."""
    if scope.everything:
        return true()
    reachable = or_(
        col(Enterprise.id).in_(select(Lead.enterprise_id).where(leads(scope))),
        col(Enterprise.id).in_(select(Visit.enterprise_id).where(visits(scope))),
        col(Enterprise.id).in_(select(Project.enterprise_id).where(projects(scope))),
    )
    if scope.role is Role.CHAIN_LEAD:
        return or_(reachable, _chain_enterprises(scope))
    return reachable
