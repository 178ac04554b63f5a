"""Township and county review pages (统计): the coverage dashboard, a village's open items, the escalation
list, the monthly report (月报) with its XLSX/CSV exports, the audited line list, and the county view.
Township and county users only; every area asked for must lie in the caller's scope. Their reads span a
township or the county (a year's workbook takes half a second): they run in a worker thread, so the cadres'
requests are served meanwhile, and an export records its audit line after reading (`write_after_reading`)."""

from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlmodel import Session

from backend.accounts.services import EXPORT_REASON_REQUIRED, Actor, audit, export_reason
from backend.cases.pages.shared import page
from backend.cases.services import NotFound
from backend.db import write_after_reading
from backend.lib.i18n import Text
from backend.review import charts, exports
from backend.review import coverage as cov
from backend.review.cache import per_village
from backend.review.dashboard import build_dashboard, sort_rows, sync_query
from backend.review.indicators import INDICATORS
from backend.review.periods import Period, choices, parse_period, report_month
from backend.review.reports import OUTCOME_ORDER, Report, county_report, township_report
from backend.scope import Scope, level_of, township_of
from backend.web import app_state, require_role

REVIEW_ROLES = ("township", "county")


def _page(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response[Any]:
    today = app_state(request).today()
    tz = ZoneInfo(app_state(request).settings.timezone)
    overdue = per_village(
        db,
        ("overdue", actor.scope.prefixes, today),
        actor.scope,
        lambda part: cov.overdue_by_village(db, part, today),
    )
    base = {"target": _target(request), "local_time": lambda at: _local_time(at, tz, actor.locale)}
    return page(request, db, actor, template, {**base, **context}, status_code, sum(overdue.values()))


def _local_time(at: datetime, tz: ZoneInfo, locale: str) -> str:
    """A sync or edit time in the deployment's zone: 11月23日 13:45 / 23 Nov 13:45."""
    local = at.astimezone(tz)
    if locale == "en":
        return f"{local.day} {local.strftime('%b')} {local.year} {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _target(request: Request[Any, Any, State]) -> float:
    return app_state(request).settings.coverage_target


def _township(db: Session, actor: Actor, area: str | None) -> str:
    """The township a page is about: `area` when it is a township in scope, else the actor's own (a county
    user must name one). Anything outside the scope is "not found", never "forbidden"."""
    require_role(actor, *REVIEW_ROLES)
    if area:
        if (
            len(area) != 12
            or not area.isdigit()
            or level_of(area) != "township"
            or not actor.scope.covers(area)
        ):
            raise NotFound(area)
        return area
    if actor.role == "township" and actor.area_codes:
        return township_of(actor.area_codes[0])
    raise NotFound("area")


def _county(actor: Actor) -> str:
    require_role(actor, "county")
    return actor.area_codes[0][:6] + "000000"


def _period(request: Request[Any, Any, State]) -> Period:
    return parse_period(request.query_params.get("period"), app_state(request).today())


def _common(request: Request[Any, Any, State], actor: Actor, period: Period, area: str) -> dict[str, Any]:
    today = app_state(request).today()
    return {
        "period": period,
        "periods": choices(today, actor.locale),
        "area": area,
        "period_label": period.label(actor.locale),
    }


@get("/review", sync_to_thread=True)
def dashboard_page(
    request: Request[Any, Any, State],
    db: Session,
    actor: Actor,
    area: str | None = None,
    sort: str = "name",
    dir: str = "asc",
    csort: str = "name",
    cdir: str = "asc",
) -> Response[Any]:
    """覆盖率: coverage per village and per cadre for a period, with the bars and the 12-month trend. A county
    user without a township lands on the county view."""
    require_role(actor, *REVIEW_ROLES)
    if actor.role == "county" and not area:
        return county_page(request, db, actor)
    township = _township(db, actor, area)
    period, today = _period(request), app_state(request).today()
    names = cov.area_names(db, actor.scope)
    board = build_dashboard(db, township, names.get(township, township), period, today)
    target, loc = _target(request), actor.locale
    bars = charts.coverage_bars(
        [(v.name, v.coverage.rate.value) for v in board.villages],
        target,
        title=Text("各村随访覆盖率", "Coverage per village").in_(loc),
        target_label=Text(f"目标{target:.0%}", f"target {target:.0%}").in_(loc),
        empty_label=Text("本期无应访", "nothing due").in_(loc),
    )
    trend = charts.trend_line(
        [(m.label(loc) if loc == "en" else f"{m.start.month}月", c.rate.value) for m, c in board.trend],
        target,
        title=Text("近12个月覆盖率", "Coverage, last 12 months").in_(loc),
        target_label=Text(f"目标{target:.0%}", f"target {target:.0%}").in_(loc),
    )
    return _page(
        request,
        db,
        actor,
        "review_dashboard.html",
        {
            **_common(request, actor, period, township),
            "board": board,
            "bars": bars,
            "trend": trend,
            "villages": sort_rows(board.villages, sort, dir),
            "cadres": sort_rows(board.cadres, csort, cdir),
            "sort": sort,
            "dir": dir,
            "csort": csort,
            "cdir": cdir,
            "county_user": actor.role == "county",
        },
    )


@get("/review/village/{code:str}", sync_to_thread=True)
def village_page(request: Request[Any, Any, State], db: Session, actor: Actor, code: str) -> Response[Any]:
    """一个村: its overdue items and those due now, each leading to the woman's case page."""
    require_role(actor, *REVIEW_ROLES)
    if len(code) != 12 or not code.isdigit() or level_of(code) != "village" or not actor.scope.covers(code):
        raise NotFound(code)
    names = cov.area_names(db, actor.scope)
    if code not in names:  # a well-formed code of no village we know
        raise NotFound(code)
    today = app_state(request).today()
    items = cov.open_items(db, Scope((code,)), today)
    cadres = cov.responsible(cov.cadres_in(db, Scope((code,)))).get(code, [])
    return _page(
        request,
        db,
        actor,
        "review_village.html",
        {
            "code": code,
            "name": names.get(code, code),
            "township": township_of(code),
            "township_name": names.get(township_of(code), ""),
            "cadres": cadres,
            "answering": cov.answering,
            "overdue": [i for i in items if i.window_end < today],
            "due": [i for i in items if i.window_end >= today],
        },
    )


@get("/review/escalations", sync_to_thread=True)
def escalations_page(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None = None
) -> Response[Any]:
    """督办: items overdue by more than N days, outcomes not recorded 14 days after the EDD, losses to
    follow-up, and registration edits that lost to a later edit — each with who is responsible."""
    township = _township(db, actor, area)
    scope, today, period = Scope((township[:9],)), app_state(request).today(), _period(request)
    settings = app_state(request).settings
    fixes = cov.load_corrections(db, scope)
    overdue = cov.open_items(db, scope, today, overdue_by=settings.escalation_days)
    return _page(
        request,
        db,
        actor,
        "review_escalations.html",
        {
            **_common(request, actor, period, township),
            "names": cov.area_names(db, scope),
            "responsible": cov.responsible(cov.cadres_in(db, scope)),
            "answering": cov.answering,
            "overdue": [i for i in overdue if i.kind != "outcome"],
            "outcomes": [i for i in cov.open_items(db, scope, today, overdue_by=0) if i.kind == "outcome"],
            "losses": cov.losses(db, scope, period, fixes),
            "conflicts": _conflicts(db, scope),
            "days": settings.escalation_days,
        },
    )


def _conflicts(db: Session, scope: Scope) -> list[cov.ConflictingEdit]:
    """Conflicting edits from sync's own query when it is there, else from the superseded edits directly."""
    fn = sync_query("conflicting_edits")
    return (
        cov.superseded_edits(db, scope) if fn is None else cov.from_sync_conflicts(db, scope, fn(db, scope))
    )


def _report(request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None) -> Report:
    today = app_state(request).today()
    period = parse_period(request.query_params.get("period"), today, default=report_month(today))
    if actor.role == "county" and (not area or level_of(area) == "county"):
        return county_report(db, _county(actor), period, today)
    return township_report(db, _township(db, actor, area), period, today)


def _report_context(request: Request[Any, Any, State], actor: Actor, report: Report) -> dict[str, Any]:
    return {
        **_common(request, actor, report.period, report.area_code),
        "report": report,
        "indicators": INDICATORS,
        "outcome_types": OUTCOME_ORDER,
    }


@get("/review/report", sync_to_thread=True)
def report_page(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None = None
) -> Response[Any]:
    """月报: the township's monthly report (or the county's), printable on A4."""
    report = _report(request, db, actor, area)
    return _page(request, db, actor, "review_report.html", _report_context(request, actor, report))


@get("/review/report.xlsx", sync_to_thread=True)
def report_xlsx(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None = None
) -> Response[bytes]:
    """The report as a workbook, a sheet per section (aggregate: no person in it)."""
    return _export(request, db, actor, area, "xlsx")


@get("/review/report.csv", sync_to_thread=True)
def report_csv(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None = None
) -> Response[bytes]:
    """The report as CSV (one row per section, place and measure; aggregate)."""
    return _export(request, db, actor, area, "csv")


def _export(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None, fmt: str
) -> Response[bytes]:
    """An aggregate export of the report, written to the audit log with who, when and which."""
    report = _report(request, db, actor, area)
    if fmt == "xlsx":
        content, media_type = exports.report_xlsx(report, actor.locale), exports.XLSX
    else:
        content, media_type = exports.report_csv(report, actor.locale), exports.CSV
    write_after_reading(db)
    audit(
        db,
        actor.user_id,
        "export_report",
        "area",
        report.area_code,
        device=actor.device,
        detail=f"{fmt} {report.period.key}",
    )
    return _download(content, exports.filename(report, fmt), media_type)


def _download(content: bytes, name: str, media_type: str) -> Response[bytes]:
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@get("/review/linelist", sync_to_thread=False)
def linelist_form(
    request: Request[Any, Any, State], db: Session, actor: Actor, area: str | None = None
) -> Response[Any]:
    """个案名单: the form that asks why a list of persons is needed before giving it."""
    township = _township(db, actor, area)
    period = _period(request)
    return _page(
        request,
        db,
        actor,
        "review_linelist.html",
        {**_common(request, actor, period, township), "form": {}, "errors": {}},
    )


@post("/review/linelist", status_code=200)
async def linelist_export(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """The line list as CSV; refused without a reason; written to the audit log with who, when and why."""
    form = dict((await request.form()).items())
    return await anyio.to_thread.run_sync(partial(_line_list, request, db, actor, form))


def _line_list(
    request: Request[Any, Any, State], db: Session, actor: Actor, form: dict[str, Any]
) -> Response[Any]:
    """The work of an export, off the event loop: it reads a township's whole period."""
    township = _township(db, actor, str(form.get("area", "")) or None)
    today = app_state(request).today()
    period = parse_period(str(form.get("period", "")), today)
    reason = export_reason(form.get("reason"))
    if reason is None:
        return _page(
            request,
            db,
            actor,
            "review_linelist.html",
            {
                **_common(request, actor, period, township),
                "form": {"reason": str(form.get("reason", ""))},
                "errors": {"reason": EXPORT_REASON_REQUIRED.in_(actor.locale)},
            },
            status_code=422,
        )
    db.commit()  # a POST begins holding the write lock (`provide_db`): not needed while the list is read
    rows = exports.line_list(db, township, period, today)
    write_after_reading(db)
    audit(
        db,
        actor.user_id,
        "export_line_list",
        "area",
        township,
        device=actor.device,
        detail=f"period={period.key} rows={len(rows)} reason={reason}",
    )
    content = exports.line_list_csv(rows, actor.locale)
    return _download(content, f"linelist-{township}-{period.key}.csv", exports.CSV)


@get("/review/county", sync_to_thread=True)
def county_view(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    """县级: townships side by side; the sex ratio at birth for the county only."""
    return county_page(request, db, actor)


def county_page(request: Request[Any, Any, State], db: Session, actor: Actor) -> Response[Any]:
    county = _county(actor)
    period, today = _period(request), app_state(request).today()
    report = county_report(db, county, period, today)
    target, loc = _target(request), actor.locale
    bars = charts.coverage_bars(
        [(r.name, r.coverage.rate.value) for r in report.rows],
        target,
        title=Text("各乡镇随访覆盖率", "Coverage per township").in_(loc),
        target_label=Text(f"目标{target:.0%}", f"target {target:.0%}").in_(loc),
        empty_label=Text("本期无应访", "nothing due").in_(loc),
    )
    return _page(
        request, db, actor, "review_county.html", {**_report_context(request, actor, report), "bars": bars}
    )


ROUTES = [
    dashboard_page,
    village_page,
    escalations_page,
    report_page,
    report_xlsx,
    report_csv,
    linelist_form,
    linelist_export,
    county_view,
]
