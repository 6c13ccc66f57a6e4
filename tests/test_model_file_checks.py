"""Hostile and odd model files are refused with one sentence, before Keras builds them."""

import json
import zipfile
from pathlib import Path

import pytest
from conftest import write_class_images

from tlcore.cli import main
from tlcore.config import TrainConfig
from tlcore.errors import ModelFileError
from tlcore.models.backbone_models import file_input_size
from tlcore.models.classifier import image_size_for
from tlcore.models.model_files import check_model_file, load_image_model, load_model_safely
from tlcore.results.predict import load_predictor

RESAVE = "re-save the model with model.save('model.keras')."


def _classifier(size: int = 16, channels: int = 3, width: int | None = None):
    import keras
    from keras import layers

    inputs = keras.Input((size, width or size, channels))
    x = layers.Conv2D(2, 3, padding="same")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(x))


def _save(model, path: Path, labels: str | None = "cat\ndog\n") -> Path:
    model.save(path)
    if labels is not None:
        path.with_name("labels.txt").write_text(labels)
    return path


def _config_of(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("config.json")


def _image(tmp_path: Path) -> Path:
    return write_class_images(tmp_path / "data", per_class=1) / "red" / "red_000.jpg"


def _cli_error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    return err.removeprefix("error: ")


# --- files that would blow up while being read ------------------------------------------


def test_a_deeply_nested_config_is_refused_not_a_recursion_error(tmp_path, capsys) -> None:
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        z.writestr("metadata.json", "{}")
    expected = (
        "Refused to open 'deep.keras': its architecture (config.json) is nested 100,000 "
        f"levels deep, where real models stay under 100; {RESAVE}"
    )
    for peek in (file_input_size, check_model_file, load_model_safely):
        with pytest.raises(ModelFileError) as err:
            peek(str(path))
        assert str(err.value) == expected
    assert _cli_error(["predict", str(path), str(_image(tmp_path))], capsys) == expected
    train = ["train", str(tmp_path / "data"), "--backbone", "keras_file", "--weights", str(path)]
    assert _cli_error(train, capsys) == expected


def test_a_config_that_inflates_enormously_is_not_read(tmp_path) -> None:
    real = tmp_path / "real.keras"
    _save(_classifier(32), real)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(real) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "config.json":
                z.writestr(info.filename, src.read(info.filename))
        # Valid JSON (trailing blanks are allowed): written in 1 MiB pieces, 64 MiB in all.
        with z.open("config.json", "w") as f:
            f.write(src.read("config.json"))
            for _ in range(64):
                f.write(b" " * (1 << 20))
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(ModelFileError) as err:
        file_input_size(str(bomb))
    assert str(err.value).startswith(
        "Refused to open 'bomb.keras': its member 'config.json' would unpack from 0.1 MiB "
        "to 64.0 MiB, as no saved model does (a decompression bomb);"
    )
    assert file_input_size(str(real)) == 32  # the same model, honestly stored


def test_many_big_members_are_refused_before_keras_unpacks_them(tmp_path) -> None:
    real = tmp_path / "real.keras"
    _save(_classifier(), real)

    def padded(name: str, members: int, size: int) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(real) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for info in src.infolist():
                z.writestr(info.filename, src.read(info.filename))
            for i in range(members):
                z.writestr(f"assets/pad{i}.bin", bytes(size))
        return path

    many = padded("many.keras", 1001, 0)
    with pytest.raises(ModelFileError) as err:
        load_model_safely(many)
    assert str(err.value) == (
        "Refused to open 'many.keras': it holds 1,004 files where a Keras model holds a few "
        f"(config.json, metadata.json, model.weights.h5); {RESAVE}"
    )
    big = padded("big.keras", 2, 20 << 20)  # each member alone is a bomb
    with pytest.raises(ModelFileError, match=r"its member 'assets/pad0\.bin' would unpack from"):
        load_model_safely(big)
    # Members under 1 MiB each, but 300 MiB together from a file of a fraction of that.
    spread = padded("spread.keras", 300, 1 << 20)
    with pytest.raises(ModelFileError) as err:
        load_model_safely(spread)
    assert str(err.value).startswith("Refused to open 'spread.keras': its 303 members would")
    assert str(err.value).endswith(f"as no saved model does; {RESAVE}")


# --- the declared input size obeys the --image-size limit -----------------------------


def _declaring(path: Path, size: int) -> Path:
    """A tiny classifier whose config.json says it takes ``size`` px images.

    Built at 16 px and relabelled, so the test never builds (or feeds) a huge model.
    """
    _save(_classifier(16), path)
    config = _config_of(path).replace(b"[null, 16, 16, 3]", f"[null, {size}, {size}, 3]".encode())
    with zipfile.ZipFile(path) as src:
        members = {n: src.read(n) for n in src.namelist()}
    members["config.json"] = config
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("size", [20000, 2048, 8])
def test_a_declared_size_outside_16_to_1024_is_refused_before_loading(tmp_path, size) -> None:
    path = _declaring(tmp_path / "huge.keras", size)
    expected = (
        f"'huge.keras' declares {size} x {size} px input images; TransferLab works with 16 "
        "to 1024 px (as for --image-size), so re-save the model with an input in that "
        "range, e.g. keras.Input((224, 224, 3))."
    )
    config = TrainConfig(data="x", backbone="keras_file", weights=str(path))
    for attempt in (
        lambda: load_predictor(path),
        lambda: load_image_model(path, "backbone"),
        lambda: file_input_size(str(path)),
        lambda: image_size_for(config),
    ):
        with pytest.raises(ModelFileError) as err:
            attempt()
        assert str(err.value) == expected


def test_the_cli_refuses_a_2048_px_model_for_predict_and_training(tmp_path, capsys) -> None:
    path = _declaring(tmp_path / "huge.keras", 2048)
    image = _image(tmp_path)
    expected = "'huge.keras' declares 2048 x 2048 px input images;"
    assert _cli_error(["predict", str(path), str(image)], capsys).startswith(expected)
    train = ["train", str(tmp_path / "data"), "--backbone", "keras_file", "--weights", str(path)]
    assert _cli_error([*train, "--epochs", "1"], capsys).startswith(expected)


# --- models of shapes TransferLab cannot predict with -----------------------------------


def _odd_model(kind: str):
    import keras
    from keras import layers

    def head(x):
        return layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(x))

    if kind == "free-size":
        inputs = keras.Input((None, None, 3))
        return keras.Model(inputs, head(layers.Conv2D(2, 3)(inputs)))
    if kind == "two inputs":
        a, b = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
        return keras.Model([a, b], head(layers.Concatenate()([a, b])))
    if kind == "dense-only":
        inputs = keras.Input((12,))
        return keras.Model(inputs, layers.Dense(2, activation="softmax")(inputs))
    if kind == "4-D output":
        inputs = keras.Input((16, 16, 3))
        return keras.Model(inputs, layers.Conv2D(2, 1, activation="softmax")(inputs))
    if kind == "two outputs":
        inputs = keras.Input((16, 16, 3))
        x = layers.GlobalAveragePooling2D()(inputs)
        return keras.Model(inputs, [layers.Dense(2)(x), layers.Dense(3)(x)])
    if kind == "non-square":
        return _classifier(16, width=24)
    raise AssertionError(kind)


