"""``python -m tlcore layers``: the table, the JSON last line, plain errors."""

import json
import socket
import subprocess
import sys
from pathlib import Path

from tlcore.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_layers_json_lists_flags_blocks_and_counts() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tlcore",
            "layers",
            "--backbone",
            "mobilenet_v2",
            "--weights",
            "none",
            "--strategy",
            "fine-tune",
            "--unfreeze",
            "5",
            "--image-size",
            "32",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["#", "name", "type", "output", "params", "trainable", "block"]
    result = json.loads(lines[-1])
    layers = result["layers"]
    assert len(layers) == 154
    assert set(layers[0]) == {"name", "type", "params", "trainable", "block"}
    assert [la["name"] for la in layers if la["trainable"]] == [
        "block_16_project",
        "Conv_1",
        "out_relu",
    ]  # the top 5 minus their 2 BatchNorms
    assert layers[-1]["block"] == "top" and layers[1]["block"] == "stem"
    total = sum(la["params"] for la in layers)
    assert result["trainable_params"] == 960 * 320 + 1280 * 320
    assert result["trainable_params"] + result["non_trainable_params"] == total == 2257984


def test_layers_table_for_a_person(capsys) -> None:
    assert (
        main(
            [
                "layers",
                "--backbone",
                "small_cnn",
                "--strategy",
                "fine-tune",
                "--unfreeze-from",
                "block3",
                "--image-size",
                "32",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "block3_conv" in text and "Small CNN (from scratch) at 32 px, weights none" in text
    assert "frozen backbone parameters" in text and not text.strip().endswith("}")


def test_unknown_names_exit_2_with_one_sentence(capsys) -> None:
    assert main(["layers", "--backbone", "alexnet"]) == 2
    assert capsys.readouterr().err.startswith("error: Unknown backbone 'alexnet'.")
    assert (
        main(
            [
                "layers",
                "--backbone",
                "small_cnn",
                "--strategy",
                "fine-tune",
                "--unfreeze-from",
                "block9",
                "--image-size",
                "32",
            ]
        )
        == 2
    )
    assert "No layer or block named 'block9'" in capsys.readouterr().err


def test_listing_imagenet_layers_needs_no_download(capsys, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", f"http://127.0.0.1:{port}/")  # offline
    assert main(["layers", "--backbone", "mobilenet_v2", "--image-size", "96", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["weights"] == "imagenet" and result["trainable_params"] == 0


def test_an_image_size_out_of_range_is_refused_not_replaced(capsys) -> None:
    for size in ("0", "-32", "5000"):
        assert main(["layers", "--backbone", "small_cnn", "--image-size", size]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: Image size must be between 16 and 1024 px (got {size})."
        ]
