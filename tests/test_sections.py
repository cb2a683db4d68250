"""Generated prose: the READMEs' result sections come from the reports, and no number is typed by hand."""

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from made.reports.sections import fill, report_sections, section, sections_of, update_readmes

ROOT = Path(__file__).resolve().parent.parent
READMES = [ROOT / "README.md", ROOT / "results" / "README.md"]
PLACEHOLDER = re.compile(r"^\*Not generated yet: `python run_all\.py --reports-only( --grid \w+)?` writes this "
                         r"section once the `\w+` grid's runs are complete\.\*\n$")


def test_a_section_is_filled_between_its_markers_and_nothing_else_changes(tmp_path):
    report = tmp_path / "figure2.md"
    report.write_text("# Figure 2\n\n" + section("figure2-table", "| K | nll |\n| 1 | 91.43 |") + "tail\n")
    readme = tmp_path / "README.md"
    before = "intro 1\n" + section("figure2-table", "old") + "middle\n" + section("uci-table", "kept") + "end\n"
    readme.write_text(before)
    left = update_readmes(tmp_path, [readme, tmp_path / "absent.md"])
    assert left == {readme: ["uci-table"]}  # no report has it: kept as it is, and said so
    after = readme.read_text()
    assert after == before.replace("old\n", "| K | nll |\n| 1 | 91.43 |\n")
    assert sections_of(after)["uci-table"] == "kept\n"
    mtime = readme.stat().st_mtime_ns
    update_readmes(tmp_path, [readme])  # unchanged: not rewritten
    assert readme.stat().st_mtime_ns == mtime and after == readme.read_text()
    # the results folder's own README is never a source
    assert "uci-table" not in report_sections(tmp_path)


def test_fill_leaves_text_without_markers_alone():
    assert fill("no markers 1.23\n", {"x": "y"}) == ("no markers 1.23\n", [])


def _prose(text: str) -> str:
    """Text a reader reads as prose: without fenced code, inline code, link targets and URLs
    (commands, paths and versions are not results)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"https?://\S+", " ", text)


DECIMAL = re.compile(r"(?<![\d.:])\d+\.\d+(?![\d.])")  # not part of 2.13.0, 127.0.0.1 or arXiv:1502.03509


def _numbers(text: str) -> set[str]:
    return set(DECIMAL.findall(text))


def _constants() -> dict[str, str]:
    """The numbers a README may state without a report: the paper's and the seed project's
    (reference_numbers.csv), the recipes' settings (made.pipeline.grid.PROTOCOLS) and the
    rule's own thresholds; each with why."""
    from made.pipeline.grid import PROTOCOLS
    from made.reports.references import reference_numbers
    from made.reports.statistics import t_quantile

    out = {}
    for v in reference_numbers()["test_nll"]:
        for d in (1, 2):
            out[f"{v:.{d}f}"] = "a reference number (reference_numbers.csv)"
    for recipe in PROTOCOLS.values():
        for v in recipe.values():
            if isinstance(v, float):
                out[repr(v)] = "a setting of a recipe (PROTOCOLS)"
    for confidence in (0.95, 0.80):
        out[f"{t_quantile(confidence, 1):.1f}"] = "the rule's t quantile at 1 degree of freedom"
    return out


def _generated_numbers() -> tuple[set[str], list[float]]:
    """Every decimal written in a generated report (results/*.md) and every number of a results table."""
    words, values = set(), []
    for md in (ROOT / "results").glob("*.md"):
        if md.name != "README.md":
            words |= _numbers(md.read_text())
    for csv in (ROOT / "results").glob("*.csv"):
        frame = pd.read_csv(csv)
        for column in frame.select_dtypes("number"):
            values += [float(v) for v in frame[column].dropna()]
    return words, values


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_decimal_number_of_the_readmes_comes_from_a_generated_report(readme):
    words, values = _generated_numbers()
    constants = _constants()
    by_decimals: dict[int, set[str]] = {}
    typed = []
    for number in sorted(_numbers(_prose(readme.read_text()))):
        if number in words or number in constants:
            continue
        d = len(number.split(".")[1])
        if d not in by_decimals:
            by_decimals[d] = {f"{abs(v):.{d}f}" for v in values if math.isfinite(v)}
        if number not in by_decimals[d]:
            typed.append(number)
    assert not typed, (f"{readme.name} states {typed}, which no generated report (results/*.md, results/*.csv) "
                       "holds: let a report write it into a generated section, or drop it")


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_readmes_sections_are_the_reports_own(readme):
    # a generated section is its report's, byte for byte, or says it is not generated yet
    reports = report_sections(ROOT / "results")
    sections = sections_of(readme.read_text())
    assert sections, f"{readme.name} has no generated section"
    for name, body in sections.items():
        if name in reports:
            assert body == reports[name], f"{readme.name}: section {name} differs from its report's (rerun the reports)"
        else:
            assert PLACEHOLDER.match(body), f"{readme.name}: section {name} has no report and is no placeholder"
    text = readme.read_text()
    assert text.count("<!-- generated: ") == text.count("<!-- end generated: ") == len(sections)


def test_the_number_check_catches_a_hand_typed_result():
    assert _numbers(_prose("the ensemble reached 91.43 nats (`torch==2.13.0`, arXiv:1502.03509)")) == {"91.43"}
    assert _numbers(_prose("see [x](https://a.b/1.5) and 127.0.0.1 or 2.13.0")) == set()


def test_the_reports_step_runs_a_grids_reports_without_figure2_csv_and_fills_the_readme(tmp_path, monkeypatch):
    # a fresh results folder with only the rebuild grid's table: its reports run (whatever other
    # CSVs exist), and the sections they write reach the results folder's README
    import importlib.util

    from made.pipeline import notebooks, results, run

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    ran = []

    def report(name, results):
        ran.append(name)
        (results / f"{name}.md").write_text(section(f"{name}-x", f"{name} wrote 1.25\n"))
        return results / f"{name}.md"

    monkeypatch.setattr(run, "check_reuse", lambda points, runs_dir: None)
    monkeypatch.setattr(run, "pending", lambda points, runs_dir, force=False: [])
    monkeypatch.setattr(results, "aggregate", lambda results, csv, ids: pd.DataFrame([{"run_id": "r"}]))
    monkeypatch.setattr(notebooks, "execute_report", report)
    (tmp_path / "README.md").write_text("a\n" + section("binarizations-x", "old") + "b\n")
    assert run_all.main(["--grid", "rebuild", "--reports-only", "--results-dir", str(tmp_path)]) == 0
    assert ran == ["binarizations", "recipes"] and not (tmp_path / "figure2.csv").exists()
    assert sections_of((tmp_path / "README.md").read_text()) == {"binarizations-x": "binarizations wrote 1.25\n"}