ODD_SHAPES = {
    "free-size": "'free-size.keras' takes images of any size, so it does not say the size it "
    "was trained at; re-save it with that size as its input, e.g. keras.Input((224, 224, 3)), "
    "to predict with it.",
    "two inputs": "'two inputs.keras' takes 2 inputs, but TransferLab gives a model one image; "
    "use a model with a single image input.",
    "dense-only": "'dense-only.keras' takes a vector of 12 numbers, not images (height x width "
    "x channels), so TransferLab cannot use it; use a model whose input is an image.",
    "4-D output": "'4-D output.keras' outputs a 16 x 16 x 2 map (e.g. a mask), not one score "
    "per class; TransferLab can only predict with classifiers.",
    "two outputs": "'two outputs.keras' gives 2 outputs, but TransferLab reads one list of "
    "class scores; use a classifier with a single output.",
    "non-square": "'non-square.keras' takes 16 x 24 px images (height x width), but "
    "TransferLab works with square images; re-save it with a square input, e.g. "
    "keras.Input((24, 24, 3)).",
}


@pytest.mark.parametrize("kind", list(ODD_SHAPES))
def test_each_odd_model_shape_gets_one_sentence_from_predict(tmp_path, capsys, kind) -> None:
    path = _save(_odd_model(kind), tmp_path / f"{kind}.keras")
    assert _cli_error(["predict", str(path), str(_image(tmp_path))], capsys) == ODD_SHAPES[kind]


