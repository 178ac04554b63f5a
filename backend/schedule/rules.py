"""Load the versioned schedule configuration (rules/<version>.toml) into a typed, immutable object."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULES_DIR = Path(__file__).parent / "rules"
CURRENT_VERSION = "2026.1"


@dataclass(frozen=True)
class Window:
    """Due date and inclusive window, in days from an anchor."""

    due: int
    start: int
    end: int


@dataclass(frozen=True)
class Rules:
    version: str
    village_interval: int
    village_interval_high_risk: int
    village_half_window: int
    township_interval: int
    township_half_window: int
    outcome_window: int
    last_gestational_day: int
    checks: tuple[tuple[int, int], ...]
    one_week: int
    one_week_high_risk: int
    follow_up_months: int
    grace_days: int
    infant_milestones: tuple[tuple[str, Window], ...]
    mother_42d: Window
    loss_care: Window


@cache
def load_rules(version: str = CURRENT_VERSION) -> Rules:
    """The rules of one version; cached, since the files never change under a running process."""
    raw = tomllib.loads((RULES_DIR / f"{version}.toml").read_text(encoding="utf-8"))
    pre, post = raw["prenatal"], raw["postnatal"]
    months = int(post["follow_up_months"])
    infant = tuple(
        (name, Window(*vals)) for name, vals in post["infant"].items() if name != "12m" or months >= 12
    )
    return Rules(
        version=raw["version"],
        village_interval=pre["village_interval_days"],
        village_interval_high_risk=pre["village_interval_high_risk_days"],
        village_half_window=pre["village_half_window_days"],
        township_interval=pre["township_interval_days"],
        township_half_window=pre["township_half_window_days"],
        outcome_window=pre["outcome_window_days"],
        last_gestational_day=pre["last_gestational_day"],
        checks=tuple(
            (int(lo), int(hi)) for _, (lo, hi) in sorted(raw["checks"].items(), key=lambda kv: int(kv[0]))
        ),
        one_week=post["one_week_days"],
        one_week_high_risk=post["one_week_high_risk_days"],
        follow_up_months=months,
        grace_days=post["grace_days"],
        infant_milestones=infant,
        mother_42d=Window(*post["mother"]["42d"]),
        loss_care=Window(*post["mother"]["loss"]),
    )
