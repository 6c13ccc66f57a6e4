"""Predict page (AppTest): no model yet, a damaged model, and a real model's page."""

from pathlib import Path

from app_helpers import app, errors, finished_run, texts

from tlcore import runs


def test_without_a_trained_model_it_says_where_to_go() -> None:
    at = app("predict")
    assert not at.exception
    assert "There is no trained model yet" in texts(at)


def test_a_damaged_model_file_is_an_error_not_an_exception(tiny_dataset: Path) -> None:
    run_id = finished_run(tiny_dataset)
    (runs.run_path(run_id) / "model.keras").write_bytes(b"not a model")
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception
    assert len(errors(at)) == 1 and errors(at)[0].endswith("Pick another model.")


def test_a_trained_model_offers_upload_camera_and_export(tiny_dataset: Path) -> None:
    import keras

    from tlcore.classifier import build_classifier

    run_id = finished_run(tiny_dataset)
    info = runs.load_run(run_id)
    model = build_classifier(info.config, 3)
    keras.models.Model.save(model, info.path / "model.keras")
    (info.path / "labels.txt").write_text("blue\ngreen\nred\n")
    at = app("predict", data_path=str(tiny_dataset))
    assert not at.exception and errors(at) == []
    assert "Knows 3 classes: blue, green, red" in texts(at)
    assert [b.label for b in at.button][:2] == ["Prepare Keras model (.keras)",
                                               "Prepare TensorFlow Lite (.tflite)"]
    at.button(key="export_keras").click().run()
    assert not at.exception and errors(at) == []
