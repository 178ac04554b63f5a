"""Validation rules for women, pregnancies, visits and outcomes (DOMAIN.md §3), as pure functions.

Each `check_*` takes parsed values (None = not given) and returns a list of `FieldError`, empty when fine,
with at most one error per field: the most basic problem first. Ranges are inclusive at both ends.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from backend.lib.i18n import FieldError, Text
from backend.lib.idcard import IdProblem, birth_date_of, id_problem, normalise_id
from backend.lib.parsing import ParseError, is_valid_mobile, parse_decimal

# Limits


@dataclass(frozen=True)
class Bounds:
    """An inclusive range of a measurement and its unit as written in each language (with a leading space)."""

    lo: float
    hi: float
    unit_zh: str = ""
    unit_en: str = ""

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi  # False for NaN, too


SYSTOLIC_MMHG = Bounds(60, 260, " mmHg", " mmHg")
DIASTOLIC_MMHG = Bounds(30, 160, " mmHg", " mmHg")
MOTHER_WEIGHT_KG = Bounds(30, 200, " kg", " kg")
FUNDAL_HEIGHT_CM = Bounds(5, 50, " cm", " cm")
FETAL_HEART_BPM = Bounds(60, 220, " 次/分", " bpm")
FETAL_HEART_NORMAL_BPM = Bounds(110, 160, " 次/分", " bpm")  # outside is a flag for attention, not an error
TEMPERATURE_C = Bounds(34, 42, " °C", " °C")
BIRTH_WEIGHT_G = Bounds(300, 8000, " g", " g")
# A postnatal visit weighs babies up to 6 months old (or 12 if so configured); 8000 g would refuse a big baby.
INFANT_VISIT_WEIGHT_G = Bounds(300, 15000, " g", " g")
GRAVIDITY = Bounds(1, 20)
PARITY = Bounds(0, 19)
FIELD_BOUNDS: dict[str, Bounds] = {
    "bp_systolic": SYSTOLIC_MMHG,
    "bp_diastolic": DIASTOLIC_MMHG,
    "weight_kg": MOTHER_WEIGHT_KG,
    "fundal_height_cm": FUNDAL_HEIGHT_CM,
    "fetal_heart_bpm": FETAL_HEART_BPM,
    "mother_temperature_c": TEMPERATURE_C,
    "mother_bp_systolic": SYSTOLIC_MMHG,
    "mother_bp_diastolic": DIASTOLIC_MMHG,
    "infant_weight_g": INFANT_VISIT_WEIGHT_G,
    "infant_temperature_c": TEMPERATURE_C,
    "gravidity": GRAVIDITY,
    "parity": PARITY,
}
"""The range of each measured field of the forms, by its form name (a baby's birth weight: BIRTH_WEIGHT_G)."""

NAME_MAX_LENGTH = 40
MOTHER_MIN_AGE, MOTHER_MAX_AGE = 10, 60
GA_MAX_DAYS = 45 * 7  # GA 0–45 weeks, i.e. up to 45+0
OUTCOME_MAX_DAYS_AFTER_LMP = 315
EDD_DAYS_AFTER_LMP = 280
EDD_MIN_DAYS_AFTER_LMP, EDD_MAX_DAYS_AFTER_LMP = 250, 300
DISCHARGE_MAX_DAYS_AFTER_OUTCOME = 60

OUTCOME_TYPES = (
    "live_birth",
    "stillbirth",
    "spontaneous_abortion",
    "induced_abortion",
    "termination",
    "ectopic",
    "molar",
    "maternal_death",
)
# Only these have babies: sex exists from birth on, never for a pregnancy that ended otherwise (DOMAIN.md §7).
BIRTH_OUTCOMES = ("live_birth", "stillbirth")
SEX_CODES = ("1", "2", "0", "9")  # GB/T 2261.1: 1 男, 2 女, 0 未知, 9 未说明
_TRUE_WORDS = ("1", "true", "on", "yes", "y")
_VILLAGE_CODE = re.compile(r"\d{12}", re.ASCII)

# Messages

LABELS: dict[str, Text] = {
    "name": Text("姓名", "Name"),
    "id_number": Text("身份证号码", "ID number"),
    "birth_date": Text("出生日期", "Birth date"),
    "phone": Text("手机号码", "Phone number"),
    "village_code": Text("村代码", "Village code"),
    "lmp": Text("末次月经日期", "LMP date"),
    "edd": Text("预产期", "EDD"),
    "registered_on": Text("登记日期", "Registration date"),
    "gravidity": Text("孕次", "Gravidity"),
    "parity": Text("产次", "Parity"),
    "visited_on": Text("访视日期", "Visit date"),
    "bp_systolic": Text("收缩压", "Systolic BP"),
    "bp_diastolic": Text("舒张压", "Diastolic BP"),
    "weight_kg": Text("体重", "Weight"),
    "fundal_height_cm": Text("宫高", "Fundal height"),
    "fetal_heart_bpm": Text("胎心率", "Fetal heart rate"),
    "outcome_on": Text("结局日期", "Outcome date"),
    "outcome_type": Text("结局类型", "Outcome type"),
    "discharge_on": Text("出院日期", "Discharge date"),
    "mother_temperature_c": Text("产妇体温", "Mother's temperature"),
    "mother_bp_systolic": Text("产妇收缩压", "Mother's systolic BP"),
    "mother_bp_diastolic": Text("产妇舒张压", "Mother's diastolic BP"),
    "infant_weight_g": Text("婴儿体重", "Baby's weight"),
    "infant_temperature_c": Text("婴儿体温", "Baby's temperature"),
    "assessed_on": Text("评估日期", "Date graded"),
    "closed_on": Text("结案日期", "Closing date"),
}
BABY_SEX_LABEL = Text("第 {n} 个婴儿的性别", "Sex of baby {n}")
BABY_WEIGHT_LABEL = Text("第 {n} 个婴儿的出生体重", "Birth weight of baby {n}")

REQUIRED = Text("请填写{label}", "{label} is required")
CHOOSE = Text("请选择{label}", "Choose the {label_lower}")
NOT_FUTURE = Text("{label}不能晚于今天", "{label} cannot be in the future")
OUT_OF_RANGE = Text("{label}应在 {lo}–{hi}{unit_zh} 之间", "{label} must be between {lo} and {hi}{unit_en}")
NOT_A_NUMBER = Text("{label}应为数字", "{label} must be a number")

NAME_TOO_LONG = Text(
    f"姓名不能超过 {NAME_MAX_LENGTH} 个字", f"Name cannot be longer than {NAME_MAX_LENGTH} characters"
)
ID_MESSAGES: dict[IdProblem, Text] = {
    IdProblem.SHAPE: Text(
        "身份证号码应为 18 位：前 17 位是数字，最后一位是数字或 X",
        "ID number must have 18 characters: 17 digits, then a digit or X",
    ),
    IdProblem.CHECK_DIGIT: Text(
        "身份证号码校验位不正确，请逐位核对", "The check digit of the ID number is wrong; check each digit"
    ),
    IdProblem.BIRTH_DATE: Text(
        "身份证号码中的出生日期不是有效日期", "The birth date inside the ID number is not a valid date"
    ),
}
BIRTH_DATE_OR_ID = Text(
    "请填写出生日期或有效的身份证号码", "Birth date is required when no valid ID number is given"
)
BIRTH_DATE_MISMATCH = Text("出生日期与身份证号码不一致", "Birth date does not match the ID number")
ID_BIRTH_DATE_FUTURE = Text(
    "身份证号码中的出生日期晚于今天", "The birth date in the ID number is in the future"
)
AGE_OUT_OF_RANGE = Text(
    f"按出生日期计算年龄为 {{age}} 岁，应在 {MOTHER_MIN_AGE}–{MOTHER_MAX_AGE} 岁之间",
    f"Age from the birth date is {{age}}; it must be between {MOTHER_MIN_AGE} and {MOTHER_MAX_AGE}",
)
ID_AGE_OUT_OF_RANGE = Text(
    f"按身份证号码计算年龄为 {{age}} 岁，应在 {MOTHER_MIN_AGE}–{MOTHER_MAX_AGE} 岁之间",
    f"Age from the ID number is {{age}}; it must be between {MOTHER_MIN_AGE} and {MOTHER_MAX_AGE}",
)
PHONE_NOT_MOBILE = Text(
    "手机号码应为 11 位手机号，如 13812341234",
    "Phone number must be an 11-digit mobile number, like 13812341234",
)
VILLAGE_CODE_SHAPE = Text(
    "村代码应为 12 位统计用区划代码", "Village code must be the 12-digit statistical area code"
)

EDD_REQUIRED_WITHOUT_LMP = Text(
    "末次月经不详时须填写预产期（如按超声推算）",
    "EDD is required when the LMP is unknown (e.g. from ultrasound)",
)
LMP_AFTER_REGISTRATION = Text(
    "末次月经日期不能晚于登记日期", "LMP date cannot be after the registration date"
)
GA_AT_REGISTRATION = Text(
    "登记时孕周为 {ga} 周，应在 0–45 周之间，请核对末次月经日期",
    "Gestational age at registration is {ga} weeks; it must be 0–45 weeks. Check the LMP date",
)
GA_AT_REGISTRATION_FROM_EDD = Text(
    "按预产期推算登记时孕周为 {ga} 周，应在 0–45 周之间，请核对预产期",
    "Gestational age at registration from the EDD is {ga} weeks; it must be 0–45 weeks. Check the EDD",
)
EDD_FAR_FROM_LMP = Text(
    f"预产期应在末次月经后 {EDD_MIN_DAYS_AFTER_LMP}–{EDD_MAX_DAYS_AFTER_LMP} 天之内"
    f"（末次月经加 {EDD_DAYS_AFTER_LMP} 天为 {{expected}}）",
    f"EDD must be {EDD_MIN_DAYS_AFTER_LMP}–{EDD_MAX_DAYS_AFTER_LMP} days after the LMP"
    f" (LMP + {EDD_DAYS_AFTER_LMP} days is {{expected}})",
)
PARITY_NOT_BELOW_GRAVIDITY = Text(
    "产次应小于孕次（本次妊娠不计入产次），最多为 {most}",
    "Parity must be less than gravidity (this pregnancy does not count): at most {most}",
)

VISIT_BEFORE_REGISTRATION = Text(
    "访视日期不能早于登记日期（{registered_on}）",
    "Visit date cannot be before the registration date ({registered_on})",
)
VISIT_AFTER_OUTCOME = Text(
    "产前访视日期不能晚于妊娠结局日期（{outcome_on}）",
    "A prenatal visit cannot be after the outcome date ({outcome_on})",
)
VISIT_BEFORE_LMP = Text("访视日期不能早于末次月经日期", "Visit date cannot be before the LMP date")
GA_AT_VISIT = Text(
    "随访时孕周为 {ga} 周，应在 0–45 周之间",
    "Gestational age at the visit is {ga} weeks; it must be 0–45 weeks",
)
BP_PAIR = Text("收缩压和舒张压须同时填写", "Systolic and diastolic BP must be given together")
DIASTOLIC_NOT_BELOW_SYSTOLIC = Text("舒张压应低于收缩压", "Diastolic BP must be lower than systolic BP")

OUTCOME_BEFORE_LMP = Text("结局日期不能早于末次月经日期", "Outcome date cannot be before the LMP date")
OUTCOME_TOO_LONG_AFTER_LMP = Text(
    f"结局日期在末次月经后 {{days}} 天，应在 {OUTCOME_MAX_DAYS_AFTER_LMP} 天（45 周）之内",
    f"Outcome date is {{days}} days after the LMP; it must be at most {OUTCOME_MAX_DAYS_AFTER_LMP} days"
    " (45 weeks)",
)
OUTCOME_BEFORE_LMP_FROM_EDD = Text(
    f"结局日期不能早于按预产期推算的末次月经日期（预产期前 {EDD_DAYS_AFTER_LMP} 天）",
    f"Outcome date cannot be before the LMP reckoned from the EDD ({EDD_DAYS_AFTER_LMP} days before the EDD)",
)
OUTCOME_TOO_LONG_AFTER_LMP_FROM_EDD = Text(
    f"结局日期在按预产期推算的末次月经后 {{days}} 天，应在 {OUTCOME_MAX_DAYS_AFTER_LMP} 天（45 周）之内，"
    "请核对结局日期或预产期",
    f"Outcome date is {{days}} days after the LMP reckoned from the EDD; it must be at most"
    f" {OUTCOME_MAX_DAYS_AFTER_LMP} days (45 weeks). Check the outcome date or the EDD",
)
OUTCOME_BEFORE_PRENATAL_VISIT = Text(
    "已有 {visited_on} 的产前访视，结局日期不能早于该日期；如该访视记错，请先更正或作废它",
    "There is a prenatal visit on {visited_on}: the outcome date cannot be before it. If that visit is"
    " wrong, correct or void it first",
)
DISCHARGE_BEFORE_OUTCOME = Text(
    "出院日期不能早于结局日期", "Discharge date cannot be before the outcome date"
)
DISCHARGE_TOO_LATE = Text(
    f"出院日期应在结局日期后 {DISCHARGE_MAX_DAYS_AFTER_OUTCOME} 天之内",
    f"Discharge date must be within {DISCHARGE_MAX_DAYS_AFTER_OUTCOME} days of the outcome date",
)
BABIES_REQUIRED = Text("活产或死产须至少登记一个婴儿", "A live birth or stillbirth needs at least one baby")
BABIES_NOT_ALLOWED = Text(
    "只有活产或死产才能登记婴儿", "Babies can be recorded only for a live birth or stillbirth"
)
LIVE_BIRTH_NEEDS_ALIVE_BABY = Text(
    "活产须至少有一个婴儿出生时存活", "A live birth needs at least one baby born alive"
)
STILLBIRTH_BABY_ALIVE = Text("死产的婴儿不能标记为存活", "A stillborn baby cannot be marked as alive")

POSTNATAL_VISIT_BEFORE_OUTCOME = Text(
    "产后访视日期不能早于妊娠结局日期（{outcome_on}）",
    "A postnatal visit cannot be before the outcome date ({outcome_on})",
)


def _say(template: Text, label: Text, **params: object) -> Text:
    """Fill a template whose {label} must be in the template's own language."""
    lower = label.en[:1].lower() + label.en[1:] if not label.en[:3].isupper() else label.en
    return Text(
        template.zh.format(label=label.zh, **params),
        template.en.format(label=label.en, label_lower=lower, **params),
    )


def _dated(template: Text, **days: date | None) -> Text:
    """A message naming dates, each as its language writes one: 2026年11月24日, 24 Nov 2026 (built before
    it is known whether it is needed: a date not known yet reads —)."""
    zh = {name: f"{d.year}年{d.month}月{d.day}日" if d else "—" for name, d in days.items()}
    en = {name: f"{d.day} {d:%b} {d.year}" if d else "—" for name, d in days.items()}
    return Text(template.zh.format(**zh), template.en.format(**en))


def _ga(days: int) -> str:
    """Gestational age written as weeks+days, e.g. 46+2."""
    weeks, rest = divmod(days, 7)
    return f"{weeks}+{rest}"


def _error(field: str, text: Text) -> list[FieldError]:
    return [FieldError(field, text)]


# Small reusable checks
# Each returns [] when fine, so `a() or b() or c()` stops at the first problem of a field.


def check_required(field: str, value: object, label: Text | None = None) -> list[FieldError]:
    """Refuse None and blank strings."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return _error(field, _say(REQUIRED, label or LABELS[field]))
    return []


def check_not_future(field: str, d: date | None, today: date, label: Text | None = None) -> list[FieldError]:
    """Refuse a date after today; None passes."""
    if d is not None and d > today:
        return _error(field, _say(NOT_FUTURE, label or LABELS[field]))
    return []


def check_not_before(field: str, d: date | None, earliest: date | None, text: Text) -> list[FieldError]:
    """Refuse `d` earlier than `earliest` with `text`; passes when either is None."""
    if d is not None and earliest is not None and d < earliest:
        return _error(field, text)
    return []


def check_not_after(field: str, d: date | None, latest: date | None, text: Text) -> list[FieldError]:
    """Refuse `d` later than `latest` with `text`; passes when either is None."""
    if d is not None and latest is not None and d > latest:
        return _error(field, text)
    return []


def check_range(
    field: str, value: float | None, bounds: Bounds, label: Text | None = None
) -> list[FieldError]:
    """Refuse a value outside `bounds` (inclusive), naming the range and unit; None passes."""
    if value is None or value in bounds:
        return []
    text = _say(
        OUT_OF_RANGE,
        label or LABELS[field],
        lo=f"{bounds.lo:g}",
        hi=f"{bounds.hi:g}",
        unit_zh=bounds.unit_zh,
        unit_en=bounds.unit_en,
    )
    return _error(field, text)


def check_each_alone(values: Mapping[str, object]) -> list[FieldError]:
    """What each value breaks on its own, whatever the rest of the form or the case: a number out of its
    range, an ID number's shape or check digit, a phone that is no mobile number. The forms run these beside
    their parse errors, so the first answer names every such field; the full rules run once all parse."""
    errors: list[FieldError] = []
    for name, value in values.items():
        if value is None or value == "":
            continue
        if name in FIELD_BOUNDS and isinstance(value, int | float):
            errors += check_range(name, value, FIELD_BOUNDS[name])
        elif name == "id_number":
            problem = id_problem(normalise_id(str(value)))
            if problem in (IdProblem.SHAPE, IdProblem.CHECK_DIGIT):
                errors += _error(name, ID_MESSAGES[problem])
        elif name == "phone" and not is_valid_mobile(str(value)):
            errors += _error(name, PHONE_NOT_MOBILE)
    return errors


def check_bp(
    systolic_field: str, diastolic_field: str, systolic: float | None, diastolic: float | None
) -> list[FieldError]:
    """Blood pressure: both or neither, each in range, and systolic above diastolic.

    A missing half is reported on its own field; systolic ≤ diastolic is reported on the diastolic field,
    the one typed second and the more likely slip.
    """
    if systolic is None and diastolic is None:
        return []
    if systolic is None:
        return _error(systolic_field, BP_PAIR)
    if diastolic is None:
        return _error(diastolic_field, BP_PAIR)
    errors = check_range(systolic_field, systolic, SYSTOLIC_MMHG) + check_range(
        diastolic_field, diastolic, DIASTOLIC_MMHG
    )
    if not errors and systolic <= diastolic:
        errors = _error(diastolic_field, DIASTOLIC_NOT_BELOW_SYSTOLIC)
    return errors


def age_on(birth: date, today: date) -> int:
    """Completed years of age on `today` (someone born on 29 February has a birthday on 1 March)."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def fetal_heart_flag(bpm: float | None) -> bool:
    """True when a fetal heart rate is outside 110–160 bpm: worth attention, but not an input error."""
    return bpm is not None and bpm not in FETAL_HEART_NORMAL_BPM


# Records


def _check_mother_age(field: str, born: date, today: date) -> list[FieldError]:
    from_id = field == "id_number"
    if born > today:
        return _error(field, ID_BIRTH_DATE_FUTURE if from_id else _say(NOT_FUTURE, LABELS[field]))
    age = age_on(born, today)
    if not MOTHER_MIN_AGE <= age <= MOTHER_MAX_AGE:
        return _error(field, (ID_AGE_OUT_OF_RANGE if from_id else AGE_OUT_OF_RANGE).format(age=age))
    return []


def check_woman(
    *,
    name: str | None,
    id_number: str | None,
    birth_date: date | None,
    phone: str | None,
    village_code: str | None,
    today: date,
) -> list[FieldError]:
    """A woman (孕产妇): name, optional ID number, birth date given or read from the ID, phone, village.

    The ID number is normalised first (spaces, full width, lower-case x); store `normalise_id(id_number)`.
    Age problems of a birth date read from the ID number are reported on "id_number", which supplied it.
    """
    errors = check_required("name", name)
    if name is not None and len(name.strip()) > NAME_MAX_LENGTH:
        errors += _error("name", NAME_TOO_LONG)

    id_text = normalise_id(id_number or "")
    id_birth: date | None = None
    if id_text:
        problem = id_problem(id_text)
        if problem is None:
            id_birth = birth_date_of(id_text)
        else:
            errors += _error("id_number", ID_MESSAGES[problem])

    if birth_date is not None and id_birth is not None and birth_date != id_birth:
        errors += _error("birth_date", BIRTH_DATE_MISMATCH)
    elif birth_date is not None:
        errors += _check_mother_age("birth_date", birth_date, today)
    elif id_birth is not None:
        errors += _check_mother_age("id_number", id_birth, today)
    elif not id_text:  # with an invalid ID number the birth date follows once the number is corrected
        errors += _error("birth_date", BIRTH_DATE_OR_ID)

    if phone is not None and phone.strip() and not is_valid_mobile(phone):
        errors += _error("phone", PHONE_NOT_MOBILE)

    if village_code is None or not village_code.strip():
        errors += check_required("village_code", village_code)
    elif not _VILLAGE_CODE.fullmatch(village_code):
        errors += _error("village_code", VILLAGE_CODE_SHAPE)
    return errors


def _check_gravidity_and_parity(gravidity: int | None, parity: int | None) -> list[FieldError]:
    gravidity_errors = check_required("gravidity", gravidity) or check_range(
        "gravidity", gravidity, GRAVIDITY
    )
    parity_errors = check_required("parity", parity) or check_range("parity", parity, PARITY)
    if gravidity is None or parity is None or gravidity_errors or parity_errors:
        return gravidity_errors + parity_errors
    if parity >= gravidity:  # parity counts earlier births only, so it is at most gravidity − 1
        return _error("parity", PARITY_NOT_BELOW_GRAVIDITY.format(most=gravidity - 1))
    return []


def check_pregnancy(
    *,
    lmp: date | None,
    edd: date | None,
    registered_on: date | None,
    gravidity: int | None,
    parity: int | None,
    today: date,
) -> list[FieldError]:
    """A pregnancy (妊娠) at registration: LMP (末次月经) or, when unknown, an EDD (预产期); 孕次 and 产次.

    With the LMP unknown, GA at registration is computed from EDD − 280 days and reported on "edd".
    Gravidity and parity are required (parity 0 for a first birth).
    """
    errors = check_required("registered_on", registered_on) or check_not_future(
        "registered_on", registered_on, today
    )
    registration_ok = not errors and registered_on is not None

    if lmp is not None:
        lmp_errors = check_not_future("lmp", lmp, today) or check_not_after(
            "lmp", lmp, registered_on, LMP_AFTER_REGISTRATION
        )
        if not lmp_errors and registration_ok and registered_on is not None:
            ga_days = (registered_on - lmp).days
            if ga_days > GA_MAX_DAYS:
                lmp_errors = _error("lmp", GA_AT_REGISTRATION.format(ga=_ga(ga_days)))
        errors += lmp_errors
        if edd is not None:
            days = (edd - lmp).days
            if not EDD_MIN_DAYS_AFTER_LMP <= days <= EDD_MAX_DAYS_AFTER_LMP:
                expected = lmp + timedelta(days=EDD_DAYS_AFTER_LMP)
                errors += _error("edd", _dated(EDD_FAR_FROM_LMP, expected=expected))
    elif edd is None:
        errors += _error("edd", EDD_REQUIRED_WITHOUT_LMP)
    elif registration_ok and registered_on is not None:
        ga_days = (registered_on - (edd - timedelta(days=EDD_DAYS_AFTER_LMP))).days
        if not 0 <= ga_days <= GA_MAX_DAYS:
            errors += _error("edd", GA_AT_REGISTRATION_FROM_EDD.format(ga=_ga(ga_days)))

    return errors + _check_gravidity_and_parity(gravidity, parity)


def check_prenatal_visit(
    *,
    visited_on: date | None,
    registered_on: date,
    outcome_on: date | None,
    lmp_or_none: date | None,
    today: date,
    bp_systolic: float | None,
    bp_diastolic: float | None,
    weight_kg: float | None,
    fundal_height_cm: float | None,
    fetal_heart_bpm: float | None,
) -> list[FieldError]:
    """A prenatal visit (产前随访): its date between registration and outcome, and measurements in range.

    A fetal heart rate outside 110–160 bpm is accepted; see `fetal_heart_flag`.
    """
    return (
        check_prenatal_visit_date(
            visited_on=visited_on,
            registered_on=registered_on,
            outcome_on=outcome_on,
            lmp_or_none=lmp_or_none,
            today=today,
        )
        + check_bp("bp_systolic", "bp_diastolic", bp_systolic, bp_diastolic)
        + check_range("weight_kg", weight_kg, MOTHER_WEIGHT_KG)
        + check_range("fundal_height_cm", fundal_height_cm, FUNDAL_HEIGHT_CM)
        + check_range("fetal_heart_bpm", fetal_heart_bpm, FETAL_HEART_BPM)
    )


def check_prenatal_visit_date(
    *,
    visited_on: date | None,
    registered_on: date,
    outcome_on: date | None,
    lmp_or_none: date | None,
    today: date,
) -> list[FieldError]:
    """The date of a prenatal visit: given, not in the future, between registration and outcome, at GA
    0–45 weeks; at most one error."""
    errors = (
        check_required("visited_on", visited_on)
        or check_not_future("visited_on", visited_on, today)
        or check_not_before(
            "visited_on",
            visited_on,
            registered_on,
            _dated(VISIT_BEFORE_REGISTRATION, registered_on=registered_on),
        )
        or check_not_after(
            "visited_on", visited_on, outcome_on, _dated(VISIT_AFTER_OUTCOME, outcome_on=outcome_on)
        )
        or check_not_before("visited_on", visited_on, lmp_or_none, VISIT_BEFORE_LMP)
    )
    if not errors and visited_on is not None and lmp_or_none is not None:
        ga_days = (visited_on - lmp_or_none).days
        if ga_days > GA_MAX_DAYS:
            errors = _error("visited_on", GA_AT_VISIT.format(ga=_ga(ga_days)))
    return errors


def _number_or_error(field: str, value: object, label: Text) -> tuple[float | None, list[FieldError]]:
    """A baby's weight from a form dict: a number, a numeric string (full width allowed), or blank."""
    if value is None:
        return None, []
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), []
    if isinstance(value, str):
        try:
            return parse_decimal(value), []
        except ParseError:
            pass
    return None, _error(field, _say(NOT_A_NUMBER, label))


