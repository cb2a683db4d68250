"""The optional parts of the package say in one line what to install.

>>> require("made.pipeline", "pipeline", ["json"])  # present: nothing happens
"""

from __future__ import annotations

import importlib.util


def require(part: str, extra: str, modules: list[str]) -> None:
    """ModuleNotFoundError, in one line naming the extra to install, when any
    of ``modules`` cannot be imported here (not installed)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent that cannot be imported, or a broken entry
            found = False
        if not found:
            missing.append(name)
    if missing:
        error = ModuleNotFoundError(f"{part} needs {', '.join(missing)}, which the '{extra}' extra installs: "
                                    f'pip install -e ".[{extra}]"')
        error.name = missing[0]
        raise error
