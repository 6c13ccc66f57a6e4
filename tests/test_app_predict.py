"""Predict page (AppTest): no model yet, a damaged model, and a real model's page."""

import threading
from pathlib import Path

from app_helpers import app, errors, finished_run, texts

from tlcore.runs import run_files, run_info


def test_without_a_trained_model_it_says_where_to_go() -> None:
    at = app("predict")
    assert not at.exception
    assert "There is no trained model yet" in texts(at)


def test_a_damaged_model_file_is_an_error_not_an_exception(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    (run_files.run_path(run_id) / "model.keras").write_bytes(b"not a model")
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception
    assert len(errors(at)) == 1 and errors(at)[0].endswith("Pick another model.")


def _trained_run(data: Path) -> str:
    import keras

    from tlcore.models.classifier import build_classifier

    run_id = finished_run(data)
    info = run_info.load_run(run_id)
    model = build_classifier(info.config, 3)
    keras.models.Model.save(model, info.path / "model.keras")
    (info.path / "labels.txt").write_text("blue\ngreen\nred\n")
    return run_id


def test_a_trained_model_offers_upload_camera_and_export(tiny_dataset: Path) -> None:
    _trained_run(tiny_dataset)
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception and errors(at) == []
    assert "Knows 3 classes: blue, green, red" in texts(at)
    assert [b.label for b in at.button][:2] == [
        "Prepare Keras model (.keras)",
        "Prepare TensorFlow Lite (.tflite)",
    ]
    at.button(key="export_keras").click().run()
    assert not at.exception and errors(at) == []
    # Named after the run ("earlier"), not its id.
    assert [d.proto.label for d in at.get("download_button")] == ["Download earlier-keras.zip"]


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_uploads_are_saved_by_content_and_predictions_become_csv(workspace: Path) -> None:
    from tlcore.results.predict import Prediction
    from ui import prediction

    paths = prediction.save_uploads(
        [_Upload("cat.JPG", b"1"), _Upload("same.png", b"1"), _Upload("image.png", b"2")]
    )
    assert [Path(p).suffix for p in paths] == [".jpg", ".png", ".png"]
    assert Path(paths[0]).stem == Path(paths[1]).stem != Path(paths[2]).stem
    assert all(Path(p).parent == workspace.resolve() / "cache" / "uploads" for p in paths)
    preds = [
        Prediction("a", "cat", 0.9, [("cat", 0.9), ("dog", 0.1)]),
        Prediction("b", "dog", 0.6, [("dog", 0.6), ("cat", 0.4)]),
    ]
    csv = prediction.predictions_csv(["a.jpg", "b.jpg"], preds)
    assert csv.decode().splitlines() == [
        "file,predicted,probability,top1,top1_probability,top2,top2_probability",
        "a.jpg,cat,0.9000,cat,0.9000,dog,0.1000",
        "b.jpg,dog,0.6000,dog,0.6000,cat,0.4000",
    ]


def _png(size: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_one_bad_file_among_good_ones_is_named_by_its_own_name(tiny_dataset: Path) -> None:
    from tlcore.results.predict import load_predictor
    from ui import prediction

    predictor = load_predictor(_trained_run(tiny_dataset))
    items = [
        _Upload("red.png", _png(40)),
        _Upload("notes.jpg", b"milk, eggs, bread"),
        _Upload("dot.png", _png(8)),
    ]
    checked = prediction.read_uploads(predictor, items)
    assert [c.name for c in checked] == ["red.png", "notes.jpg", "dot.png"]
    assert [c.problem for c in checked] == [None, "notes.jpg: not an image.", None]
    good = [c for c in checked if c.problem is None]
    preds = prediction.predict(predictor, threading.Lock(), [c.image for c in good])
    assert len(preds) == 2 and {p.label for p in preds} <= {"blue", "green", "red"}
    assert prediction.tiny_note(good[0].size, predictor.image_size) is None
    assert prediction.tiny_note(good[1].size, predictor.image_size) == (
        "This image is only 8 × 8 px: the model sees it blown up to 32 px, so this answer "
        "means little. Use a photo at least 32 px on each side."
    )


def test_the_best_finished_model_of_this_dataset_is_preselected(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    from conftest import write_class_images

    best = _trained_run(tiny_dataset)
    run_files.update_status(run_files.run_path(best), test_accuracy=0.9, evaluation="test")
    # Trained later: a run stopped half-way (the one the Train page showed last) ...
    stopped = finished_run(tiny_dataset, status="stopped")
    # ... and a better one, of another dataset.
    other = finished_run(write_class_images(tmp_path / "other"))
    run_files.update_status(run_files.run_path(other), test_accuracy=0.95, evaluation="test")
    at = app("predict", data_path=str(tiny_dataset), run_id=stopped)
    assert not at.exception and errors(at) == []
    assert at.selectbox[0].value == best
    assert (
        "Preselected: your most accurate model of this dataset (finished, 90% test accuracy)."
        in texts(at)
    )


def test_dropped_images_are_still_there_after_visiting_another_page(tiny_dataset: Path) -> None:
    _trained_run(tiny_dataset)
    at = app("predict", data_path=str(tiny_dataset))
    at.file_uploader(key="predict_upload").set_value(
        [("red.png", _png(40), "image/png"), ("big red.png", _png(48), "image/png")]
    ).run()
    assert not at.exception and errors(at) == []
    shown = [c for image in at.image for c in image.captions]
    assert shown == ["red.png", "where it looked", "big red.png", "where it looked"]
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception and errors(at) == []
    assert "The 2 images you dropped earlier (drop new ones above to replace them)." in texts(at)
    assert [c for image in at.image for c in image.captions] == shown
    at.button(key="clear_kept").click().run()
    assert "Drop some images above to see what the model says." in texts(at)


def test_an_image_the_model_trained_on_is_said_to_be_one(tiny_dataset: Path) -> None:
    # The page asks for new photos; a training image dropped here said nothing about it.
    from tlcore.data.scan import scan
    from tlcore.data.split import make_split, save_split

    run_id = _trained_run(tiny_dataset)
    save_split(make_split(scan(tiny_dataset)), run_files.run_path(run_id) / "split.json")
    split = run_files.read_split(run_id)
    assert split is not None and split.train
    trained_on = Path(split.train[0].path)
    at = app("predict", data_path=str(tiny_dataset))
    at.file_uploader(key="predict_upload").set_value(
        [
            ("copy of a training image.png", trained_on.read_bytes(), "image/png"),
            ("new.png", _png(44), "image/png"),
        ]
    ).run()
    assert not at.exception and errors(at) == []
    notes = [w.value for w in at.warning if "training images" in w.value]
    assert notes == [
        "This image was one of the model's training images, so this prediction says "
        "little about new images."
    ]
