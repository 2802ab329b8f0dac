"""The networks the policy asks units to keep and work (§9–§13).

- §9: a unit's directory of contacts (key enterprises, business associations, hometown
  notables, investment advisers), each with a cadence, and every contact made with them;
- §10: expos and events, the units taking part, and the records tagged to each;
- §12: the scenario opportunity lists that owner departments publish, and the interest
  enterprises show in them (each interest is also a lead).

Fund backing (§11) and foreign capital (§13) are columns of ``Project``; an enterprise's
foreign or Fortune Global 500 status is one of its tags.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, money_field, time_field


class Contact(SQLModel, table=True):
    """An entry of a unit's directory 名录 (§9): who, where, how to reach them, the relation."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=32, index=True)  # a contact kind of the seed file
    name: str = Field(max_length=200)
    place: str = Field(default="", max_length=200)
    reach: str = Field(default="", max_length=200)
    relation: str = Field(default="", max_length=500)
    cadence_days: int
    # Counted from here until the first contact is logged, so a new entry is not overdue at once.
    last_contact_at: datetime | None = time_field()
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = created_at_field()
    removed_at: datetime | None = time_field()


class ContactTouch(SQLModel, table=True):
    """One contact made with a directory entry: a call, a meeting, a message."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    note: str = Field(default="", max_length=500)
    at: datetime = created_at_field()


class Expo(SQLModel, table=True):
    """An expo or event 节会 (§10): 兰洽会张掖推介会, 进博会, 丝博会, 投洽会 …"""

    id: int | None = Field(default=None, primary_key=True)
    # Set for the events of the seed file, which a re-seed finds again by it.
    code: str | None = Field(default=None, max_length=64, unique=True)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    starts_on: date | None = Field(default=None, index=True)
    ends_on: date | None = None
    place: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


class ExpoUnit(SQLModel, table=True):
    """A unit taking part in an event."""

    __table_args__ = (UniqueConstraint("expo_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    registered_by: int = Field(foreign_key="user.id")
    registered_at: datetime = created_at_field()


class OriginKind(StrEnum):
    LEAD = "lead"
    VISIT = "visit"
    PROJECT = "project"


class Origin(SQLModel, table=True):
    """Where a lead, visit or project came from: a directory contact, an event, or both.

    Kept beside the records rather than on them, so a record is tagged after it is saved
    and its own conversation stays as short as it is.
    """

    __table_args__ = (UniqueConstraint("record", "record_id"),)
    id: int | None = Field(default=None, primary_key=True)
    record: str = Field(max_length=16)
    record_id: int
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    expo_id: int | None = Field(default=None, foreign_key="expo.id", index=True)
    set_by: int = Field(foreign_key="user.id")
    set_at: datetime = created_at_field()


class Opportunity(SQLModel, table=True):
    """An investment opportunity on a scenario list 场景清单 (§12), published by its owner."""

    id: int | None = Field(default=None, primary_key=True)
    owner_unit_id: int = Field(foreign_key="unit.id", index=True)
    scenario: str = Field(max_length=32, index=True)  # a scenario of the seed file
    title: str = Field(max_length=200)
    size_yuan: int | None = money_field()
    conditions: str = Field(default="", max_length=1000)
    deadline: date | None = Field(default=None, index=True)
    published_by: int = Field(foreign_key="user.id")
    created_at: datetime = created_at_field()
    closed_at: datetime | None = time_field()


class Interest(SQLModel, table=True):
    """An enterprise's interest in an opportunity, logged by the unit pitching it; also a lead."""

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    at: datetime = created_at_field()
