"""The records of the work: enterprises, leads, visits, projects (DOMAIN.md, "Records")."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, json_field, money_field, time_field


class EnterpriseTag(StrEnum):
    LEADING = "leading"  # 行业龙头
    SPECIALISED = "specialised"  # 专精特新
    GLOBAL500 = "global500"  # 世界500强
    FOREIGN = "foreign"  # 外资
    CHAIN_LEADER = "chain_leader"  # 链主


class Enterprise(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=256)
    normalized_name: str = Field(max_length=256, index=True)
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    region: str = Field(default="", max_length=128)
    chain_id: int | None = Field(default=None, foreign_key="chain.id", index=True)
    tags: list[str] = json_field(list)
    aliases: list[str] = json_field(list)
    pinyin: str = Field(default="", max_length=512, index=True)
    initials: str = Field(default="", max_length=128, index=True)
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=32)
    # Bumped by every project registration so that two registrations for one enterprise
    # take turns: the first-talk rule depends on it (see services.projects).
    registration_seq: int = 0
    merged_into: int | None = Field(default=None, foreign_key="enterprise.id")
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class EnterpriseName(SQLModel, table=True):
    """One name an enterprise is known by: its own or an alias (from a merge, an import, the bureau).

    What searching and resolving a typed name read, so an alias finds its enterprise as surely
    as the name does. Kept by ``services.name_index`` whenever a name or alias is written; a
    merged enterprise has none (its names live on as the survivor's aliases). The backends'
    trigram indexes over ``normalized`` and ``pinyin`` are created by the migrations.
    """

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    normalized: str = Field(max_length=256, index=True)
    pinyin: str = Field(default="", max_length=512, index=True)
    initials: str = Field(default="", max_length=128, index=True)
    alias: bool = False


class LibraryEntry(SQLModel, table=True):
    """An enterprise in a chain's target-enterprise library 目标企业库 (§3)."""

    __table_args__ = (UniqueConstraint("chain_id", "enterprise_id"),)
    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(foreign_key="chain.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    added_by: int | None = Field(default=None, foreign_key="user.id")
    added_at: datetime = created_at_field()
    removed_at: datetime | None = time_field()
    removed_reason: str | None = Field(default=None, max_length=500)
    # What the chain lead department expects the enterprise could invest, and why it is here.
    expected_yuan: int | None = money_field()
    note: str = Field(default="", max_length=500)


class LeadSource(StrEnum):
    LIAISON = "liaison"  # §5
    EXPO_LANZHOU = "expo_lanzhou"  # 兰洽会 §10
    EXPO_CIIE = "expo_ciie"  # 进博会
    EXPO_SILK_ROAD = "expo_silk_road"  # 丝博会
    EXPO_CIFIT = "expo_cifit"  # 投洽会
    ASSOCIATION = "association"  # 商协会、乡贤 §9
    FUND = "fund"  # §11
    SCENARIO = "scenario"  # §12
    FOREIGN = "foreign"  # §13
    OTHER = "other"


class LeadStatus(StrEnum):
    PENDING = "pending"
    EFFECTIVE = "effective"
    REJECTED = "rejected"


class Lead(SQLModel, table=True):
    # A digest counts one window of leads at a time (a week by chain, a month by status and
    # unit): these keep that a range of the index, whatever the years of leads before it.
    __table_args__ = (
        Index("ix_lead_created_at_chain_id", "created_at", "chain_id"),
        Index("ix_lead_status_created_at_unit_id", "status", "created_at", "unit_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    chain_id: int | None = Field(default=None, foreign_key="chain.id", index=True)
    plan: str = Field(default="", max_length=1000)
    amount_yuan: int | None = money_field()
    source: str = Field(default=LeadSource.OTHER, max_length=32)
    source_detail: str = Field(default="", max_length=200)
    # An amount stated in another currency: as stated; amount_yuan is it at the bureau's rate.
    currency: str = Field(default="CNY", max_length=3)
    amount_original: int | None = money_field()
    # 过亿, 超10亿, 20多亿: a bound the text gave, not a figure.
    amount_approximate: bool = False
    # A lead captured from a pasted or forwarded message keeps that message and where it came from.
    original_text: str = Field(default="", sa_type=Text)
    origin: str = Field(default="", max_length=200)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    submitted_by: int = Field(foreign_key="user.id", index=True)
    status: str = Field(default=LeadStatus.PENDING, max_length=16, index=True)
    review_reason: str | None = Field(default=None, max_length=500)
    reviewed_by: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = time_field()
    created_at: datetime = created_at_field()


class Visit(SQLModel, table=True):
    # Visits to an enterprise in a period, and its latest one (the map), straight from the index.
    __table_args__ = (
        Index("ix_visit_enterprise_date", "enterprise_id", "visit_date"),
        # A period's visits counted per chain read the enterprise from the index alone.
        Index("ix_visit_date_enterprise", "visit_date", "enterprise_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    visit_date: date
    latitude: float | None = None
    longitude: float | None = None
    place: str = Field(default="", max_length=200)
    no_location_reason: str = Field(default="", max_length=200)
    participants: str = Field(default="", max_length=500)
    outcome: str = Field(default="", max_length=1000)
    next_step: str = Field(default="", max_length=500)
    follow_up_date: date | None = Field(default=None, index=True)
    photos: list[str] = json_field(list)
    # §17: filed although another unit had visited or held a project within the window.
    flagged: bool = False
    flag_detail: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class Stage(StrEnum):
    FIRST_TALK = "first_talk"  # 首谈
    NEGOTIATION = "negotiation"  # 洽谈
    SIGNED = "signed"  # 签约
    STARTED = "started"  # 开工
    OPERATING = "operating"  # 投产
    DROPPED = "dropped"  # 终止


STAGE_ORDER: tuple[Stage, ...] = (
    Stage.FIRST_TALK,
    Stage.NEGOTIATION,
    Stage.SIGNED,
    Stage.STARTED,
    Stage.OPERATING,
)
ACTIVE_STAGES = frozenset(STAGE_ORDER[:-1])
LANDED_STAGES = frozenset({Stage.SIGNED, Stage.STARTED, Stage.OPERATING})


class Project(SQLModel, table=True):
    # Listings run most recently moved first, and lagging ones least recently.
    __table_args__ = (
        Index("ix_project_last_progress", "last_progress_at"),
        # The chain pages' counts by stage and their funds read the projects from the index alone.
        Index("ix_project_chain_stage", "chain_id", "stage", "first_talk_date"),
        # A digest's lagging projects per chain: each chain's longest idle, read in index order.
        Index("ix_project_chain_progress", "chain_id", "last_progress_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    name: str = Field(max_length=200)
    normalized_name: str = Field(max_length=200, index=True)
    chain_id: int | None = Field(default=None, foreign_key="chain.id")
    planned_yuan: int | None = money_field()
    funds_in_place_yuan: int = money_field(nullable=False)
    first_talk_date: date
    stage: str = Field(default=Stage.FIRST_TALK, max_length=16, index=True)
    description: str = Field(default="", max_length=1000)
    industrial: bool = True
    # §14 first talk, first report: the credit stays with the registering unit; a
    # transfer changes only the executing unit.
    first_talk_unit_id: int = Field(foreign_key="unit.id", index=True)
    executing_unit_id: int = Field(foreign_key="unit.id", index=True)
    registered_by: int = Field(foreign_key="user.id")
    leader_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    leader_level_needed: str | None = Field(default=None, max_length=16)
    drop_reason: str | None = Field(default=None, max_length=500)
    last_progress_at: datetime = created_at_field()
    signed_on: date | None = None
    started_on: date | None = None
    created_at: datetime = created_at_field()
    # §11: backed by an industrial fund, how (a FundMode) and with how much.
    fund_mode: str | None = Field(default=None, max_length=16)
    fund_name: str = Field(default="", max_length=200)
    fund_yuan: int | None = money_field()
    # §13: foreign capital in whole US dollars, and the yuan per dollar used for it, in
    # ten-thousandths (7.1234 is 71234) so no backend rounds a float.
    foreign_usd: int | None = money_field()
    usd_rate_e4: int | None = None


class FundMode(StrEnum):
    FOLLOW = "follow"  # 产业基金跟投
    DIRECT = "direct"  # 基金+项目直投


class DisputeStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the claimant had the first talk: the project is theirs
    DISMISSED = "dismissed"  # the first registration stands
    SEPARATE = "separate"  # two projects: the claimant may register its own


class Dispute(SQLModel, table=True):
    """A unit's claim that it, not the registering unit, had the first talk."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    claimant_unit_id: int = Field(foreign_key="unit.id")
    claimant_user_id: int = Field(foreign_key="user.id")
    reason: str = Field(max_length=1000)
    status: str = Field(default=DisputeStatus.OPEN, max_length=16, index=True)
    resolution: str | None = Field(default=None, max_length=1000)
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    resolved_at: datetime | None = time_field()
    created_at: datetime = created_at_field()
