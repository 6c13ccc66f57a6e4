"""Data page (AppTest): the four ways in, the report, the split, and errors for bad input."""

from pathlib import Path

from app_helpers import app, errors, texts, wk
from conftest import write_class_images


def test_data_page_renders_with_four_ways_in() -> None:
    at = app()
    assert not at.exception
    assert [t.label.split(": ", 1)[1] for t in at.tabs][:4] == [
        "A folder on this computer",
        "Upload a folder or .zip",
        "Build classes here",
        "Demo dataset",
    ]
    assert at.text_input(key="folder_path_box") is not None
    assert at.button(key="use_demo").label.endswith("Use the demo dataset")
    assert "Choose your images above" in texts(at)


def test_a_folder_that_does_not_exist_shows_an_error(tmp_path: Path) -> None:
    at = app()
    at.text_input(key="folder_path_box").input(str(tmp_path / "nope"))
    at.button(key="use_typed").click().run()
    assert not at.exception
    assert len(errors(at)) == 1
    assert "does not exist" in errors(at)[0] and "Check the path" in errors(at)[0]
    assert at.session_state["data_path"] is None


def test_an_empty_path_asks_for_one() -> None:
    at = app()
    at.button(key="use_typed").click().run()
    assert errors(at) == ["Type the path of a folder first, or pick one in the browser below."]


def test_a_folder_with_one_class_is_refused(tmp_path: Path) -> None:
    data = write_class_images(tmp_path / "one", per_class=3, classes={"red": (200, 0, 0)})
    at = app()
    at.text_input(key="folder_path_box").input(str(data))
    at.button(key="use_typed").click().run()
    assert not at.exception
    assert len(errors(at)) == 1
    assert at.session_state["data_path"] is None


def test_a_good_folder_gives_the_report_and_the_split(tiny_dataset: Path) -> None:
    at = app()
    at.text_input(key="folder_path_box").input(str(tiny_dataset))
    at.button(key="use_typed").click().run()
    assert not at.exception and errors(at) == []
    assert at.session_state["data_path"] == str(tiny_dataset)
    page = texts(at)
    assert "**36 images** in **3 classes**." in page
    # The split a run would use: with 36 images the data's defaults cross-validate (the
    # page used to show the sliders' 27/6/3 while the run did something else).
    assert "cross-validated over 5 folds" in page
    assert "**train**: 36 images · **val**: 0 images · **test**: 0 images" in page
    # moving the validation slider makes the split the person's and changes the counts
    at.slider(key=wk(at, "_w_val_percent")).set_value(30).run()
    assert "**train**: 21 images · **val**: 12 images · **test**: 3 images" in texts(at)
    assert at.session_state["split_by_hand"] is True
    assert "cross-validated" not in texts(at)


def test_the_sidebar_shows_the_dataset(tiny_dataset: Path) -> None:
    # AppTest drops the sidebar after the first run of an st.navigation app, so this
    # checks the first paint; the browser journey sees it on every page.
    at = app(data_path=str(tiny_dataset))
    assert "**Dataset:** `tiny`" in [m.value for m in at.sidebar.markdown]


def test_the_split_survives_switching_pages(tiny_dataset: Path) -> None:
    at = app(data_path=str(tiny_dataset))
    at.slider(key=wk(at, "_w_test_percent")).set_value(20).run()
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/data.py").run()
    assert at.slider(key=wk(at, "_w_test_percent")).value == 20


def test_folder_browser_lists_and_enters_subfolders(tiny_dataset: Path) -> None:
    at = app(browse_dir=str(tiny_dataset))
    labels = [b.label.split(": ", 1)[-1] for b in at.button]
    assert {"blue", "green", "red"} <= set(labels)
    at.button(key="browse_use").click().run()
    assert at.session_state["data_path"] == str(tiny_dataset)


def test_the_demo_dataset_in_one_click(monkeypatch) -> None:
    monkeypatch.setenv("TRANSFERLAB_DEMO_PER_CLASS", "12")
    monkeypatch.setenv("TRANSFERLAB_DEMO_SIZE", "32")
    at = app()
    at.button(key="use_demo").click().run()
    assert not at.exception and errors(at) == []
    assert "**48 images** in **4 classes**." in texts(at)


def test_the_first_page_does_not_import_tensorflow(tiny_dataset: Path) -> None:
    # The first paint must not wait for TensorFlow: run the Data page (with a dataset, so
    # the report, thumbnails and split are drawn too) in a fresh interpreter.
    import subprocess
    import sys

    from app_helpers import ROOT

    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        # TensorFlow does load in the background after the page (ui.warmup): not here.
        "import ui.warmup; ui.warmup.start = lambda: None; "
        "at = AppTest.from_file('app.py', default_timeout=60); "
        f"at.session_state['data_path'] = {str(tiny_dataset)!r}; at.run(); "
        "assert not at.exception, at.exception; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


class _Upload:
    """What st.file_uploader hands the page: a name from the browser and the bytes."""

    def __init__(self, name: str, data: bytes = b"x") -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_a_folder_upload_is_saved_inside_the_workspace(workspace: Path) -> None:
    from ui import files

    root = files.save_folder_upload(
        [
            _Upload("pets/cats/1.jpg"),
            _Upload("pets/dogs/2.jpg"),
            _Upload("pets/../../../evil.jpg"),
            _Upload("/etc/passwd"),
        ],
        name="pets",
    )
    datasets = (workspace / "datasets").resolve()
    written = sorted(str(p.relative_to(datasets)) for p in datasets.rglob("*") if p.is_file())
    assert written == [
        "pets/etc/passwd",
        "pets/pets/cats/1.jpg",
        "pets/pets/dogs/2.jpg",
        "pets/pets/evil.jpg",
    ]
    assert root == datasets / "pets"  # two top folders (pets, etc): the upload folder


