"""Brush RLE codec: the bit stream Label Studio stores ``BrushLabels`` masks in.

The format is the ``@thi.ng/rle-pack`` binary stream, read most significant bit first::

    32 bits   N, the number of values (W * H * 4 for an RGBA mask)
     5 bits   word size - 1 (1..32 bits per value)
    4x4 bits  repeat sizes - 1 (1..16 bits each; defaults 3, 4, 8, 16)
    chunks until N values are produced:
        1 bit          kind: 1 = run, 0 = literal group
        2 bits         k, index into the repeat sizes
        size[k] bits   L
        run:           one word, repeated L + 1 times
        literal group: L + 1 words

Label Studio stores the RGBA pixels of the brush layer; the mask is the alpha channel
(every fourth value). :func:`decode` reads any valid stream (any word size and repeat
sizes, runs and literal groups of any length, trailing padding) and :func:`encode` writes
the stream that Label Studio reads.

Speed comes from `numba <https://numba.pydata.org>`_ when it is installed: the decoder and
the mask encoder are compiled on first use (and cached on disk). Without numba the same
decoder runs as plain Python and the encoder is vectorised numpy; both give identical
results, only slower. See ``docs/benchmarks.md`` for measurements.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_RLE_SIZES",
    "DEFAULT_WORD_SIZE",
    "Header",
    "RLEError",
    "accelerator",
    "decode",
    "encode",
    "encode_bytes",
    "encode_values",
    "read_header",
]

DEFAULT_WORD_SIZE = 8
DEFAULT_RLE_SIZES: tuple[int, int, int, int] = (3, 4, 8, 16)
#: Largest mask :func:`decode` builds unless told otherwise: 2**28 pixels (16384 x 16384),
#: 256 MiB as uint8. A stream that declares more raises :class:`RLEError` before any
#: allocation.
DEFAULT_MAX_PIXELS = 1 << 28
HEADER_BITS = 32 + 5 + 4 * 4
_CHANNELS = 4  # Label Studio brush layers are RGBA
_ALPHA = 3

# Status codes returned by the decode kernel.
_OK, _TRUNCATED, _OVERRUN = 0, 1, 2


class RLEError(ValueError):
    """A brush RLE stream is malformed, or does not fit the size or limit it is read with."""


@dataclass(frozen=True)
class Header:
    """The fixed 53-bit header of a stream."""

    num: int
    word_size: int
    rle_sizes: tuple[int, int, int, int]


# --------------------------------------------------------------------------------------
# Kernels. Written in the subset of Python that numba compiles; without numba the decode
# kernel runs as ordinary Python (given ``bytes`` and a tuple, so all arithmetic stays on
# Python ints).
# --------------------------------------------------------------------------------------


def _decode_kernel(buf, start_bit, num, word_size, sizes, stride, phase, out):
    """Decode chunks from ``start_bit`` until ``num`` values; keep every ``stride``-th value
    starting at ``phase`` in ``out``. Returns ``(status, values_done, bit_position)``."""
    nbytes = len(buf)
    bp = start_bit >> 3
    acc = 0
    nacc = 0
    skip = start_bit & 7
    if skip:
        acc = buf[bp] & ((1 << (8 - skip)) - 1)
        nacc = 8 - skip
        bp += 1
    wmask = (1 << word_size) - 1
    i = 0
    while i < num:
        # chunk header: kind (1 bit) and size index (2 bits)
        if nacc < 3:
            acc &= (1 << nacc) - 1  # drop consumed bits: acc stays below 2**56
            while nacc <= 48 and bp < nbytes:
                acc = (acc << 8) | buf[bp]
                bp += 1
                nacc += 8
            if nacc < 3:
                return _TRUNCATED, i, bp * 8 - nacc
        nacc -= 3
        head = (acc >> nacc) & 7
        size = sizes[head & 3]
        if nacc < size:
            acc &= (1 << nacc) - 1  # drop consumed bits: acc stays below 2**56
            while nacc <= 48 and bp < nbytes:
                acc = (acc << 8) | buf[bp]
                bp += 1
                nacc += 8
            if nacc < size:
                return _TRUNCATED, i, bp * 8 - nacc
        nacc -= size
        j = i + 1 + ((acc >> nacc) & ((1 << size) - 1))
        if j > num:
            return _OVERRUN, i, bp * 8 - nacc
        if head >> 2:
            if nacc < word_size:
                acc &= (1 << nacc) - 1  # drop consumed bits: acc stays below 2**56
                while nacc <= 48 and bp < nbytes:
                    acc = (acc << 8) | buf[bp]
                    bp += 1
                    nacc += 8
                if nacc < word_size:
                    return _TRUNCATED, i, bp * 8 - nacc
            nacc -= word_size
            value = (acc >> nacc) & wmask
            a = (i + stride - 1 - phase) // stride
            b = (j + stride - 1 - phase) // stride
            if b > a:
                out[a:b] = value
        else:
            k = i
            while k < j:
                if nacc < word_size:
                    acc &= (1 << nacc) - 1  # drop consumed bits: acc stays below 2**56
                    while nacc <= 48 and bp < nbytes:
                        acc = (acc << 8) | buf[bp]
                        bp += 1
                        nacc += 8
                    if nacc < word_size:
                        return _TRUNCATED, k, bp * 8 - nacc
                nacc -= word_size
                if k % stride == phase:
                    out[k // stride] = (acc >> nacc) & wmask
                k += 1
        i = j
    return _OK, i, bp * 8 - nacc


def _encode_mask_kernel(flat, words, compact, out):
    """Encode a flat uint8 mask, each value repeated into RGBA, with word size 8 and repeat
    sizes 3, 4, 8, 16. ``words`` is the longest 8-byte-aligned prefix of ``flat`` viewed as
    uint64 (for skipping uniform stretches). Returns the number of bytes written."""
    npix = flat.size
    nwords = words.size
    o = 0
    # header: N (32 bits), then word size 8 and sizes 3, 4, 8, 16 (21 bits)
    acc = np.int64(npix) * 4
    nacc = 32
    acc = (acc << 21) | ((7 << 16) | (2 << 12) | (3 << 8) | (7 << 4) | 15)
    nacc += 21
    while nacc >= 8:
        nacc -= 8
        out[o] = (acc >> nacc) & 0xFF
        o += 1
    acc &= (1 << nacc) - 1
    ones = np.uint64(0x0101010101010101)
    k = 0
    while k < npix:
        value = flat[k]
        start = k
        k += 1
        pattern = np.uint64(value) * ones
        while k < npix:
            if (k & 7) == 0:
                # skip uniform stretches 64 bytes, then 8 bytes at a time
                w = k >> 3
                while w + 8 <= nwords:
                    diff = np.uint64(0)
                    for t in range(8):
                        diff |= words[w + t] ^ pattern
                    if diff != 0:
                        break
                    w += 8
                while w < nwords and words[w] == pattern:
                    w += 1
                k = w << 3
                if k >= npix:
                    break
            if flat[k] != value:
                break
            k += 1
        length = np.int64(k - start) * 4
        full = (length - 1) >> 16
        # chunks of 65536 copies: 1, class 3, 16 bits 0xFFFF, 8 bits value (27 bits)
        for _ in range(full):
            acc = (acc << 27) | (0xFFFF << 8) | (0b111 << 24) | value
            nacc += 27
            while nacc >= 8:
                nacc -= 8
                out[o] = (acc >> nacc) & 0xFF
                o += 1
            acc &= (1 << nacc) - 1
        rest = length - (full << 16)
        if rest <= 8 and (compact or full == 0):
            code = (0b100 << 11) | ((rest - 1) << 8) | value
            width = 14
        elif rest <= 16 and (compact or full == 0):
            code = (0b101 << 12) | ((rest - 1) << 8) | value
            width = 15
        elif rest <= 256 and (compact or full == 0):
            code = (0b110 << 16) | ((rest - 1) << 8) | value
            width = 19
        else:
            code = (0b111 << 24) | ((rest - 1) << 8) | value
            width = 27
        acc = (acc << width) | code
        nacc += width
        while nacc >= 8:
            nacc -= 8
            out[o] = (acc >> nacc) & 0xFF
            o += 1
        acc &= (1 << nacc) - 1
    # padding: rle-pack ends at the last partial byte; the SDK always adds 1..8 zero bits
    if nacc > 0:
        out[o] = (acc << (8 - nacc)) & 0xFF
        o += 1
    elif not compact:
        out[o] = 0
        o += 1
    return o


# --------------------------------------------------------------------------------------
# Accelerator loading
# --------------------------------------------------------------------------------------


class _Kernels:
    def __init__(self, decode: Any, encode_mask: Any) -> None:
        self.decode = decode
        self.encode_mask = encode_mask


_KERNELS: _Kernels | None | bool = None  # None = not tried yet, False = unavailable


def _load_kernels() -> _Kernels | bool:
    if os.environ.get("LSTK_RLE_ACCEL", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    try:
        import numba
    except ImportError:
        return False
    jit = numba.njit(cache=True, nogil=True)
    kernels = _Kernels(jit(_decode_kernel), jit(_encode_mask_kernel))
    try:  # compile (or load from the on-disk cache) now, so a broken install falls back
        flat = np.zeros(8, dtype=np.uint8)
        out = np.empty(32, dtype=np.uint8)
        size = kernels.encode_mask(flat, flat.view(np.uint64), False, out)
        stream = np.frombuffer(out[:size].tobytes(), dtype=np.uint8)  # read-only, as decode()
        kernels.decode(
            stream, HEADER_BITS, 32, 8, np.array(DEFAULT_RLE_SIZES, np.int64), 4, 3, flat
        )
    except Exception as exc:  # any compiler failure means: use the plain path
        warnings.warn(
            f"brush RLE: numba kernels unavailable ({exc}); using the plain Python path",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return kernels


def _kernels() -> _Kernels | None:
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _load_kernels()
    return _KERNELS or None


def accelerator() -> str | None:
    """``"numba"`` when the compiled kernels are in use, else ``None`` (plain Python/numpy).

    Set ``LSTK_RLE_ACCEL=0`` in the environment to force the plain path."""
    return "numba" if _kernels() is not None else None


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _as_bytes(rle: Sequence[int] | bytes | bytearray | memoryview | np.ndarray) -> bytes:
    if isinstance(rle, bytes):
        return rle
    if isinstance(rle, (bytearray, memoryview)):
        return bytes(rle)
    if isinstance(rle, np.ndarray):
        if rle.ndim != 1:
            raise RLEError(f"brush RLE must be a flat list of bytes, got a {rle.ndim}-D array")
        if rle.dtype == np.uint8:
            return rle.tobytes()
        if rle.dtype.kind not in "iu":
            raise RLEError(f"brush RLE must hold integers 0..255, got dtype {rle.dtype}")
        if rle.size and (int(rle.min()) < 0 or int(rle.max()) > 255):
            raise RLEError("brush RLE must hold integers 0..255")
        return rle.astype(np.uint8).tobytes()
    if isinstance(rle, str):
        raise RLEError("brush RLE must be a list of integers 0..255, got a string")
    try:
        return bytes(rle)
    except (TypeError, ValueError) as exc:
        raise RLEError(f"brush RLE must be a list of integers 0..255 ({exc})") from None


def _parse_header(data: bytes) -> Header:
    if len(data) < 7:
        raise RLEError(
            f"brush RLE is truncated: {len(data)} bytes, the header alone needs 7 (53 bits)"
        )
    head = int.from_bytes(data[:7], "big") >> (56 - HEADER_BITS)
    num = head >> 21
    word_size = ((head >> 16) & 31) + 1
    sizes = tuple(((head >> shift) & 15) + 1 for shift in (12, 8, 4, 0))
    return Header(num, word_size, sizes)  # type: ignore[arg-type]


def read_header(rle: Sequence[int] | bytes | np.ndarray) -> Header:
    """Read the header of a stream: value count, word size and repeat sizes."""
    return _parse_header(_as_bytes(rle))


def _dtype_for(word_size: int) -> type[np.unsignedinteger]:
    return np.uint8 if word_size <= 8 else np.uint16 if word_size <= 16 else np.uint32


def _max_values(nbits: int, header: Header) -> int:
    """An upper bound on how many values ``nbits`` of chunk data can produce: every chunk
    costs at least 3 + min(size) + word_size bits and yields at most 2**max(size) values."""
    per_chunk_bits = 3 + min(header.rle_sizes) + header.word_size
    return (max(nbits, 0) // per_chunk_bits) << max(header.rle_sizes)


def decode(
    rle: Sequence[int] | bytes | np.ndarray,
    width: int | None = None,
    height: int | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode a brush RLE stream.

    With ``width`` and ``height`` (the region's ``original_width`` / ``original_height``)
    the result is the alpha channel as a ``height x width`` array; the stream must declare
    exactly ``width * height * 4`` values. Without them the result is the flat array of all
    values (RGBA interleaved for a Label Studio mask).

    The dtype follows the word size: uint8 up to 8 bits (every Label Studio mask), uint16
    up to 16, uint32 above. Bytes after the last chunk (padding) are ignored.

    Raises :class:`RLEError` when the stream is malformed (truncated, a chunk running past
    N, bytes out of range), when N does not match the size, or when the output would be
    larger than ``max_pixels`` pixels (``N / 4`` counts as the pixel count of a flat decode).
    """
    if (width is None) != (height is None):
        raise ValueError("give both width and height, or neither")
    data = _as_bytes(rle)
    header = _parse_header(data)
    num = header.num
    if width is not None and height is not None:
        for name, dim in (("width", width), ("height", height)):
            if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
                raise ValueError(f"{name} must be a positive integer, got {dim!r}")
        width, height = int(width), int(height)
        pixels = width * height
        if pixels > max_pixels:
            raise RLEError(
                f"a {width}x{height} mask has {pixels} pixels, over the limit of {max_pixels}"
                " (pass a larger max_pixels to decode it)"
            )
        if num != pixels * _CHANNELS:
            raise RLEError(
                f"brush RLE declares {num} values, but a {width}x{height} RGBA mask needs "
                f"{pixels * _CHANNELS}; the stream belongs to an image of another size"
            )
        stride, phase, size = _CHANNELS, _ALPHA, pixels
    else:
        if num > max_pixels * _CHANNELS:
            raise RLEError(
                f"brush RLE declares {num} values ({num / _CHANNELS:.0f} pixels), over the "
                f"limit of {max_pixels} pixels (pass a larger max_pixels to decode it)"
            )
        stride, phase, size = 1, 0, num
    available = len(data) * 8 - HEADER_BITS
    if num > _max_values(available, header):
        raise RLEError(
            f"brush RLE is truncated: {len(data)} bytes cannot hold the {num} values it declares"
        )
    out = np.empty(size, dtype=_dtype_for(header.word_size))
    kernels = _kernels()
    if kernels is not None:
        status, done, bit = kernels.decode(
            np.frombuffer(data, dtype=np.uint8),
            HEADER_BITS,
            num,
            header.word_size,
            np.array(header.rle_sizes, dtype=np.int64),
            stride,
            phase,
            out,
        )
    else:
        status, done, bit = _decode_kernel(
            data, HEADER_BITS, num, header.word_size, header.rle_sizes, stride, phase, out
        )
    if status == _TRUNCATED:
        raise RLEError(f"brush RLE is truncated: it ends at bit {bit} after {done} of {num} values")
    if status == _OVERRUN:
        raise RLEError(
            f"brush RLE chunk at bit {bit} runs past the {num} values the stream declares"
            f" (it starts at value {done})"
        )
    if width is not None and height is not None:
        return out.reshape(height, width)
    return out


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths and values of the maximal runs of a flat array."""
    if values.size == 0:
        return np.zeros(0, np.int64), values[:0]
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [values.size])))
    return lengths.astype(np.int64), values[starts]


def _size_class(count_minus_one: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """rle-pack's class choice: the first k with n < 2**size[k], else 3."""
    n = count_minus_one
    return np.where(
        n < (1 << sizes[0]),
        0,
        np.where(n < (1 << sizes[1]), 1, np.where(n < (1 << sizes[2]), 2, 3)),
    ).astype(np.int64)


