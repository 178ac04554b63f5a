"""Names of the domain's codes in Chinese and English, for pages and exports."""

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
    "mother_1w": Text("产后1周访视", "Postnatal visit, 1 week"),
    "mother_42d": Text("产后42天检查", "42-day postnatal check"),
    "loss_care": Text("流产后关怀", "Care after pregnancy loss"),
    "infant_1w": Text("新生儿1周访视", "Newborn visit, 1 week"),
    "infant_2w": Text("新生儿2周访视", "Newborn visit, 2 weeks"),
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
SEXES = {"1": Text("男婴", "boy"), "2": Text("女婴", "girl"), "0": Text("性别不明", "sex unknown"),
         "9": Text("性别未说明", "sex not stated")}
FEEDING = {"breast": Text("纯母乳", "Exclusive breastfeeding"), "mixed": Text("混合喂养", "Mixed"),
           "formula": Text("人工喂养", "Formula")}
PLACES = {"hospital": Text("医院", "Hospital"), "township_hc": Text("乡镇卫生院", "Township health centre"),
          "home": Text("家中", "Home"), "on_the_way": Text("途中", "On the way"), "other": Text("其他", "Other")}
MODES = {"vaginal": Text("顺产", "Vaginal"), "assisted": Text("助产", "Assisted"),
         "caesarean": Text("剖宫产", "Caesarean")}

CATALOGUE = {
    "kind": ITEM_KINDS, "state": STATES, "colour": COLOURS, "visit": VISIT_KINDS, "outcome": OUTCOME_TYPES,
    "milestone": MILESTONES, "closure": CLOSURES, "sex": SEXES, "feeding": FEEDING, "place": PLACES, "mode": MODES,
}


def label(category: str, key: str | None, locale: str = "zh") -> str:
    if key is None:
        return ""
    text = CATALOGUE.get(category, {}).get(key)
    return text.in_(locale) if text else key
