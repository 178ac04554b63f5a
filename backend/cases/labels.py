"""Names of the domain's codes and of every form field in Chinese and English, for pages and exports."""

import re
from functools import cache

from backend.lib.i18n import Text

ITEM_KINDS = {
    "village": Text("村每月访视", "Monthly village visit"),
    "township": Text("乡每两月访视", "Township visit"),
    "check1": Text("第1次产检（早孕建册）", "Standard check 1 (booking)"),
    "check2": Text("第2次产检", "Standard check 2"),
    "check3": Text("第3次产检", "Standard check 3"),
    "check4": Text("第4次产检", "Standard check 4"),
    "check5": Text("第5次产检", "Standard check 5"),
    "outcome": Text("结局登记", "Record the outcome"),
    "mother_1w": Text("产后1周访视", "1-week postnatal visit"),
    "mother_42d": Text("产后42天检查", "42-day postnatal check"),
    "loss_care": Text("流产后关怀", "Care after pregnancy loss"),
    "infant_1w": Text("产后1周访视", "1-week postnatal visit"),
    "infant_2w": Text("产后2周访视", "2-week visit"),
    "infant_1m": Text("满月访视", "1-month visit"),
    "infant_3m": Text("3月龄访视", "3-month visit"),
    "infant_6m": Text("6月龄访视", "6-month visit"),
    "infant_12m": Text("12月龄访视", "12-month visit"),
}
STATES = {
    "upcoming": Text("未到期", "Upcoming"),
    "due": Text("应访", "Due"),
    "overdue": Text("逾期", "Overdue"),
    "done_on_time": Text("按时完成", "Done on time"),
    "done_late": Text("延迟完成", "Done late"),
    "cancelled": Text("已取消", "Cancelled"),
    "missed": Text("未访", "Missed"),
}
COLOURS = {
    "green": Text("绿色（低风险）", "Green (low risk)"),
    "yellow": Text("黄色（一般风险）", "Yellow (moderate)"),
    "orange": Text("橙色（较高风险）", "Orange (high)"),
    "red": Text("红色（高风险）", "Red (very high)"),
    "purple": Text("紫色（传染病）", "Purple (infectious disease)"),
}
EDD_SOURCES = {
    "lmp": Text("末次月经", "LMP"),
    "ultrasound": Text("B超", "Ultrasound"),
    "other": Text("其他", "Other"),
}
COLOURS_SHORT = {
    "green": Text("绿色", "Green"),
    "yellow": Text("黄色", "Yellow"),
    "orange": Text("橙色", "Orange"),
    "red": Text("红色", "Red"),
    "purple": Text("紫色", "Purple"),
}
VISIT_KINDS = {
    "home": Text("入户访视", "Home visit"),
    "township": Text("乡级访视", "Township visit"),
    "check": Text("产前检查（已参加）", "Standard check attended"),
    "phone": Text("电话随访", "Phone follow-up"),
    "urged": Text("督促产检", "Urged to attend a check"),
}
OUTCOME_TYPES = {
    "live_birth": Text("活产", "Live birth"),
    "stillbirth": Text("死胎死产", "Stillbirth"),
    "spontaneous_abortion": Text("自然流产", "Miscarriage"),
    "induced_abortion": Text("人工流产", "Induced abortion"),
    "termination": Text("中期引产", "Mid-term termination"),
    "ectopic": Text("异位妊娠", "Ectopic pregnancy"),
    "molar": Text("葡萄胎", "Molar pregnancy"),
    "maternal_death": Text("孕产妇死亡", "Maternal death"),
}
MILESTONES = {
    "1w": Text("1周", "1 week"),
    "2w": Text("2周", "2 weeks"),
    "1m": Text("满月", "1 month"),
    "3m": Text("3个月", "3 months"),
    "6m": Text("6个月", "6 months"),
    "12m": Text("12个月", "12 months"),
    "42d": Text("产后42天", "42 days"),
    "loss": Text("流产后关怀", "Care after loss"),
    "extra": Text("其他访视", "Extra visit"),
}
CLOSURES = {
    "transferred": Text("转至他村", "Transferred"),
    "moved_out": Text("迁出", "Moved out"),
    "lost": Text("失访", "Lost to follow-up"),
    "died": Text("死亡", "Died"),
    "completed": Text("随访结束", "Follow-up completed"),
}
SEXES = {
    "1": Text("男婴", "boy"),
    "2": Text("女婴", "girl"),
    "0": Text("性别不明", "sex unknown"),
    "9": Text("性别未说明", "sex not stated"),
}
SUBJECTS = {"mother": Text("产妇", "mother"), "baby": Text("婴儿", "baby")}
CORRECTION_KINDS = {
    "amend": Text("更正", "Amended"),
    "void": Text("作废", "Voided"),
    "edit": Text("修改登记", "Registration edited"),
}
RECORDS = {
    "prenatal_visit": Text("产前随访", "Prenatal visit"),
    "postnatal_visit": Text("产后访视", "Postnatal visit"),
    "outcome": Text("妊娠结局", "Outcome"),
    "risk_grade": Text("风险分级", "Risk grade"),
    "closure": Text("结案/转村", "Closure or transfer"),
    "woman": Text("孕产妇信息", "The woman"),
    "pregnancy": Text("妊娠信息", "The pregnancy"),
}
# Every field a form or the correction form shows, by its form name (DOMAIN.md §3 terms).
FIELDS = {
    "name": Text("姓名", "Name"),
    "id_number": Text("身份证号", "ID number"),
    "birth_date": Text("出生日期", "Birth date"),
    "phone": Text("手机号", "Mobile"),
    "village_code": Text("所在村", "Village"),
    "address": Text("住址", "Address"),
    "registered_on": Text("登记日期", "Registration date"),
    "lmp": Text("末次月经", "LMP"),
    "edd": Text("预产期", "EDD"),
    "edd_source": Text("预产期依据", "EDD from"),
    "gravidity": Text("孕次", "Gravidity"),
    "parity": Text("产次", "Parity"),
    "colour": Text("风险颜色", "Risk colour"),
    "purple": Text("紫色（传染病）", "Purple (infectious disease)"),
    "assessed_on": Text("评估日期", "Date graded"),
    "factors": Text("高危因素", "Risk factors"),
    "visited_on": Text("访视日期", "Visit date"),
    "kind": Text("类型", "Kind"),
    "check_no": Text("第几次产检", "Standard check"),
    "facility": Text("检查机构", "Facility"),
    "bp_systolic": Text("收缩压", "Systolic BP"),
    "bp_diastolic": Text("舒张压", "Diastolic BP"),
    "weight_kg": Text("体重（千克）", "Weight (kg)"),
    "fundal_height_cm": Text("宫高（厘米）", "Fundal height (cm)"),
    "fetal_heart_bpm": Text("胎心率", "Fetal heart rate"),
    "danger_signs": Text("危险征象", "Danger signs"),
    "advice": Text("指导意见", "Advice given"),
    "next_on": Text("下次随访日期", "Next visit"),
    "outcome_on": Text("结局日期", "Outcome date"),
    "outcome_type": Text("结局", "Outcome"),
    "place": Text("分娩地点", "Place of delivery"),
    "mode": Text("分娩方式", "Mode of delivery"),
    "discharge_on": Text("出院日期", "Discharge date"),
    "n_babies": Text("婴儿数", "Number of babies"),
    "babies": Text("婴儿", "Babies"),
    "sex": Text("性别", "Sex"),
    "weight_g": Text("出生体重", "Birth weight"),
    "alive": Text("出生时", "At birth"),
    "milestone": Text("本次访视属于", "Milestone"),
    "covers_mother": Text("访视对象", "Who was seen"),
    "infant_id": Text("婴儿", "Baby"),
    "mother_temperature_c": Text("产妇体温", "Mother's temperature"),
    "mother_bp_systolic": Text("产妇收缩压", "Mother's systolic BP"),
    "mother_bp_diastolic": Text("产妇舒张压", "Mother's diastolic BP"),
    "breasts": Text("乳房", "Breasts"),
    "lochia": Text("恶露", "Lochia"),
    "wound": Text("伤口", "Wound"),
    "mood": Text("情绪", "Mood"),
    "infant_weight_g": Text("婴儿体重（克）", "Baby's weight (g)"),
    "infant_temperature_c": Text("婴儿体温", "Baby's temperature"),
    "jaundice": Text("黄疸", "Jaundice"),
    "feeding": Text("喂养方式", "Feeding"),
    "umbilicus": Text("脐带", "Umbilicus"),
    "notes": Text("备注", "Notes"),
    "closed_on": Text("日期", "Date"),
    "reason": Text("原因", "Reason"),
    "changes": Text("新的值", "New values"),
    "to_village_code": Text("转入村", "Village moved to"),
    "cadre_id": Text("负责专干", "Responsible cadre"),
    "pregnancy_id": Text("个案", "Case"),
    "target_type": Text("记录类型", "Record type"),
    "id": Text("记录编号", "Record identifier"),
    "woman_id": Text("孕产妇编号", "Woman identifier"),
    "current_password": Text("当前密码", "Current password"),
    "new_password": Text("新密码", "New password"),
    "password": Text("密码", "Password"),
}
_BABY_FIELD = re.compile(r"babies-(\d+)-(\w+)")
FEEDING = {
    "breast": Text("纯母乳", "Exclusive breastfeeding"),
    "mixed": Text("混合喂养", "Mixed"),
    "formula": Text("人工喂养", "Formula"),
}
PLACES = {
    "hospital": Text("医院", "Hospital"),
    "township_hc": Text("乡镇卫生院", "Township health centre"),
    "home": Text("家中", "Home"),
    "on_the_way": Text("途中", "On the way"),
    "other": Text("其他", "Other"),
}
MODES = {
    "vaginal": Text("顺产", "Vaginal"),
    "assisted": Text("助产", "Assisted"),
    "caesarean": Text("剖宫产", "Caesarean"),
}

