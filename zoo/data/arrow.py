"""A small reader for Arrow IPC files: the on-disk format of `datasets.Dataset.save_to_disk`.

pyarrow is not among the zoo's dependencies, and a text corpus needs only a few column types, so
this reads the IPC stream (and file) format directly with numpy: flatbuffer metadata, record-batch
bodies. Supported columns: integers, floats, booleans, strings and binary (32- and 64-bit offsets),
and lists / structs of those. Anything else (dictionary encoding, unions, compressed bodies) is
refused with the column's name. Format reference: https://arrow.apache.org/docs/format/Columnar.html
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.errors import ArrowFormatError

# Type union tags of Schema.fbs, with how many buffers each kind of array has (children aside).
_TYPE_NAMES = {1: "null", 2: "int", 3: "float", 4: "binary", 5: "utf8", 6: "bool", 7: "decimal", 8: "date",
               9: "time", 10: "timestamp", 11: "interval", 12: "list", 13: "struct", 14: "union",
               15: "fixed_size_binary", 16: "fixed_size_list", 17: "map", 18: "duration",
               19: "large_binary", 20: "large_utf8", 21: "large_list"}
_BUFFERS = {1: 0, 2: 2, 3: 2, 4: 3, 5: 3, 6: 2, 7: 2, 8: 2, 9: 2, 10: 2, 11: 2, 12: 2, 13: 1, 15: 2, 16: 1,
            17: 2, 18: 2, 19: 3, 20: 3, 21: 2}
_MESSAGE_SCHEMA, _MESSAGE_DICTIONARY, _MESSAGE_RECORD_BATCH = 1, 2, 3
_FLOATS = {0: np.float16, 1: np.float32, 2: np.float64}


class _Table:
    """A flatbuffer table: a position, and a vtable of field offsets."""

    def __init__(self, buf: memoryview, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_len = struct.unpack_from("<H", buf, self.vtable)[0]

    def _offset(self, slot: int) -> int:
        entry = 4 + 2 * slot
        return struct.unpack_from("<H", self.buf, self.vtable + entry)[0] if entry < self.vtable_len else 0

    def scalar(self, slot: int, fmt: str, default=0):
        off = self._offset(slot)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0] if off else default

    def _indirect(self, slot: int) -> int | None:
        off = self._offset(slot)
        if not off:
            return None
        at = self.pos + off
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, slot: int) -> _Table | None:
        at = self._indirect(slot)
        return None if at is None else _Table(self.buf, at)

    def string(self, slot: int) -> str:
        at = self._indirect(slot)
        if at is None:
            return ""
        (n,) = struct.unpack_from("<I", self.buf, at)
        return bytes(self.buf[at + 4:at + 4 + n]).decode("utf-8")

    def tables(self, slot: int) -> list[_Table]:
        at = self._indirect(slot)
        if at is None:
            return []
        (n,) = struct.unpack_from("<I", self.buf, at)
        items = []
        for i in range(n):
            p = at + 4 + 4 * i
            items.append(_Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]))
        return items

    def structs(self, slot: int, fmt: str) -> list[tuple]:
        """A vector of fixed-size structs (FieldNode, Buffer: two int64 each)."""
        at = self._indirect(slot)
        if at is None:
            return []
        (n,) = struct.unpack_from("<I", self.buf, at)
        size = struct.calcsize("<" + fmt)
        return [struct.unpack_from("<" + fmt, self.buf, at + 4 + size * i) for i in range(n)]


@dataclass(frozen=True)
class _Field:
    name: str
    type_id: int
    type_table: _Table | None
    children: tuple[_Field, ...]
    dictionary: bool

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.type_id, f"type #{self.type_id}")


def _field(table: _Table) -> _Field:
    return _Field(
        name=table.string(0),
        type_id=table.scalar(2, "B"),
        type_table=table.table(3),
        children=tuple(_field(c) for c in table.tables(5)),
        dictionary=table.table(4) is not None,
    )


class _BatchReader:
    """Walks one record batch's field nodes and buffers in schema order (depth first)."""

    def __init__(self, body: memoryview, nodes: list[tuple], buffers: list[tuple], path: Path) -> None:
        self.body, self.nodes, self.buffers, self.path = body, nodes, buffers, path
        self.node_i = self.buffer_i = 0

    def _next_node(self) -> tuple[int, int]:
        node = self.nodes[self.node_i]
        self.node_i += 1
        return node

    def _next_buffer(self) -> memoryview:
        offset, length = self.buffers[self.buffer_i]
        self.buffer_i += 1
        return self.body[offset:offset + length]

    def skip(self, field: _Field) -> None:
        if field.type_id not in _BUFFERS:
            raise ArrowFormatError(f"{self.path}: column {field.name!r} has Arrow type {field.type_name}, "
                                   "which this reader cannot skip; re-save the dataset without it")
        self._next_node()
        self.buffer_i += _BUFFERS[field.type_id]
        for child in field.children:
            self.skip(child)

    def read(self, field: _Field) -> list:
        if field.dictionary:
            raise ArrowFormatError(f"{self.path}: column {field.name!r} is dictionary-encoded; this reader "
                                   "supports plain columns only (datasets writes plain columns)")
        length, null_count = self._next_node()
        kind = field.type_id
        if kind == 1:
            return [None] * length
        validity = self._next_buffer() if kind in _BUFFERS and _BUFFERS[kind] else None
        valid = None
        if null_count and validity is not None and len(validity):
            valid = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")[:length].astype(bool)
        if kind in (2, 3):
            t = field.type_table
            if kind == 2:
                bits, signed = t.scalar(0, "i"), bool(t.scalar(1, "B"))
                dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
            else:
                dtype = np.dtype(_FLOATS[t.scalar(0, "h")])
            values = np.frombuffer(self._next_buffer(), dtype)[:length].tolist()
        elif kind == 6:
            values = np.unpackbits(np.frombuffer(self._next_buffer(), np.uint8), bitorder="little")[:length]
            values = values.astype(bool).tolist()
        elif kind in (4, 5, 19, 20):
            offsets = np.frombuffer(self._next_buffer(), np.int64 if kind in (19, 20) else np.int32)
            data = bytes(self._next_buffer())
            chunks = [data[offsets[i]:offsets[i + 1]] for i in range(length)]
            if kind in (5, 20):
                try:
                    values = [c.decode("utf-8") for c in chunks]
                except UnicodeDecodeError as err:
                    raise ArrowFormatError(f"{self.path}: column {field.name!r} holds invalid UTF-8 ({err})") \
                        from err
            else:
                values = chunks
        elif kind in (12, 21):
            offsets = np.frombuffer(self._next_buffer(), np.int64 if kind == 21 else np.int32)
            child = self.read(field.children[0])
            values = [child[offsets[i]:offsets[i + 1]] for i in range(length)]
        elif kind == 13:
            columns = {c.name: self.read(c) for c in field.children}
            values = [{name: col[i] for name, col in columns.items()} for i in range(length)]
        else:
            raise ArrowFormatError(f"{self.path}: column {field.name!r} has Arrow type {field.type_name}; "
                                   "supported: integers, floats, booleans, strings, binary, lists, structs")
        if valid is not None and not valid.all():
            values = [v if ok else None for v, ok in zip(values, valid, strict=True)]
        return values


