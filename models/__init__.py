"""SQLModel tables. Importing this package registers every table on ``SQLModel.metadata``."""

from models.base import UTCDateTime, utcnow
from models.desk import ImportBatch, ImportStatus
from models.landing import FundsEntry
from models.ops import (
    AuditEntry,
    ConversationState,
    Delivery,
    ParkedDraft,
    ProcessedUpdate,
    Setting,
    Target,
)
from models.org import ROLE_FOR_UNIT_KIND, Chain, Invite, LeaderLevel, Role, Unit, UnitKind, User
from models.records import (
    ACTIVE_STAGES,
    LANDED_STAGES,
    STAGE_ORDER,
    Dispute,
    DisputeStatus,
    Enterprise,
    EnterpriseTag,
    Lead,
    LeadSource,
    LeadStatus,
    LibraryEntry,
    Project,
    Stage,
    Visit,
)

__all__ = [
    "ACTIVE_STAGES",
    "LANDED_STAGES",
    "ROLE_FOR_UNIT_KIND",
    "STAGE_ORDER",
    "AuditEntry",
    "Chain",
    "ConversationState",
    "Delivery",
    "Dispute",
    "DisputeStatus",
    "Enterprise",
    "EnterpriseTag",
    "FundsEntry",
    "ImportBatch",
    "ImportStatus",
    "Invite",
    "Lead",
    "LeadSource",
    "LeadStatus",
    "LeaderLevel",
    "LibraryEntry",
    "ParkedDraft",
    "ProcessedUpdate",
    "Project",
    "Role",
    "Setting",
    "Stage",
    "Target",
    "UTCDateTime",
    "Unit",
    "UnitKind",
    "User",
    "Visit",
    "utcnow",
]