def _is_true(value: object) -> bool:
    """A checkbox value: True, 1, or "1"/"true"/"on"/"yes"; a missing or unchecked box is False."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return value is True or (isinstance(value, int) and value == 1)


def _check_baby(i: int, baby: Mapping[str, object]) -> list[FieldError]:
    n = i + 1
    sex_field, weight_field = f"babies-{i}-sex", f"babies-{i}-weight_g"
    sex_label, weight_label = BABY_SEX_LABEL.format(n=n), BABY_WEIGHT_LABEL.format(n=n)
    sex = baby.get("sex")
    sex_text = "" if sex is None else str(sex).strip()
    errors = [] if sex_text in SEX_CODES else _error(sex_field, _say(CHOOSE, sex_label))
    weight, weight_errors = _number_or_error(weight_field, baby.get("weight_g"), weight_label)
    return errors + (weight_errors or check_range(weight_field, weight, BIRTH_WEIGHT_G, weight_label))


def _check_babies(outcome_type: str, babies: Sequence[Mapping[str, object]]) -> list[FieldError]:
    if outcome_type not in BIRTH_OUTCOMES:
        return _error("babies", BABIES_NOT_ALLOWED) if babies else []
    if not babies:
        return _error("babies", BABIES_REQUIRED)
    errors = [error for i, baby in enumerate(babies) for error in _check_baby(i, baby)]
    alive = [_is_true(baby.get("alive")) for baby in babies]
    if outcome_type == "live_birth" and not any(alive):
        errors += _error("babies", LIVE_BIRTH_NEEDS_ALIVE_BABY)
    if outcome_type == "stillbirth":
        errors += [FieldError(f"babies-{i}-alive", STILLBIRTH_BABY_ALIVE) for i, a in enumerate(alive) if a]
    return errors


def check_outcome(
    *,
    outcome_on: date | None,
    lmp_or_none: date | None,
    registered_on: date,
    outcome_type: str | None,
    discharge_on: date | None,
    babies: Sequence[Mapping[str, object]],
    today: date,
    lmp_from_edd: bool = False,
    last_prenatal_visit_on: date | None = None,
) -> list[FieldError]:
    """A pregnancy outcome (妊娠结局) and its babies.

    The outcome is 0–315 days after `lmp_or_none`; with the LMP unknown the caller passes EDD − 280 days and
    `lmp_from_edd`, and the message says so. No prenatal visit may be dated after the outcome
    (`last_prenatal_visit_on`, the latest one recorded).
    `registered_on` is accepted but is no bound: a birth may be registered late, before its registration date.
    Baby dicts have "sex" ("1" 男, "2" 女, "0"/"9" unknown), "weight_g" (birth weight 300–8000 g, optional)
    and "alive" (a bool or checkbox value). Errors name "babies-<i>-sex", "babies-<i>-weight_g",
    "babies-<i>-alive" (i from 0) or "babies" for the whole list. Only a live birth or stillbirth may have
    babies.
    """
    errors = check_required("outcome_on", outcome_on) or check_not_future("outcome_on", outcome_on, today)
    if not errors and outcome_on is not None and lmp_or_none is not None:
        days = (outcome_on - lmp_or_none).days
        if days < 0:
            errors = _error("outcome_on", OUTCOME_BEFORE_LMP_FROM_EDD if lmp_from_edd else OUTCOME_BEFORE_LMP)
        elif days > OUTCOME_MAX_DAYS_AFTER_LMP:
            too_long = OUTCOME_TOO_LONG_AFTER_LMP_FROM_EDD if lmp_from_edd else OUTCOME_TOO_LONG_AFTER_LMP
            errors = _error("outcome_on", too_long.format(days=days))
    errors = errors or check_not_before(
        "outcome_on",
        outcome_on,
        last_prenatal_visit_on,
        _dated(OUTCOME_BEFORE_PRENATAL_VISIT, visited_on=last_prenatal_visit_on),
    )

    latest_discharge = outcome_on + timedelta(days=DISCHARGE_MAX_DAYS_AFTER_OUTCOME) if outcome_on else None
    errors += (
        check_not_future("discharge_on", discharge_on, today)
        or check_not_before("discharge_on", discharge_on, outcome_on, DISCHARGE_BEFORE_OUTCOME)
        or check_not_after("discharge_on", discharge_on, latest_discharge, DISCHARGE_TOO_LATE)
    )

    if outcome_type is None or outcome_type not in OUTCOME_TYPES:
        return [*errors, *_error("outcome_type", _say(CHOOSE, LABELS["outcome_type"]))]
    return errors + _check_babies(outcome_type, babies)


# The high-risk newborn (DOMAIN.md §4.3): first visit due anchor + 3 days, counted on time within 3 days (§6).
HIGH_RISK_NEWBORN_GA_DAYS = 37 * 7
HIGH_RISK_NEWBORN_WEIGHT_G = 2500


def lmp_or_from_edd(lmp: date | None, edd: date) -> date:
    """The LMP, or EDD − 280 days when it is unknown (the EDD came from an ultrasound)."""
    return lmp or edd - timedelta(days=EDD_DAYS_AFTER_LMP)


def ga_at_birth(outcome_on: date, lmp: date | None, edd: date) -> int:
    """Gestational age at the outcome in days, from the pregnancy's LMP (EDD − 280 days when unknown)."""
    return (outcome_on - lmp_or_from_edd(lmp, edd)).days