def _messages(buf: memoryview, path: Path):
    """(header type, header table, body) for each encapsulated message of an IPC stream."""
    pos = 8 if bytes(buf[:6]) == b"ARROW1" else 0   # the file format wraps a stream
    while pos + 4 <= len(buf):
        (word,) = struct.unpack_from("<I", buf, pos)
        if word == 0xFFFFFFFF:
            (meta_len,) = struct.unpack_from("<i", buf, pos + 4)
            pos += 8
        else:  # pre-1.0 streams have no continuation marker
            meta_len = word
            pos += 4
        if meta_len == 0:
            return
        if pos + meta_len > len(buf):
            raise ArrowFormatError(f"{path}: truncated Arrow stream (message at byte {pos} runs past the end)")
        meta = buf[pos:pos + meta_len]
        message = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        body_len = message.scalar(3, "q")
        body = buf[pos + meta_len:pos + meta_len + body_len]
        if len(body) != body_len:
            raise ArrowFormatError(f"{path}: truncated Arrow stream (a record batch body is cut short)")
        yield message.scalar(1, "B"), message.table(2), body
        pos += meta_len + body_len


def read_arrow(path: str | os.PathLike, columns: list[str] | None = None) -> dict[str, list]:
    """Columns of one Arrow IPC file as python lists of python values, all record batches joined."""
    path = Path(path)
    try:
        buf = memoryview(path.read_bytes())
    except OSError as err:
        raise ArrowFormatError(f"{path}: cannot read ({err})") from err
    fields: list[_Field] | None = None
    out: dict[str, list] = {}
    try:
        for kind, header, body in _messages(buf, path):
            if kind == _MESSAGE_SCHEMA:
                fields = [_field(f) for f in header.tables(1)]
                names = [f.name for f in fields]
                wanted = names if columns is None else list(columns)
                missing = [c for c in wanted if c not in names]
                if missing:
                    raise ArrowFormatError(f"{path}: no column {missing[0]!r}; the file has: {', '.join(names)}")
                out = {name: [] for name in wanted}
            elif kind == _MESSAGE_DICTIONARY:
                raise ArrowFormatError(f"{path}: dictionary-encoded columns are not supported")
            elif kind == _MESSAGE_RECORD_BATCH:
                if fields is None:
                    raise ArrowFormatError(f"{path}: record batch before the schema; not an Arrow IPC file")
                if header.table(3) is not None:
                    raise ArrowFormatError(f"{path}: compressed record batches are not supported; re-save "
                                           "the dataset uncompressed")
                reader = _BatchReader(body, header.structs(1, "qq"), header.structs(2, "qq"), path)
                for f in fields:
                    if f.name in out:
                        out[f.name].extend(reader.read(f))
                    else:
                        reader.skip(f)
    except (struct.error, IndexError, KeyError) as err:
        raise ArrowFormatError(f"{path}: not a readable Arrow IPC file ({type(err).__name__}: {err})") from err
    if fields is None:
        raise ArrowFormatError(f"{path}: no Arrow schema found; is this an Arrow IPC (.arrow) file?")
    return out


def read_dataset_folder(folder: str | os.PathLike, columns: list[str] | None = None) -> dict[str, list]:
    """A `save_to_disk` folder: state.json lists the data files in order; their columns are joined."""
    folder = Path(folder)
    state = folder / "state.json"
    if state.is_file():
        files = [folder / f["filename"] for f in json.loads(state.read_text(encoding="utf-8"))["_data_files"]]
    else:
        files = sorted(folder.glob("*.arrow"))
    if not files:
        raise ArrowFormatError(f"{folder}: no .arrow files (and no state.json); pass a `save_to_disk` folder")
    merged: dict[str, list] = {}
    for file in files:
        for name, values in read_arrow(file, columns).items():
            merged.setdefault(name, []).extend(values)
    return merged


def class_names(folder: str | os.PathLike, column: str) -> list[str] | None:
    """The ClassLabel names of a column from dataset_info.json, if the folder declares them."""
    info = Path(folder) / "dataset_info.json"
    if not info.is_file():
        return None
    feature = json.loads(info.read_text(encoding="utf-8")).get("features", {}).get(column, {})
    return list(feature["names"]) if feature.get("_type") == "ClassLabel" else None
