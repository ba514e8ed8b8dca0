"""The ASGI application: routes, error pages, templates, static files.

Pages are server-rendered from :mod:`monitor.web.queries` with Jinja2 autoescaping; nothing
needs JavaScript. Every handler is a plain function (Starlette runs it in a thread), reading
through its own short read-only session. A bad parameter is a 400 page, an unknown id a 404,
anything else a 500 page without details; a traceback never reaches the browser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.alerts.render import label, safe_link
from monitor.diff import ChangeKind
from monitor.settings import Settings
from monitor.web import exports
from monitor.web.db import WebDatabase
from monitor.web.feeds import FeedEntry, feed_entries, render_feed
from monitor.web.pages import article_context
from monitor.web.params import BadRequest, check_topic, parse_filter, parse_int
from monitor.web.queries import all_versions, iter_changes, list_changes
from monitor.web.search import SearchIndex, check_query
from monitor.web.security import HEADERS, SecurityHeaders, TokenAuth

HERE = Path(__file__).parent
MAX_ID = 2**62
log = logging.getLogger(__name__)


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["words"] = lambda topic: str(topic).replace("_", " ")
    env.filters["when"] = lambda at: at.strftime("%Y-%m-%d %H:%M UTC") if at else ""
    env.filters["alert_label"] = label
    env.filters["safe_link"] = safe_link
    env.globals["kinds"] = [k.value for k in ChangeKind]
    env.globals["query"] = lambda params: "?" + urlencode(params) if params else ""
    return env


class WebApp:
    """The handlers, sharing the read-only database, the search index and the templates."""

    def __init__(self, settings: Settings, web: WebDatabase) -> None:
        self.settings = settings
        self.web = web
        self.index = SearchIndex(web)
        self.env = templates()

    def session(self) -> Session:
        return Session(self.web.engine)

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    # pages ----------------------------------------------------------------------------------

    def changes(self, request: Request) -> Response:
        flt = parse_filter(request.query_params)
        with self.session() as db:
            result = list_changes(db, flt)
        return self.page("changes.html", flt=flt, result=result)

    def article(self, request: Request) -> Response:
        article_id = _id(request)
        with self.session() as db:
            context = article_context(db, article_id, request.query_params)
        return self.page("article.html", **context)

    def search(self, request: Request) -> Response:
        query = check_query(request.query_params.get("q"))
        page = parse_int("page", request.query_params.get("page"), 1, 1, 500)
        with self.session() as db:
            results = self.index.search(db, query, page)
        return self.page("search.html", results=results, page=page)

    # feeds ----------------------------------------------------------------------------------

    def feed(self, request: Request) -> Response:
        topic = request.path_params.get("topic")
        if topic is not None:
            try:
                check_topic(topic)
            except BadRequest:
                raise HTTPException(404, f"no topic {topic[:40]!r}") from None
        with self.session() as db:
            entries = feed_entries(db, topic)
        base = str(request.base_url).rstrip("/")

        def diff_url(entry: FeedEntry) -> str:
            link = f"{base}/articles/{entry.article_id}"
            if entry.from_seq is not None and entry.to_seq is not None:
                link += "?" + urlencode({"from": entry.from_seq, "to": entry.to_seq})
            return link

        title = "cphpost-monitor alerts" + (f": {topic.replace('_', ' ')}" if topic else "")
        page = f"{base}/" + ("?" + urlencode({"topic": topic}) if topic else "")
        body = render_feed(
            entries,
            title=title,
            self_url=f"{base}{request.url.path}",
            page_url=page,
            site_url=self.settings.site_url,
            diff_url=diff_url,
        )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # JSON API and exports -------------------------------------------------------------------

    def api_changes(self, request: Request) -> Response:
        flt = parse_filter(request.query_params)
        with self.session() as db:
            result = list_changes(db, flt)
        return JSONResponse(
            {
                "page": flt.page,
                "next_page": flt.page + 1 if result.has_next else None,
                "changes": [row.to_dict() for row in result.rows],
            }
        )

    def api_article(self, request: Request) -> Response:
        article_id = _id(request)
        with self.session() as db:
            context = article_context(db, article_id, {})
        return JSONResponse(context["api"])

    def export_versions(self, request: Request) -> Response:
        article_id, fmt = _id(request), _fmt(request)
        with self.session() as db:
            article_context(db, article_id, {})  # 404 before streaming starts

        def records(make: Callable[[Any], dict[str, Any]]) -> Iterator[dict[str, Any]]:
            with self.session() as db:
                yield from (make(v) for v in all_versions(db, article_id))

        name = f"article-{article_id}-versions.{fmt}"
        if fmt == "csv":
            body = exports.csv_rows(exports.VERSION_COLUMNS, records(exports.version_csv_record))
        else:
            body = exports.json_array(records(exports.version_record))
        return _download(body, fmt, name)

    def export_changes(self, request: Request) -> Response:
        flt = parse_filter(request.query_params)
        if flt.page != 1:
            raise BadRequest("exports take since and until, not page")
        fmt = _fmt(request)

        def records() -> Iterator[dict[str, Any]]:
            with self.session() as db:
                rows = iter_changes(db, flt, exports.MAX_EXPORT_ROWS)
                yield from exports.change_records(rows)

        since = flt.since.isoformat() if flt.since else "start"
        until = flt.until.isoformat() if flt.until else "now"
        name = f"changes-{since}-{until}.{fmt}"
        if fmt == "csv":
            return _download(exports.csv_rows(exports.CHANGE_COLUMNS, records()), fmt, name)
        return _download(exports.json_array(records()), fmt, name)

    def healthz(self, request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")


def _id(request: Request) -> int:
    value = int(request.path_params["id"])
    if value > MAX_ID:
        raise HTTPException(404, "no such article")
    return value


def _fmt(request: Request) -> str:
    fmt = str(request.path_params["fmt"])
    if fmt not in ("json", "csv"):
        raise HTTPException(404, "exports are .json or .csv")
    return fmt


def _download(body: Iterator[str], fmt: str, name: str) -> Response:
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


def create_app(settings: Settings, web: WebDatabase) -> Starlette:
    handlers = WebApp(settings, web)
    env = handlers.env

    def error_page(status: int, title: str, message: str) -> Response:
        html = env.get_template("error.html").render(status=status, title=title, message=message)
        return HTMLResponse(html, status_code=status)

    def bad_request(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return error_page(400, "Bad request", str(exc))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = "Not found" if exc.status_code == 404 else "Error"
        detail = exc.detail if exc.status_code == 404 else title
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": detail}, status_code=exc.status_code)
        return error_page(exc.status_code, title, str(detail))

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("web: %s %s failed: %r", request.method, request.url.path, exc)
        page = error_page(500, "Something went wrong", "The page could not be shown.")
        # Starlette answers a 500 from outside every middleware: the headers are added here
        page.headers.update({name.decode(): value.decode() for name, value in HEADERS})
        return page

    formats = "{fmt:str}"
    routes = [
        Route("/", handlers.changes),
        Route("/articles/{id:int}", handlers.article),
        Route(f"/articles/{{id:int}}/versions.{formats}", handlers.export_versions),
        Route("/search", handlers.search),
        Route("/feed.atom", handlers.feed),
        Route("/topics/{topic:str}/feed.atom", handlers.feed),
        Route("/api/changes", handlers.api_changes),
        Route("/api/articles/{id:int}", handlers.api_article),
        Route(f"/exports/changes.{formats}", handlers.export_changes),
        Route("/healthz", handlers.healthz),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(TokenAuth, token=settings.web_token),
        ],
        exception_handlers={
            BadRequest: bad_request,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.state.web = handlers
    return app
