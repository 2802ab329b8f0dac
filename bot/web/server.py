"""The dashboard's web server: sign-in, the pages, the spreadsheet download. Reads only.

Nothing is shown without a signed-in person: a Mini App's ``initData`` (checked with the
bot token, ``services.webauth``) or a session a /web link opened. Either way the person
must be registered and active, and every figure is scoped to them by the services.
Pages are rendered on the server (Jinja2) with inline SVG charts; the only script is the
sign-in page's few lines that hand Telegram's ``initData`` to the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from bot.core.app import App
from bot.core.i18n import SUPPORTED, Translator, normalize_locale, person_locale
from bot.listen import listen
from bot.web import geo, svg
from handlers.digest import metric_name
from models import Member, Stage, User
from services import dashboard, members, webauth
from services.dashboard import Span
from services.export import Period, Request, What, export, period_dates
from services.money import format_money
from services.periods import local_date
from services.targets import Line

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_COOKIE = "ib_session"
LANG_COOKIE = "ib_lang"
INIT_HEADER = "X-Telegram-Init-Data"
TEMPLATES = Path(__file__).with_name("templates")
# Telegram's web clients show a Mini App in a frame; nothing else may frame it.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)
# §3's ≥ 10, said on the page when no chain in view has a target of its own.
DEFAULT_LIBRARY = 10
PAGE_TTL = 60.0  # seconds a rendered page is reused for the same person
PAGES = ("overview", "map", "projects", "leads", "chains")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageCache:
    """Rendered pages kept for a short while: the city's figures at ten times Zhangye take
    seconds to count, and a dashboard read a minute late is still right (it changes nothing).

    One count per key at a time: people opening the same page together wait for one answer.
    """

    def __init__(self, ttl: float, size: int = 256) -> None:
        self.ttl, self.size = ttl, size
        self._pages: OrderedDict[Hashable, tuple[float, web.Response]] = OrderedDict()
        self._busy: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, make: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        async with self._busy.setdefault(key, asyncio.Lock()):
            found = self._pages.get(key)
            if found is not None and time.monotonic() - found[0] < self.ttl:
                self._pages.move_to_end(key)
                return _copy(found[1])
            response = await make()
            if isinstance(response, web.Response) and response.status == 200 and response.body is not None:
                self._pages[key] = (time.monotonic(), response)
                while len(self._pages) > self.size:
                    self._pages.popitem(last=False)
                response = _copy(response)
            self._busy.pop(key, None)
        return response

    def clear(self) -> None:
        self._pages.clear()


class FiguresCache:
    """A page's figures kept per scope for as long as a rendered page: the second person who
    sees what the first one sees (the bureau's staff, a county's officers) gets them without a
    count, and only the page that names them is rendered afresh.

    One count per key at a time, as for the pages.
    """

    def __init__(self, ttl: float, size: int = 256) -> None:
        self.ttl, self.size = ttl, size
        self._kept: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._busy: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, count: Callable[[], Awaitable[T]]) -> T:
        async with self._busy.setdefault(key, asyncio.Lock()):
            found = self._kept.get(key)
            if found is not None and time.monotonic() - found[0] < self.ttl:
                self._kept.move_to_end(key)
                return cast(T, found[1])
            figures = await count()
            self._kept[key] = (time.monotonic(), figures)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
            self._busy.pop(key, None)
        return figures

    def clear(self) -> None:
        self._kept.clear()


def _copy(response: web.Response) -> web.Response:
    """A prepared response cannot be sent twice; a copy of its body and headers can."""
    body = response.body
    assert isinstance(body, bytes)
    copy = web.Response(body=body, status=response.status, content_type=response.content_type, charset=response.charset)
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            copy.headers[name] = value
    return copy


class Dashboard:
    def __init__(self, app: App) -> None:
        self.app = app
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
        )
        self.pages = PageCache(PAGE_TTL)
        self.figures = FiguresCache(PAGE_TTL)
        public = urlsplit(app.settings.web_url or "")
        # Reached at its public HTTPS address (behind the proxy), the cookie must be Secure and
        # SameSite=None to live in Telegram's frame; reached directly over HTTP, neither can be.
        self.public_host = public.netloc if public.scheme == "https" else None

    # -- who is asking -------------------------------------------------------------------------
    def _token(self) -> str | None:
        token = self.app.settings.bot_token
        return token.get_secret_value() if token is not None else None

    async def _member_of_user(self, user_id: int) -> Member | None:
        user: User | None = await members.get_user(self.app.db, user_id)
        if user is None or not user.active:
            return None
        return await self._member_of_telegram(user.telegram_id)

    async def _member_of_telegram(self, telegram_id: int) -> Member | None:
        member = await members.load_member(self.app.db, telegram_id, admin_ids=self.app.settings.bot_admin_ids)
        return member

    async def signed_in(self, request: web.Request) -> Member | None:
        now = self.app.now()
        init_data = request.headers.get(INIT_HEADER)
        token = self._token()
        if init_data and token:
            try:
                who = webauth.check_init_data(init_data, token, now=now, max_age=webauth.INIT_DATA_MAX_AGE)
            except webauth.InitDataError:
                return None
            return await self._member_of_telegram(who.telegram_id)
        user_id = await webauth.session_user(self.app.db, request.cookies.get(SESSION_COOKIE), now=now)
        return await self._member_of_user(user_id) if user_id is not None else None

    def locale(self, request: web.Request, member: Member | None) -> str:
        asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
        if asked in SUPPORTED:
            return asked
        chosen = member.locale if member else None
        return person_locale(chosen, None, self.app.settings.default_locale)

    def _set_session(self, request: web.Request, response: web.StreamResponse, token: str) -> None:
        secure = self.public_host is not None and request.host == self.public_host
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(webauth.SESSION_TTL.total_seconds()),
            httponly=True,
            secure=secure,
            samesite="None" if secure else "Lax",
            path="/",
        )

    # -- rendering -----------------------------------------------------------------------------
    def render(self, request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
        member: Member | None = context.get("member")
        locale = self.locale(request, member)
        _ = Translator(locale)
        page = self.env.get_template(name).render(
            _=_,
            locale=locale,
            other_locale="en" if locale == "zh" else "zh",
            money=lambda yuan: format_money(int(yuan or 0), locale),
            pages=PAGES,
            current=name.removesuffix(".html"),
            path=request.path,
            query=request.query_string,
            **context,
        )
        response = web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
        if request.query.get("lang") in SUPPORTED:
            response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Lax", path="/")
        return response

    def denied(self, request: web.Request, reason: str = "signin") -> web.Response:
        return self.render(request, "denied.html", status=401 if reason == "signin" else 403, reason=reason)

    # -- routes --------------------------------------------------------------------------------
    async def entry(self, request: web.Request) -> web.StreamResponse:
        """Telegram opens this page; its few lines of script send ``initData`` to be checked."""
        if await self.signed_in(request) is not None:
            raise web.HTTPFound("/overview")
        return self.render(request, "signin.html")

    async def auth_telegram(self, request: web.Request) -> web.StreamResponse:
        token = self._token()
        try:
            form = await request.post()
        except ValueError:
            return web.Response(status=400)
        init_data = form.get("initData")
        if token is None or not isinstance(init_data, str):
            return web.Response(status=401)
        try:
            who = webauth.check_init_data(init_data, token, now=self.app.now(), max_age=webauth.INIT_DATA_MAX_AGE)
        except webauth.InitDataError as exc:
            log.info("dashboard sign-in refused: %s", exc.reason)
            return web.Response(status=401)
        member = await self._member_of_telegram(who.telegram_id)
        if member is None:
            return web.Response(status=403)
        response = web.Response(status=204)
        self._set_session(request, response, await webauth.open_session(self.app.db, member.id, now=self.app.now()))
        if who.language_code and not member.locale:
            response.set_cookie(LANG_COOKIE, normalize_locale(who.language_code), samesite="Lax", path="/")
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        """A /web link: spent here, once, for a short session."""
        session = await webauth.redeem_link(self.app.db, request.match_info["token"], now=self.app.now())
        if session is None:
            return self.denied(request, "link")
        response = web.HTTPFound("/overview")
        self._set_session(request, response, session)
        raise response

    def _span(self, request: web.Request) -> Span:
        try:
            return Span(request.query.get("span", Span.MONTH))
        except ValueError:
            return Span.MONTH

    def _today(self) -> date:
        return local_date(self.app.now(), self.app.tz)

    async def _figures(self, member: Member, what: Hashable, count: Callable[[], Awaitable[T]]) -> T:
        """``what`` names the page and its figures' arguments (span, day); the scope names who sees them."""
        return await self.figures.get((what, dashboard.scope_key(member)), count)

    def forget(self) -> None:
        """Every kept page and figure: the next view of each is counted afresh."""
        self.pages.clear()
        self.figures.clear()

    async def _overview(self, member: Member, span: Span, today: date) -> dashboard.Overview:
        # The city-wide part (every county's row, the rankings, every unit's progress) is one
        # for every scope: a county's first view after anyone's counts only its own chains.
        whole = self.figures.get(
            ("city", span, today), lambda: dashboard.city_figures(self.app.db, span, today, self.app.tz)
        )
        return await dashboard.overview(self.app.db, member, span, today, self.app.tz, whole)

    async def overview(self, request: web.Request, member: Member) -> web.StreamResponse:
        span = self._span(request)
        today = self._today()
        figures = await self._figures(member, ("overview", span, today), lambda: self._overview(member, span, today))
        locale = self.locale(request, member)
        charts = {
            "funds": svg.bars(
                [svg.Bar(r.name(locale), r.funds_year, format_money(r.funds_year, locale)) for r in figures.rows]
            ),
            "big": svg.bars([svg.Bar(r.name(locale), r.big_projects, str(r.big_projects)) for r in figures.rows]),
        }
        _ = Translator(locale)

        def metric(line: Line) -> str:
            return metric_name(_, line.metric, line.threshold_yuan, line.funds_ratio_pct)

        return self.render(
            request,
            "overview.html",
            member=member,
            o=figures,
            span=span,
            spans=list(Span),
            charts=charts,
            metric=metric,
        )

    async def map(self, request: web.Request, member: Member) -> web.StreamResponse:
        span = self._span(request)
        today = self._today()
        data = await self._figures(
            member, ("map", span, today), lambda: dashboard.map_data(self.app.db, member, span, today)
        )
        locale = self.locale(request, member)
        drawing = geo.drawing()
        markers: list[svg.Marker] = []
        unplaced = 0
        for point in [*data.visits, *data.projects]:
            at = (
                drawing.place(point.longitude, point.latitude)
                if point.latitude is not None and point.longitude is not None
                else drawing.centre_of(point.unit_code)
            )
            if at is None:
                unplaced += 1
                continue
            href = f"/projects/{point.record_id}" if point.kind == "project" else None
            markers.append(svg.Marker(at[0], at[1], point.kind, point.stage, point.label, href))
        unit_names = {u.code: u.name(locale) for u in await members.units(self.app.db, kinds=("county", "zone"))}
        picture = svg.county_map(drawing, unit_names, set(data.unit_codes), markers)
        return self.render(
            request, "map.html", member=member, data=data, picture=picture, span=span, spans=list(Span),
            unplaced=unplaced, colours=svg.STAGE_COLOURS, visit_colour=svg.VISIT_COLOUR,
        )  # fmt: skip

    async def projects(self, request: web.Request, member: Member) -> web.StreamResponse:
        # Lagging is reckoned from the minute the figures were counted; they are kept for a minute.
        now, today = self.app.now(), self._today()
        page = await self._figures(
            member, ("projects", today), lambda: dashboard.projects_page(self.app.db, member, now, today)
        )
        locale = self.locale(request, member)
        _ = Translator(locale)
        chart = svg.bars(
            [svg.Bar(_(f"stage.{s}"), n, str(n), colour=svg.STAGE_COLOURS[s]) for s, n in page.by_stage.items()]
        )
        return self.render(request, "projects.html", member=member, p=page, chart=chart)

    async def project(self, request: web.Request, member: Member) -> web.StreamResponse:
        try:
            project_id = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        card = await dashboard.project_card(self.app.db, member, project_id)
        if card is None:
            return self.render(request, "missing.html", status=404, member=member)
        locale = self.locale(request, member)
        _ = Translator(locale)

        def action(name: str) -> str:
            key = f"desk.history.action.{name}"
            shown = _(key)
            return name if shown == key else shown

        return self.render(
            request, "project.html", member=member, card=card, action=action, tz=self.app.tz, stages=list(Stage)
        )

    async def leads(self, request: web.Request, member: Member) -> web.StreamResponse:
        span = self._span(request)
        today = self._today()
        rows = await self._figures(
            member,
            ("leads", span, today),
            lambda: dashboard.leads_funnel(self.app.db, member, span, today, self.app.tz),
        )
        locale = self.locale(request, member)
        _ = Translator(locale)
        charts = {
            row.unit_id: svg.bars(
                [
                    svg.Bar(_("web.leads.submitted"), row.submitted, str(row.submitted), colour="#90a4ae"),
                    svg.Bar(_("web.leads.effective"), row.effective, str(row.effective)),
                    svg.Bar(_("web.leads.visited"), row.visited, str(row.visited), colour="#00897b"),
                    svg.Bar(_("web.leads.project"), row.project, str(row.project), colour="#43a047"),
                ]
            )
            for row in rows
        }
        return self.render(request, "leads.html", member=member, rows=rows, charts=charts, span=span, spans=list(Span))

    async def chains(self, request: web.Request, member: Member) -> web.StreamResponse:
        today = self._today()
        sections = await self._figures(
            member, ("chains", today), lambda: dashboard.chains_page(self.app.db, member, today, self.app.tz)
        )
        locale = self.locale(request, member)
        chart = svg.bars(
            [
                svg.Bar(s.name(locale), s.library_size, str(s.library_size), target=s.library_target,
                        colour="#43a047" if s.library_target and s.library_size >= s.library_target else "#fb8c00")
                for s in sections
            ]
        )  # fmt: skip
        rule = next((s.library_target for s in sections if s.library_target), DEFAULT_LIBRARY)
        return self.render(request, "chains.html", member=member, sections=sections, chart=chart, rule=rule)

    async def download(self, request: web.Request, member: Member) -> web.StreamResponse:
        """The same spreadsheet /export sends in the chat, with its scoping and masking."""
        try:
            what = What(request.query.get("what", What.PROJECTS))
            period = Period(request.query.get("period", Period.THIS_YEAR))
            first, last = period_dates(period, self._today())
        except ValueError:
            raise web.HTTPBadRequest() from None
        locale = self.locale(request, member)
        name, content = await export(
            self.app.db, member, Request(what, first, last, locale, self.app.tz, self.app.now())
        )
        return web.Response(
            body=content,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    async def export_page(self, request: web.Request, member: Member) -> web.StreamResponse:
        return self.render(
            request,
            "export.html",
            member=member,
            whats=list(What),
            periods=[p for p in Period if p is not Period.CUSTOM],
        )

    def guarded(
        self, page: Callable[[web.Request, Member], Awaitable[web.StreamResponse]], *, cached: bool = False
    ) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            member = await self.signed_in(request)
            if member is None:
                return self.denied(request)
            if not cached:
                return await page(request, member)
            # Per person (the page names them and is scoped to them), per address and language.
            key = (member.id, member.role, member.unit_id, request.path_qs, self.locale(request, member))
            return await self.pages.get(key, lambda: page(request, member))

        return handle


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


DASHBOARD = web.AppKey("dashboard", Dashboard)


def build_web_app(app: App) -> web.Application:
    """The dashboard as an aiohttp application (served alone by ``investbot web``, or beside the bot)."""
    board = Dashboard(app)
    web_app = web.Application(middlewares=[_headers], client_max_size=64 * 1024)
    web_app[DASHBOARD] = board
    routes = web_app.router
    routes.add_get("/", board.entry)
    routes.add_post("/auth/telegram", board.auth_telegram)
    routes.add_get("/login/{token}", board.login)
    routes.add_get("/overview", board.guarded(board.overview, cached=True))
    routes.add_get("/map", board.guarded(board.map, cached=True))
    routes.add_get("/projects", board.guarded(board.projects, cached=True))
    routes.add_get("/projects/{id}", board.guarded(board.project))
    routes.add_get("/leads", board.guarded(board.leads, cached=True))
    routes.add_get("/chains", board.guarded(board.chains, cached=True))
    routes.add_get("/export", board.guarded(board.export_page))
    routes.add_get("/export.xlsx", board.guarded(board.download))
    return web_app


class WebServer:
    """Serves the dashboard on ``WEB_LISTEN:WEB_PORT`` until stopped."""

    def __init__(self, app: App, *, host: str, port: int) -> None:
        self.web_app = build_web_app(app)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner, self.port = await listen(self.web_app, self.host, self.port)
        log.info("dashboard listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
