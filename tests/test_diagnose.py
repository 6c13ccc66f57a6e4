from tlcore.training.diagnose import diagnose


def _h(losses, val_losses, acc, val_acc):
    return [
        {"loss": a, "val_loss": b, "accuracy": c, "val_accuracy": d}
        for a, b, c, d in zip(losses, val_losses, acc, val_acc, strict=True)
    ]


def test_rising_validation_loss_is_overfitting() -> None:
    h = _h(
        [1.0, 0.6, 0.4, 0.2, 0.1],
        [0.9, 0.5, 0.6, 0.7, 0.8],
        [0.6, 0.8, 0.9, 0.95, 0.99],
        [0.6, 0.8, 0.78, 0.77, 0.76],
    )
    got = diagnose(h)
    assert [f["kind"] for f in got] == ["overfitting"]
    assert "epoch 2" in got[0]["message"]


def test_low_training_accuracy_is_underfitting_and_healthy_is_good() -> None:
    assert [
        f["kind"]
        for f in diagnose(
            _h([1.1, 1.05], [1.1, 1.08], [0.35, 0.4], [0.33, 0.4]), classes=["a", "b", "c"]
        )
    ] == ["underfitting"]
    good = diagnose(
        _h([0.5, 0.3], [0.5, 0.35], [0.85, 0.9], [0.84, 0.88]),
        confusion=[[5, 0], [1, 4]],
        classes=["a", "b"],
    )
    assert [f["kind"] for f in good] == ["good"]


def test_one_class_for_everything() -> None:
    got = diagnose(_h([0.7], [0.7], [0.9], [0.9]), confusion=[[10, 0], [10, 0]], classes=["a", "b"])
    assert [f["kind"] for f in got] == ["one_class"]
    assert "'a' for 100%" in got[0]["message"]


def test_underfitting_is_reported_alone_with_the_validation_gap_in_its_message() -> None:
    # 54% on training images, 29% on validation: both rules fire; only one advice is given.
    got = diagnose(
        _h([1.3, 0.9], [1.35, 1.4], [0.40, 0.54], [0.44, 0.29]), classes=["a", "b", "c", "d"]
    )
    assert [f["kind"] for f in got] == ["underfitting"]
    assert "54%" in got[0]["message"] and "Validation is lower still (29%)" in got[0]["message"]


def _lr_directions(message: str) -> set[str]:
    return {w for w in ("lower the learning rate", "raise the learning rate") if w in message}


def test_one_class_and_underfitting_are_one_finding_with_one_learning_rate_advice() -> None:
    # The run of the issue: 'square' for every image and 24% on the training images.
    got = diagnose(
        _h([2.28, 1.96], [2.15, 1.45], [0.22, 0.24], [0.25, 0.25]),
        confusion=[[0, 2, 0, 0]] * 4,
        classes=["circle", "square", "stripes", "triangle"],
    )
    assert [f["kind"] for f in got] == ["one_class"]
    message = got[0]["message"]
    assert "'square' for 100%" in message and "24% of the training images" in message
    assert _lr_directions(message) == {"raise the learning rate"}


def test_a_loss_that_jumped_up_means_lower_the_learning_rate_and_never_raise() -> None:
    history = _h([1.2, 1.6, 1.5], [1.3, 1.7, 1.6], [0.3, 0.3, 0.32], [0.3, 0.3, 0.3])
    for confusion in (None, [[6, 0, 0], [6, 0, 0], [6, 0, 0]]):
        got = diagnose(history, confusion=confusion, classes=["a", "b", "c"])
        assert len(got) == 1
        assert _lr_directions(got[0]["message"]) == {"lower the learning rate"}


def test_no_unfreeze_advice_when_every_layer_already_trains() -> None:
    history = _h([1.1, 1.05], [1.1, 1.08], [0.35, 0.4], [0.33, 0.4])
    frozen = diagnose(history, classes=["a", "b", "c"])[0]["message"]
    everything = diagnose(history, classes=["a", "b", "c"], all_layers_train=True)[0]["message"]
    assert "unfreeze more layers" in frozen
    assert "unfreeze" not in everything
    assert everything.endswith("Train for more epochs or raise the learning rate a little.")


