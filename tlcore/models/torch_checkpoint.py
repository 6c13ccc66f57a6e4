"""Reading a legacy PyTorch ``.pth`` weights file without PyTorch, and without running it.

A ``.pth`` file is a pickle, and unpickling can call any Python function the file names
(``os.system``...). This reader resolves only the few names a state dict of tensors needs,
each to a local stand-in that just records its arguments; any other name is refused before
anything runs. The legacy (non-zip) layout, written by ``torch.save`` before PyTorch 1.6 or
with ``_use_new_zipfile_serialization=False``, is a sequence of pickles:

1. the magic number ``0x1950a86a20f9469cfc6c``, 2. the protocol version ``1001``,
3. a system-info dict, 4. the state dict, whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` calls on storages
named by persistent ids ``('storage', storage_type, key, location, numel[, view])``,
5. the list of storage keys; then, per key in that order, an 8-byte little-endian element
count and the raw little-endian elements.
"""

import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np

from tlcore.errors import ModelFileError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# numpy has no bfloat16: its 16 bits are the high half of a float32 (widened on read).
_BFLOAT16 = "bfloat16"
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": _BFLOAT16,
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "ComplexFloatStorage": "<c8",
    "ComplexDoubleStorage": "<c16",
}


class _Refused(Exception):
    """The file asks for something outside what a state dict needs (not a damaged file)."""


class _Inert:
    """Base of the stand-ins: a file cannot change their state with pickle's BUILD."""

    def __setstate__(self, state: Any) -> None:
        raise _Refused(f"it asks to change the state of a {type(self).__name__.strip('_')}")


@dataclass(frozen=True)
class _StorageType(_Inert):
    """Stand-in for ``torch.FloatStorage`` & co.: only its name is kept."""

    name: str

    @property
    def itemsize(self) -> int:
        dtype = STORAGE_DTYPES[self.name]
        return 2 if dtype == _BFLOAT16 else np.dtype(dtype).itemsize


@dataclass
class _Storage(_Inert):
    """One storage named by a persistent id; its elements are read after the pickle."""

    key: str
    storage_type: _StorageType
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _StorageView(_Inert):
    """A slice of a storage (old PyTorch wrote views of one storage as separate ids)."""

    root: _Storage
    offset: int
    numel: int


