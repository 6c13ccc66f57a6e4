import math

from tlcore.fsutil import read_jsonl
from tlcore.training import events


class FakeModel:
    stop_training = False


def _hooks(tmp_path, **kw):
    log = events.EventLog(tmp_path / "events.jsonl")
    hooks = events.TrainingEvents(log, "train", epochs=2, batch_size=8, **kw)
    hooks.model = FakeModel()
    hooks.params = {"steps": 5}
    return hooks


def test_batches_are_throttled_but_the_last_batch_of_an_epoch_is_always_written(tmp_path) -> None:
    hooks = _hooks(tmp_path, max_per_second=1.0)
    hooks.on_train_begin()
    for epoch in range(2):
        hooks.on_epoch_begin(epoch)
        for b in range(5):
            hooks.on_train_batch_end(b, {"loss": 1.0 / (b + 1), "accuracy": 0.5})
        hooks.on_epoch_end(
            epoch,
            {
                "loss": 0.5,
                "accuracy": 0.6,
                "val_loss": 0.7,
                "val_accuracy": 0.55,
                "learning_rate": 0.001,
            },
        )
    got = read_jsonl(tmp_path / "events.jsonl")[0]
    kinds = [(e["type"], e["epoch"], e.get("batch")) for e in got]
    assert kinds == [
        ("batch", 1, 1),
        ("batch", 1, 5),
        ("epoch", 1, None),
        ("batch", 2, 5),
        ("epoch", 2, None),
    ]
    last = got[-1]
    assert (
        last["phase"],
        last["epochs"],
        last["val_accuracy"],
        last["learning_rate"],
        last["eta_seconds"],
    ) == ("train", 2, 0.55, 0.001, 0.0)
    batch = got[1]
    assert batch["batches"] == 5 and batch["loss"] == 0.2 and batch["images_per_sec"] > 0
    assert batch["eta_seconds"] >= 0 and got[0]["elapsed"] >= 0


def test_stop_request_and_nan_stop_training(tmp_path) -> None:
    flag = {"stop": False}
    hooks = _hooks(tmp_path, should_stop=lambda: flag["stop"])
    hooks.on_train_begin()
    hooks.on_epoch_begin(0)
    hooks.on_train_batch_end(0, {"loss": 1.0})
    assert not hooks.model.stop_training and not hooks.stopped_by_request
    flag["stop"] = True
    hooks.on_train_batch_end(1, {"loss": 1.0})
    assert hooks.model.stop_training and hooks.stopped_by_request
    hooks.model.stop_training = False
    hooks.on_train_begin()
    hooks.on_epoch_begin(1)
    hooks.on_train_batch_end(2, {"loss": math.nan})
    assert hooks.model.stop_training and hooks.nan_at == (2, 3)


def test_prepare_progress_is_throttled_and_ends_with_total(tmp_path) -> None:
    log = events.EventLog(tmp_path / "e.jsonl")
    report = log.progress("decode", every=60)
    for i in range(1, 11):
        report(i, 10)
    got = read_jsonl(tmp_path / "e.jsonl")[0]
    assert [(e["stage"], e["done"], e["total"]) for e in got] == [
        ("decode", 1, 10),
        ("decode", 10, 10),
    ]
