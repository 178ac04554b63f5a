"""The periodic alert job inside the app process (being built: issue 5)."""

from typing import Any


async def start(app: Any) -> None:
    """Start the in-process alert job when settings ask for it."""


async def stop(app: Any) -> None:
    """Stop the in-process alert job."""