def test_a_one_channel_model_predicts_on_the_grey_image(tmp_path, capsys) -> None:
    import numpy as np

    model = _classifier(16, channels=1)
    path = _save(model, tmp_path / "grey.keras")
    image = _image(tmp_path)
    predictor = load_predictor(path)
    got = predictor.predict_paths([image], top_k=2)[0]
    rgb = predictor.load(image).astype(np.float32)
    grey = np.round(rgb @ np.array([0.299, 0.587, 0.114], np.float32))[None, ..., None]
    expected = model.predict(grey, verbose=0)[0]
    assert got.label == ["cat", "dog"][int(expected.argmax())]
    assert got.probability == pytest.approx(float(expected.max()), abs=1e-5)
    assert main(["predict", str(path), str(image)]) == 0
    with pytest.raises(ModelFileError) as err:
        load_image_model(path, "backbone")  # as a starting network it must take colour
    assert str(err.value) == (
        "'grey.keras' takes one-channel (grey) images, but TransferLab starts from networks "
        "that take colour (3-channel RGB) images; use a model whose input has 3 channels."
    )


# --- class names beside a model file ----------------------------------------------------


def test_missing_or_unreadable_labels_are_said_not_made_up(tmp_path, capsys) -> None:
    path = _save(_classifier(), tmp_path / "m.keras", labels=None)
    image = str(_image(tmp_path))
    assert _cli_error(["predict", str(path), image], capsys) == (
        "There are no class names beside 'm.keras': put a labels.txt next to it with one "
        "class name a line, in the order of the model's outputs."
    )
    labels = tmp_path / "labels.txt"
    labels.write_bytes("chat\nchien\u00e9\n".encode("latin-1"))
    assert _cli_error(["predict", str(path), image], capsys) == (
        f"'{labels}' is not UTF-8 text; save it again as UTF-8 (one class name a line)."
    )
    labels.write_text("chat\nchien\u00e9\n", encoding="utf-8")
    assert main(["predict", str(path), image, "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(t["label"] for t in got[0]["top_k"]) == ["chat", "chien\u00e9"]


def test_a_damaged_or_oddly_compressed_config_is_one_sentence(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b'{"class_name": "x"}' * 100)
    with zipfile.ZipFile(broken) as z:
        start = z.getinfo("config.json").header_offset + 30 + len("config.json")
    data = bytearray(broken.read_bytes())
    data[start] = 0xFF  # a deflate block of the reserved type: zlib.error
    broken.write_bytes(bytes(data))
    odd = tmp_path / "odd.keras"
    with zipfile.ZipFile(odd, "w") as z:
        z.writestr("config.json", b"{}")
    data = bytearray(odd.read_bytes())
    data[8] = data[data.find(b"PK\x01\x02") + 10] = 99  # a compression method zipfile lacks
    odd.write_bytes(bytes(data))
    image = str(_image(tmp_path))
    assert _cli_error(["predict", str(broken), image], capsys) == (
        "Could not read the model file 'broken.keras' (Error -3 while decompressing data: "
        "invalid block type)."
    )
    assert _cli_error(["predict", str(odd), image], capsys) == (
        "Could not read the model file 'odd.keras' (That compression method is not supported)."
    )


def test_a_yes_no_model_or_labels_of_another_count_are_one_sentence(tmp_path, capsys) -> None:
    import keras
    from keras import layers

    inputs = keras.Input((16, 16, 3))
    x = layers.GlobalAveragePooling2D()(inputs)
    (tmp_path / "yesno").mkdir()
    yes_no = _save(keras.Model(inputs, layers.Dense(1, "sigmoid")(x)), tmp_path / "yesno/m.keras")
    image = str(_image(tmp_path))
    assert _cli_error(["predict", str(yes_no), image], capsys) == (
        "The model gives a single score per image (a yes/no output), not one per class; "
        "TransferLab reads classifiers whose last layer has one output per class (softmax), "
        "such as the models it trains."
    )
    three = _save(_classifier(), tmp_path / "m.keras", labels="a\nb\nc\n")
    assert _cli_error(["predict", str(three), image], capsys) == (
        "The model gives 2 class scores but its labels name 3 classes; labels.txt beside it "
        "needs one class name a line for each of its 2 outputs, in order."
    )
