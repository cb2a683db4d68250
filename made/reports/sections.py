"""Generated sections: the prose of README.md and results/README.md that states results.

A report writes each part a README quotes between two markers::

    <!-- generated: figure2-table -->
    ...
    <!-- end generated: figure2-table -->

and :func:`update_readmes` copies every such section of the reports
(``<results>/*.md``) into the READMEs' sections of the same name, so a
README never holds a number that a report did not write.  A README section
whose report is not there yet keeps what it has and is listed as not filled.

>>> text = "a\\n" + section("x", "old") + "b\\n"
>>> fill(text, {"x": "new\\n"})[0] == "a\\n" + section("x", "new") + "b\\n"
True
"""

from __future__ import annotations

import re
from pathlib import Path

from ..io import write_text

_SECTION = re.compile(r"<!-- generated: (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- end generated: (?P=name) -->\n?",
                      re.S)


def section(name: str, body: str) -> str:
    """``body`` between the markers of section ``name`` (a trailing newline added)."""
    body = body if body.endswith("\n") else body + "\n"
    return f"<!-- generated: {name} -->\n{body}<!-- end generated: {name} -->\n"


def sections_of(text: str) -> dict[str, str]:
    """Every section of a text, by name: its body without the markers."""
    return {m["name"]: m["body"] for m in _SECTION.finditer(text)}


def fill(text: str, sections: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with the body of each of its sections that ``sections`` has
    replaced; and the names of its sections that ``sections`` lacks."""
    missing = []

    def replace(m):
        if m["name"] not in sections:
            missing.append(m["name"])
            return m[0]
        return section(m["name"], sections[m["name"]])

    return _SECTION.sub(replace, text), missing


def report_sections(results_dir: Path) -> dict[str, str]:
    """The sections of every markdown report in ``results_dir`` (not its README)."""
    found: dict[str, str] = {}
    for path in sorted(Path(results_dir).glob("*.md")):
        if path.name != "README.md":
            found.update(sections_of(path.read_text()))
    return found


def update_readmes(results_dir: Path, readmes: list[Path]) -> dict[Path, list[str]]:
    """Fill the sections of each README in ``readmes`` from the reports in
    ``results_dir``; a README is rewritten only where it changes.  Returns,
    per README, the sections no report had."""
    sections = report_sections(results_dir)
    left = {}
    for readme in readmes:
        readme = Path(readme)
        if not readme.exists():
            continue
        old = readme.read_text()
        new, missing = fill(old, sections)
        if new != old:
            write_text(readme, new)
        left[readme] = missing
    return left
