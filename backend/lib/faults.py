"""Faults told to the log without personal data (DOMAIN.md §7: no name, ID number or phone in logs)."""

import traceback
from pathlib import Path


def fault(exc: BaseException) -> str:
    """An exception for the log without its message, which may quote what a user typed (a database error
    lists its parameters: names, phone numbers): the type and where each frame of our code was."""
    frames = [
        f"{Path(f.filename).name}:{f.lineno}"
        for f in traceback.extract_tb(exc.__traceback__)
        if "site-packages" not in f.filename
    ]
    return f"{type(exc).__name__} at {' < '.join(reversed(frames[-6:]))}"
