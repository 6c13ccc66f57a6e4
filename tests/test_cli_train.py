"""``python -m tlcore train``: foreground training, --spec, --json, errors."""

import importlib.util
import json
from pathlib import Path

import pytest
from run_helpers import tiny_cli_args

from tlcore import workspace
from tlcore.cli import main
from tlcore.runs import run_files, run_info, store

TINY = [*tiny_cli_args(epochs=2), "--strategy", "full"]


def test_train_json_last_line(tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(tiny_dataset), *TINY, "--name", "first", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    got = json.loads(out[-1])
    assert set(got) >= {
        "run_id",
        "status",
        "epochs_run",
        "seconds",
        "trainable_params",
        "val_accuracy",
        "test_accuracy",
    }
    assert (got["status"], got["epochs_run"], got["test_accuracy"]) == ("finished", 2, 1.0)
    info = run_info.load_run(got["run_id"])
    assert (info.name, info.config.epochs, info.config.freeze.strategy) == ("first", 2, "full")
    assert got["trainable_params"] == info.trainable_params > 0


def test_train_text_output_and_spec_rerun(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", str(tiny_dataset), *TINY, "--augment", "flip", "--tensorboard"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "finished:" in out
    info = run_info.list_runs()[0]
    if importlib.util.find_spec("tensorboard"):
        assert any((info.path / "tensorboard").rglob("events.out.tfevents.*"))
    else:  # optional logs: the run still trains and says why there are none
        warnings = [e for e in run_files.read_events(info.run_id)[0] if e["type"] == "warning"]
        assert "tensorboard package is not installed" in warnings[0]["message"]
        assert not (info.path / "tensorboard").exists()
    assert info.config.augment.as_dict() == {"flip_horizontal": 1.0}
    fresh = store.create_run(info.config)
    assert main(["train", "--spec", str(fresh.path / "spec.json"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (got["run_id"], got["status"]) == (fresh.run_id, "finished")
    assert main(["train", "--spec", str(fresh.path / "spec.json")]) == 2
    assert "has already run (finished)" in capsys.readouterr().err


def test_errors_exit_2_with_one_sentence(
    tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", *TINY]) == 2
    assert capsys.readouterr().err.startswith("error: Give the dataset")
    assert main(["train", str(tiny_dataset), *TINY, "--backbone", "resnet9000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "resnet9000" in err and len(err.splitlines()) == 1
    assert main(["train", str(tmp_path / "missing"), *TINY, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and "missing' does not exist" in captured.err
    assert list(workspace.runs_dir().iterdir()) == []  # a typo leaves no failed run behind


def test_one_class_exits_2_and_leaves_no_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from conftest import write_class_images

    data = write_class_images(tmp_path / "one", per_class=4, classes={"red": (200, 0, 0)})
    assert main(["train", str(data), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Only one class found ('red' with 4 images)")
    assert len(err.splitlines()) == 1
    assert list(workspace.runs_dir().iterdir()) == []


def test_with_two_images_it_says_the_accuracy_is_on_the_training_images(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from conftest import write_class_images

    data = write_class_images(
        tmp_path / "two", per_class=1, classes={"red": (200, 0, 0), "blue": (0, 0, 200)}
    )
    assert main(["train", str(data), *TINY]) == 0
    out = capsys.readouterr().out
    info = run_info.list_runs()[0]
    assert run_files.read_metrics(info.run_id)["split"] == "train"
    # What the scan found is said before the run is created (and any work is done).
    assert out.index("warning: Class 'blue' has a single image") < out.index(f"run {info.run_id}")
    assert (
        "warning: too few images to keep any aside, so the accuracy was measured on the "
        "training images themselves" in out
    )


def test_bad_numbers_are_refused_before_a_run_exists(
    tmp_path: Path, tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    from conftest import write_class_images

    own_test = tmp_path / "own"
    write_class_images(own_test / "train", per_class=6)
    write_class_images(own_test / "test", per_class=2, seed=1)
    cases = [
        (
            [str(tiny_dataset), "--cv-folds", "0"],
            "Cross-validation needs at least 2 folds (got 0).",
        ),
        (
            [str(tiny_dataset), "--seed", "-5"],
            "The seed must be a whole number from 0 to 4294967295 (got -5).",
        ),
        (
            [str(tiny_dataset), "--cv-folds", "100", "--json"],
            "Cannot make 100 folds from 36 images: use at most 36 folds.",
        ),
        (
            [str(own_test), "--cv-folds", "3"],
            "Cross-validation uses every image, but this dataset keeps its own val/ or test/ "
            "folders: leave out --cv-folds to use them, or put every image in class folders.",
        ),
    ]
    for argv, sentence in cases:
        assert main(["train", *argv, *tiny_cli_args(1)]) == 2, argv
        captured = capsys.readouterr()
        assert captured.err.strip().splitlines() == [f"error: {sentence}"], argv
        assert "{" not in captured.out
        assert list(workspace.runs_dir().iterdir()) == [], argv


def test_mirror_images_are_the_persons_choice(tiny_dataset: Path) -> None:
    from tlcore.cli import build_parser
    from tlcore.cli.train_cmd import config_from_args

    plain = config_from_args(build_parser().parse_args(["train", str(tiny_dataset)]))
    assert plain.head_views == "none" and "head_views" not in plain.chosen
    asked = config_from_args(
        build_parser().parse_args(["train", str(tiny_dataset), "--try-mirror-images"])
    )
    assert asked.head_views == "auto" and "head_views" in asked.chosen
