import numpy as np
import pytest

from tlcore.training.evaluate import confusion_matrix, evaluate


def test_metrics_match_hand_computed_values() -> None:
    y = [0, 0, 1, 1, 2, 2]
    probs = np.array(
        [
            [0.9, 0.1, 0],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.05, 0.9, 0.05],
            [0.6, 0.3, 0.1],
            [0.1, 0.1, 0.8],
        ]
    )
    m = evaluate(y, probs, ["a", "b", "c"], paths=[f"p{i}" for i in range(6)])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.8),
        "support": 2,
    }
    assert m["per_class"]["c"]["precision"] == 1.0 and m["per_class"]["c"]["recall"] == 0.5
    assert m["misclassified"] == [
        {"path": "p1", "true": "a", "predicted": "b", "confidence": 0.7},
        {"path": "p4", "true": "c", "predicted": "a", "confidence": 0.6},
    ]


def test_never_predicted_class_scores_zero_without_warnings() -> None:
    m = evaluate([0, 1], np.array([[1.0, 0.0], [1.0, 0.0]]), ["x", "y"])
    assert m["per_class"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert confusion_matrix([0, 1], [0, 0], 2).tolist() == [[1, 0], [1, 0]]


def test_image_predictions_give_each_images_answer_with_its_top_classes() -> None:
    from tlcore.training.evaluate import image_predictions

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    got = image_predictions([0, 1], probs, ["a", "b", "c"], ["x.png", "y.png"], top_k=2)
    assert got == [
        {"path": "x.png", "true": "a", "predicted": "a", "probability": 0.7,
         "top": [["a", 0.7], ["b", 0.2]]},
        {"path": "y.png", "true": "b", "predicted": "c", "probability": 0.6,
         "top": [["c", 0.6], ["b", 0.3]]},
    ]  # fmt: skip
