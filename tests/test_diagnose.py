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
