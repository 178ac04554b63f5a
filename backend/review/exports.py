"""Exports of the review pages: the monthly report as XLSX (openpyxl, a sheet per section, formatted headers)
and CSV — both aggregate, naming no person — and the line list of persons behind the numbers, which the
page hands out only with a reason and an audit entry."""

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from backend.cases.labels import label
from backend.cases.models import DueItem, Outcome, Pregnancy, Woman
from backend.lib.i18n import Text
from backend.review import coverage as cov
from backend.review.indicators import INDICATORS, Rate
from backend.review.periods import Period
from backend.review.reports import OUTCOME_ORDER, Report, UnitReport
from backend.scope import Scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"  # Litestar adds "; charset=utf-8" to text types
HEADER_FILL = PatternFill("solid", fgColor="0B5D4B")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TOTAL_FONT = Font(bold=True)
THIN = Side(style="thin", color="C9D1CE")

Cell = str | int | float | None


@dataclass
class Section:
    """One table of the report: a sheet of the workbook, a block of the CSV."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    percent_columns: frozenset[int] = frozenset()


def _t(zh: str, en: str, locale: str) -> str:
    return Text(zh, en).in_(locale)


def _rate(rate: Rate) -> Cell:
    return rate.value


def _small(rate: Rate, locale: str) -> Cell:
    """The flag the page shows as * beside a rate over fewer than 20 (DOMAIN.md §6); none without a rate."""
    return (
        _t("分母不足20，仅供参考", "denominator under 20", locale) if rate.small and rate.denominator else ""
    )


def sections(report: Report, locale: str = "zh") -> list[Section]:
    """The report's tables, rows first then the total, in the order the page shows them."""
    units: list[UnitReport] = [*report.rows, report.total]
    place = [_t("地区代码", "Area code", locale), _t("地区", "Area", locale)]

    def head(u: UnitReport) -> list[Cell]:
        return [
            u.code,
            u.name if u is not report.total else _t(f"合计（{u.name}）", f"Total ({u.name})", locale),
        ]

    out = [
        Section(
            "coverage",
            _t("随访覆盖率", "Coverage", locale),
            [
                *place,
                *(
                    _t(z, e, locale)
                    for z, e in (
                        ("应访", "Due"),
                        ("按时完成", "On time"),
                        ("延迟完成", "Late"),
                        ("逾期", "Overdue"),
                        ("未访", "Missed"),
                        ("已取消", "Cancelled"),
                        ("窗口期内", "In window"),
                        ("覆盖率", "Coverage"),
                    )
                ),
            ],
            [
                [
                    *head(u),
                    u.coverage.due,
                    u.coverage.on_time,
                    u.coverage.late,
                    u.coverage.overdue,
                    u.coverage.missed,
                    u.coverage.cancelled,
                    u.coverage.pending,
                    _rate(u.coverage.rate),
                ]
                for u in units
            ],
            frozenset({9}),
        )
    ]
    ind_headers = list(place)
    percent: set[int] = set()
    for key, d in INDICATORS.items():
        name = d.name.in_(locale)
        ind_headers += [
            f"{name} {_t('分子', 'numerator', locale)}",
            f"{name} {_t('分母', 'denominator', locale)}",
            name,
            f"{name} {_t('分母不足20', 'small denominator', locale)}",
        ]
        percent.add(len(ind_headers) - 2)
        del key
    out.append(
        Section(
            "indicators",
            _t("工作指标", "Indicators", locale),
            ind_headers,
            [
                [
                    *head(u),
                    *(
                        v
                        for _, r in u.indicators.items()
                        for v in (r.numerator, r.denominator, _rate(r), _small(r, locale))
                    ),
                ]
                for u in units
            ],
            frozenset(percent),
        )
    )
    out.append(
        Section(
            "events",
            _t("登记与结局", "Registrations and outcomes", locale),
            [
                *place,
                _t("新登记", "Registered", locale),
                *(label("outcome", t, locale) for t in OUTCOME_ORDER),
                _t("活产数", "Live births", locale),
                _t("男婴", "Boys", locale),
                _t("女婴", "Girls", locale),
                _t("性别不明", "Sex unknown", locale),
            ],
            [
                [
                    *head(u),
                    u.events.registrations,
                    *(u.events.outcomes.get(t, 0) for t in OUTCOME_ORDER),
                    u.events.live_births,
                    u.events.boys,
                    u.events.girls,
                    u.events.unknown_sex,
                ]
                for u in units
            ],
        )
    )
    out.append(
        Section(
            "movements",
            _t("死亡、转出与失访", "Deaths, transfers and losses", locale),
            [
                *place,
                _t("孕产妇死亡", "Maternal deaths", locale),
                _t("婴儿死亡", "Infant deaths", locale),
                _t("转入", "Transferred in", locale),
                _t("转出", "Transferred out", locale),
                _t("迁出", "Moved out", locale),
                _t("失访", "Lost to follow-up", locale),
            ],
            [
                [
                    *head(u),
                    u.events.maternal_deaths,
                    u.events.infant_deaths,
                    u.events.transfers_in,
                    u.events.transfers_out,
                    u.events.moved_out,
                    u.events.lost,
                ]
                for u in units
            ],
        )
    )
    if report.sex_ratio is not None:
        srb = report.sex_ratio
        out.append(
            Section(
                "sex_ratio",
                _t("出生人口性别比（全县）", "Sex ratio at birth (county)", locale),
                [
                    _t("男婴", "Boys", locale),
                    _t("女婴", "Girls", locale),
                    _t("性别不明（未计入）", "Sex unknown (excluded)", locale),
                    _t("性别比（女=100）", "Boys per 100 girls", locale),
                    _t("95%置信区间下限", "95% CI low", locale),
                    _t("95%置信区间上限", "95% CI high", locale),
                ],
                [
                    [
                        srb.boys,
                        srb.girls,
                        srb.unknown,
                        round(srb.ratio, 1)
                        if srb.ratio is not None
                        else _t("出生数过少，无法计算", "too few births to compute", locale),
                        round(srb.low, 1) if srb.low is not None else None,
                        round(srb.high, 1) if srb.high is not None else None,
                    ]
                ],
            )
        )
    definitions: list[list[Cell]] = [
        [
            d.name.in_(locale),
            d.numerator.in_(locale),
            d.denominator.in_(locale),
            _t(
                "分子 ÷ 分母 × 100%；分母不足20时仅供参考",
                "numerator ÷ denominator × 100%; flagged when the denominator is under 20",
                locale,
            ),
        ]
        for d in INDICATORS.values()
    ]
    definitions.append(
        [
            _t("随访覆盖率", "Coverage", locale),
            _t("按时完成 + 延迟完成", "on time + late", locale),
            _t("应访 − 已取消 − 窗口期内", "due − cancelled − in window", locale),
            _t("期内到期的随访项目", "items due in the period", locale),
        ]
    )
    out.append(
        Section(
            "definitions",
            _t("指标说明", "Definitions", locale),
            [
                _t("指标", "Indicator", locale),
                _t("分子", "Numerator", locale),
                _t("分母", "Denominator", locale),
                _t("公式", "Formula", locale),
            ],
            definitions,
        )
    )
    return out


