"""safetensors files read and written with numpy alone, every header checked before a byte is trusted.

The format: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
(plus an optional "__metadata__" of strings), then the raw little-endian data. The zoo reads it itself
rather than through `safetensors.torch` so that the MindSpore side never needs torch, and so that a
hostile or truncated file is refused with a message naming the file and the tensor, not a crash.

bfloat16 has no numpy dtype: such tensors are widened to float32 on read (exact: a bf16 value is the
top half of the float32 with the same value) and the original dtype is kept in `Stored.dtype`, so the
caller knows what was on disk. Files are read with plain reads into fresh buffers (no mmap: mapped
pages count as resident memory and a truncated file would fault on access instead of failing here).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.core.errors import CheckpointError

# safetensors dtype name -> numpy dtype as stored on disk (little-endian); BF16 is read as raw uint16
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
_NAMES = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
          np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16", np.dtype("int8"): "I8",
          np.dtype("uint64"): "U64", np.dtype("uint32"): "U32", np.dtype("uint16"): "U16", np.dtype("uint8"): "U8",
          np.dtype("bool"): "BOOL"}
MAX_HEADER = 100 * 1024 * 1024   # the reference implementation's own limit


@dataclass(frozen=True)
class Stored:
    """Where one tensor lives in a file: enough to read it later without holding it."""

    name: str
    dtype: str                # the safetensors name: "F32", "BF16", ...
    shape: tuple[int, ...]
    path: Path
    begin: int                # absolute byte offsets in the file
    end: int

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def numpy_dtype(self) -> np.dtype:
        """The dtype `read` returns: float32 for BF16, else the stored one."""
        return np.dtype(np.float32) if self.dtype == "BF16" else DTYPES[self.dtype].newbyteorder("=")


def _problem(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}; the file is truncated or not a safetensors file: "
                           "delete it and download it again")


def read_header(path: str | os.PathLike) -> tuple[list[Stored], dict[str, str]]:
    """(tensors sorted by offset, metadata) from the header alone; every entry validated against the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) != 8:
                raise _problem(path, f"{size} bytes, shorter than the 8-byte header length")
            header_len = int.from_bytes(prefix, "little")
            if header_len < 2 or header_len > MAX_HEADER or 8 + header_len > size:
                raise _problem(path, f"header length {header_len} does not fit a file of {size} bytes")
            raw = f.read(header_len)
    except OSError as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from err
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _problem(path, f"header is not JSON ({err})") from err
    if not isinstance(header, dict):
        raise _problem(path, "header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _problem(path, "__metadata__ must map names to strings")
    start = 8 + header_len
    data_size = size - start
    stored = []
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _problem(path, f"{where}: entry must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            raise _problem(path, f"{where}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise _problem(path, f"{where}: shape {shape!r} is not a list of non-negative integers")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size):
            raise _problem(path, f"{where}: byte range {offsets!r} is outside the {data_size} data bytes")
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPES[dtype].itemsize if shape else DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise _problem(path, f"{where}: {offsets[1] - offsets[0]} bytes for {dtype} {shape} ({nbytes} expected)")
        stored.append(Stored(name, dtype, tuple(shape), path, start + offsets[0], start + offsets[1]))
    stored.sort(key=lambda s: s.begin)
    for before, after in zip(stored, stored[1:], strict=False):
        if after.begin < before.end:
            raise _problem(path, f"tensors {before.name!r} and {after.name!r} overlap")
    return stored, metadata


def read(stored: Stored) -> np.ndarray:
    """One tensor as a fresh numpy array in native byte order (BF16 widened to float32)."""
    raw = np.empty(stored.end - stored.begin, dtype=np.uint8)
    try:
        with open(stored.path, "rb") as f:
            f.seek(stored.begin)
            got = f.readinto(memoryview(raw))
    except OSError as err:
        raise CheckpointError(f"{stored.path}: tensor {stored.name!r} is unreadable ({err})") from err
    if got != raw.size:
        raise _problem(stored.path, f"tensor {stored.name!r} is cut short")
    if stored.dtype == "BF16":
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(stored.shape)
    array = raw.view(DTYPES[stored.dtype]).reshape(stored.shape)
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def iter_file(path: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) for every tensor of a file, in file order, one read at a time."""
    for stored in read_header(path)[0]:
        yield stored.name, read(stored)


def load_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    return dict(iter_file(path))


def save_file(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
              metadata: Mapping[str, str] | None = None) -> Path:
    """Write numpy arrays as safetensors, atomically (temp file + rename: a crash leaves no half file)."""
    path = Path(path)
    layout, offset, arrays = {}, 0, []
    for name, value in tensors.items():
        array = np.ascontiguousarray(value)
        dtype = _NAMES.get(array.dtype.newbyteorder("="))
        if dtype is None:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {array.dtype}, which safetensors cannot hold")
        array = array.astype(DTYPES[dtype], copy=False)
        layout[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    header = {"__metadata__": dict(metadata)} if metadata else {}
    encoded = json.dumps({**header, **layout}, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(len(encoded).to_bytes(8, "little"))
            f.write(encoded)
            for array in arrays:
                f.write(array.reshape(-1).view(np.uint8).data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
