"""A sweep part's Parquet bytes with the column chunks of the last run's part reused where the column is equal.

A Parquet file is "PAR1", one column chunk after another (each column's pages, encoded on their own: a chunk's
bytes depend on that column's values, name and type only) and a footer (Thrift compact protocol) that gives each
chunk's offsets, sizes and statistics. The runs of a sweep share most columns row for row (scenario, step, date,
metric, group and its keys: ~4 ms of the ~7 ms encoding): those chunks are the last part's bytes, only their
offsets in the footer move. So a run's part is written here as the changed columns' chunks (encoded by the same
writer on their own) and the equal ones' stored chunks, with the last footer's other fields: the same bytes as
encoding the whole table, which the tests check against it over runs of different scenarios, seeds and tables.
A whole-number column of one value (the replicate, the seed) is also taken from an earlier part with that value
(`_CONSTANT`): a sweep's design points repeat the same replicates with the same seeds.

The row group's sums (total_byte_size: the chunks' uncompressed sizes; total_compressed_size: their bytes) and its
file_offset (the first chunk's) are recomputed; the schema, key-value metadata (pandas' and Arrow's schemas) and
the writer's name are the last footer's, whose table had the same schema with the same metadata.

Used only where the file has the form this relies on (one row group, no page index, no bloom filter, the same
schema and rows as the last part); anything else is encoded whole, as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

_MAGIC = b"PAR1"
# Thrift compact types: 1/2 booleans (the value is the type), 3 byte, 4-6 integers, 7 double, 8 binary,
# 9 list, 10 set, 12 struct.
_BOOLS, _INTS, _BINARY, _LIST, _SET, _STRUCT, _BYTE, _DOUBLE = (1, 2), (4, 5, 6), 8, 9, 10, 12, 3, 7


class _Raw:
    """A value already serialized (its bytes written as they are)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


class _Offset:
    """An offset into the file, relative to its column chunk's start: filled in when the chunk is placed."""

    __slots__ = ("relative",)

    def __init__(self, relative: int):
        self.relative = relative


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _read(data: bytes, i: int, kind: int) -> tuple[Any, int]:
    if kind in _INTS:
        value, i = _varint(data, i)
        return (value >> 1) ^ -(value & 1), i
    if kind == _BINARY:
        size, i = _varint(data, i)
        return data[i:i + size], i + size
    if kind == _STRUCT:
        return read_struct(data, i)
    if kind in (_LIST, _SET):
        header = data[i]
        i += 1
        size, item = header >> 4, header & 15
        if size == 15:
            size, i = _varint(data, i)
        items = []
        for _ in range(size):
            if item in _BOOLS:  # a list's booleans are one byte each
                items.append(data[i])
                i += 1
            else:
                value, i = _read(data, i, item)
                items.append(value)
        return (item, items), i
    if kind == _BYTE:
        return data[i], i + 1
    if kind == _DOUBLE:
        return data[i:i + 8], i + 8
    raise ValueError(f"Thrift type {kind} is not read here")  # maps: not in a Parquet footer


def read_struct(data: bytes, i: int = 0) -> tuple[list[list[Any]], int]:
    """A Thrift compact struct at `data[i:]` as [[field id, type, value], ...] (in order), and where it ends."""
    fields: list[list[Any]] = []
    last = 0
    while True:
        header = data[i]
        i += 1
        if header == 0:
            return fields, i
        kind, delta = header & 15, header >> 4
        if delta:
            field = last + delta
        else:
            number, i = _varint(data, i)
            field = (number >> 1) ^ -(number & 1)
        value: Any = None
        if kind not in _BOOLS:
            value, i = _read(data, i, kind)
        fields.append([field, kind, value])
        last = field


def _put_varint(number: int, out: bytearray) -> None:
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)


def _write(value: Any, kind: int, out: bytearray, marks: list[tuple[int, int]]) -> None:
    if isinstance(value, _Raw):
        out += value.data
    elif isinstance(value, _Offset):
        marks.append((len(out), value.relative))  # written when the chunk's place is known
    elif kind in _INTS:
        _put_varint((value << 1) ^ (value >> 63), out)
    elif kind == _BINARY:
        _put_varint(len(value), out)
        out += value
    elif kind == _STRUCT:
        write_struct(value, out, marks)
    elif kind in (_LIST, _SET):
        item, items = value
        if len(items) < 15:
            out.append(len(items) << 4 | item)
        else:
            out.append(0xF0 | item)
            _put_varint(len(items), out)
        for each in items:
            if item in _BOOLS:
                out.append(each)
            else:
                _write(each, item, out, marks)
    elif kind in (_BYTE,):
        out.append(value)
    elif kind == _DOUBLE:
        out += value
    else:
        raise ValueError(f"Thrift type {kind} is not written here")


