"""The directories of §9 (重点企业、商协会、乡贤、招商顾问名录), worked on a rhythm.

Each entry belongs to one unit (a county, the zone, the bureau, a liaison office) and is
due for contact every ``cadence_days``, counted from the last contact logged (or from the
day it was entered). What a contact has brought is every lead, visit and project whose
origin names it (``services.origins``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, func, select

from bot.core.db import Database
from models import Contact, ContactTouch, Member, Origin, Role, Setting, utcnow
from services import audit
from services.seed import CONTACT_KINDS, read_seed

KEEPERS = frozenset({Role.COUNTY, Role.BUREAU, Role.LIAISON})
MIN_CADENCE, MAX_CADENCE = 7, 730


@dataclass(frozen=True)
class ContactKind:
    code: str
    name_zh: str
    name_en: str
    cadence_days: int

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    due_at: datetime
    overdue_days: int  # 0 when not overdue
    leads: int
    visits: int
    projects: int

    @property
    def number(self) -> int:
        return int(self.contact.id or 0)


async def kinds(db: Database) -> list[ContactKind]:
    """The contact kinds the bureau seeded (the file's own when the database has none)."""
    async with db.session() as session:
        row = await session.get(Setting, CONTACT_KINDS)
    values = row.value if row is not None else read_seed().get(CONTACT_KINDS, [])
    return [
        ContactKind(str(v["code"]), str(v["name_zh"]), str(v.get("name_en", "")), int(v.get("cadence_days", 90)))
        for v in values
    ]


def may_keep(member: Member) -> bool:
    return member.role in KEEPERS and member.unit_id is not None


def due_at(contact: Contact) -> datetime:
    return (contact.last_contact_at or contact.created_at) + timedelta(days=contact.cadence_days)


async def add(
    db: Database,
    *,
    member: Member,
    kind: str,
    name: str,
    place: str,
    reach: str,
    relation: str,
    cadence_days: int,
    now: datetime | None = None,
) -> Contact:
    if not may_keep(member):
        raise PermissionError("a directory belongs to a unit that keeps one")
    assert member.unit_id is not None
    now = now or utcnow()
    async with db.session() as session:
        contact = Contact(
            unit_id=member.unit_id,
            kind=kind,
            name=name,
            place=place,
            reach=reach,
            relation=relation,
            cadence_days=cadence_days,
            created_by=member.id,
            created_at=now,
        )
        session.add(contact)
        await session.flush()
        assert contact.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="contact",
            entity_id=contact.id,
            action="created",
            at=now,
            kind=kind,
            name=name,
            cadence_days=cadence_days,
        )
        return contact


async def directory(db: Database, unit_id: int, now: datetime) -> list[ContactRow]:
    """The unit's entries, the most overdue first, then by when each falls due."""
    async with db.session() as session:
        contacts = (
            await session.exec(select(Contact).where(Contact.unit_id == unit_id, col(Contact.removed_at).is_(None)))
        ).all()
        ids = [int(c.id or 0) for c in contacts]
        brought: dict[tuple[int, str], int] = {}
        if ids:
            counted = await session.exec(
                select(Origin.contact_id, Origin.record, func.count())
                .where(col(Origin.contact_id).in_(ids))
                .group_by(col(Origin.contact_id), col(Origin.record))
            )
            for contact_id, record, count in counted.all():
                brought[(int(contact_id or 0), record)] = int(count)
    rows = []
    for contact in contacts:
        due = due_at(contact)
        late = (now - due).days if now > due else 0
        cid = int(contact.id or 0)
        rows.append(
            ContactRow(
                contact=contact,
                due_at=due,
                overdue_days=late,
                leads=brought.get((cid, "lead"), 0),
                visits=brought.get((cid, "visit"), 0),
                projects=brought.get((cid, "project"), 0),
            )
        )
    return sorted(rows, key=lambda r: (r.due_at, r.number))


def is_overdue(row: ContactRow, now: datetime) -> bool:
    return now > row.due_at


async def overdue(db: Database, unit_id: int, now: datetime) -> list[ContactRow]:
    return [row for row in await directory(db, unit_id, now) if is_overdue(row, now)]


async def units_with_overdue(db: Database, now: datetime) -> list[int]:
    async with db.session() as session:
        unit_ids = (
            await session.exec(select(Contact.unit_id).where(col(Contact.removed_at).is_(None)).distinct())
        ).all()
    return [unit_id for unit_id in unit_ids if await overdue(db, unit_id, now)]


async def log_contact(
    db: Database, *, member: Member, contact_id: int, note: str, now: datetime | None = None
) -> Contact | None:
    """Log a contact with one of the person's unit's entries; None when it is not theirs."""
    now = now or utcnow()
    async with db.session() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None or contact.removed_at is not None or contact.unit_id != member.unit_id:
            return None
        contact.last_contact_at = now
        session.add(contact)
        session.add(ContactTouch(contact_id=contact_id, user_id=member.id, note=note, at=now))
        audit.record(
            session, actor_id=member.id, entity="contact", entity_id=contact_id, action="contacted", at=now, note=note
        )
        await session.flush()
        return contact


async def of_unit(db: Database, unit_id: int) -> list[Contact]:
    async with db.session() as session:
        rows = await session.exec(
            select(Contact)
            .where(Contact.unit_id == unit_id, col(Contact.removed_at).is_(None))
            .order_by(col(Contact.id))
        )
        return list(rows.all())
