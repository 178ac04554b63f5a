"""The scope rule (DOMAIN.md §2): a code prefix per role, applied in SQL by one function, with the cast."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from backend.cases import forms, queries, services
from backend.cases.models import DueItem, Woman
from backend.scope import Scope, level_of, township_of
from tests.conftest import COUNTY, TOWNSHIP_T, TOWNSHIP_U, VILLAGE_A, VILLAGE_B, VILLAGE_C, Cast

codes = st.text(alphabet="0123456789", min_size=12, max_size=12)


def test_a_village_cadre_covers_exactly_her_village() -> None:
    scope = Scope.for_role("village", [VILLAGE_A])
    assert scope.covers(VILLAGE_A)
    assert not scope.covers(VILLAGE_B)
    assert not scope.covers(VILLAGE_C)


def test_a_township_supervisor_covers_every_village_of_her_township_only() -> None:
    scope = Scope.for_role("township", [TOWNSHIP_T])
    assert scope.covers(VILLAGE_A) and scope.covers(VILLAGE_B)
    assert not scope.covers(VILLAGE_C)


def test_a_county_admin_covers_both_townships() -> None:
    scope = Scope.for_role("county", [COUNTY])
    assert all(scope.covers(v) for v in (VILLAGE_A, VILLAGE_B, VILLAGE_C))
    assert not scope.covers("990102100001")


def test_an_empty_scope_covers_nothing() -> None:
    assert not Scope(()).covers(VILLAGE_A)


@given(prefix_len=st.sampled_from([6, 9, 12]), own=codes, other=codes)
def test_covers_is_exactly_prefix_match(prefix_len: int, own: str, other: str) -> None:
    role = {6: "county", 9: "township", 12: "village"}[prefix_len]
    scope = Scope.for_role(role, [own])
    assert scope.covers(other) == other.startswith(own[:prefix_len])


def test_levels_and_parents_come_from_the_code() -> None:
    assert level_of(VILLAGE_A) == "village"
    assert level_of(TOWNSHIP_T) == "township"
    assert level_of(COUNTY) == "county"
    assert township_of(VILLAGE_C) == TOWNSHIP_U


def _register(db: Session, cast: Cast, user: object, village: str, name: str) -> None:
    today = date.today()
    raw = {
        "name": name,
        "birth_date": "1995-05-05",
        "village_code": village,
        "registered_on": (today - timedelta(days=80)).isoformat(),
        "lmp": (today - timedelta(days=150)).isoformat(),
        "gravidity": "1",
        "parity": "0",
    }
    services.register_pregnancy(db, cast.ctx(user, db, today), forms.read_registration(raw))  # type: ignore[arg-type]
    db.commit()


def test_sql_scope_returns_each_role_exactly_its_records(db: Session, cast: Cast) -> None:
    _register(db, cast, cast.cadre_a, VILLAGE_A, "甲村孕妇")
    _register(db, cast, cast.cadre_b, VILLAGE_B, "乙村孕妇")
    _register(db, cast, cast.cadre_c, VILLAGE_C, "丙村孕妇")

    def names(user: object) -> set[str]:
        scope = cast.actor(user, db).scope  # type: ignore[arg-type]
        return set(db.exec(select(Woman.name).where(scope.clause(Woman.village_code))).all())

    assert names(cast.cadre_a) == {"甲村孕妇"}
    assert names(cast.cadre_b) == {"乙村孕妇"}
    assert names(cast.sup_t) == {"甲村孕妇", "乙村孕妇"}
    assert names(cast.sup_u) == {"丙村孕妇"}
    assert names(cast.county) == {"甲村孕妇", "乙村孕妇", "丙村孕妇"}
    for user in (cast.cadre_a, cast.sup_u):
        scope = cast.actor(user, db).scope
        rows = db.exec(select(DueItem.village_code).where(scope.clause(DueItem.village_code))).all()
        assert rows and all(scope.covers(code) for code in rows)
        assert {r.woman.name for r in queries.search_women(db, scope)} == names(user)