def test_built_classes_are_saved_per_class(workspace: Path) -> None:
    from ui import files

    assert files.save_class_images("my set", "cats", [_Upload("a.jpg"), _Upload("a.jpg")]) == 2
    files.save_class_images("my set", "dogs/../x", [_Upload("b.png")])
    assert files.built_classes("my set") == {"cats": 2, "dogs_.._x": 1}


def test_problems_are_listed_in_plain_words(tmp_path: Path) -> None:
    import shutil

    data = write_class_images(tmp_path / "messy", per_class=12)
    (data / "red" / "notes.jpg").write_text("not really a picture")
    shutil.copy(data / "red" / "red_000.jpg", data / "blue" / "copy_of_red.jpg")
    at = app(data_path=str(data))
    assert not at.exception and errors(at) == []
    labels = [e.label for e in at.expander]
    assert "1 file not used, and why" in labels
    assert "1 group of identical images" in labels
    skipped = at.dataframe[0].value
    assert list(skipped["file"]) == ["red/notes.jpg"]
    assert "more than one class" in texts(at)


def test_scan_again_sees_new_images(tiny_dataset: Path) -> None:
    at = app(data_path=str(tiny_dataset))
    assert "**36 images** in **3 classes**." in texts(at)
    write_class_images(tiny_dataset, per_class=14, seed=1, classes={"red": (200, 40, 40)})
    at.button(key="rescan").click().run()
    assert not at.exception
    assert "**38 images** in **3 classes**." in texts(at)


def test_an_uploaded_zip_is_named_after_the_zip(tiny_dataset: Path, workspace: Path) -> None:
    import io
    import zipfile

    from ui import dataset

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(tiny_dataset.rglob("*.png")):
            z.write(f, f"shapes/{f.relative_to(tiny_dataset)}")
    first = dataset.unpack_zip_upload(_Upload("shapes.zip", buf.getvalue()))
    second = dataset.unpack_zip_upload(_Upload("shapes.zip", buf.getvalue()))
    datasets = workspace.resolve() / "datasets"
    assert first == datasets / "shapes"  # no hash suffix: the name the person knows
    assert second == datasets / "shapes-2"
    assert not list((datasets / "_uploads").iterdir())  # the uploaded zip is not kept


def test_tiny_images_are_warned_about_at_scan(tmp_path: Path) -> None:
    from conftest import write_class_images

    data = write_class_images(tmp_path / "small", per_class=6, size=8)
    at = app("data", data_path=str(data))
    assert not at.exception
    warning = next(w.value for w in at.warning if "smaller than 32 px" in w.value)
    assert warning.startswith("All 18 images are smaller than 32 px on a side (e.g. `blue/")
    assert "is 8 × 8 px" in warning
    ok = app("data", data_path=str(write_class_images(tmp_path / "big", per_class=6, size=32)))
    assert not any("smaller than" in w.value for w in ok.warning)


def test_a_single_tiny_image_is_named_in_the_singular() -> None:
    from ui import dataset

    assert dataset.tiny_warning([("/d/cats/a.png", (8, 12))], "/d", total=10) == (
        "1 image is smaller than 32 px on a side (e.g. `cats/a.png` is 8 × 12 px). The "
        "network sees it blown up and blurred, so there is little to learn from: use "
        "bigger photos if you have them."
    )


def test_names_that_are_not_utf8_are_shown_not_a_crash(tmp_path: Path) -> None:
    import os
    import shutil

    root = write_class_images(tmp_path / "old", per_class=10)
    base = os.fsencode(root)
    os.rename(base + b"/blue", base + b"/bl\xffue")
    odd = os.fsdecode(base + b"/red/r\xe9d.jpg")
    os.rename(root / "red" / "red_000.jpg", odd)
    shutil.copy(odd, os.fsdecode(base + b"/red/c\xe9.jpg"))  # shown among the duplicates
    at = app()
    at.text_input(key="folder_path_box").input(str(root))
    at.button(key="use_typed").click().run()
    assert not at.exception and errors(at) == []
    page = texts(at)
    assert "**31 images** in **3 classes**." in page and "**bl\\xffue** — 10 images" in page
    assert "`red/c\\xe9.jpg`, `red/r\\xe9d.jpg`" in page


def test_the_sidebar_counts_the_dataset_on_the_first_paint(tiny_dataset: Path) -> None:
    # The sidebar is drawn before the page scans the dataset: it is drawn again then.
    at = app(data_path=str(tiny_dataset))
    assert "3 classes · 36 images" in [c.value for c in at.sidebar.caption]


def test_the_folder_browser_enters_and_uses_a_folder_not_named_in_utf8(tmp_path: Path) -> None:
    import os

    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/ph\xf6tos"))
    write_class_images(odd, per_class=10)
    at = app(browse_dir=str(tmp_path))
    assert not at.exception
    [button] = [b for b in at.button if b.label.endswith("ph\\xf6tos")]
    button.click().run()
    assert at.session_state["browse_dir"] == str(odd)
    at.button(key="browse_use").click().run()
    assert not at.exception and errors(at) == []
    assert at.session_state["data_path"] == str(odd)
    assert "**30 images** in **3 classes**." in texts(at)
    fresh = app(data_path=str(odd))  # AppTest shows the sidebar on a first run only
    assert not fresh.exception
    assert "**Dataset:** `ph\\xf6tos`" in " ".join(m.value for m in fresh.sidebar.markdown)
    assert not app("train", data_path=str(odd)).exception