def _pack(codes: np.ndarray, widths: np.ndarray, sdk_padding: bool) -> bytes:
    """Concatenate big-endian bit fields (each at most 57 bits wide) into bytes."""
    codes = codes.astype(np.uint64, copy=False)
    widths = widths.astype(np.int64, copy=False)
    ends = np.cumsum(widths)
    total = int(ends[-1]) if ends.size else 0
    starts = ends - widths
    nbytes = (total + 7) // 8
    if sdk_padding and total % 8 == 0:
        nbytes += 1
    if codes.size == 0:
        return bytes(nbytes)
    shift = (64 - widths - (starts & 7)).astype(np.uint64)
    aligned = codes << shift
    base = starts >> 3
    acc = np.zeros(nbytes + 8, dtype=np.float64)
    last = (starts + widths - 1) >> 3
    for t in range(8):
        part = ((aligned >> np.uint64(56 - 8 * t)) & np.uint64(0xFF)).astype(np.float64)
        used = (base + t <= last) & (part != 0)
        if not used.any():
            continue
        acc += np.bincount(base[used] + t, weights=part[used], minlength=acc.size)
    return acc[:nbytes].astype(np.uint8).tobytes()


def _check_params(word_size: int, rle_sizes: Sequence[int]) -> tuple[int, int, int, int]:
    if not 1 <= word_size <= 32:
        raise ValueError(f"word_size must be 1..32, got {word_size}")
    sizes = tuple(int(s) for s in rle_sizes)
    if len(sizes) != 4 or not all(1 <= s <= 16 for s in sizes):
        raise ValueError(f"rle_sizes must be four sizes in 1..16, got {tuple(rle_sizes)}")
    return sizes  # type: ignore[return-value]