def write_struct(fields: list[list[Any]], out: bytearray, marks: list[tuple[int, int]] | None = None) -> None:
    """Append the struct `read_struct` reads (the same bytes: short field headers where the id's step is 1-15)."""
    marks = [] if marks is None else marks
    last = 0
    for field, kind, value in fields:
        delta = field - last
        if 0 < delta <= 15:
            out.append(delta << 4 | kind)
        else:
            out.append(kind)
            _put_varint((field << 1) ^ (field >> 63), out)
        if kind not in _BOOLS:
            _write(value, kind, out, marks)
        last = field
    out.append(0)


def _footer(data: bytes) -> list[list[Any]]:
    size = int.from_bytes(data[-8:-4], "little")
    meta, end = read_struct(data, len(data) - 8 - size)
    if end != len(data) - 8 or data[:4] != _MAGIC or data[-4:] != _MAGIC:
        raise ValueError("not a Parquet file this reads")
    return meta


def _field(fields: list[list[Any]], number: int) -> Any:
    for field in fields:
        if field[0] == number:
            return field[2]
    return None


# ColumnMetaData: 6 total_uncompressed_size, 7 total_compressed_size, 9 data_page_offset, 11 dictionary_page_offset;
# present only without a page index or bloom filter: 10 index_page_offset, 14 bloom_filter_offset.
_UNCOMPRESSED, _COMPRESSED, _DATA_PAGE, _INDEX_PAGE, _DICTIONARY_PAGE, _BLOOM = 6, 7, 9, 10, 11, 14


class _Chunk:
    """One column's chunk: its bytes, and its footer entry serialized around its two offsets."""

    __slots__ = ("data", "offsets", "pieces", "uncompressed")

    def __init__(self, data: bytes, pieces: list[bytes], offsets: list[int], uncompressed: int):
        self.data, self.pieces, self.offsets, self.uncompressed = data, pieces, offsets, uncompressed

    def entry(self, start: int, out: bytearray) -> None:
        """Append its footer entry with the chunk placed at `start`."""
        out += self.pieces[0]
        for relative, piece in zip(self.offsets, self.pieces[1:], strict=True):
            _put_varint((start + relative) << 1, out)  # offsets are >= 0: zigzag is a doubling
            out += piece


def _chunks(data: bytes, meta: list[list[Any]]) -> list[_Chunk] | None:
    """Each column's chunk of a file of one row group, or None when the file has what this does not move."""
    groups = _field(meta, 4)
    if groups is None or len(groups[1]) != 1:
        return None
    columns = _field(groups[1][0], 1)[1]
    chunks = []
    for column in columns:
        if [f[0] for f in column] != [2, 3] or _field(column, 2) != 0:  # no file path, page or column index
            return None
        info = _field(column, 3)
        if _field(info, _INDEX_PAGE) is not None or _field(info, _BLOOM) is not None:
            return None
        dictionary, page = _field(info, _DICTIONARY_PAGE), _field(info, _DATA_PAGE)
        start = dictionary if dictionary is not None else page
        size = _field(info, _COMPRESSED)
        moved = [[f[0], f[1], _Offset(f[2] - start) if f[0] in (_DATA_PAGE, _DICTIONARY_PAGE) else f[2]]
                 for f in info]
        out, marks = bytearray(), []  # type: ignore[var-annotated]
        write_struct([[2, 6, 0], [3, _STRUCT, moved]], out, marks)
        cuts = [0, *(at for at, _ in marks), len(out)]
        pieces = [bytes(out[a:b]) for a, b in itertools.pairwise(cuts)]
        chunks.append(_Chunk(data[start:start + size], pieces, [r for _, r in marks], _field(info, _UNCOMPRESSED)))
    return chunks


class _Last:
    """The last part written: its table's columns, their chunks and the footer's other fields. Never changed once
    made (a Dask worker's threads may write parts at once: each reads one whole `_Last`)."""

    def __init__(self, schema: Any, rows: int, arrays: list[Any], chunks: list[_Chunk], group_rest: list[list[Any]],
                 before: list[list[Any]], after: list[list[Any]]):
        self.schema, self.rows, self.arrays, self.chunks = schema, rows, arrays, chunks
        self.group_rest, self.before, self.after = group_rest, before, after

    @classmethod
    def of(cls, table: Any, chunks: list[_Chunk], meta: list[list[Any]]) -> _Last | None:
        """The part just encoded whole, or None when its row group has fields this would not keep."""
        group = _field(meta, 4)[1][0]
        if any(f[0] not in (1, 2, 3, 5, 6, 7) for f in group):
            return None
        return cls(table.schema, table.num_rows, [column.chunk(0) for column in table.columns], chunks,
                   [f for f in group if f[0] in (3, 7)],  # num_rows and ordinal: the same for the next part
                   [[f[0], f[1], _Raw(_serialized(f))] for f in meta if f[0] < 4],
                   [[f[0], f[1], _Raw(_serialized(f))] for f in meta if f[0] > 4])

    def next(self, arrays: list[Any], chunks: list[_Chunk]) -> _Last:
        """The same footer's fields with another part's columns and chunks."""
        return _Last(self.schema, self.rows, arrays, chunks, self.group_rest, self.before, self.after)


