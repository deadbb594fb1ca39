"""The harness's errors: one root, and one rule for what is missing here.

Every error the harness raises on purpose derives from ``LabError`` and
carries a message written for the user (what is wrong and how to fix it);
the command lines print it as one line, never a traceback.

Something the run needs but this machine lacks (an interpreter, a Docker
engine, a broker, a browser) is ``Unavailable``. Whether that skips or fails
is decided in one place, ``must_run``: under CI (``CI=true``) everything the
project's own CI installs must be there, so a missing piece fails; elsewhere
the cell or test is skipped with the reason printed.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional


class LabError(Exception):
    """Root of the harness's own errors; ``str()`` is the message for the user."""


class Unavailable(LabError):
    """Something this run needs is not on this machine: ``what``, and ``fix`` to get it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}" if fix else what)
        self.what = what
        self.fix = fix


def must_run(env: Optional[Mapping[str, str]] = None) -> bool:
    """True under CI (``CI=true``): what is unavailable fails instead of skipping."""
    return (os.environ if env is None else env).get("CI") == "true"