def _encode_runs(
    lengths: np.ndarray,
    values: np.ndarray,
    num: int,
    word_size: int,
    sizes: tuple[int, int, int, int],
    compact: bool,
) -> bytes:
    """Vectorised encoder over runs (the general and the fallback path)."""
    ws = word_size
    size_arr = np.array(sizes, dtype=np.int64)
    values = values.astype(np.uint64)
    rle3 = 1 << sizes[3]
    lengths = lengths.astype(np.int64)
    nruns = lengths.size

    if compact:
        # rle-pack: a run of L >= 2 copies is written as (L-1) // 2**s3 chunks of 2**s3
        # copies and a remainder; a remainder (or a whole run) of one copy is a literal
        # and consecutive literals are grouped, at most 2**s3 per group.
        full = np.where(lengths >= 2, (lengths - 1) // rle3, 0)
        rest = lengths - full * rle3
        single = rest == 1
        prev_single = np.concatenate(([False], single[:-1]))
        new_seq = single & ((full > 0) | ~prev_single)
        seq_id = np.cumsum(new_seq) - 1
        single_idx = np.flatnonzero(single)
        # position of each single within its sequence of consecutive singles
        seq_of_single = seq_id[single_idx]
        first_of_seq = np.flatnonzero(new_seq)
        rank = np.cumsum(single) - 1  # index among singles
        seq_start_rank = rank[first_of_seq]
        pos = np.zeros(nruns, dtype=np.int64)
        pos[single_idx] = rank[single_idx] - seq_start_rank[seq_of_single]
        seq_len = np.bincount(seq_of_single, minlength=first_of_seq.size)
        group_first = single & (pos % rle3 == 0)
        group_len = np.zeros(nruns, dtype=np.int64)
        remaining = seq_len[seq_id[single_idx]] - pos[single_idx]
        group_len[single_idx] = np.minimum(remaining, rle3)
        # rle-pack writes a final lone value that opens a new group as a run of one
        final_run = np.zeros(nruns, dtype=bool)
        if nruns and single[-1] and group_first[-1]:
            final_run[-1] = True
            group_first[-1] = False
        rest_is_run = ~single | final_run
        rest_class = _size_class(rest - 1, sizes)
        group_class = _size_class(np.maximum(group_len - 1, 0), sizes)
        full_class = int(_size_class(np.array([rle3 - 1]), sizes)[0])
    else:
        # label-studio-sdk: a lone value is a literal group of one; a run takes the first
        # size class that holds it, and longer runs are split into class-3 chunks of 2**s3
        # with the remainder also in class 3.
        limits = [1 << s for s in sizes[:3]]
        fits = np.select(
            [lengths <= limits[0], lengths <= limits[1], lengths <= limits[2]], [0, 1, 2], 3
        ).astype(np.int64)
        split = (lengths >= 2) & (fits == 3)
        full = np.where(split, (lengths - 1) // rle3, 0)
        rest = lengths - full * rle3
        single = lengths == 1
        rest_is_run = ~single
        rest_class = np.where(single, 0, fits)
        group_first = single
        group_len = single.astype(np.int64)
        group_class = np.zeros(nruns, dtype=np.int64)
        full_class = 3

    # one item per full chunk, then one item per run remainder
    per_run = full + 1
    run_of_item = np.repeat(np.arange(nruns), per_run)
    item_start = np.cumsum(per_run) - per_run
    is_rest = (np.arange(run_of_item.size) - item_start[run_of_item]) == full[run_of_item]
    v = values[run_of_item]

    # remainder items: a run, a literal word opening a group (with its header), or a word
    r_run = rest_is_run[run_of_item]
    r_first = group_first[run_of_item]
    cls = np.where(
        is_rest, np.where(r_run, rest_class[run_of_item], group_class[run_of_item]), full_class
    )
    s = size_arr[cls]
    count = np.where(
        is_rest, np.where(r_run, rest[run_of_item], group_len[run_of_item]), rle3
    ).astype(np.int64)
    kind = np.where(is_rest, r_run, True).astype(np.uint64)
    header_item = ~is_rest | r_run | r_first
    widths = np.where(header_item, 3 + s + ws, ws).astype(np.int64)
    ws_u = np.uint64(ws)
    s_u = s.astype(np.uint64)
    head = (
        (kind << (np.uint64(2) + s_u + ws_u))
        | (cls.astype(np.uint64) << (s_u + ws_u))
        | (np.maximum(count - 1, 0).astype(np.uint64) << ws_u)
    )
    codes = np.where(header_item, head | v, v)

    header_codes = np.array(
        [
            num,
            ((ws - 1) << 16)
            | ((sizes[0] - 1) << 12)
            | ((sizes[1] - 1) << 8)
            | ((sizes[2] - 1) << 4)
            | (sizes[3] - 1),
        ],
        dtype=np.uint64,
    )
    return _pack(
        np.concatenate((header_codes, codes)),
        np.concatenate((np.array([32, 21], dtype=np.int64), widths)),
        sdk_padding=not compact,
    )


def encode_values(
    values: np.ndarray | Sequence[int],
    *,
    word_size: int = DEFAULT_WORD_SIZE,
    rle_sizes: Sequence[int] = DEFAULT_RLE_SIZES,
    compact: bool = False,
) -> bytes:
    """Encode a flat array of unsigned values (each below ``2**word_size``) as a stream.

    ``compact=False`` follows label-studio-sdk's ``encode_rle`` (every lone value is its own
    literal group, the stream ends with 1..8 zero padding bits) and is byte-identical to it
    for the default parameters. ``compact=True`` follows ``@thi.ng/rle-pack``'s encoder, as
    the Label Studio editor uses it: lone values are grouped into literal groups and every
    chunk takes the smallest size class; it is byte-identical to it except where rle-pack
    drops the final value (a run ending the data with exactly one copy over a multiple of
    ``2**rle_sizes[3]``), which this encoder writes correctly.
    """
    sizes = _check_params(word_size, rle_sizes)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"values must be a flat array, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iub":
        raise TypeError(f"values must be integers, got dtype {arr.dtype}")
    if arr.size >= 1 << 32:
        raise ValueError("a stream holds at most 2**32 - 1 values")
    arr = arr.astype(np.int64) if arr.dtype.kind == "b" else arr
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= (1 << word_size)):
        raise ValueError(f"values must be in 0..{(1 << word_size) - 1} for word size {word_size}")
    lengths, run_values = _runs(arr)
    return _encode_runs(lengths, run_values, int(arr.size), word_size, sizes, compact)


def _mask_bytes(mask: np.ndarray) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"mask must be a 2-D array (height x width), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("mask is empty")
    if arr.size * _CHANNELS >= 1 << 32:
        raise ValueError("mask too large for a brush RLE stream (W * H * 4 must be < 2**32)")
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr, dtype=np.uint8).reshape(-1) * np.uint8(255)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"mask must be bool or integer, got dtype {arr.dtype}")
    if arr.dtype != np.uint8:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"mask values must be in 0..255, got {lo}..{hi}")
        arr = arr.astype(np.uint8)
    return np.ascontiguousarray(arr).reshape(-1)