def filename(report: Report, ext: str) -> str:
    return f"yuebao-{report.area_code}-{report.period.key}.{ext}"


def _title(report: Report, locale: str) -> str:
    return _t(
        f"{report.area_name} 随访月报 {report.period.label('zh')}",
        f"{report.area_name} follow-up report, {report.period.label('en')}",
        locale,
    )


def report_xlsx(report: Report, locale: str = "zh") -> bytes:
    """A workbook with a sheet per section: a title row, a bold header on the brand colour, frozen panes,
    rates as percentages, the total in bold."""
    wb = Workbook()
    wb.remove(wb.active)
    for section in sections(report, locale):
        ws = wb.create_sheet(section.title[:31])
        ws.append([_title(report, locale) + " — " + section.title])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(section.headers)
        for cell in ws[2]:
            cell.fill, cell.font = HEADER_FILL, HEADER_FONT
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            cell.border = Border(bottom=THIN)
        for row in section.rows:
            ws.append(["—" if v is None else v for v in row])
        for r in range(3, ws.max_row + 1):
            for c in section.percent_columns:
                cell = ws.cell(row=r, column=c + 1)
                if isinstance(cell.value, float | int):
                    cell.number_format = "0.0%"
        if section.key not in ("sex_ratio", "definitions"):
            for cell in ws[ws.max_row]:
                cell.font = TOTAL_FONT
        ws.freeze_panes = "C3" if section.key not in ("sex_ratio", "definitions") else "A3"
        for i, header in enumerate(section.headers, start=1):
            wide = 34 if section.key == "definitions" else 10
            ws.column_dimensions[get_column_letter(i)].width = max(wide, min(len(str(header)) * 2, 18))
        ws.column_dimensions["A"].width = 14 if section.key != "definitions" else 24
        ws.row_dimensions[2].height = 32
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def report_csv(report: Report, locale: str = "zh") -> bytes:
    """The same tables stacked: a title line, the header, the rows, a blank line. UTF-8 with a byte-order
    mark so spreadsheet programs read the Chinese right."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([_title(report, locale)])
    for section in sections(report, locale):
        w.writerow([])
        w.writerow([section.title])
        w.writerow(section.headers)
        for row in section.rows:
            w.writerow(["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# The line list (个案名单): persons behind the period's numbers.


@dataclass(frozen=True)
class LineListRow:
    village_code: str
    village: str
    woman_name: str
    id_masked: str
    registered_on: date
    edd: date
    high_risk: bool
    outcome_on: date | None
    outcome_type: str
    due: int
    done: int
    not_done: int
    responsible: str


def line_list(db: Session, township: str, period: Period, today: date) -> list[LineListRow]:
    """Every pregnancy with an item due in the period or registered in it, in the township now."""
    scope = Scope((township[:9],))
    category = cov.category_of_items(today)
    counts: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0, 0])
    rows = db.execute(
        sa_select(col(DueItem.pregnancy_id), category, func.count())
        .where(
            scope.clause(DueItem.village_code),
            col(DueItem.due_on) >= period.start,
            col(DueItem.due_on) <= period.end,
        )
        .group_by(col(DueItem.pregnancy_id), category)
    ).all()
    for pid, cat, n in rows:
        c = counts[pid]
        c[0] += n
        if cat in ("on_time", "late"):
            c[1] += n
        elif cat in ("overdue", "missed"):
            c[2] += n
    registered = db.exec(
        select(Pregnancy.id).where(
            scope.clause(Pregnancy.village_code),
            col(Pregnancy.registered_on) >= period.start,
            col(Pregnancy.registered_on) <= period.end,
        )
    ).all()
    ids = set(counts) | set(registered)
    if not ids:
        return []
    fixes = cov.load_corrections(db, scope)
    names = cov.area_names(db, scope)
    responsible = cov.responsible(cov.cadres_in(db, scope))
    out: list[LineListRow] = []
    chunk = sorted(ids)
    for start in range(0, len(chunk), 500):
        part = chunk[start : start + 500]
        pairs = db.exec(
            select(Pregnancy, Woman)
            .join(Woman, col(Woman.id) == Pregnancy.woman_id)
            .where(col(Pregnancy.id).in_(part), scope.clause(Pregnancy.village_code))
        ).all()
        outcomes = {
            o.pregnancy_id: o
            for o in cov.apply_corrections(
                db.exec(select(Outcome).where(col(Outcome.pregnancy_id).in_(part))).all(), fixes
            )
        }
        for p, w in pairs:
            o = outcomes.get(p.id)
            c = counts.get(p.id, [0, 0, 0])
            village_cadres = responsible.get(p.village_code, [])
            one = cov.answering(village_cadres, p.cadre_id)
            who = (
                one.name
                if one
                else "、".join(x.name for x in village_cadres) + "（未指定 / none chosen）"
                if village_cadres
                else "乡镇 / township"
            )
            out.append(
                LineListRow(
                    p.village_code,
                    names.get(p.village_code, p.village_code),
                    w.name,
                    w.id_masked or "",
                    p.registered_on,
                    p.edd,
                    p.high_risk,
                    o.outcome_on if o else None,
                    o.outcome_type if o else "",
                    c[0],
                    c[1],
                    c[2],
                    who,
                )
            )
    return sorted(out, key=lambda r: (r.village_code, -r.not_done, r.woman_name))


def line_list_csv(rows: list[LineListRow], locale: str = "zh") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            _t(z, e, locale)
            for z, e in (
                ("村代码", "Village code"),
                ("村", "Village"),
                ("姓名", "Name"),
                ("身份证号（掩码）", "ID (masked)"),
                ("登记日期", "Registered"),
                ("预产期", "EDD"),
                ("高危", "High risk"),
                ("结局日期", "Outcome date"),
                ("结局", "Outcome"),
                ("本期应访", "Due"),
                ("已完成", "Done"),
                ("逾期或未访", "Overdue or missed"),
                ("负责人", "Responsible"),
            )
        ]
    )
    for r in rows:
        w.writerow(
            [
                r.village_code,
                r.village,
                r.woman_name,
                r.id_masked,
                r.registered_on.isoformat(),
                r.edd.isoformat(),
                _t("是", "yes", locale) if r.high_risk else "",
                r.outcome_on.isoformat() if r.outcome_on else "",
                label("outcome", r.outcome_type or None, locale),
                r.due,
                r.done,
                r.not_done,
                r.responsible,
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def as_cells(section: Section) -> list[list[Any]]:
    """The rows of a section as the workbook stores them (None as "—"), for comparing page and file."""
    return [["—" if v is None else v for v in row] for row in section.rows]
