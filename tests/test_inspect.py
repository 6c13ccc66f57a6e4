"""Inspecting a dataset: real pretrained features on real photos find a planted wrong
label; near-duplicates, outliers and the map on known feature vectors; the CLI contract."""

import importlib.metadata
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import realdata
from tlcore import workspace
from tlcore.cli import main
from tlcore.results.inspect.data_map import project
from tlcore.results.inspect.label_issues import check_labels
from tlcore.results.inspect.near_duplicates import near_duplicates
from tlcore.results.inspect.outliers import find_outliers

LITE = ["--backbone", "efficientnet_lite0", "--image-size", "64"]


@pytest.fixture
def faces_with_a_wrong_label(tmp_path: Path) -> tuple[Path, Path]:
    """10 LFW faces and 10 non-faces (real photos, scikit-image); one face filed as a
    non-face. Returns the folder and the misfiled image."""
    pytest.importorskip("skimage")
    root = realdata.lfw_faces(tmp_path / "faces", per_class=10)
    face = sorted((root / "face").glob("*.png"))[0]
    wrong = root / "not_face" / face.name
    shutil.move(face, wrong)
    return root, wrong


def test_the_misfiled_photo_is_the_first_suspect_and_a_second_look_reads_the_cache(
    faces_with_a_wrong_label: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    root, wrong = faces_with_a_wrong_label
    assert main(["inspect", str(root), *LITE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= {"label_issues", "near_duplicates", "outliers", "map"}
    first = out["label_issues"][0]
    assert first == {"path": str(wrong), "given": "not_face", "suggested": "face",
                     "score": pytest.approx(first["score"])}  # fmt: skip
    assert first["score"] > 0.9
    assert len(out["label_issues"]) <= 3  # the rest of the 20 photos are believed
    assert sorted(p["path"] for p in out["map"]) == sorted(str(p) for p in root.glob("*/*.png"))
    assert all(set(p) >= {"path", "x", "y", "label"} for p in out["map"])
    assert [p["path"] for p in out["map"] if p["suspect"]] == [
        i["path"] for i in out["label_issues"]
    ]
    assert out["map_method"] == "PCA" and len(out["map_after"]) == 20
    assert out["near_duplicates"] == [] and out["outliers"] == []
    kept = [*workspace.cache_dir("features").glob("*.npy")]
    kept += [*workspace.cache_dir("inspect").glob("oof-*.npy")]
    cache = {p: p.stat().st_mtime_ns for p in kept}
    assert len(cache) == 2  # the features and the out-of-fold probabilities

    assert main(["inspect", str(root), *LITE]) == 0  # the readable report, from the cache
    text = capsys.readouterr().out
    assert "Likely label mistakes" in text and f"not_face/{wrong.name}" in text
    assert {p: p.stat().st_mtime_ns for p in kept} == cache  # read, not written again


def test_a_network_without_pretrained_weights_is_refused_with_the_one_to_use(
    tiny_dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["inspect", str(tiny_dataset), "--backbone", "small_cnn"]) == 2
    err = capsys.readouterr().err
    assert "no pretrained weights" in err and "EfficientNet-Lite0" in err


def test_weights_not_on_this_computer_name_the_network_that_works_offline(
    tiny_dataset: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")  # unreachable
    args = ["inspect", str(tiny_dataset), "--backbone", "mobilenet_v2", "--image-size", "32"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "offline" in err and err.endswith(
        "To inspect without them, use EfficientNet-Lite0, which came with TransferLab "
        "(--backbone efficientnet_lite0)."
    )


def test_a_bad_similarity_is_refused(tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(tiny_dataset), "--similarity", "1.5"]) == 2
    assert "--similarity must be above 0 and at most 1" in capsys.readouterr().err


def test_cleanlab_is_new_enough_and_apache_licensed() -> None:
    meta = importlib.metadata.metadata("cleanlab")
    major, minor = (int(v) for v in meta["Version"].split(".")[:2])
    assert (major, minor) >= (2, 8)  # Apache-2.0 from 2.8 (December 2025); AGPL before
    assert "Apache" in (meta.get("License-Expression") or meta.get("License") or "")
    files = importlib.metadata.files("cleanlab") or []
    licence = next(f for f in files if f.name.startswith("LICENSE"))
    assert "Apache License" in licence.read_text() and "Version 2.0" in licence.read_text()


def blobs(per_class: int = 12, dims: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight clusters of non-negative vectors (like pooled ReLU features)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, dims) * 5 + 1
    x = np.concatenate([c + rng.normal(0, 0.3, (per_class, dims)) for c in centres])
    return np.abs(x), np.repeat(np.arange(3), per_class)


def test_near_duplicates_of_each_kind_and_only_those() -> None:
    x, y = blobs()
    parts = ["train"] * len(y)
    x[5] = x[1] * 1.01  # within class 0
    x[30] = x[13] + 0.001  # class 2 image, a copy of a class 1 image
    x[20] = x[14] * 0.99
    parts[20] = "test"  # a copy of a training image in the test folder
    pairs, n = near_duplicates(x, y, parts, threshold=0.999)
    assert n == 3
    assert {(p.a, p.b, p.kind) for p in pairs} == {
        (1, 5, "within_class"),
        (13, 30, "across_classes"),
        (14, 20, "across_splits"),
    }
    assert all(p.similarity >= 0.999 for p in pairs)
    assert near_duplicates(x, y, parts, threshold=0.999, limit=1)[0][0].similarity == max(
        p.similarity for p in pairs
    )


def test_an_image_unlike_all_others_is_the_outlier() -> None:
    x, _ = blobs()
    assert find_outliers(x) == []
    x[7] = np.r_[np.zeros(15), 9.0]  # points where no image does
    assert [o.index for o in find_outliers(x)] == [7]


def test_a_class_with_one_image_is_said_and_left_out_of_the_label_check() -> None:
    x, y = blobs()
    x[0] = x[20]  # a class-1 picture filed under class 0
    lone = np.vstack([x, x[25:26]])
    labels = np.r_[y, 3]
    check = check_labels(lone, labels, ["a", "b", "c", "d"])
    assert check.checked == (True, True, True, False)
    assert "'d' has fewer than 2 images, too few to check its label" in check.note
    assert [(i.index, i.given, i.suggested) for i in check.issues][:1] == [(0, 0, 1)]
    assert len(lone) - 1 not in check.ranking and np.isnan(check.probs[-1]).all()
    none = check_labels(x[:13], np.r_[np.zeros(12, int), 1], ["a", "b"])
    assert none.issues == () and "cannot be checked" in none.note


def test_the_map_uses_tsne_for_many_images_and_samples_a_big_set() -> None:
    x, y = blobs(per_class=40)
    small = project(x[:30], y[:30])
    assert small.method == "PCA" and small.xy.shape == (30, 2) and small.note == ""
    big = project(x, y, max_points=60)
    assert big.method == "t-SNE" and big.xy.shape == (60, 2)
    assert len([*workspace.cache_dir("inspect").glob("tsne-*.npy")]) == 1
    assert np.array_equal(project(x, y, max_points=60).xy, big.xy)  # the cached map
    assert np.bincount(y[big.indices]).tolist() == [20, 20, 20]
    assert "shows 60 of the 120 images" in big.note


def test_the_map_figure_colours_by_class_and_rings_the_suspects() -> None:
    from tlcore.results.inspect.figures import SUSPECT, map_figure
    from tlcore.results.plots import colour

    points = [
        {"path": "/d/cat/a.jpg", "x": 0.0, "y": 1.0, "label": "cat", "suspect": False},
        {"path": "/d/dog/b.jpg", "x": 1.0, "y": 0.0, "label": "dog", "suspect": True},
        {"path": "/d/dog/c.jpg", "x": 2.0, "y": 2.0, "label": "dog", "suspect": False},
    ]
    fig = map_figure(points, ["bird", "cat", "dog"], "Map")
    assert [t.name for t in fig.data] == ["cat", "dog", SUSPECT]
    assert [t.marker.color for t in fig.data[:2]] == [colour(1), colour(2)]  # bird keeps 0
    assert list(fig.data[1].customdata) == ["/d/dog/b.jpg", "/d/dog/c.jpg"]
    assert list(fig.data[2].customdata) == ["/d/dog/b.jpg"] and list(fig.data[2].text) == ["b.jpg"]
