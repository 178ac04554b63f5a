"""Writes of the follow-up workflow (登记, 随访, 结局, 产后访视, 结案, 更正), one module per workflow. Each
checks scope and the rules of DOMAIN.md §3, writes append-only records keyed by the client's UUID and
refreshes the pregnancy's due items in the same transaction; re-sending a known UUID changes nothing."""

from backend.cases.services.common import (
    EDD_FROM_LMP,
    Forbidden,
    NotFound,
    WriteContext,
    Written,
    pregnancy_in_scope,
)
from backend.cases.services.corrections import (
    CHOICES,
    CORRECTABLE_FIELDS,
    as_json_dict_plain,
    correct_record,
    edit_registration,
)
from backend.cases.services.outcomes import (
    as_fields,
    close_case,
    is_high_risk_newborn,
    record_outcome,
    record_postnatal_visit,
)
from backend.cases.services.registration import register_pregnancy
from backend.cases.services.visits import record_prenatal_visit, set_risk_grade

__all__ = [
    "CHOICES",
    "CORRECTABLE_FIELDS",
    "EDD_FROM_LMP",
    "Forbidden",
    "NotFound",
    "WriteContext",
    "Written",
    "as_fields",
    "as_json_dict_plain",
    "close_case",
    "correct_record",
    "edit_registration",
    "is_high_risk_newborn",
    "pregnancy_in_scope",
    "record_outcome",
    "record_postnatal_visit",
    "record_prenatal_visit",
    "register_pregnancy",
    "set_risk_grade",
]
