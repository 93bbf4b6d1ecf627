"""Terminal tables keep their titles whole: a long model name is not broken mid-word."""

from rich.console import Console

from safeval.cli import print_summary

MODEL = "openai-compatible/meta-llama/Llama-3.1-8B-Instruct"


def test_summary_table_title_is_not_broken_mid_word() -> None:
    summary = {
        "benchmark": "demo",
        "model": MODEL,
        "judge": "rules",
        "n_done": 2,
        "n_total": 2,
        "n_errors": 0,
        "scores": {"by_category": {"fraud": 50.0}, "overall": 50.0},
    }
    console = Console(width=120, record=True)
    print_summary(summary, console)
    text = console.export_text()
    assert MODEL in text  # on one line, whole
    assert "[bold]" not in text


def test_scores_are_folded_not_cut_on_a_narrow_terminal() -> None:
    """At 20 columns the scores were shown as "3…": no digit may be lost to an ellipsis."""
    summary = {
        "benchmark": "demo",
        "model": "scripted/refuse",
        "judge": "rules",
        "n_done": 2,
        "n_total": 2,
        "n_errors": 0,
        "scores": {
            "by_category": {"cybercrime": 31.25},
            "overall": 31.25,
            "n": {"overall": 32, "by_category": {"cybercrime": 32}},
            "ci95": {"overall": [17.9, 48.6], "by_category": {"cybercrime": [17.9, 48.6]}},
        },
    }
    console = Console(width=20, record=True)
    print_summary(summary, console)
    text = console.export_text()
    assert "…" not in text
    score_column = "".join(
        line.split("│")[2].strip() for line in text.splitlines() if line.startswith("│")
    )
    assert score_column == "31.2" * 2  # the category and overall, folded over lines but whole