def test_one_class_for_everything_on_imbalanced_classes_is_not_called_overfitting() -> None:
    # 98% on its training images, 75% on validation: a gap that reads as overfitting. But
    # the test images are three quarters 'cat' and it says 'cat' for every one of them.
    history = _h([0.6, 0.3, 0.1], [0.6, 0.55, 0.56], [0.80, 0.93, 0.98], [0.75, 0.75, 0.75])
    got = diagnose(history, confusion=[[15, 0], [5, 0]], classes=["cat", "dog"])
    assert [f["kind"] for f in got] == ["one_class"]
    message = got[0]["message"]
    assert "'cat' for 100%" in message and "recognising none of the 5 others" in message
    assert "Train for more epochs" not in message  # it learned its training images already


def test_few_test_images_all_given_one_class_are_still_one_class() -> None:
    got = diagnose(_h([0.5], [0.6], [0.95], [0.5]), confusion=[[2, 0], [2, 0]], classes=["a", "b"])
    assert [f["kind"] for f in got] == ["one_class"]


def test_a_good_model_of_a_dominant_class_is_not_one_class() -> None:
    # 95 of 100 test images are 'a' and it finds 4 of the 5 'b' images: healthy.
    got = diagnose(
        _h([0.5, 0.3], [0.5, 0.35], [0.9, 0.95], [0.9, 0.94]),
        confusion=[[94, 1], [1, 4]],
        classes=["a", "b"],
    )
    assert [f["kind"] for f in got] == ["good"]


def test_a_solved_head_is_not_said_to_have_curves() -> None:
    # A solved head: one record, no validation loss; accuracy cross-validated.
    solved = [{"epoch": 1, "loss": 0.2, "accuracy": 0.95}]
    got = diagnose(
        solved,
        confusion=[[5, 0, 0], [1, 4, 0], [0, 0, 5]],
        classes=["a", "b", "c"],
        evaluated_on="cross-validation",
        solved=True,
    )
    assert [f["kind"] for f in got] == ["good"]
    message = got[0]["message"]
    assert "curve" not in message
    assert "answers every class in the cross-validation" in message
    # A curve pair does exist after two epochs with validation images.
    good = diagnose(
        _h([0.5, 0.3], [0.5, 0.35], [0.85, 0.9], [0.84, 0.88]),
        confusion=[[5, 0], [1, 4]],
        classes=["a", "b"],
        evaluated_on="test",
    )
    assert "training and validation curves agree" in good[0]["message"]
    assert "on the test images" in good[0]["message"]


def test_a_solved_head_that_underfits_is_not_told_to_train_more_epochs() -> None:
    solved = [{"epoch": 1, "loss": 1.0, "accuracy": 0.4}]
    (got,) = diagnose(solved, classes=["a", "b", "c"], solved=True)
    assert got["kind"] == "underfitting"
    assert "epoch" not in got["message"] and "learning rate" not in got["message"]
    assert "fine-tune the top" in got["message"]


def test_a_solved_head_at_chance_in_cross_validation_is_not_healthy() -> None:
    # Measured on the demo set (small CNN, random weights): 81% on its training images,
    # 23% cross-validated over 4 classes. That was called "Looks healthy".
    solved = [{"epoch": 1, "loss": 0.97, "accuracy": 0.81}]
    confusion = [[2, 6, 2, 2], [5, 2, 0, 5], [4, 2, 4, 2], [3, 5, 1, 3]]
    (got,) = diagnose(
        solved, confusion, ["circle", "square", "stripes", "triangle"],
        evaluated_on="cross-validation", solved=True,
    )  # fmt: skip
    assert got["kind"] == "overfitting"
    assert got["message"].startswith(
        "Overfitting: 81% accuracy on the training images but 23% in the cross-validation"
    )
    assert "freeze more layers" not in got["message"]
    # Without a training accuracy to compare, near chance is said as such.
    (alone,) = diagnose([], confusion, ["a", "b", "c", "d"], evaluated_on="test")
    assert alone["message"].startswith("Close to guessing: 23% on the test images")
