"""§17: the reviews a major project has before it is signed, and the bureau's exceptions.

A project whose planned investment is at or above ``major_review_from_yuan`` (1亿 by
default; the bureau changes it) is not moved to 签约 — or past it — until its four reviews
are recorded: 综合测算, 尽职调查, 合法性审查, 公平竞争审查. One rule, :func:`owed_on_landing`,
answers it for every way a project reaches 签约: registered there (``services.projects.register``
— a new project has no reviews yet, so it is refused), moved there (``set_stage``, which the
step-by-step and the one-message progress both use). A transfer changes the executing unit,
never the stage, and the reviews belong to the project, so they follow it. The bureau may
record an exception with a reason; it is audited like every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import LANDED_STAGES, Member, Project, ProjectReview, ReviewKind, SigningException, Stage, User
from services import audit, settings
from services.access import Purpose, scope

THRESHOLD_SETTING, DEFAULT_THRESHOLD = "major_review_from_yuan", 100_000_000
REVIEW_KINDS: tuple[ReviewKind, ...] = tuple(ReviewKind)


class SigningError(Exception):
    """A review or exception refused; ``code`` picks the message ``signing.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def threshold(db: Database) -> int:
    return await settings.get_int(db, THRESHOLD_SETTING, DEFAULT_THRESHOLD)


async def missing(session: AsyncSession, project: Project, threshold_yuan: int) -> list[ReviewKind]:
    """The reviews still owed before ``project`` may be signed; none below the threshold or with an exception."""
    return await _owed(session, project.id, project.planned_yuan, threshold_yuan)


async def _owed(
    session: AsyncSession, project_id: int | None, planned_yuan: int | None, threshold_yuan: int
) -> list[ReviewKind]:
    if (planned_yuan or 0) < threshold_yuan:
        return []
    if project_id is None:
        # Not registered yet: nothing can have been reviewed or excepted.
        return list(REVIEW_KINDS)
    waived = await session.exec(select(SigningException.id).where(SigningException.project_id == project_id))
    if waived.first() is not None:
        return []
    done = set((await session.exec(select(ProjectReview.kind).where(ProjectReview.project_id == project_id))).all())
    return [kind for kind in REVIEW_KINDS if kind.value not in done]


async def owed_on_landing(
    session: AsyncSession,
    *,
    project_id: int | None,
    planned_yuan: int | None,
    before: Stage | None,
    after: Stage,
    threshold_yuan: int,
) -> list[ReviewKind]:
    """The reviews that keep a project from going from ``before`` (None: registering it) to ``after``."""
    if after not in LANDED_STAGES or before in LANDED_STAGES:
        return []
    return await _owed(session, project_id, planned_yuan, threshold_yuan)


@dataclass(frozen=True)
class ReviewState:
    """Where a project stands on §17: whether it needs reviews, which are done, any exception."""

    needed: bool
    threshold_yuan: int
    reviews: dict[ReviewKind, ProjectReview]
    exception: SigningException | None
    exception_by: str

    @property
    def missing(self) -> list[ReviewKind]:
        if not self.needed or self.exception is not None:
            return []
        return [kind for kind in REVIEW_KINDS if kind not in self.reviews]


async def state(db: Database, project: Project) -> ReviewState:
    limit = await threshold(db)
    async with db.session() as session:
        rows = await session.exec(
            select(ProjectReview)
            .where(ProjectReview.project_id == project.id)
            .order_by(col(ProjectReview.recorded_at), col(ProjectReview.id))
        )
        # A review done again replaces the earlier one on the card; both stay in the history.
        reviews = {ReviewKind(r.kind): r for r in rows.all()}
        found = (
            await session.exec(
                select(SigningException, User.full_name)
                .join(User, col(User.id) == SigningException.granted_by)
                .where(SigningException.project_id == project.id)
                .order_by(col(SigningException.id).desc())
            )
        ).first()
    exception, by = found if found else (None, "")
    return ReviewState((project.planned_yuan or 0) >= limit, limit, reviews, exception, by)


@dataclass(frozen=True)
class ReviewDraft:
    kind: ReviewKind
    reviewer: str
    reviewed_on: date
    conclusion: str
    document_file_id: str | None = None
    document_name: str | None = None


async def _project(session: AsyncSession, member: Member, project_id: int, purpose: Purpose) -> Project:
    found = (
        await session.exec(select(Project).where(Project.id == project_id, scope(member, Project, purpose)))
    ).first()
    if found is None:
        raise SigningError("not_found")
    return found


async def record(db: Database, *, member: Member, project_id: int, draft: ReviewDraft, now: datetime) -> ProjectReview:
    """Record a review of a project the person's unit executes (or any, for the bureau)."""
    async with db.session() as session:
        await _project(session, member, project_id, Purpose.WORK)
        review = ProjectReview(
            project_id=project_id,
            kind=draft.kind,
            reviewer=draft.reviewer,
            reviewed_on=draft.reviewed_on,
            conclusion=draft.conclusion,
            document_file_id=draft.document_file_id,
            document_name=draft.document_name,
            recorded_by=member.id,
            recorded_at=now,
        )
        session.add(review)
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project_id,
            action="review",
            at=now,
            kind=draft.kind.value,
            reviewer=draft.reviewer,
            reviewed_on=draft.reviewed_on.isoformat(),
            conclusion=draft.conclusion,
        )
        return review


async def grant_exception(
    db: Database, *, member: Member, project_id: int, reason: str, now: datetime
) -> SigningException:
    """The bureau lets a major project be signed without its reviews; the reason is kept."""
    async with db.session() as session:
        project = await _project(session, member, project_id, Purpose.DECIDE)
        owed = await missing(session, project, await threshold(db))
        if not owed:
            raise SigningError("nothing_missing")
        row = SigningException(project_id=project_id, reason=reason, granted_by=member.id, granted_at=now)
        session.add(row)
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project_id,
            action="signing_exception",
            at=now,
            reason=reason,
            missing=[kind.value for kind in owed],
        )
        return row
