// Suifang forms: small helpers while typing. Every form works without this module; it only shows the
// gestational age at registration live, shows the parts of a form that apply, and proposes the milestone due.

const DAY = 86400000;

function utcDay(iso) {
  // "2026-11-23" → days since 1970 (UTC, so no daylight-saving hour shifts a day)
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) / DAY : null;
}

function formatDay(days, locale) {
  const d = new Date(days * DAY);
  const [y, mo, da] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  if (locale === "en") {
    const month = d.toLocaleString("en", { month: "short", timeZone: "UTC" });
    return `${da} ${month} ${y}`;
  }
  return `${y}年${mo}月${da}日`;
}

export function formatGa(days, locale) {
  const weeks = Math.floor(days / 7);
  const rest = days - weeks * 7;
  return locale === "en" ? `${weeks}+${rest} weeks` : `孕${weeks}+${rest}周`;
}

// Early booking (早孕建册): registered at 12+6 weeks or earlier.
export const EARLY_BOOKING_LAST_DAY = 12 * 7 + 6;

export function gaAtRegistration(lmpIso, eddIso, registeredIso) {
  const registered = utcDay(registeredIso);
  let lmp = utcDay(lmpIso);
  if (lmp === null && utcDay(eddIso) !== null) lmp = utcDay(eddIso) - 280;
  if (registered === null || lmp === null) return null;
  return { days: registered - lmp, edd: utcDay(eddIso) ?? lmp + 280 };
}

function showGaLive(form) {
  const out = form.querySelector("#ga-live");
  if (!out) return;
  const value = (name) => form.elements.namedItem(name)?.value || "";
  const update = () => {
    const ga = gaAtRegistration(value("lmp"), value("edd"), value("registered_on"));
    const locale = out.dataset.locale;
    if (!ga || ga.days < 0 || ga.days > 45 * 7) {
      out.textContent = "";
      return;
    }
    let text = `${out.dataset.label}：${formatGa(ga.days, locale)}`;
    if (ga.days <= EARLY_BOOKING_LAST_DAY) text += ` · ${out.dataset.early}`;
    text += ` · ${out.dataset.edd} ${formatDay(ga.edd, locale)}`;
    out.textContent = text;
  };
  for (const name of ["lmp", "edd", "registered_on"]) {
    form.elements.namedItem(name)?.addEventListener("input", update);
  }
  update();
}

function currentValue(form, name) {
  const control = form.elements.namedItem(name);
  if (!control) return null;
  if (control instanceof RadioNodeList) return control.value;
  return control.value;
}

// <div data-when-kind="check urged">: shown (and its inputs sent) only while the control `kind` has one of
// those values.
function showWhatApplies(form) {
  const parts = [...form.querySelectorAll("*")].flatMap((el) =>
    Object.keys(el.dataset)
      .filter((k) => k.startsWith("when") && k.length > 4)
      .map((k) => ({ el, name: k.slice(4).replace(/^./, (c) => c.toLowerCase()), values: el.dataset[k].split(" ") })),
  );
  const update = () => {
    for (const { el, name, values } of parts) {
      const on = values.includes(currentValue(form, name));
      el.hidden = !on;
      for (const input of el.querySelectorAll("input, select, textarea")) input.disabled = !on;
    }
  };
  form.addEventListener("change", update);
  update();
}

// The outcome form: as many baby fieldsets as babies; a stillbirth's babies are stillborn.
function showBabies(form) {
  const count = form.elements.namedItem("n_babies");
  const type = form.elements.namedItem("outcome_type");
  if (!count || !type) return;
  const fieldsets = [...form.querySelectorAll("fieldset.baby")];
  const update = () => {
    const births = ["live_birth", "stillbirth"].includes(type.value);
    const n = parseInt(count.value, 10) || 1;
    fieldsets.forEach((fs, i) => {
      const on = births && i < n;
      fs.hidden = !on;
      fs.disabled = !on;
    });
  };
  type.addEventListener("change", () => {
    if (type.value === "stillbirth" || type.value === "live_birth") {
      for (const alive of form.querySelectorAll("select[name$='-alive']")) {
        alive.value = type.value === "stillbirth" ? "0" : "1";
      }
    }
    update();
  });
  count.addEventListener("change", update);
  update();
}

// The postnatal form proposes the milestone due for whoever is chosen, and shows the parts that apply.
function proposeMilestone(form) {
  const milestone = form.elements.namedItem("milestone");
  const mother = form.querySelector("input[name='covers_mother']");
  const baby = form.elements.namedItem("infant_id");
  if (!milestone || !mother) return;
  const motherPart = form.querySelector("[data-part='mother']");
  const babyPart = form.querySelector("[data-part='baby']");
  const propose = (due) => {
    if (due && [...milestone.options].some((o) => o.value === due)) milestone.value = due;
  };
  const showParts = () => {
    const withBaby = Boolean(baby && baby.value);
    const both = !mother.checked && !withBaby;
    if (motherPart) motherPart.hidden = !(mother.checked || both);
    if (babyPart) babyPart.hidden = !(withBaby || both);
  };
  baby?.addEventListener("change", () => {
    propose(baby.selectedOptions[0]?.dataset.milestone || (mother.checked ? mother.dataset.milestone : ""));
    showParts();
  });
  mother.addEventListener("change", () => {
    if (mother.checked && !(baby && baby.value)) propose(mother.dataset.milestone);
    showParts();
  });
  showParts();
}

function enhance(form) {
  showGaLive(form);
  showWhatApplies(form);
  showBabies(form);
  proposeMilestone(form);
}

for (const form of document.querySelectorAll("form.record-form")) enhance(form);
