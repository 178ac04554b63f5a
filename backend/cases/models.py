"""Follow-up records (DOMAIN.md §3): women, pregnancies and everything recorded about them, plus due items.

Visits and outcomes are append-only: a correction is a `Correction` row pointing at the original.
Every record made in the field carries its client-generated UUID, author, device, device time and server time.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime
from backend.lib.clock import utcnow


class FieldRecord(SQLModel):
    """Columns every record created on a phone carries."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    author_id: uuid.UUID = Field(foreign_key="app_user.id")
    device_id: str = Field(default="web", max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Woman(FieldRecord, table=True):
    """孕产妇: a woman followed through pregnancy and after. The ID number is stored only encrypted."""

    name: str = Field(max_length=40)
    id_cipher: str | None = Field(default=None, max_length=200)
    id_index: str | None = Field(default=None, max_length=64, index=True)
    id_masked: str | None = Field(default=None, max_length=18)
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=11)
    village_code: str = Field(max_length=12, index=True)
    address: str | None = Field(default=None, max_length=120)


class Pregnancy(FieldRecord, table=True):
    """妊娠: one pregnancy of a woman, from registration to the end of postnatal follow-up."""

    __table_args__ = (
        Index(
            "uq_pregnancy_open_per_woman",
            "woman_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    woman_id: uuid.UUID = Field(foreign_key="woman.id", index=True)
    village_code: str = Field(max_length=12, index=True)
    lmp: date | None = None
    edd: date
    edd_source: str = Field(default="lmp", max_length=12)
    gravidity: int
    parity: int
    registered_on: date
    rules_version: str = Field(max_length=20)
    high_risk: bool = False
    status: str = Field(default="open", max_length=8)
    closed_on: date | None = None
    close_reason: str | None = Field(default=None, max_length=20)
    cadre_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", index=True)
    """The responsible cadre (负责专干) as last set: whoever registered or took her over, or the one the
    supervisor chose. Who answers now is `responsibility.answerable` of this and the village's active
    cadres, so a cadre who leaves hands her cases on without a write."""


class RiskGrade(FieldRecord, table=True):
    """五色分级: a grading on a date; the latest counts. Orange, red or the purple flag mean high risk."""

    __tablename__ = "risk_grade"

    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    assessed_on: date
    colour: str = Field(max_length=8)
    purple: bool = False
    factors: str = Field(default="", max_length=500)


class PrenatalVisit(FieldRecord, table=True):
    """产前随访: a home, township, phone or urged-only visit, or a standard check attended."""

    __tablename__ = "prenatal_visit"

    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    visited_on: date
    kind: str = Field(max_length=10)
    check_no: int | None = None
    facility: str | None = Field(default=None, max_length=80)
    ga_days: int | None = None
    bp_systolic: int | None = None
    bp_diastolic: int | None = None
    weight_kg: float | None = None
    fundal_height_cm: float | None = None
    fetal_heart_bpm: int | None = None
    danger_signs: str = Field(default="", max_length=300)
    advice: str = Field(default="", max_length=500)
    next_on: date | None = None


class Outcome(FieldRecord, table=True):
    """妊娠结局: how the pregnancy ended; one per pregnancy, it ends prenatal follow-up."""

    pregnancy_id: uuid.UUID = Field(
        foreign_key="pregnancy.id", index=True
    )  # one live (unvoided) outcome each
    outcome_on: date
    outcome_type: str = Field(max_length=24)
    ga_days: int | None = None
    place: str = Field(default="", max_length=20)
    mode: str = Field(default="", max_length=20)
    discharge_on: date | None = None
    n_babies: int = 0


class Infant(FieldRecord, table=True):
    """婴儿: one baby of an outcome. Sex (GB/T 2261.1) exists only from birth on."""

    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    outcome_id: uuid.UUID = Field(foreign_key="outcome.id", index=True)
    seq: int = 1
    sex: str = Field(max_length=1)
    birth_weight_g: int | None = None
    alive_at_birth: bool = True
    asphyxia: bool = False
    defect: bool = False
    high_risk: bool = False
    death_on: date | None = None


class PostnatalVisit(FieldRecord, table=True):
    """产后访视: one visit covering the mother, one baby, or both, for a chosen milestone."""

    __tablename__ = "postnatal_visit"

    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    infant_id: uuid.UUID | None = Field(default=None, foreign_key="infant.id", index=True)
    covers_mother: bool = False
    visited_on: date
    milestone: str = Field(max_length=6)
    mother_temperature_c: float | None = None
    mother_bp_systolic: int | None = None
    mother_bp_diastolic: int | None = None
    breasts: str = Field(default="", max_length=60)
    lochia: str = Field(default="", max_length=60)
    wound: str = Field(default="", max_length=60)
    mood: str = Field(default="", max_length=60)
    infant_weight_g: int | None = None
    infant_temperature_c: float | None = None
    jaundice: str = Field(default="", max_length=20)
    feeding: str = Field(default="", max_length=12)
    umbilicus: str = Field(default="", max_length=20)
    notes: str = Field(default="", max_length=500)


class Closure(FieldRecord, table=True):
    """A case leaving follow-up or changing hands: transferred, moved out (迁出), lost (失访), died."""

    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    infant_id: uuid.UUID | None = Field(default=None, foreign_key="infant.id")
    kind: str = Field(max_length=12)
    closed_on: date
    reason: str = Field(default="", max_length=300)
    from_village_code: str | None = Field(default=None, max_length=12)
    to_village_code: str | None = Field(default=None, max_length=12)


class Correction(FieldRecord, table=True):
    """An amendment, void or registration edit of another record; the original stays readable.

    `changes` and `previous` are JSON objects of field → value. A registration edit that lost to a later
    edit of the same field from another device is kept with `superseded = true` for the supervisor.
    """

    target_type: str = Field(max_length=20)
    target_id: uuid.UUID = Field(index=True)
    kind: str = Field(max_length=8)
    changes: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    previous: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    reason: str = Field(default="", max_length=300)
    superseded: bool = False
    village_code: str = Field(max_length=12, index=True)


class DueItem(SQLModel, table=True):
    """A materialised expected visit, rewritten with its pregnancy in the same transaction as every write.

    State is derived from these dates and a day (backend.schedule.state_of); `is_open` and `missed_on` let
    the overdue query run on an index: open, window_end < today, missed_on null or > today. The index ends
    with missed_on so that query reads the index alone: most open items past their window are missed ones,
    and checking each in the table made the county badge scan tens of thousands of rows. The (village_code,
    due_on) index carries the dates an item's coverage category depends on, for the same reason: a county's
    month of coverage is read from the index alone.
    """

    __tablename__ = "due_item"
    __table_args__ = (
        Index("ix_due_item_open_scope", "is_open", "village_code", "window_end", "missed_on"),
        Index(
            "ix_due_item_scope_due",
            "village_code",
            "due_on",
            "window_end",
            "done_on",
            "cancelled_on",
            "missed_on",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    pregnancy_id: uuid.UUID = Field(foreign_key="pregnancy.id", index=True)
    infant_id: uuid.UUID | None = Field(default=None, foreign_key="infant.id")
    kind: str = Field(max_length=16)
    seq: int = 0
    window_start: date
    due_on: date
    window_end: date
    done_on: date | None = None
    done_by: uuid.UUID | None = None
    cancelled_on: date | None = None
    missed_on: date | None = None
    is_open: bool = True
    village_code: str = Field(max_length=12)
    rules_version: str = Field(max_length=20)


class CaseChange(SQLModel, table=True):
    """The change feed phones pull from: one row per write to a pregnancy (its village at the time; a transfer
    adds one for each village), so a cursor over `seq` finds what changed in a scope."""

    __tablename__ = "case_change"
    __table_args__ = (Index("ix_case_change_scope_seq", "village_code", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    pregnancy_id: uuid.UUID = Field(index=True)
    village_code: str = Field(max_length=12)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
