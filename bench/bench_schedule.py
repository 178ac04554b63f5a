"""Benchmark of the follow-up schedule: a county's worth of pregnancies and infants, states at one date.

The bar (issue): states of every due item for 6,000 pregnancies and infants at one date in under 100 ms.
Run: .venv/bin/python bench/bench_schedule.py [--pregnancies 6000] [--runs 7] [--seed 2026]
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from backend.schedule import (
    InfantFact,
    Item,
    OutcomeFact,
    PostnatalVisitFact,
    PregnancyFacts,
    PrenatalVisitFact,
    RiskFact,
    Rules,
    load_rules,
    plan_items,
    state_of,
)

AS_OF = date(2026, 6, 15)
LOSSES = ("spontaneous_abortion", "induced_abortion", "termination", "ectopic", "molar")
days = timedelta


def new_id(rnd: random.Random) -> uuid.UUID:
    """Ids from the seeded generator, so two runs with one seed see the same data."""
    return uuid.UUID(int=rnd.getrandbits(128), version=4)


def make_county(n: int, rnd: random.Random, rules: Rules) -> list[PregnancyFacts]:
    """`n` pregnancies at every stage on AS_OF: just registered, mid-pregnancy, overdue for an outcome, lost,
    delivered with babies up to nine months old, moved out or lost to follow-up; most visits done, some
    not."""
    return [make_pregnancy(rnd, rules) for _ in range(n)]


def make_pregnancy(rnd: random.Random, rules: Rules) -> PregnancyFacts:
    lmp = AS_OF - days(rnd.randint(40, 560))
    registered = lmp + days(rnd.choice((rnd.randint(42, 90), rnd.randint(42, 90), rnd.randint(60, 200))))
    if registered > AS_OF:
        registered = AS_OF
    edd = lmp + days(280 if rnd.random() < 0.8 else 280 + rnd.randint(-10, 10))
    high_from = registered + days(rnd.randint(0, 200)) if rnd.random() < 0.2 else None
    risks = [RiskFact(on=registered, high=False)]
    if high_from is not None and high_from <= AS_OF:
        risks.append(RiskFact(on=high_from, high=True))

    outcome = draw_outcome(rnd, lmp, registered)
    closed_on, closed_kind = None, None
    if outcome is not None and outcome.type == "maternal_death":
        closed_on, closed_kind = outcome.on, "died"
    elif rnd.random() < 0.05:
        closed_on = registered + days(rnd.randint(10, 300))
        closed_kind = rnd.choice(("moved_out", "lost"))
        if closed_on > AS_OF:
            closed_on, closed_kind = None, None
        elif outcome is not None and closed_on < outcome.on:
            outcome = None
    stop = min(d for d in (AS_OF, outcome.on if outcome else None, closed_on) if d is not None)

    visits = chain_visits(rnd, registered, stop, 30, 0.85, "home", high_from)
    visits += chain_visits(rnd, registered, stop, 60, 0.7, "township", None)
    for n, (lo, hi) in enumerate(rules.checks, start=1):
        on = lmp + days(rnd.randint(lo, hi))
        if registered <= on <= stop and rnd.random() < 0.8:
            visits.append(PrenatalVisitFact(on=on, kind="check", check_no=n, id=new_id(rnd)))
    for _ in range(rnd.randint(0, 3)):
        on = registered + days(rnd.randint(0, max(0, (stop - registered).days)))
        visits.append(PrenatalVisitFact(on=on, kind=rnd.choice(("phone", "urged")), id=new_id(rnd)))

    infants: list[InfantFact] = []
    postnatal: list[PostnatalVisitFact] = []
    if outcome is not None and outcome.type in ("live_birth", "stillbirth"):
        babies = 2 if rnd.random() < 0.015 else 1
        for _ in range(babies):
            alive = outcome.type == "live_birth"
            death = outcome.on + days(rnd.randint(0, 120)) if alive and rnd.random() < 0.01 else None
            infants.append(
                InfantFact(
                    id=new_id(rnd),
                    alive_at_birth=alive,
                    high_risk=rnd.random() < 0.08,
                    death_on=death if death is not None and death <= AS_OF else None,
                )
            )
        postnatal = postnatal_visits(rnd, outcome, infants, closed_on, rules)
    elif outcome is not None and outcome.type in LOSSES and rnd.random() < 0.8:
        on = outcome.on + days(rnd.randint(3, 18))
        if on <= AS_OF:
            postnatal = [PostnatalVisitFact(on=on, milestone="loss", covers_mother=True, id=new_id(rnd))]

    return PregnancyFacts(
        registered_on=registered,
        edd=edd,
        lmp=lmp if rnd.random() < 0.9 else None,
        risks=risks,
        prenatal_visits=visits,
        outcome=outcome,
        infants=infants,
        postnatal_visits=postnatal,
        closed_on=closed_on,
        closed_kind=closed_kind,
    )


def draw_outcome(rnd: random.Random, lmp: date, registered: date) -> OutcomeFact | None:
    roll = rnd.random()
    if roll < 0.08:
        kind, ga = rnd.choice(LOSSES), rnd.randint(50, 150)
    elif roll < 0.085:
        kind, ga = "stillbirth", rnd.randint(196, 290)
    elif roll < 0.0855:
        kind, ga = "maternal_death", rnd.randint(150, 290)
    else:
        kind, ga = "live_birth", rnd.randint(250, 294)
    on = max(lmp + days(ga), registered)
    # Outcomes are recorded a few days late, and a few are still unrecorded long after the EDD.
    if on + days(rnd.randint(0, 10)) > AS_OF or rnd.random() < 0.02:
        return None
    discharge = on + days(rnd.randint(1, 6)) if kind == "live_birth" and rnd.random() < 0.9 else None
    return OutcomeFact(on=on, type=kind, discharge_on=discharge)


def chain_visits(
    rnd: random.Random,
    registered: date,
    stop: date,
    interval: int,
    p: float,
    kind: str,
    high_from: date | None,
) -> list[PrenatalVisitFact]:
    """A cadre who mostly comes around the due date, sometimes late, sometimes not at all."""
    visits: list[PrenatalVisitFact] = []
    anchor = registered
    while True:
        step = 14 if high_from is not None and anchor >= high_from and kind == "home" else interval
        on = anchor + days(step + rnd.randint(-6, 9))
        if on > stop:
            return visits
        if rnd.random() < p:
            visits.append(PrenatalVisitFact(on=on, kind=kind, id=new_id(rnd)))
            anchor = on
        else:
            anchor += days(step)


def postnatal_visits(
    rnd: random.Random, outcome: OutcomeFact, infants: list[InfantFact], closed_on: date | None, rules: Rules
) -> list[PostnatalVisitFact]:
    birth, anchor = outcome.on, outcome.discharge_on or outcome.on
    end = min(d for d in (AS_OF, closed_on) if d is not None)
    out = []
    # A visit to a newborn usually also sees the mother, at one week.
    planned = [("1w", anchor + days(rnd.randint(1, 9)))]
    for name, w in rules.infant_milestones:
        planned.append((name, birth + days(rnd.randint(w.start - 2, w.end + 5))))
    for name, on in planned:
        if on > end or rnd.random() > 0.85:
            continue
        live = [b for b in infants if b.alive_at_birth and (b.death_on is None or on <= b.death_on)]
        for baby in live:
            out.append(
                PostnatalVisitFact(
                    on=on, milestone=name, infant_id=baby.id, covers_mother=name == "1w", id=new_id(rnd)
                )
            )
        if not live and name == "1w":
            out.append(PostnatalVisitFact(on=on, milestone=name, covers_mother=True, id=new_id(rnd)))
    m42 = birth + days(rnd.randint(40, 60))
    if m42 <= end and rnd.random() < 0.8:
        out.append(PostnatalVisitFact(on=m42, milestone="42d", covers_mother=True, id=new_id(rnd)))
    return out


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def median_ms(run: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pregnancies", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rules = load_rules()
    rnd = random.Random(args.seed)
    county = make_county(args.pregnancies, rnd, rules)
    items: list[Item] = [i for facts in county for i in plan_items(facts, rules)]

    def states_only() -> list[object]:
        return [state_of(i, AS_OF) for i in items]

    def plan_and_states() -> list[object]:
        return [state_of(i, AS_OF) for facts in county for i in plan_items(facts, rules)]

    states_ms, states_all = median_ms(states_only, args.runs)
    full_ms, full_all = median_ms(plan_and_states, args.runs)

    infants = sum(1 for facts in county for b in facts.infants if b.alive_at_birth)
    by_state = Counter(state_of(i, AS_OF) for i in items)
    print(f"machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs")
    print(f"python:  {sys.version.split()[0]} ({platform.python_implementation()})")
    print(f"data:    {len(county)} pregnancies, {infants} live-born infants, {len(items)} items")
    print(f"as of:   {AS_OF}")
    print("states:  " + ", ".join(f"{s.value} {n}" for s, n in sorted(by_state.items())))
    print(f"(a) states of all materialised items at one date: median {states_ms:.1f} ms of {args.runs} runs")
    print(f"    runs: {', '.join(f'{t:.1f}' for t in states_all)}")
    print(f"(b) plan every pregnancy + states at one date:    median {full_ms:.1f} ms of {args.runs} runs")
    print(f"    runs: {', '.join(f'{t:.1f}' for t in full_all)}")
    print(
        f"bar: (a) under 100 ms: {'yes' if states_ms < 100 else 'NO'}; (b) under 100 ms: "
        f"{'yes' if full_ms < 100 else 'NO'}"
    )


if __name__ == "__main__":
    main()
