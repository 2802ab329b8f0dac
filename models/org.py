"""Who is who: units, the people in them, invitations, industry chains."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from models.base import created_at_field, telegram_id_field, time_field


class UnitKind(StrEnum):
    COUNTY = "county"
    ZONE = "zone"
    LIAISON = "liaison"
    CHAIN_DEPT = "chain_dept"
    DEPARTMENT = "department"
    SOE = "soe"
    BUREAU = "bureau"
    LEADERSHIP = "leadership"


class Role(StrEnum):
    """What a person does in the bot; decides which commands they see."""

    LIAISON = "liaison"
    COUNTY = "county"
    CHAIN_LEAD = "chain_lead"
    DEPARTMENT = "department"
    SOE = "soe"
    BUREAU = "bureau"
    LEADER = "leader"


class LeaderLevel(StrEnum):
    """§15: ≥ 10亿 goes to the principal leaders, ≥ 1亿 industrial to a municipal leader."""

    PRINCIPAL = "principal"
    MUNICIPAL = "municipal"


# The role a person of a unit normally has; an invitation may say otherwise.
ROLE_FOR_UNIT_KIND: dict[UnitKind, Role] = {
    UnitKind.COUNTY: Role.COUNTY,
    UnitKind.ZONE: Role.COUNTY,
    UnitKind.LIAISON: Role.LIAISON,
    UnitKind.CHAIN_DEPT: Role.CHAIN_LEAD,
    UnitKind.DEPARTMENT: Role.DEPARTMENT,
    UnitKind.SOE: Role.SOE,
    UnitKind.BUREAU: Role.BUREAU,
    UnitKind.LEADERSHIP: Role.LEADER,
}


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    kind: str = Field(max_length=32, index=True)
    name_zh: str = Field(max_length=128)
    name_en: str = Field(max_length=128)
    region_zh: str = Field(default="", max_length=256)
    region_en: str = Field(default="", max_length=256)
    example: bool = False
    active: bool = True
    created_at: datetime = created_at_field()

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = telegram_id_field(unique=True, index=True)
    full_name: str = Field(default="", max_length=256)
    username: str | None = Field(default=None, max_length=64)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    role: str = Field(max_length=32)
    leader_level: str | None = Field(default=None, max_length=16)
    locale: str | None = Field(default=None, max_length=8)
    language_code: str | None = Field(default=None, max_length=16)
    active: bool = True
    # A bureau administrator because BOT_ADMIN_IDS lists them; the list is the truth at every
    # start, so this is taken back (``role_before_admin`` restored, or the person
    # deactivated) once it no longer does.
    admin_granted: bool = False
    role_before_admin: str | None = Field(default=None, max_length=32)
    # Set when delivery gave up on this person's chat (blocked the bot, deleted the chat).
    unreachable_at: datetime | None = time_field()
    created_at: datetime = created_at_field()


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    role: str = Field(max_length=32)
    leader_level: str | None = Field(default=None, max_length=16)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    used_by: int | None = Field(default=None, foreign_key="user.id")
    used_at: datetime | None = time_field()
    revoked_at: datetime | None = time_field()


class Chain(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    family: str = Field(max_length=8, index=True)
    leading: bool = False
    name_zh: str = Field(max_length=64)
    name_en: str = Field(max_length=128)
    lead_unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    keywords: str = Field(default="", max_length=512)
    example: bool = False
    active: bool = True

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh

    def keyword_list(self) -> list[str]:
        return [word for word in self.keywords.split(",") if word]
