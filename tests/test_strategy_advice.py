"""The when-to-use table, computed: each cell picks the strategy its sentence names."""

import pytest

from tlcore.training.strategy_advice import CLEARLY_BETTER, FEW_SHOT, LARGE, advise


def probe(last: float, middle: float | None, smallest: int, classes: int = 4) -> dict:
    """A probe result as ``ProbeResult.to_dict()`` writes it."""

    def score(acc: float, block: str) -> dict:
        return {"layer": block, "block": block, "accuracy": acc, "spread": 0.04,
                "fold_accuracies": [acc] * 5}  # fmt: skip

    return {
        "backbone": "efficientnet_lite0",
        "network": "EfficientNet-Lite0",
        "classes": [f"c{i}" for i in range(classes)],
        "images": smallest * classes,
        "smallest_class": smallest,
        "folds": 5,
        "last": score(last, "top"),
        "middle": None if middle is None else score(middle, "block5c"),
        "seconds": 1.0,
    }


@pytest.mark.parametrize(
    ("smallest", "last", "middle", "strategy", "like"),
    [
        (10, 0.80, 0.60, "feature-extraction", True),  # small, like ImageNet
        (10, 0.60, 0.66, "feature-extraction", False),  # few-shot: measured, FE still
        (FEW_SHOT, 0.80, 0.60, "feature-extraction", True),
        (FEW_SHOT, 0.60, 0.66, "fine-tune", False),  # small and unlike: fine-tune the top
        (LARGE, 0.80, 0.60, "fine-tune", True),  # large and like: fine-tune
        (LARGE, 0.60, 0.66, "full", False),  # large and unlike: the whole network
    ],
)
def test_each_cell_of_the_table(smallest, last, middle, strategy, like) -> None:
    advice = advise(probe(last, middle, smallest))
    assert advice.strategy == strategy and advice.like_imagenet is like
    assert advice.lines[-1].startswith("Suggested: ")
    assert f"{smallest} images in the smallest class" in advice.lines[-1]


def test_the_numbers_measured_are_in_the_sentences() -> None:
    advice = advise(probe(0.84, 0.71, 12, classes=5))
    assert advice.lines[0] == (
        "Feature extraction: 84% ± 4% (5-fold cross-validation on your 60 images; chance is 20%)."
    )
    assert "The middle of the network (block 5c) scores 71% ± 4%" in advice.lines[1]
    assert "the last layers add 13 points" in advice.lines[1]


def test_a_gap_within_the_folds_luck_reads_as_unlike() -> None:
    just_below = advise(probe(0.70, 0.70 - CLEARLY_BETTER + 0.005, 50))
    assert not just_below.like_imagenet and "as good as its last layer" in just_below.text
    assert advise(probe(0.70, 0.70 - CLEARLY_BETTER - 0.005, 50)).like_imagenet


def test_near_perfect_features_fit_whatever_the_middle_scores() -> None:
    advice = advise(probe(0.97, 1.0, 50))
    assert advice.like_imagenet and advice.strategy == "feature-extraction"
    assert "already separates your classes well" in advice.text


def test_weak_features_say_that_more_images_help_most() -> None:
    assert "Adding images will help most" in advise(probe(0.35, 0.45, 8)).text
    assert "Adding images" not in advise(probe(0.80, 0.85, 8)).text


def test_a_network_without_a_middle_is_read_as_like_its_training_images() -> None:
    advice = advise(probe(0.7, None, 10))
    assert advice.like_imagenet and "too shallow" in advice.lines[1]
    assert advice.to_dict()["strategy"] == "feature-extraction"


def test_a_gap_smaller_than_the_folds_luck_is_called_uncertain() -> None:
    noisy = probe(0.60, 0.66, 10)
    noisy["last"]["fold_accuracies"] = [0.4, 0.8, 0.5, 0.7, 0.6]
    noisy["middle"]["fold_accuracies"] = [0.7, 0.6, 0.8, 0.6, 0.6]
    assert "This reading is uncertain" in advise(noisy).text
    steady = probe(0.60, 0.66, 10)
    steady["last"]["fold_accuracies"] = [0.58, 0.62, 0.6, 0.59, 0.61]
    steady["middle"]["fold_accuracies"] = [0.65, 0.67, 0.66, 0.64, 0.68]
    assert "uncertain" not in advise(steady).text


def test_the_multi_layer_reading_says_when_the_middle_layers_know_the_images_better() -> None:
    r = probe(0.56, 0.60, 20, classes=6)
    r["multi"] = {"layer": "14 layers", "block": "", "accuracy": 0.64, "spread": 0.05,
                  "fold_accuracies": [0.64] * 5}  # fmt: skip
    line = advise(r).lines[-2]
    assert line.startswith("Features from 14 layers of the network together")
    assert "score 64% ± 5%, 8 points above the last layer alone" in line
    assert "middle layers know your images better than its last layer" in line
    r["multi"]["accuracy"] = 0.57
    assert "whichever of the two cross-validates better" in advise(r).lines[-2]
    assert all("Features from" not in line for line in advise(probe(0.56, 0.6, 20)).lines)
