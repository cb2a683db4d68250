"""The documents: README.md and results/README.md are their templates filled in from the
results; a person wrote their sentences, and no number in them is typed by hand."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from made.reports.render import README, REPORTS, RESULTS_README, _environment, render, render_report
from made.reports.runs import markdown
from made.reports.verdict import values

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "docs" / "templates"
DOCUMENTS = [(TEMPLATES / README, ROOT / "README.md"), (TEMPLATES / RESULTS_README, ROOT / "results" / "README.md")]
IDS = ["README.md", "results/README.md"]


@pytest.fixture(scope="module")
def committed_values():
    return values(ROOT / "results")


@pytest.mark.parametrize("template, document", DOCUMENTS, ids=IDS)
def test_every_committed_document_is_its_rendering_from_the_committed_results(template, document, committed_values):
    assert document.read_text() == render(template, committed_values), (
        f"{document.relative_to(ROOT)} is not its template filled in: run `python run_all.py --reports-only`")


def _prose(text: str) -> str:
    """What a reader reads as prose: no fenced code, inline code, link targets, URLs or template comments."""
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"https?://\S+", " ", text)


DECIMAL = re.compile(r"(?<![\d.:])\d+\.\d+(?![\d.])")  # not part of 2.13.0, 127.0.0.1 or arXiv:1502.03509


def _strings(value) -> list[str]:
    import pandas as pd

    if isinstance(value, pd.DataFrame):  # a table, as the templates write it (2 to 4 decimals)
        return [markdown(value, digits) for digits in (2, 3, 4)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


@pytest.mark.parametrize("template, document", DOCUMENTS, ids=IDS)
def test_every_decimal_number_of_a_document_comes_from_the_values(template, document, committed_values):
    # the template itself types none ...
    assert DECIMAL.findall(_prose(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", template.read_text()))) == []
    # ... and each one the rendered document shows is written by a value
    given = " | ".join(_strings(committed_values))
    rendered = render(template, committed_values)
    typed = [n for n in DECIMAL.findall(_prose(rendered)) if n not in given]
    assert typed == [] and "<built-in method" not in rendered  # a value named like a dict's method


@pytest.mark.parametrize("name", REPORTS)
def test_every_committed_report_is_its_rendering_from_the_committed_results(name):
    assert sorted(p.name.removesuffix(".md.j2") for p in (TEMPLATES / "reports").glob("*.md.j2")) == list(REPORTS)
    assert (ROOT / "results" / f"{name}.md").read_text() == render_report(ROOT / "results", name), (
        f"results/{name}.md is not its template filled in: run `python run_all.py --reports-only`")


def report_values(name: str) -> dict:
    """What report ``name``'s template gets (as render_report gives it): the committed results'
    values and, as ``report``, its module's context."""
    context = importlib.import_module(f"made.reports.{name}").context(ROOT / "results")
    return {**values(ROOT / "results"), "report": context}


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_opens_with_what_it_found_and_types_no_number(name):
    given = report_values(name)
    report = render(TEMPLATES / "reports" / f"{name}.md.j2", given)
    title, _, rest = report.partition("\n")
    assert title.startswith("# ") and "<built-in method" not in report
    # two or three sentences under the title, before anything else
    opening = rest.strip().split("\n\n")[0]
    assert 2 <= len(re.findall(r"[.!?](\s|$)", opening)) <= 3, opening
    # no decimal number typed in the template (or the parts it imports) ...
    for template in (TEMPLATES / "reports" / f"{name}.md.j2", TEMPLATES / "reports" / "macros.j2"):
        assert DECIMAL.findall(_prose(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", template.read_text()))) == []
    # ... and each one the report shows is written by a value or a table of its context
    text = " | ".join(_strings(given))
    assert [n for n in DECIMAL.findall(_prose(report)) if n not in text] == []


def test_a_template_naming_an_unknown_value_fails_with_the_name(committed_values):
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="k64"):
        _environment().from_string("{{ figure2.order.k64 }}").render(**committed_values)
    with pytest.raises(jinja2.UndefinedError, match="'nowhere' is undefined"):
        _environment().from_string("{{ nowhere }}").render(**committed_values)
    # a report's template alike, for a name of its own context
    figure2 = report_values("figure2")
    with pytest.raises(jinja2.UndefinedError, match="halving_at_k64"):
        _environment().from_string("{{ report.halving_at_k64 }}").render(**figure2)


@pytest.mark.parametrize("helps, hurts, says", [
    ("K = 2, 4", "K = 8, 16, 32", "better than one mask at K = 2, 4 and worse at K = 8, 16, 32"),
    ("K = 2, 4", "no K", "better than one mask at K = 2, 4 and clearly worse at none"),
    ("no K", "K = 32", "worse than one mask at K = 32 and clearly better at none"),
    ("no K", "no K", "neither clearly better nor clearly worse than one mask at any K")])
def test_the_figure2_trend_reads_whichever_side_has_no_k(helps, hurts, says):
    template = _environment(TEMPLATES).from_string('{% import "reports/macros.j2" as m %}{{ m.trend(c) }}')
    assert template.render(c={"helps": helps, "hurts": hurts}) == says


@pytest.mark.parametrize("c, says", [
    (dict(reproduced=9, not_reproduced=1, not_settled=2, not_judged=0, not_run=3),
     "reproduced 9, not reproduced 1, not settled 2, not run 3"),
    (dict(reproduced=0, not_reproduced=1, not_settled=0, not_judged=2, not_run=0),
     "not reproduced 1, waiting for more seeds 2")])
def test_the_counts_leave_out_a_word_no_row_got(c, says):
    template = _environment(TEMPLATES).from_string('{% import "reports/macros.j2" as m %}{{ m.counts(c) }}')
    assert template.render(c=c) == says


def test_the_8000_unit_gap_is_said_only_where_both_gain_and_ours_is_clear():
    from made.reports.statistics import difference
    from made.reports.verdict import _gap

    k1, k32 = pd.Series([89.1, 89.2, 89.0]), pd.Series([88.1, 88.12, 88.08])
    assert _gap(difference(k32, k1), -0.36) == "wider" and _gap(difference(k32, k1), -1.5) == "narrower"
    assert _gap(difference(k1, k32), -0.36) is None  # K = 32 worse: no gain to compare
    assert _gap(difference(k32[:2], k1), -0.36) is None  # not judged


def test_each_8000_unit_mode_gets_its_own_claim_word():
    # K = 32 order-agnostic better than K = 1, connectivity-agnostic worse, 3 seeds each:
    # the paper's rows set against the first only, the second a claim of its own
    from made.reports.verdict import _widths
    from made.reports.widths import widths_context

    rows = [dict(run_id=f"{k}{mode}{seed}", dataset="binarized_mnist", data_variant="larochelle", protocol="adam",
                 hidden_sizes="8000", num_masks=k, mode=mode, seed=seed, test_nll_single_mask=mean + noise,
                 test_nll_ensemble=mean + noise, valid_nll=mean + 1, best_epoch=50, epochs=80, stopped_early=True)
            for k, mode, mean in ((1, "single", 89.0), (32, "order", 88.0), (32, "connectivity", 90.0))
            for seed, noise in enumerate((0.0, 0.1, -0.1))]
    at_8000 = _widths(widths_context(pd.DataFrame(rows)))
    assert at_8000["word"] == "reproduced" and at_8000["d"].startswith("-1.00")
    assert at_8000["connectivity"]["word"] == "not reproduced" and at_8000["connectivity"]["d"].startswith("+1.00")
    assert at_8000["connectivity"]["recipe"] == "adam" and at_8000["connectivity"]["k32"] == "90.00 ± 0.06 (3 seeds)"


@pytest.mark.parametrize("document, most", [(ROOT / "README.md", 150), (ROOT / "results" / "README.md", 250)], ids=IDS)
def test_the_documents_are_short_and_their_sentences_readable(document, most):
    text = document.read_text()
    assert len(text.splitlines()) <= most
    prose = "\n".join(line for line in text.splitlines() if not line.startswith("|"))  # a table row is no sentence
    prose = re.sub(r"```.*?```|<!--.*?-->", "\n\n", prose, flags=re.S)
    # paragraphs and list items, then their sentences
    chunks = re.split(r"\n\s*\n|\n(?=#|- |\d+\. )", prose)
    sentences = [s for c in chunks for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*\[`])", re.sub(r"\s+", " ", c))]
    long = [s for s in sentences if len(s) > 400]
    assert long == [] and len(sentences) > 10


def test_the_readme_gives_the_verdict_first():
    text = (ROOT / "README.md").read_text()
    assert text.index("## Does it reproduce?") < text.index("| the paper's item |") < text.index("## The two commands")
    assert "![Figure 2](results/figure2.png)" in text
    for item in ("Figure 2, 1x500", "MNIST, 1 hidden layer", "MNIST, 2 hidden layers", "samples beside",
                 "UCI, adult", "UCI, web", "seed project: one mask", "seed project: logit average"):
        assert f"| {item}" in text, item


DOCS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_python_block_of_the_docs_runs(doc, tmp_path):
    for block in _blocks(doc.read_text(), "python"):
        if "dask_jobqueue" in block:  # needs a SLURM cluster: its imports and names are checked instead
            assert "import run_all" in block and "run_all.main([" in block and (ROOT / "run_all.py").exists()
            continue
        out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"{doc.name}:\n{block}\n{out.stderr[-2000:]}"


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_run_all_command_of_the_docs_parses(doc):
    from made.pipeline.cli import parse_args

    text = doc.read_text()
    commands = [c for block in _blocks(text, "bash") for c in block.splitlines()]
    commands += re.findall(r"`(python run_all\.py[^`]*)`", text)
    for command in commands:
        command = command.split("#")[0].strip().rstrip("&").strip()
        if command.startswith("python run_all.py"):
            parse_args(command.split()[2:])  # an unknown option or a bad value exits with its error


def test_a_results_folder_without_runs_renders_and_says_not_run(tmp_path):
    text = render(TEMPLATES / README, values(tmp_path))
    assert "| MNIST, 1 hidden layer (8000 units, most likely), 1 mask | 88.40 | not run yet | not run |" in text
    assert render(TEMPLATES / RESULTS_README, values(tmp_path)).startswith("<!-- Rendered from")


@pytest.mark.parametrize("name", REPORTS)
def test_no_report_says_the_seeds_twice_or_nests_a_verdict_in_parentheses(name):
    # "-1.02, 2+3 seeds, not judged (2+3 seeds)" and "88.04 (not judged (2 seeds))" read badly
    lines = (ROOT / "results" / f"{name}.md").read_text().splitlines()
    # (a table may show them in a column of each)
    prose = " ".join(" ".join(line for line in lines if not line.startswith("|")).split())
    text = " ".join(" ".join(lines).split())
    assert re.findall(r"(\d+(?:\+\d+)? seeds?)[,:]? [^.;]*?\(\1\)", prose) == []
    assert re.findall(r"\((?:not judged|reproduced|not reproduced|not settled|lower|higher) \(", text) == []
    assert "(K = 1's test NLL)" not in text and "valid ensemble NLL" not in text


@pytest.mark.parametrize("x, at, says", [({"epochs": "14", "side": "earlier"}, "", "14 epochs earlier"),
                                         ({"epochs": "1", "side": "later"}, "", "1 epoch later"),
                                         ({"epochs": "0", "side": "same"}, "", "the same epoch"),
                                         ({"epochs": "0", "side": "same"}, "at ", "at the same epoch")])
def test_a_stop_epoch_against_another_reads_as_a_person_says_it(x, at, says):
    template = _environment(TEMPLATES).from_string('{% import "reports/macros.j2" as m %}{{ m.shift(x, at) }}')
    assert template.render(x=x, at=at) == says
