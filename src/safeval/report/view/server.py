"""The viewer's web app: aiohttp on 127.0.0.1, pages rendered on the server from autoescaped
Jinja2 templates, no script, and a content policy that forbids everything but the page's own
stylesheet and inline (data:) images."""

from __future__ import annotations

import math
import socket
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from safeval import __version__
from safeval.report.evidence import settings_of, wilson
from safeval.report.view.data import PAGE_SIZE, Filters, Run, Viewer

CSP = (
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
FEW = 10  # cells judged on fewer items than this are drawn faded
VIEWER_KEY = web.AppKey("viewer", Viewer)
ENV_KEY = web.AppKey("env", Environment)


def _fmt(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{float(v):.{digits}f}"


def _pct(safe: int, n: int) -> float | None:
    return None if n == 0 else 100.0 * safe / n


def _shade(score: float | None) -> str:
    """A CSS class for a heat-map cell: s0 (unsafe, red) .. s10 (safe, green)."""
    return "na" if score is None else f"s{round(score / 10)}"


def _render(request: web.Request, name: str, **ctx: Any) -> web.Response:
    env = request.app[ENV_KEY]
    html = env.get_template(name).render(
        viewer=request.app[VIEWER_KEY], version=__version__, fmt=_fmt, **ctx
    )
    return web.Response(text=html, content_type="text/html")


def _run_or_404(request: web.Request) -> Run:
    run = request.app[VIEWER_KEY].run(request.match_info["run"])
    if run is None:
        raise web.HTTPNotFound(text="no such run in this viewer")
    return run


#: A page number beyond any run (a bigger one overflowed SQLite's OFFSET: a 500); a page past
#: the end shows the last one.
MAX_PAGE = 10**9


def _page(request: web.Request) -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.query.get("page", "1"))))
    except ValueError:
        return 1


