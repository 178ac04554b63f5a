"""The follow-up schedule: pure functions, no I/O — the heart of the product (DOMAIN.md §4)."""

from backend.schedule.engine import (
    DONE_STATES,
    InfantFact,
    Item,
    OutcomeFact,
    PostnatalVisitFact,
    PregnancyFacts,
    PrenatalVisitFact,
    RiskFact,
    State,
    format_ga,
    gestational_age_days,
    plan_items,
    state_of,
)
from backend.schedule.rules import CURRENT_VERSION, Rules, load_rules

__all__ = [
    "CURRENT_VERSION",
    "DONE_STATES",
    "InfantFact",
    "Item",
    "OutcomeFact",
    "PostnatalVisitFact",
    "PregnancyFacts",
    "PrenatalVisitFact",
    "RiskFact",
    "Rules",
    "State",
    "format_ga",
    "gestational_age_days",
    "load_rules",
    "plan_items",
    "state_of",
]