CATALOGUE = {
    "kind": ITEM_KINDS,
    "state": STATES,
    "colour": COLOURS,
    "colour_short": COLOURS_SHORT,
    "visit": VISIT_KINDS,
    "outcome": OUTCOME_TYPES,
    "milestone": MILESTONES,
    "closure": CLOSURES,
    "sex": SEXES,
    "feeding": FEEDING,
    "place": PLACES,
    "mode": MODES,
    "subject": SUBJECTS,
    "edd_source": EDD_SOURCES,
    "correction": CORRECTION_KINDS,
    "record": RECORDS,
    "field": FIELDS,
}


def field_label(name: str, locale: str = "zh") -> str:
    """The label of a form field, including the correction form's `new-<field>` and the outcome form's
    `babies-<i>-<field>` ("第2个婴儿：出生体重")."""
    name = name.removeprefix("new-")
    if match := _BABY_FIELD.fullmatch(name):
        n, inner = int(match.group(1)) + 1, FIELDS.get(match.group(2))
        text = inner.in_(locale) if inner else match.group(2)
        return f"Baby {n}: {text}" if locale == "en" else f"第{n}个婴儿：{text}"
    text = FIELDS.get(name)
    return text.in_(locale) if text else name


def label(category: str, key: str | None, locale: str = "zh") -> str:
    """The zh/en name of a code (the code itself when unknown, so nothing is ever blank)."""
    if key is None:
        return ""
    if category == "field":
        return field_label(key, locale)
    text = CATALOGUE.get(category, {}).get(key)
    return text.in_(locale) if text else key


@cache
def names(locale: str) -> dict[str, dict[str, str]]:
    """Every code's name in one language, category by category: long lists (Today) look names up in these
    tables instead of calling `label` once per line."""
    return {
        category: {key: text.in_(locale) for key, text in table.items()}
        for category, table in CATALOGUE.items()
    }
