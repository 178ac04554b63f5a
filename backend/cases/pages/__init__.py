"""The village cadre's pages (今日工作, 孕产妇, 个案, every form), one module per kind of page; this module
lists their routes for create_app."""

from backend.cases.pages.assignment import assign_submit
from backend.cases.pages.browse import case_page, today_page, women_page, women_search
from backend.cases.pages.corrections import correction_form, correction_submit, edit_form, edit_submit
from backend.cases.pages.records import (
    FORMS,
    _defaults,
    record_form,
    record_submit,
    register,
    register_form,
)
from backend.cases.pages.shared import FIELD_ROLES, _all_villages, page

ROUTES = [
    today_page,
    women_page,
    women_search,
    case_page,
    assign_submit,
    register_form,
    register,
    record_form,
    record_submit,
    correction_form,
    correction_submit,
    edit_form,
    edit_submit,
]

# The offline shells (backend/pwa_files.py) draw these forms around a pregnancy registered offline.
__all__ = ["FIELD_ROLES", "FORMS", "ROUTES", "_all_villages", "_defaults", "page"]
