"""One Settings object, read from the environment (SUIFANG_* variables, `*_FILE` secrets)."""

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105  (refused in production)


def _env(name: str, default: str | None = None) -> str | None:
    """Read SUIFANG_<NAME>, or the file named by SUIFANG_<NAME>_FILE (Docker/K8s secrets)."""
    path = os.environ.get(f"SUIFANG_{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get(f"SUIFANG_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know about its deployment. Build with `Settings.from_env()`."""

    data_dir: Path = Path("data")
    """Where the SQLite database, VAPID keys and generated secrets live (SUIFANG_DATA_DIR, default ./data)."""

    database_url: str = ""
    """SQLAlchemy URL (DATABASE_URL). Empty means SQLite in WAL mode at `<data_dir>/suifang.db`."""

    secret_key: str = DEV_SECRET
    """Root of the ID-number encryption and blind-index keys (SUIFANG_SECRET_KEY)."""

    environment: str = "development"
    """`development`, `test` or `production`. Production refuses weak secrets and sets Secure cookies."""

    timezone: str = "Asia/Shanghai"
    """Local time zone: a day changes at local midnight here (SUIFANG_TIMEZONE)."""

    session_days: int = 60
    """How long a sign-in lasts on a phone, so offline work survives (SUIFANG_SESSION_DAYS)."""

    push_contact: str = "mailto:ops@suifang.example.cn"
    """VAPID `sub`: a real mailto: or https: address of the operator (SUIFANG_PUSH_CONTACT)."""

    vapid_private_key: str | None = None
    """PEM of the VAPID key; default: generated on first start into the data directory."""

    push_allowed_hosts: tuple[str, ...] = ()
    """Extra push-service origins accepted for subscriptions (tests add a loopback receiver)."""

    alert_send_time: str = "08:00"
    """Local time of the daily digest (SUIFANG_ALERT_SEND_TIME)."""

    quiet_hours: tuple[str, str] = ("21:00", "07:00")
    """No push is sent between these local times."""

    escalation_days: int = 7
    """A supervisor hears of items overdue by more than this many days."""

    coverage_target: float = 0.95
    """Villages below this coverage are highlighted."""

    run_alert_job: bool = True
    """Run the alert job inside the app process (turn off when cron runs `suifang alerts run`)."""

    freeze_gc_at_startup: bool = False
    """Move everything alive once the app has started into the GC's permanent generation (gc.freeze), so full
    collections stop walking the framework's long-lived objects: it removes ~100 ms pauses from heavy pages.
    On in deployments (SUIFANG_FREEZE_GC, default 1); off for test apps (many start in one process)."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url.removeprefix("postgres://")
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'suifang.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production"

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls) -> "Settings":
        environment = _env("ENV", "development") or "development"
        data_dir = Path(_env("DATA_DIR", "data") or "data")
        secret = _env("SECRET_KEY")
        if not secret:
            if environment == "production":
                raise SystemExit("SUIFANG_SECRET_KEY (or SUIFANG_SECRET_KEY_FILE) must be set in production")
            secret = _local_secret(data_dir)
        if environment == "production" and (secret == DEV_SECRET or len(secret) < 32):
            raise SystemExit(
                "SUIFANG_SECRET_KEY is too weak for production: use at least 32 random characters"
            )
        hosts = tuple(h.strip() for h in (_env("PUSH_ALLOWED_HOSTS", "") or "").split(",") if h.strip())
        quiet = (_env("QUIET_HOURS", "21:00-07:00") or "21:00-07:00").split("-")
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL", ""),
            secret_key=secret,
            environment=environment,
            timezone=_env("TIMEZONE", "Asia/Shanghai") or "Asia/Shanghai",
            session_days=int(_env("SESSION_DAYS", "60") or 60),
            push_contact=_env("PUSH_CONTACT", cls.push_contact) or cls.push_contact,
            vapid_private_key=_env("VAPID_PRIVATE_KEY"),
            push_allowed_hosts=hosts,
            alert_send_time=_env("ALERT_SEND_TIME", "08:00") or "08:00",
            quiet_hours=(quiet[0], quiet[1]) if len(quiet) == 2 else ("21:00", "07:00"),
            escalation_days=int(_env("ESCALATION_DAYS", "7") or 7),
            coverage_target=float(_env("COVERAGE_TARGET", "0.95") or 0.95),
            run_alert_job=(_env("RUN_ALERT_JOB", "1") or "1") not in ("0", "false", "no"),
            freeze_gc_at_startup=(_env("FREEZE_GC", "1") or "1") not in ("0", "false", "no"),
        )


def _local_secret(data_dir: Path) -> str:
    """Outside production, keep a random secret in the data directory so restarts can still decrypt."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value
