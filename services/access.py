"""Who sees and works on which visits and projects — the one rule every listing and action uses.

- county / zone (and the other units that file records): their own unit's visits, and the
  projects their unit executes or registered first (the first-talk credit keeps it in view
  after a transfer); they work on the projects they execute;
- chain lead: the visits to enterprises of its chains and the projects of its chains
  (``Chain.lead_unit_id`` is their unit), besides its own unit's;
- bureau: everything;
- city leader: the projects assigned to them.

Transfers and leader assignment are the bureau's decisions (``Purpose.DECIDE``).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlmodel import col

from bot.conversation import Member
from models import Chain, Enterprise, Project, Role, Visit


class Purpose(StrEnum):
    SEE = "see"  # listings, cards, history
    WORK = "work"  # progress: stage, funds, planned amount, notes; a visit's follow-up date
    DECIDE = "decide"  # the bureau's decisions: transfers, leader assignment


def scope(member: Member, record: type[Project] | type[Visit], purpose: Purpose = Purpose.SEE) -> ColumnElement[bool]:
    """A WHERE clause: the rows of ``record`` this person may see (or work on)."""
    if member.role is Role.BUREAU:
        return true()
    if purpose is Purpose.DECIDE:
        return false()
    if record is Project:
        return _projects(member, purpose)
    return _visits(member, purpose)


def _lead_chains(member: Member) -> ColumnElement[bool]:
    return col(Chain.lead_unit_id) == member.unit_id


def _projects(member: Member, purpose: Purpose) -> ColumnElement[bool]:
    if member.role is Role.LEADER:
        return col(Project.leader_user_id) == member.id if purpose is Purpose.SEE else false()
    if member.unit_id is None:
        return false()
    executing = col(Project.executing_unit_id) == member.unit_id
    if purpose is Purpose.WORK:
        return executing
    own = or_(executing, col(Project.first_talk_unit_id) == member.unit_id)
    if member.role is Role.CHAIN_LEAD:
        return or_(own, col(Project.chain_id).in_(select(col(Chain.id)).where(_lead_chains(member))))
    return own


def _visits(member: Member, purpose: Purpose) -> ColumnElement[bool]:
    if member.role is Role.LEADER or member.unit_id is None:
        return false()
    if purpose is Purpose.WORK:
        return col(Visit.user_id) == member.id
    own = col(Visit.unit_id) == member.unit_id
    if member.role is Role.CHAIN_LEAD:
        chain_enterprises = select(col(Enterprise.id)).where(
            col(Enterprise.chain_id).in_(select(col(Chain.id)).where(_lead_chains(member)))
        )
        return or_(own, col(Visit.enterprise_id).in_(chain_enterprises))
    return own
