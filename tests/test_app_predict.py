"""Predict page (AppTest): no model yet, a damaged model, and a real model's page."""

from pathlib import Path

from app_helpers import app, errors, finished_run, texts

from tlcore.runs import store


def test_without_a_trained_model_it_says_where_to_go() -> None:
    at = app("predict")
    assert not at.exception
    assert "There is no trained model yet" in texts(at)


def test_a_damaged_model_file_is_an_error_not_an_exception(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    (store.run_path(run_id) / "model.keras").write_bytes(b"not a model")
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception
    assert len(errors(at)) == 1 and errors(at)[0].endswith("Pick another model.")


def test_a_trained_model_offers_upload_camera_and_export(tiny_dataset: Path) -> None:
    import keras

    from tlcore.models.classifier import build_classifier

    run_id = finished_run(tiny_dataset)
    info = store.load_run(run_id)
    model = build_classifier(info.config, 3)
    keras.models.Model.save(model, info.path / "model.keras")
    (info.path / "labels.txt").write_text("blue\ngreen\nred\n")
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception and errors(at) == []
    assert "Knows 3 classes: blue, green, red" in texts(at)
    assert [b.label for b in at.button][:2] == [
        "Prepare Keras model (.keras)",
        "Prepare TensorFlow Lite (.tflite)",
    ]
    at.button(key="export_keras").click().run()
    assert not at.exception and errors(at) == []


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
    csv = prediction.predictions_csv([_Upload("a.jpg", b""), _Upload("b.jpg", b"")], preds)
    assert csv.decode().splitlines() == [
        "file,predicted,probability,top1,top1_probability,top2,top2_probability",
        "a.jpg,cat,0.9000,cat,0.9000,dog,0.1000",
        "b.jpg,dog,0.6000,dog,0.6000,cat,0.4000",
    ]