def _serialized(field: list[Any]) -> bytes:
    out = bytearray()
    _write(field[2], field[1], out, [])
    return bytes(out)


_LAST: list[_Last] = []  # the last part this process wrote
# A whole-number column of one value (a run's replicate and seed) -> its chunk. Its bytes depend on the name, type,
# rows and value only, and a sweep repeats them (each design point runs the same replicates with the same seeds).
_CONSTANT: dict[tuple[str, str, int, int], _Chunk] = {}
_CONSTANT_KEPT = 1024  # chunks of a few hundred bytes


def _constant_key(field: Any, array: Any) -> tuple[str, str, int, int] | None:
    """(name, type, rows, value) of an int64 column holding one value and no missing ones; else None."""
    import pyarrow as pa

    if array is None or not pa.types.is_int64(field.type) or array.null_count or not len(array):
        return None
    values = array.to_numpy(zero_copy_only=True)
    first = values[0]
    if values[-1] != first or not (values == first).all():
        return None
    return field.name, str(field.type), len(values), int(first)


def part_bytes(table: Any, encode: Callable[[Any], bytes]) -> bytes:
    """`encode(table)` (a whole table's Parquet bytes), with the chunks of columns equal to the last part's taken
    from it: `encode` then runs on the other columns only."""
    import pyarrow as pa

    known = _LAST[:]  # one read: another thread may replace it meanwhile
    last = known[0] if known else None
    if last is not None and table.num_rows == last.rows and table.schema.equals(last.schema, check_metadata=True):
        arrays = [column.chunk(0) if column.num_chunks == 1 else None for column in table.columns]
        changed = [i for i, (new, old) in enumerate(zip(arrays, last.arrays, strict=True))
                   if new is None or old is None or not (new is old or new.equals(old))]
        keys = {i: _constant_key(table.schema.field(i), arrays[i]) for i in changed}
        known_chunks = {i: _CONSTANT.get(key) for i, key in keys.items() if key is not None}
        encoded = [i for i in changed if known_chunks.get(i) is None]
        if encoded:
            sub = pa.Table.from_arrays([table.column(i) for i in encoded],
                                       schema=pa.schema([table.schema.field(i) for i in encoded]))
            written = encode(sub)
            made = _chunks(written, _footer(written))
        else:
            made = []
        if made is not None:
            chunks = list(last.chunks)
            for i, chunk in known_chunks.items():
                if chunk is not None:
                    chunks[i] = chunk
            for i, chunk in zip(encoded, made, strict=True):
                chunks[i] = chunk
                key = keys[i]
                if key is not None:
                    if len(_CONSTANT) >= _CONSTANT_KEPT:
                        _CONSTANT.clear()
                    _CONSTANT[key] = chunk
            _LAST[:] = [last.next(arrays, chunks)]
            return _assemble(last, chunks)
    data = encode(table)
    meta = _footer(data)
    whole = _chunks(data, meta)
    made_last = None
    if whole is not None and all(column.num_chunks == 1 for column in table.columns):
        made_last = _Last.of(table, whole, meta)
    _LAST[:] = [made_last] if made_last is not None else []
    return data


def _assemble(last: _Last, chunks: list[_Chunk]) -> bytes:
    """The file: "PAR1", the chunks in order, the footer with their offsets and the row group's sums."""
    body = [_MAGIC]
    entries = bytearray()
    at = len(_MAGIC)
    for chunk in chunks:
        chunk.entry(at, entries)
        body.append(chunk.data)
        at += len(chunk.data)
    columns = bytearray()
    columns.append(0xF0 | _STRUCT if len(chunks) >= 15 else len(chunks) << 4 | _STRUCT)
    if len(chunks) >= 15:
        _put_varint(len(chunks), columns)
    columns += entries
    group: list[list[Any]] = sorted([[1, _LIST, _Raw(bytes(columns))],
                    [2, 6, sum(chunk.uncompressed for chunk in chunks)],  # total_byte_size: as the writer sums
                    [5, 6, len(_MAGIC)],  # file_offset: the first chunk's
                    [6, 6, at - len(_MAGIC)],  # total_compressed_size: the chunks' bytes
                    *last.group_rest], key=lambda f: f[0])
    footer = bytearray()
    write_struct([*last.before, [4, _LIST, (_STRUCT, [group])], *last.after], footer)
    body += [bytes(footer), len(footer).to_bytes(4, "little"), _MAGIC]
    return b"".join(body)
