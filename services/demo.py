"""People to be in the console: one per role, so a newcomer can try every conversation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from bot.core.db import Database
from models import LeaderLevel, Role, Unit, User


@dataclass(frozen=True)
class DemoPerson:
    telegram_id: int
    full_name: str
    unit_code: str
    role: Role
    leader_level: LeaderLevel | None = None


# Console ids are small numbers no real Telegram account has.
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(1001, "王局长", "bureau", Role.BUREAU),
    DemoPerson(1002, "李联络", "liaison_beijing", Role.LIAISON),
    DemoPerson(1003, "赵干事", "ganzhou", Role.COUNTY),
    DemoPerson(1004, "钱主任", "zone", Role.COUNTY),
    DemoPerson(1005, "孙科长", "gxj", Role.CHAIN_LEAD),
    DemoPerson(1006, "周处长", "czj", Role.DEPARTMENT),
    DemoPerson(1007, "吴经理", "soe_state_assets", Role.SOE),
    DemoPerson(1008, "郑市长", "leaders", Role.LEADER, LeaderLevel.PRINCIPAL),
)
NEWCOMER_ID = 1999
#: The console's administrator (the bureau's 王局长), as BOT_ADMIN_IDS would list them.
ADMINISTRATOR_ID = 1001


async def seed_demo_people(db: Database) -> int:
    """Register the demo people (once); returns how many were added."""
    added = 0
    async with db.session() as session:
        units = {u.code: u for u in (await session.exec(select(Unit))).all()}
        for person in DEMO_PEOPLE:
            if (await session.exec(select(User).where(User.telegram_id == person.telegram_id))).first():
                continue
            unit = units.get(person.unit_code)
            if unit is None:
                continue
            session.add(
                User(
                    telegram_id=person.telegram_id,
                    full_name=person.full_name,
                    unit_id=unit.id,
                    role=person.role,
                    leader_level=person.leader_level,
                )
            )
            added += 1
    return added
