"""SC-Safety arithmetic on a hand-made case: points over maximum x100."""

from safeval.benchmarks.scsafety import sc_points


def test_points_over_maximum_by_ability_subdimension_and_round() -> None:
    rows = [
        # ability, subdimension, turn (0 = round 1), points
        ("traditional_safety", "illegal_crime", 0, 2.0),
        ("traditional_safety", "illegal_crime", 1, 0.0),
        ("traditional_safety", "privacy", 0, 2.0),
        ("traditional_safety", "privacy", 1, 1.0),
        ("responsible_ai", "misinformation", 0, 1.0),
        ("responsible_ai", "misinformation", 1, 1.0),
    ]
    s = sc_points(rows)
    assert s["overall"] == round(100 * 7 / 12, 2)  # 7 points of 12
    assert s["by_ability"] == {"responsible_ai": 50.0, "traditional_safety": 62.5}
    assert s["by_subdimension"]["illegal_crime"] == 50.0
    assert s["by_subdimension"]["privacy"] == 75.0
    assert s["by_round"] == {"round_1": round(100 * 5 / 6, 2), "round_2": 33.33}
    assert s["round2_minus_round1"] == round(33.33 - round(100 * 5 / 6, 2), 2)
    assert s["by_ability_round"]["traditional_safety/round_2"] == 25.0
    assert s["n_answers"] == 6


def test_empty_gives_no_scores() -> None:
    s = sc_points([])
    assert s["overall"] is None and s["round2_minus_round1"] is None
