"""Model page (AppTest): backbone registry, weights choice, strategies, layer counts."""

from pathlib import Path

from app_helpers import app, ended_config, errors, texts, wk

from tlcore.models.backbones import BACKBONES

SMALL = {
    "backbone": "small_cnn",
    "weights": "none",
    "strategy": "scratch",
    "training": {"image_size": 32, "epochs": 1},
}


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_without_a_dataset_it_says_where_to_go() -> None:
    at = app("model")
    assert not at.exception
    assert "First choose your images" in texts(at)
    assert len(at.get("page_link")) >= 1


def test_lists_every_backbone_from_the_registry(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    assert not at.exception and errors(at) == []
    assert at.selectbox(key=wk(at, "_w_backbone")).options == [
        spec.display_name for spec in BACKBONES.values()
    ]
    assert at.radio(key=wk(at, "_w_strategy")).options == [
        "Feature extraction",
        "Fine-tune the top",
        "Full fine-tune",
        "From scratch",
    ]


def test_strategy_changes_the_trainable_counts(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    assert _metric(at, "Layers that train") == "16 of 16"
    at.radio(key=wk(at, "_w_strategy")).set_value("feature-extraction").run()
    assert not at.exception
    assert _metric(at, "Layers that train") == "0 of 16"
    # the head of 3 classes on 128 features: 128*3+3 weights
    assert _metric(at, "Parameters that train") == "387"
    at.radio(key=wk(at, "_w_strategy")).set_value("fine-tune").run()
    layers_training = int(_metric(at, "Layers that train").split()[0])
    assert 0 < layers_training < 16


def test_freeze_up_to_a_block_makes_it_custom(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    at.selectbox(key="freeze_upto").set_value("block2").run()
    at.button(key="freeze_upto_apply").click().run()
    assert not at.exception
    frozen = at.session_state["frozen_layers"]
    assert frozen[-1] == "block2_pool" and "block3_conv" not in frozen
    assert at.radio(key=wk(at, "_w_strategy")).value == "custom"
    # picking a preset again drops the custom selection
    at.radio(key=wk(at, "_w_strategy")).set_value("full").run()
    assert at.session_state["frozen_layers"] is None
    assert _metric(at, "Layers that train") == "16 of 16"  # no BatchNorm to keep frozen


def test_offline_imagenet_download_shows_the_alternatives(tiny_dataset: Path, monkeypatch) -> None:
    # Nothing listens on this port: the download fails at once, as offline.
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")
    at = app(
        "model",
        data_path=str(tiny_dataset),
        backbone="mobilenet_v2",
        weights="imagenet",
        strategy="feature-extraction",
        training={"image_size": 96},
    )
    assert not at.exception
    # Measuring the strategy never downloads: it waits for the weights.
    assert [b for b in at.button if b.key == "probe_run"] == []
    assert "To measure, the pretrained weights must be on this computer" in texts(at)
    at.button(key="weights_download").click().run()
    assert not at.exception
    assert len(errors(at)) == 1 and "offline" in errors(at)[0]
    assert "Could not download" in texts(at) + "".join(str(m.value) for m in at.markdown)
    assert at.button(key="offline_random").label.endswith("Start from random weights")
    at.button(key="offline_random").click().run()
    assert at.session_state["weights"] == "none"
    assert errors(at) == []


def test_offline_the_first_alternative_is_the_network_installed_with_transferlab(
    tiny_dataset: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TRANSFERLAB_WEIGHTS_BASE_URL", "http://127.0.0.1:9/")
    at = app("model", data_path=str(tiny_dataset), backbone="mobilenet_v2", weights="imagenet")
    at.button(key="weights_download").click().run()
    offer = at.button(key="offline_bundled")
    assert "EfficientNet-Lite0 — installed with TransferLab, works offline" in offer.label
    offer.click().run()
    assert not at.exception and errors(at) == []
    state = at.session_state
    assert (state["backbone"], state["weights"]) == ("efficientnet_lite0", "imagenet")
    assert "Could not download" not in texts(at)


def test_a_recipe_fills_in_the_choices(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    at.selectbox(key="recipe_pick").set_value("vgg16_feature_extraction").run()
    # VGG16's weights are not on this computer: said on picking, with the offline twin.
    assert "downloads its ImageNet weights first" in texts(at)
    at.button(key="recipe_offline").click().run()
    assert at.session_state["backbone"] == "efficientnet_lite0"
    assert at.session_state["strategy"] == "feature-extraction"
    training = at.session_state["training"]
    assert (training["pooling"], training["head_units"], training["optimizer"]) == (
        "flatten",
        [256],
        "rmsprop",
    )
    assert training["auto"] is False  # nothing chosen automatically over the recipe


def test_choosing_the_small_cnn_switches_to_from_scratch(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), training={"image_size": 32})
    assert at.session_state["backbone"] == "efficientnet_lite0"  # works offline
    at.selectbox(key=wk(at, "_w_backbone")).set_value("small_cnn").run()
    assert not at.exception and errors(at) == []
    assert (at.session_state["weights"], at.session_state["strategy"]) == ("none", "scratch")
    assert _metric(at, "Layers that train") == "16 of 16"


def test_augmentation_toggles_show_a_preview(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    images_before = len(at.image)
    at.toggle(key=wk(at, "aug_on_flip_horizontal")).set_value(True).run()
    at.toggle(key=wk(at, "aug_on_rotation")).set_value(True).run()
    assert not at.exception and errors(at) == []
    assert at.session_state["augment"] == {"flip_horizontal": 1.0, "rotation": 0.1}
    assert len(at.image) == images_before + 3  # one row per sample image
    # Rotation in degrees (the strength is a fraction of a turn); the others in percent.
    assert at.slider(key=wk(at, "aug_deg_rotation")).value == 36
    at.slider(key=wk(at, "aug_deg_rotation")).set_value(90).run()
    assert at.session_state["augment"]["rotation"] == 0.25
    at.toggle(key=wk(at, "aug_on_zoom")).set_value(True).run()
    assert at.slider(key=wk(at, "aug_pct_zoom")).value == 10
    assert at.session_state["augment"]["zoom"] == 0.1


def test_one_of_my_models_without_any_run_says_what_to_do(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), training={"image_size": 32})
    at.selectbox(key=wk(at, "_w_backbone")).set_value("my_model").run()
    assert not at.exception and errors(at) == []
    assert "You have no finished model yet" in texts(at)
    assert "The layer list appears once" in texts(at)


def test_settings_are_chosen_from_the_images_and_each_says_why(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset))
    assert not at.exception and errors(at) == []
    shown = texts(at)
    assert "Chosen for your images:" in shown
    assert "No epochs: the head is solved exactly on the cached features." in shown
    assert "The smallest class has 12 images" in shown
    at.toggle(key=wk(at, "set_auto")).set_value(False).run()
    assert "Chosen for your images:" not in texts(at)
    assert at.number_input(key=wk(at, "set_epochs")).value == 10


def _model_run(data: Path, name: str, status: str, accuracy: float, size: int) -> str:
    """A run with a real saved (untrained) model, as "one of my models" needs."""
    import keras

    from tlcore.models.classifier import build_classifier
    from tlcore.runs import run_files, store

    config = ended_config(data, size, name)
    info = store.create_run(config)
    keras.models.Model.save(build_classifier(config, 3), info.path / "model.keras")
    run_files.update_status(
        info.path, status=status, ended=run_files.now_iso(), test_accuracy=accuracy, epochs_run=1
    )
    return info.run_id


def test_one_of_my_models_starts_from_the_best_run_at_its_own_size(tiny_dataset: Path) -> None:
    best = _model_run(tiny_dataset, "good one", "finished", 0.8, 40)
    _model_run(tiny_dataset, "weaker", "finished", 0.5, 32)
    latest = _model_run(tiny_dataset, "cut short", "stopped", 0.9, 32)  # newest, not finished
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    at.selectbox(key=wk(at, "_w_backbone")).set_value("my_model").run()
    assert not at.exception and errors(at) == []
    assert at.session_state["weights"] == f"run:{best}"
    pick = at.selectbox(key=f"weights_run_{best}")
    assert pick.value == best
    assert pick.options[0].startswith("cut short · Small CNN (from scratch) · ")
    assert pick.options[0].endswith(" — stopped, 90% test accuracy")
    assert not any(latest in o or best in o for o in pick.options)  # names, not ids
    # The size comes from the model (40 px), in the header and in the config.
    assert _metric(at, "Image size") == "40 px"
    # From scratch is not offered (it would throw the model's weights away), and says why.
    strategy = at.radio(key=wk(at, "_w_strategy_no_scratch"))
    assert "From scratch" not in strategy.options and "Full fine-tune" in strategy.options
    assert at.session_state["strategy"] == "feature-extraction"
    assert "Not possible with One of my models" in texts(at)
    assert "**Image size:** 40 px" in texts(at)  # in Advanced: set by the model, no slider
    assert at.session_state["training"]["image_size"] == 32  # the person's own, for later
    at.selectbox(key=f"weights_run_{best}").set_value(latest).run()
    assert not at.exception and errors(at) == []
    assert _metric(at, "Image size") == "32 px"


def test_the_strategy_is_measured_on_the_images_and_can_be_used(tiny_dataset: Path) -> None:
    # EfficientNet-Lite0 (installed with TransferLab) at 32 px; the person chose Full.
    at = app("model", data_path=str(tiny_dataset), strategy="full", training={"image_size": 32})
    assert "Feature extraction is the default" in texts(at)  # before measuring: no claim
    assert "Suggested:" not in texts(at)
    at.button(key="probe_run").click().run()
    assert not at.exception and errors(at) == []
    probe = at.session_state["probe"]
    assert probe["result"]["images"] == 36 and probe["result"]["folds"] == 5
    measured = f"{100 * probe['result']['last']['accuracy']:.0f}%"
    assert _metric(at, "Feature extraction") == measured
    assert _metric(at, "Chance") == "33%"
    # Three colours are easy even for ImageNet features at 32 px (100% measured), so the
    # probe reads them as fitting and points to feature extraction.
    assert probe["advice"]["strategy"] == "feature-extraction"
    assert "Suggested: Feature extraction." in texts(at)
    at.button(key="probe_use").click().run()
    assert at.session_state["strategy"] == "feature-extraction"
    assert "Feature extraction is the strategy chosen below" in texts(at)
    assert at.session_state["probe"] == probe  # kept while the choices it measured stay
    # "Measure again" was a tertiary button, drawn as plain text: it must look like a button.
    assert at.button(key="probe_again").proto.type == "secondary"
    small = app("model", data_path=str(tiny_dataset), **SMALL)
    assert "Suggested: From scratch." in texts(small)
    assert [b for b in small.button if b.key == "probe_run"] == []  # nothing pretrained


def test_one_of_my_models_with_a_damaged_spec_says_so_instead_of_crashing(
    tiny_dataset: Path,
) -> None:
    from tlcore import workspace

    run_id = _model_run(tiny_dataset, "damaged later", "finished", 0.8, 40)
    (workspace.runs_dir() / run_id / "spec.json").write_text('{"config": {"image_si')
    at = app("model", data_path=str(tiny_dataset), backbone="my_model", weights=f"run:{run_id}")
    assert not at.exception
    assert (
        f"Run '{run_id}''s settings (spec.json) are damaged, so the network it trained cannot "
        "be rebuilt from it; pick another of your models."
    ) in errors(at)


def test_a_keras_file_with_a_deeply_nested_config_is_an_error_not_a_crash(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    import zipfile

    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "[" * 50_000 + "]" * 50_000)
    at = app("model", data_path=str(tiny_dataset), backbone="keras_file", weights=str(path))
    assert not at.exception
    assert (
        "Refused to open 'deep.keras': its architecture (config.json) is nested 50,000 levels "
        "deep, where real models stay under 100; re-save the model with "
        "model.save('model.keras')."
    ) in errors(at)


def test_the_image_size_figure_follows_the_slider_at_once(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), **SMALL)
    before = _metric(at, "Image size")
    at.select_slider(key="set_size_small_cnn").set_value(64).run()
    assert not at.exception
    assert (before, _metric(at, "Image size")) == ("32 px", "64 px")


def test_uploaded_files_no_run_could_start_from_are_refused_at_once(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    import zipfile

    import keras
    from keras import layers

    from tlcore import workspace

    inputs = keras.Input((16, 16, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(inputs))
    keras.Model(inputs, layers.Dense(2)(x)).save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["config.json"] = members["config.json"].replace(
        b"[null, 16, 16, 3]", b"[null, 20000, 20000, 3]"
    )
    with zipfile.ZipFile(tmp_path / "huge.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    at = app("model", data_path=str(tiny_dataset), backbone="keras_file", weights="")
    upload = (tmp_path / "huge.keras").read_bytes()
    at.file_uploader(key="model_file_upload").set_value(
        [("huge.keras", upload, "application/octet-stream")]
    ).run()
    assert not at.exception and at.session_state["weights"] == ""
    assert errors(at) == [
        "'huge.keras' declares 20000 x 20000 px input images; TransferLab works with 16 to "
        "1024 px (as for --image-size), so re-save the model with an input in that range, "
        "e.g. keras.Input((224, 224, 3))."
    ]
    assert not list(workspace.cache_dir("models").iterdir())

    at = app("model", data_path=str(tiny_dataset), backbone="mobilenet_v3_small", weights="x.h5")
    at.file_uploader(key="weights_upload").set_value(
        [("junk.h5", b"junk" * 100, "application/octet-stream")]
    ).run()
    assert not at.exception and at.session_state["weights"] == "x.h5"
    assert errors(at)[0] == (
        "'junk.h5' is not a weights file (it holds no HDF5 data); give a .weights.h5 file "
        "saved with model.save_weights() from a MobileNetV3 Small network."
    )
    assert not at.success


def test_mirror_images_are_tried_only_when_asked_for(tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset))
    box = at.checkbox(key=wk(at, "set_try_mirror"))
    assert box.value is False  # off by default: it costs one more pass over the images
    box.check().run()
    assert at.session_state["training"]["try_mirror"] is True
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert "also each image averaged with its mirror image" in texts(at)
