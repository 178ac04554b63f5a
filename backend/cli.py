"""The `suifang` command: run, migrate, demo, create-user, import-areas, alerts run, vapid, schedule
replan."""

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from backend import migrate
    from backend.db import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    return engine


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from backend.app import create_app

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": True,
        "server_header": False,
    }
    if args.workers > 1:
        # Several processes share nothing but the database (sessions and alert locks live there), so each
        # builds its own app from the environment; migrate once here, before they start.
        _engine(settings).dispose()
        uvicorn.run("backend.cli:app_from_env", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def app_from_env() -> "Litestar":
    """The app of one worker process of `suifang run --workers N` (migrations already run)."""
    from backend.app import create_app

    return create_app(Settings.from_env(), run_migrations=False)


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    _engine(settings)
    print("database is at the latest migration")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from backend.demo import seed_demo

    engine = _engine(settings)
    logins = seed_demo(engine, settings, seed=args.seed, reset=args.reset)
    if logins is None:
        print("demo data already present (use --reset to seed again)")
        from backend.demo import DEMO_LOGINS_NOTE

        print(DEMO_LOGINS_NOTE)
        return 0
    print("demo county seeded. Sign in with:")
    for role, name, phone, password in logins:
        print(f"  {role:9} {name:8} phone {phone}  password {password}")
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import Session

    from backend.accounts.services import create_user
    from backend.lib.i18n import ValidationFailed

    engine = _engine(settings)
    with Session(engine) as db:
        try:
            create_user(
                db,
                phone=args.phone,
                name=args.name,
                password=args.password,
                role=args.role,
                area_codes=args.area,
            )
        except (ValidationFailed, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        db.commit()
    print(f"user {args.name} created")
    return 0


def cmd_import_areas(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import Session

    from backend.areas.services import AreaImportError, import_areas

    engine = _engine(settings)
    with Path(args.csv).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    with Session(engine) as db:
        try:
            added, updated = import_areas(db, rows)
        except AreaImportError as exc:
            for problem in exc.problems:
                print(f"line {problem.line}: {problem.text.zh} / {problem.text.en}", file=sys.stderr)
            print("nothing was imported", file=sys.stderr)
            return 2
        db.commit()
    print(f"{added} areas added, {updated} updated")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suifang", description="随访 Suifang — follow-up of pregnant women and newborns"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the app")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=1, help="server processes (about one per core)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="upgrade the database to the latest migration").set_defaults(
        func=cmd_migrate
    )
    demo = sub.add_parser("demo", help="seed a fictional county with demo data and print the logins")
    demo.add_argument("--seed", type=int, default=20261123)
    demo.add_argument("--reset", action="store_true", help="wipe the database first")
    demo.set_defaults(func=cmd_demo)
    cu = sub.add_parser("create-user", help="create a user")
    cu.add_argument("--phone", required=True)
    cu.add_argument("--name", required=True)
    cu.add_argument("--password", required=True)
    cu.add_argument("--role", required=True, choices=["village", "township", "county"])
    cu.add_argument("--area", action="append", required=True, help="12-digit area code (repeatable)")
    cu.set_defaults(func=cmd_create_user)
    ia = sub.add_parser("import-areas", help="import or update areas from a CSV of code,name")
    ia.add_argument("csv")
    ia.set_defaults(func=cmd_import_areas)
    from backend.alerts.commands import add_commands as add_alert_commands

    add_alert_commands(sub)  # alerts run, vapid
    from backend.cases.commands import add_commands as add_schedule_commands

    add_schedule_commands(sub)  # schedule replan
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