def encode_bytes(mask: np.ndarray, *, compact: bool = False) -> bytes:
    """Like :func:`encode`, returning ``bytes``."""
    flat = _mask_bytes(mask)
    kernels = _kernels()
    if kernels is None:
        lengths, run_values = _runs(flat)
        return _encode_runs(
            lengths * _CHANNELS,
            run_values,
            flat.size * _CHANNELS,
            DEFAULT_WORD_SIZE,
            DEFAULT_RLE_SIZES,
            compact,
        )
    if flat.ctypes.data % 8:
        flat = flat.copy()
    words = flat[: flat.size - flat.size % 8].view(np.uint64)
    # worst case: every pixel its own run of 4 values (14 bits), plus header and padding
    out = np.empty(flat.size * 2 + 16, dtype=np.uint8)
    n = kernels.encode_mask(flat, words, bool(compact), out)
    return out[:n].tobytes()


def encode(mask: np.ndarray, *, compact: bool = False) -> list[int]:
    """Encode an ``H x W`` mask as the ``value.rle`` list Label Studio reads.

    Each pixel value (0..255; ``True`` counts as 255) is repeated into R, G, B and A, so
    N = W * H * 4, word size 8, repeat sizes 3, 4, 8, 16. The default output is
    byte-identical to label-studio-sdk's ``mask2rle``. ``compact=True`` writes what the
    Label Studio editor's encoder (``@thi.ng/rle-pack``) writes for the same pixels; for
    masks it differs from the default only in the padding byte and in the size class of
    what is left of runs longer than 16384 pixels, so it saves a few bytes at most.
    """
    return list(encode_bytes(mask, compact=compact))