def is_high_risk_newborn(ga_days: int | None, weight_g: int | None, asphyxia: bool, defect: bool) -> bool:
    """GA under 37 weeks, weight under 2,500 g, asphyxia or a birth defect: first visit within 3 days."""
    return (
        (ga_days is not None and ga_days < HIGH_RISK_NEWBORN_GA_DAYS)
        or (weight_g is not None and weight_g < HIGH_RISK_NEWBORN_WEIGHT_G)
        or asphyxia
        or defect
    )


def newborn_high_risk(
    *,
    outcome_on: date,
    lmp: date | None,
    edd: date,
    weight_g: int | None,
    asphyxia: bool,
    defect: bool,
) -> bool:
    """Whether a baby is a high-risk newborn, from the records as they now read: the outcome date with its
    corrections, the pregnancy's LMP and EDD as now registered, the baby's birth weight, asphyxia and defect.
    The one place this is decided: the schedule's facts, the case page and the report's cohort all call it;
    `Infant.high_risk` only keeps what it was when the outcome was recorded."""
    return is_high_risk_newborn(ga_at_birth(outcome_on, lmp, edd), weight_g, asphyxia, defect)


def check_postnatal_visit(
    *,
    visited_on: date | None,
    outcome_on: date,
    today: date,
    mother_temperature_c: float | None,
    mother_bp_systolic: float | None,
    mother_bp_diastolic: float | None,
    infant_weight_g: float | None,
    infant_temperature_c: float | None,
) -> list[FieldError]:
    """A postnatal visit (产后访视) of mother and/or baby.

    The baby's weight may be 300–15000 g, not the birth weight's 300–8000 g: visits run until the baby is
    6 months (or 12) old.
    """
    return (
        check_postnatal_visit_date(visited_on=visited_on, outcome_on=outcome_on, today=today)
        + check_range("mother_temperature_c", mother_temperature_c, TEMPERATURE_C)
        + check_bp("mother_bp_systolic", "mother_bp_diastolic", mother_bp_systolic, mother_bp_diastolic)
        + check_range("infant_weight_g", infant_weight_g, INFANT_VISIT_WEIGHT_G)
        + check_range("infant_temperature_c", infant_temperature_c, TEMPERATURE_C)
    )


def check_postnatal_visit_date(*, visited_on: date | None, outcome_on: date, today: date) -> list[FieldError]:
    """The date of a postnatal visit: given, not in the future, not before the outcome; at most one error."""
    return (
        check_required("visited_on", visited_on)
        or check_not_future("visited_on", visited_on, today)
        or check_not_before(
            "visited_on",
            visited_on,
            outcome_on,
            _dated(POSTNATAL_VISIT_BEFORE_OUTCOME, outcome_on=outcome_on),
        )
    )