async def index(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    return _render(request, "index.html.j2", runs=list(viewer.runs.values()))


def shares_safe(run: Run) -> bool:
    """Whether the run's scores are shares of items judged safe, which the store's verdicts
    count too. SafetyBench's accuracy (after the official fallback for unread answers) and
    SC-Safety's points are not: for them the viewer shows the summary's figures alone (the
    heat map from the verdicts disagreed with `show` and `report`)."""
    from safeval import registry
    from safeval.benchmarks.base import Benchmark
    from safeval.errors import ConfigError

    try:
        bench = registry.benchmarks.get(str(run.meta.get("benchmark")))
    except ConfigError:
        return True
    return getattr(bench, "outcomes", Benchmark.outcomes) is Benchmark.outcomes


def _score_rows(
    run: Run, cells: dict[tuple[str, str], tuple[int, int]], axis: int, shares: bool
) -> list[Any]:
    """Per category (axis 1) or attack (axis 0): the summary's score and interval where it has
    them, with n from the summary's counts or else from the store (only where the scores are
    `shares` of safe verdicts)."""
    scores = run.summary.get("scores") or {}
    group = "by_category" if axis == 1 else "by_attack"
    counted: dict[str, list[int]] = {}
    for key, (safe, n) in cells.items():
        c = counted.setdefault(key[axis], [0, 0])
        c[0] += safe
        c[1] += n
    if not shares:  # the benchmark's own figures only, under its own names
        counted = {}
    names = sorted(set(counted) | set(scores.get(group) or {}))
    n_summary = (scores.get("n") or {}).get(group) or {}
    ci_summary = (scores.get("ci95") or {}).get(group) or {}
    rows = []
    for name in names:
        safe, n = counted.get(name, (0, 0))
        score = (scores.get(group) or {}).get(name, _pct(safe, n))
        ci = ci_summary.get(name) or wilson(safe, n)
        rows.append(
            {
                "name": name,
                "score": score,
                "n": n_summary.get(name, n),
                "ci": ci,
                "shade": _shade(score),
            }  # fmt: skip
        )
    return rows


async def run_summary(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    run = _run_or_404(request)
    info = viewer.cells(run)
    cells = info["cells"]
    shares = shares_safe(run)
    attacks = sorted({a for a, _ in cells})
    cats = sorted({c for _, c in cells})
    grid = []
    for a in attacks:
        row = []
        for c in cats:
            safe, n = cells.get((a, c), (0, 0))
            score = _pct(safe, n)
            row.append(
                {
                    "category": c,
                    "score": score,
                    "n": n,
                    "shade": _shade(score),
                    "few": n < FEW,
                    "ci": wilson(safe, n),
                }  # fmt: skip
            )
        grid.append((a, row))
    if not shares:
        grid = []  # the verdicts' shares are not this benchmark's score: not drawn as one
    scores = run.summary.get("scores") or {}
    all_safe = sum(s for s, _ in cells.values())
    all_n = sum(n for _, n in cells.values())
    over_refused, over_n = info["over_refusal"]
    return _render(
        request,
        "run.html.j2",
        run=run,
        info=info,
        attacks=attacks,
        categories=cats,
        grid=grid,
        few=FEW,
        by_category=_score_rows(run, cells, 1, shares),
        by_attack=_score_rows(run, cells, 0, shares),
        overall={
            "score": scores.get("overall", _pct(all_safe, all_n)),
            "ci": (scores.get("ci95") or {}).get("overall") or wilson(all_safe, all_n),
            "n": (scores.get("n") or {}).get("overall", all_n),
        },
        over={
            "score": _pct(over_refused, over_n),
            "n": over_n,
            "ci": wilson(over_refused, over_n),
        },  # fmt: skip
        settings=settings_of(run.meta),
        shares_safe=shares,
    )


async def items(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    run = _run_or_404(request)
    f = Filters.from_query(request.query)
    page = _page(request)
    total, rows = viewer.items(run, f, page)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the end (an old link, a hand-typed number): the last page
        page = pages
        total, rows = viewer.items(run, f, page)
    params = f.as_params()

    def link(**changes: Any) -> str:
        q = {**params, **{k: str(v) for k, v in changes.items() if v not in (None, "")}}
        for k, v in changes.items():
            if v in (None, ""):
                q.pop(k, None)
        return f"/run/{run.key}/items?" + urlencode(q)

    return _render(
        request,
        "items.html.j2",
        run=run,
        f=f,
        total=total,
        rows=rows,
        page=page,
        pages=pages,
        facets=viewer.facets(run),
        link=link,
        item_link=lambda iid: f"/run/{run.key}/item?" + urlencode({"id": iid}),
    )


async def item(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    run = _run_or_404(request)
    it = viewer.item(run, request.query.get("id", ""))
    if it is None:
        raise web.HTTPNotFound(text="no such item in this run")
    others = [(r, viewer.item(r, it["item_id"])) for r in viewer.runs.values() if r.key != run.key]
    return _render(
        request,
        "item.html.j2",
        run=run,
        it=it,
        others=[(r, o) for r, o in others if o is not None],
        item_link=lambda key, iid: f"/run/{key}/item?" + urlencode({"id": iid}),
    )


def _two(request: web.Request) -> tuple[Run, Run]:
    viewer = request.app[VIEWER_KEY]
    keys = list(viewer.runs)
    a = viewer.run(request.query.get("a", keys[0]))
    b = viewer.run(request.query.get("b", keys[1] if len(keys) > 1 else keys[0]))
    if a is None or b is None:
        raise web.HTTPNotFound(text="no such run in this viewer")
    return a, b


async def diff(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    a, b = _two(request)
    change = request.query.get("change", "all")
    page = _page(request)
    counts, rows = viewer.diff(a, b, change, page)
    n = {"worse": counts["worse"], "better": counts["better"]}.get(
        change, counts["worse"] + counts["better"]
    )
    pages = max(1, math.ceil(n / PAGE_SIZE))
    if page > pages:  # past the end: the last page
        page = pages
        counts, rows = viewer.diff(a, b, change, page)
    same_plan = (a.meta.get("plan") or {}).get("benchmark") == (b.meta.get("plan") or {}).get(
        "benchmark"
    ) and (a.meta.get("plan") or {}).get("attacks") == (b.meta.get("plan") or {}).get("attacks")
    return _render(
        request,
        "diff.html.j2",
        a=a,
        b=b,
        change=change,
        counts=counts,
        rows=rows,
        page=page,
        pages=pages,
        same_plan=same_plan,
        link=lambda **kw: "/diff?" + urlencode({"a": a.key, "b": b.key, "change": change, **kw}),
        pair_link=lambda iid: "/pair?" + urlencode({"a": a.key, "b": b.key, "id": iid}),
    )


async def pair(request: web.Request) -> web.Response:
    viewer = request.app[VIEWER_KEY]
    a, b = _two(request)
    iid = request.query.get("id", "")
    ia, ib = viewer.item(a, iid), viewer.item(b, iid)
    if ia is None and ib is None:
        raise web.HTTPNotFound(text="no such item in these runs")
    return _render(request, "pair.html.j2", a=a, b=b, ia=ia, ib=ib, iid=iid)


async def stylesheet(request: web.Request) -> web.Response:
    css = resources.files("safeval.report.view").joinpath("static/style.css").read_text("utf-8")
    return web.Response(text=css, content_type="text/css")


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only GET, only for this machine's own names (no DNS rebinding), strict headers."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise web.HTTPForbidden(text="the viewer answers only on 127.0.0.1")
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        resp = e
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def make_app(run_dirs: list[Path]) -> web.Application:
    """The viewer over `run_dirs` (opened read-only now: errors surface before serving)."""
    viewer = Viewer(run_dirs)
    app = web.Application(middlewares=[guard])
    app[VIEWER_KEY] = viewer
    app[ENV_KEY] = Environment(
        loader=PackageLoader("safeval.report.view", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    app.router.add_get("/", index)
    app.router.add_get("/style.css", stylesheet)
    app.router.add_get("/run/{run}", run_summary)
    app.router.add_get("/run/{run}/items", items)
    app.router.add_get("/run/{run}/item", item)
    app.router.add_get("/diff", diff)
    app.router.add_get("/pair", pair)

    async def close(_: web.Application) -> None:
        viewer.close()

    app.on_cleanup.append(close)
    return app


def serve(run_dirs: list[Path], port: int, announce: Any = print) -> None:
    """Serve until interrupted; `announce` is called with the URL once listening."""
    import asyncio

    app = make_app(run_dirs)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock)
        await site.start()
        real_port = sock.getsockname()[1]
        announce(f"http://127.0.0.1:{real_port}/")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