@dataclass(frozen=True)
class _TensorRef(_Inert):
    """What ``_rebuild_tensor_v2`` would build, kept as arguments until the bytes are read."""

    storage: _Storage | _StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _Function(_Inert):
    """Stand-in for a torch function: calls a local one that only records its arguments."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)


def _rebuild_tensor_v2(
    storage: Any, storage_offset: Any, size: Any, stride: Any, *rest: Any
) -> _TensorRef:
    # rest: requires_grad, backward_hooks (and metadata in newer files): not weights.
    if not isinstance(storage, _Storage | _StorageView):
        raise pickle.UnpicklingError("a tensor is rebuilt from something that is not a storage")
    return _TensorRef(storage, _int(storage_offset), _ints(size), _ints(stride))


def _rebuild_parameter(data: Any, *rest: Any) -> Any:
    # An nn.Parameter is its tensor plus requires_grad; only the tensor matters here.
    return data


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise pickle.UnpicklingError(f"expected a non-negative integer, got {value!r}")
    return value


def _ints(values: Any) -> tuple[int, ...]:
    if not isinstance(values, tuple | list):
        raise pickle.UnpicklingError(f"expected a tuple of integers, got {values!r}")
    return tuple(_int(v) for v in values)


# Everything a pickled state dict may name, mapped to harmless stand-ins. OrderedDict is
# the real class: building one runs no code of the file's choosing.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _Function(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_parameter"): _Function(_rebuild_parameter),
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles only what a state dict of tensors needs; refuses any other global."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            hint = (
                " (a whole pickled model, not a state dict)"
                if module.startswith("torch.nn")
                else ""
            )
            raise _Refused(f"it asks to run `{module}.{name}`{hint}") from None

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or _text(pid[0]) != "storage":
            kind = _text(pid[0]) if isinstance(pid, tuple) and pid else type(pid).__name__
            raise _Refused(f"it asks for a persistent object of kind '{kind}', not a storage")
        if len(pid) not in (5, 6):
            raise pickle.UnpicklingError(f"a storage id has {len(pid)} fields, not 5 or 6")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r}")
        key, numel = _text(key), _int(numel)
        storage = self.storages.setdefault(key, _Storage(key, storage_type, numel))
        if storage.storage_type != storage_type or storage.numel != numel:
            raise pickle.UnpicklingError(f"storage {key} is described in two different ways")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        _view_key, offset, view_numel = view
        if _int(offset) + _int(view_numel) > numel:
            raise pickle.UnpicklingError(f"a view of storage {key} reaches past its end")
        return _StorageView(storage, offset, view_numel)


def _text(value: Any) -> str:
    # Files written by Python 2 hold byte strings.
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read the tensors of a legacy PyTorch ``.pth`` file, without PyTorch.

    Args:
        path: a file written by ``torch.save(model.state_dict(), ...)`` in the legacy
            (non-zip) format.

    Returns:
        Tensor name -> numpy array (dtype and shape as saved). Tensors of nested dicts
        are named ``outer.inner``; values that are not tensors (an epoch number...) are
        left out.

    Raises:
        ModelFileError: missing, not a legacy ``.pth`` file (the zip format included),
            asking to run code, or damaged/truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The weights file '{path}' does not exist.")
    if zipfile.is_zipfile(path):
        raise ModelFileError(
            f"'{path.name}' is a PyTorch file in the newer zip format, which TransferLab "
            "cannot read yet; only the legacy format (torch.save with "
            "_use_new_zipfile_serialization=False) is supported."
        )
    try:
        with open(path, "rb") as f:
            return _read(f, path.name)
    except _Refused as e:
        raise ModelFileError(
            f"'{path.name}' is not a plain weights file: {e}. Nothing in it was run; "
            "use a file that holds only a state dict of tensors."
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        if isinstance(e, EOFError) or "truncated" in str(e):
            raise ModelFileError(
                f"'{path.name}' is truncated: it ends early. Reinstall or download it again."
            ) from None
        raise ModelFileError(
            f"'{path.name}' is damaged or not a PyTorch weights file ({e or type(e).__name__})."
            " Reinstall or download it again."
        ) from None


def _read(f: BinaryIO, name: str) -> dict[str, np.ndarray]:
    storages: dict[str, _Storage] = {}

    def load() -> Any:
        return _StateDictUnpickler(f, storages).load()

    if load() != MAGIC_NUMBER:
        raise ModelFileError(f"'{name}' is not a legacy PyTorch .pth file (no magic number).")
    if load() != PROTOCOL_VERSION:
        raise ModelFileError(f"'{name}' uses an unknown PyTorch file protocol version.")
    load()  # system info: byte order and C type sizes, irrelevant for little-endian data
    obj = load()
    keys = load()
    if not isinstance(keys, list) or sorted(map(_text, keys)) != sorted(storages):
        raise ModelFileError(f"'{name}' is damaged: its list of storages does not match.")
    for key in map(_text, keys):
        _read_storage(f, storages[key], name)
    if not isinstance(obj, Mapping):
        raise ModelFileError(
            f"'{name}' holds a {type(obj).__name__}, not a state dict (a mapping of tensors)."
        )
    return _tensors(obj, "")


def _read_storage(f: BinaryIO, storage: _Storage, name: str) -> None:
    header = f.read(8)
    if len(header) < 8:
        raise ModelFileError(f"'{name}' is truncated: it ends before storage {storage.key}.")
    (count,) = struct.unpack("<q", header)
    if count != storage.numel:
        raise ModelFileError(
            f"'{name}' is damaged: storage {storage.key} has {count} elements, "
            f"{storage.numel} expected."
        )
    nbytes = count * storage.storage_type.itemsize
    left = os.fstat(f.fileno()).st_size - f.tell()
    if nbytes > left:  # checked before allocating: the count comes from the file
        raise ModelFileError(
            f"'{name}' is truncated: storage {storage.key} needs {nbytes:,} bytes, "
            f"only {left:,} are left. Reinstall or download it again."
        )
    buffer = bytearray(nbytes)  # writable, unlike bytes
    f.readinto(buffer)
    dtype = STORAGE_DTYPES[storage.storage_type.name]
    if dtype == _BFLOAT16:
        storage.data = (np.frombuffer(buffer, "<u2").astype("<u4") << 16).view("<f4")
    else:
        storage.data = np.frombuffer(buffer, dtype)


def _tensors(obj: Mapping, prefix: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        name = prefix + _text(key)
        if isinstance(value, _TensorRef):
            out[name] = _materialize(value, name)
        elif isinstance(value, Mapping):
            out.update(_tensors(value, name + "."))
    return out


def _materialize(ref: _TensorRef, name: str) -> np.ndarray:
    """The array a tensor describes, checked to stay inside its storage."""
    if isinstance(ref.storage, _StorageView):
        view = ref.storage
        assert view.root.data is not None  # every storage was read before this
        flat = view.root.data[view.offset : view.offset + view.numel]
    else:
        assert ref.storage.data is not None
        flat = ref.storage.data
    if len(ref.size) != len(ref.stride):
        raise ModelFileError(
            f"Tensor '{name}' has {len(ref.size)} sizes but {len(ref.stride)} strides; "
            "the file is damaged."
        )
    if 0 in ref.size:
        return np.zeros(ref.size, flat.dtype)
    # as_strided reads raw memory: an index past the storage would read the process's memory.
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if last >= len(flat):
        raise ModelFileError(
            f"Tensor '{name}' reaches past the end of its storage; the file is damaged."
        )
    numel = math.prod(ref.size)
    if _is_contiguous(ref.size, ref.stride):
        return flat[ref.offset : ref.offset + numel].reshape(ref.size)
    item = flat.itemsize
    strided = np.lib.stride_tricks.as_strided(
        flat[ref.offset :], shape=ref.size, strides=[s * item for s in ref.stride], writeable=False
    )
    return strided.copy()


def _is_contiguous(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    step = 1
    for n, s in zip(reversed(size), reversed(stride), strict=True):
        # PyTorch leaves any stride on a dimension of size 1; it never moves along it.
        if n != 1 and s != step:
            return False
        step *= n
    return True
