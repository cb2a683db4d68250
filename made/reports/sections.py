"""Named sections of a report: each part between two markers::

    <!-- generated: figure2-table -->
    ...
    <!-- end generated: figure2-table -->

so that a reader (or a test) finds a report's parts by name.

>>> sections_of("a\\n" + section("x", "body") + "b\\n")
{'x': 'body\\n'}
"""

from __future__ import annotations

import re

_SECTION = re.compile(r"<!-- generated: (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- end generated: (?P=name) -->\n?",
                      re.S)


def section(name: str, body: str) -> str:
    """``body`` between the markers of section ``name`` (a trailing newline added)."""
    body = body if body.endswith("\n") else body + "\n"
    return f"<!-- generated: {name} -->\n{body}<!-- end generated: {name} -->\n"


def sections_of(text: str) -> dict[str, str]:
    """Every section of a text, by name: its body without the markers."""
    return {m["name"]: m["body"] for m in _SECTION.finditer(text)}
