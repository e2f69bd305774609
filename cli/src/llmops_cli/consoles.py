"""The one place the CLI makes its rich consoles.

On a terminal rich wraps to its width, as it should. Anywhere else (a log file, CI, ``make run > file``, a
pipe) there is no width to fit, and wrapping would cut URLs and commands mid-token where nobody can copy them
back together: printed text is never wrapped there (``soft_wrap``), and tables, which must be laid out to some
width, get :data:`PLAIN_WIDTH` columns unless ``COLUMNS`` says otherwise.
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console

__all__ = ["PLAIN_WIDTH", "make_console"]

PLAIN_WIDTH = 200


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console on stdout (or stderr, or ``file``) that wraps only when it writes to a terminal."""
    console = Console(stderr=stderr, file=file)
    if not console.is_terminal:
        console.soft_wrap = True
        if not os.environ.get("COLUMNS"):
            console.width = PLAIN_WIDTH
    return console
