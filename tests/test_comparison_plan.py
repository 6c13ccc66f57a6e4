"""How a comparison is scored and what it will cost, before it starts."""

from types import SimpleNamespace

from tlcore.config import FreezeConfig, SplitConfig, TrainConfig
from tlcore.runs.comparison_plan import paired_scoring, preview, total_sentence


def report(per_class: int, classes: int = 3) -> SimpleNamespace:
    return SimpleNamespace(classes={f"c{i}": per_class for i in range(classes)}, items=[])


def test_a_small_dataset_is_cross_validated_over_the_same_folds_for_every_strategy() -> None:
    config, why = paired_scoring(TrainConfig(data="x"), report(12))
    assert (config.cross_validate, config.cv_folds) == (True, 3)
    assert (config.split.val_fraction, config.split.test_fraction) == (0.0, 0.0)
    assert "cross-validated over the same 3 folds" in why
    freezes = [FreezeConfig(strategy=s) for s in ("feature-extraction", "fine-tune", "scratch")]
    plans = preview(
        config.replace(auto_defaults=True, budget_seconds=120.0), freezes, ["a", "b", "c"],
        report(12),
    )  # fmt: skip
    assert {(p.config.cross_validate, p.config.cv_folds) for p in plans} == {(True, 3)}
    assert plans[2].plan is not None and plans[2].plan.sentence.startswith("4 trainings")
    assert total_sentence(plans[0].config, plans) == (
        "Budget 2 min per strategy: at most 6 min for 3 strategies."
    )


def test_a_chosen_split_and_a_large_dataset_keep_their_test_split() -> None:
    chosen = TrainConfig(
        data="x",
        split=SplitConfig(val_fraction=0.1, test_fraction=0.3),
        chosen=("split.val_fraction", "split.test_fraction"),
    )
    assert paired_scoring(chosen, report(12)) == (
        chosen,
        "The split you chose is kept for every strategy.",
    )
    large = TrainConfig(data="x")
    config, why = paired_scoring(large, report(200))
    assert config == large and "measures accuracy well enough" in why
