"""Brush RLE codec: agreement with label-studio-sdk and @thi.ng/rle-pack, round trips over
random encoder parameters, and malformed input."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from label_studio_sdk.converter.brush import decode_rle, encode_rle, mask2rle

from toolkit.masks import rle
from toolkit.masks.rle import RLEError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ["accelerated", "plain"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def backend(name: str) -> Iterator[None]:
    """Run the codec on the compiled kernels or on the plain Python/numpy path."""
    saved = rle._KERNELS
    try:
        if name == "accelerated":
            rle._KERNELS = None
            if rle._kernels() is None:
                pytest.skip("numba kernels unavailable (numba not installed, or LSTK_RLE_ACCEL=0)")
        else:
            rle._KERNELS = False
        yield
    finally:
        rle._KERNELS = saved


# --------------------------------------------------------------------------------------
# An independent stream writer: random chunking, random size classes, grouped literals
# --------------------------------------------------------------------------------------


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def write(self, value: int, width: int) -> None:
        assert 0 <= value < (1 << width), (value, width)
        self.bits.extend((value >> (width - 1 - n)) & 1 for n in range(width))

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[n : n + 8])), 2) for n in range(0, len(bits), 8))


def write_stream(
    values: list[int], word_size: int, sizes: list[int], rng: random.Random, pad_bits: int = 0
) -> bytes:
    """Any valid chunking of ``values``: each chunk picks a random size class that can
    hold it, and is a run (when the values repeat) or a literal group of random length."""
    out = BitWriter()
    out.write(len(values), 32)
    out.write(word_size - 1, 5)
    for size in sizes:
        out.write(size - 1, 4)
    i = 0
    while i < len(values):
        k = rng.randrange(4)
        cap = 1 << sizes[k]
        same = 1
        while i + same < len(values) and values[i + same] == values[i] and same < cap:
            same += 1
        if same > 1 and rng.random() < 0.6:
            length = rng.randint(1, same)
            out.write(1, 1)
            out.write(k, 2)
            out.write(length - 1, sizes[k])
            out.write(values[i], word_size)
        else:
            length = rng.randint(1, min(cap, len(values) - i))
            out.write(0, 1)
            out.write(k, 2)
            out.write(length - 1, sizes[k])
            for value in values[i : i + length]:
                out.write(value, word_size)
        i += length
    for _ in range(pad_bits):
        out.write(rng.randrange(2), 1)
    return out.bytes()


def rle_pack_reference(values: list[int], word_size: int, sizes: list[int]) -> bytes:
    """A line-by-line port of @thi.ng/rle-pack's encodeBinary (literal grouping included),
    without its final-value drop."""
    out = BitWriter()
    out.write(len(values), 32)
    out.write(word_size - 1, 5)
    for size in sizes:
        out.write(size - 1, 4)
    limits = [1 << s for s in sizes]
    rle3 = limits[3]
    chunk: list[int] = []
    state = {"n": 0, "val": None}

    def size_class(n: int) -> int:
        return 0 if n < limits[0] else 1 if n < limits[1] else 2 if n < limits[2] else 3

    def write_rle() -> None:
        t = size_class(state["n"])
        out.write(1, 1)
        out.write(t, 2)
        out.write(state["n"], sizes[t])
        out.write(state["val"], word_size)
        state["n"] = 0

    def write_chunk() -> None:
        m = len(chunk) - 1
        t = size_class(m)
        out.write(0, 1)
        out.write(t, 2)
        out.write(m, sizes[t])
        for word in chunk:
            out.write(word, word_size)
        chunk.clear()

    for x in values:
        if state["val"] is None:
            state["val"] = x
        elif x != state["val"]:
            if state["n"] > 0:
                write_rle()
            else:
                chunk.append(state["val"])
                if len(chunk) == rle3:
                    write_chunk()
            state["val"] = x
        else:
            if chunk:
                write_chunk()
            state["n"] += 1
            if state["n"] == rle3:
                state["n"] -= 1
                write_rle()
    if chunk:
        chunk.append(state["val"])
        write_chunk()
    elif values:
        write_rle()
    data = out.bits
    return bytes(
        int("".join(map(str, (data + [0] * 7)[n : n + 8])), 2) for n in range(0, len(data), 8)
    )


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


@st.composite
def masks(draw: st.DrawFn, max_side: int = 48) -> np.ndarray:
    """Masks with runs: a few values, blocky regions, sometimes anti-aliased noise."""
    height = draw(st.integers(1, max_side))
    width = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    style = draw(st.sampled_from(["binary", "blocks", "noise", "constant"]))
    if style == "constant":
        return np.full((height, width), draw(st.integers(0, 255)), dtype=np.uint8)
    if style == "noise":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    palette = rng.integers(0, 256, draw(st.integers(1, 4)), dtype=np.uint8)
    if style == "binary":
        palette = np.array([0, 255], dtype=np.uint8)
    block = draw(st.integers(1, 12))
    small = rng.integers(0, palette.size, (-(-height // block), -(-width // block)))
    big = np.kron(small, np.ones((block, block), dtype=np.int64))[:height, :width]
    return palette[big]


def run_values(draw: st.DrawFn, word_size: int, max_len: int) -> list[int]:
    top = (1 << word_size) - 1
    value = st.one_of(st.integers(0, top), st.sampled_from([0, top]))
    runs = draw(st.lists(st.tuples(value, st.integers(1, 40)), min_size=0, max_size=30))
    values = [v for v, n in runs for _ in range(n)][:max_len]
    return values


params = st.tuples(st.integers(1, 32), st.lists(st.integers(1, 16), min_size=4, max_size=4))


# --------------------------------------------------------------------------------------
# Agreement with label-studio-sdk
# --------------------------------------------------------------------------------------


def sdk_alpha(stream: list[int], width: int, height: int) -> np.ndarray:
    return decode_rle(stream).reshape(height, width, 4)[:, :, 3]


def special_masks() -> list[np.ndarray]:
    long_run = np.zeros((300, 300), dtype=np.uint8)  # runs longer than 65536 values
    long_run[150, 7] = 255
    split_exact = np.zeros((128, 256), dtype=np.uint8)  # exactly 2 chunks of 65536 values
    disc = np.zeros((64, 96), dtype=np.uint8)
    yy, xx = np.mgrid[:64, :96]
    disc[(xx - 40.5) ** 2 + (yy - 30.2) ** 2 < 400] = 255
    ramp = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    tiny = np.array([[7]], dtype=np.uint8)
    return [long_run, split_exact, disc, ramp, tiny, 255 - long_run]


@pytest.mark.parametrize("name", BACKENDS)
def test_encode_matches_sdk_mask2rle_on_special_masks(name: str) -> None:
    with backend(name):
        for mask in special_masks():
            assert rle.encode(mask) == mask2rle(mask)


@pytest.mark.parametrize("name", BACKENDS)
@FAST
@given(mask=masks())
def test_encode_matches_sdk_and_decode_matches_sdk(name: str, mask: np.ndarray) -> None:
    height, width = mask.shape
    sdk_stream = mask2rle(mask)
    with backend(name):
        assert rle.encode(mask) == sdk_stream
        alpha = rle.decode(sdk_stream, width, height)
        assert alpha.dtype == np.uint8
        np.testing.assert_array_equal(alpha, sdk_alpha(sdk_stream, width, height))
        np.testing.assert_array_equal(alpha, mask)
        np.testing.assert_array_equal(rle.decode(sdk_stream), decode_rle(sdk_stream))


@pytest.mark.parametrize("name", BACKENDS)
@FAST
@given(mask=masks())
def test_compact_streams_decode_everywhere_and_are_never_larger(
    name: str, mask: np.ndarray
) -> None:
    height, width = mask.shape
    values = np.repeat(mask.reshape(-1), 4).tolist()
    with backend(name):
        compact = rle.encode(mask, compact=True)
        assert len(compact) <= len(rle.encode(mask))
        assert bytes(compact) == rle_pack_reference(values, 8, [3, 4, 8, 16])
        np.testing.assert_array_equal(rle.decode(compact, width, height), mask)
    np.testing.assert_array_equal(sdk_alpha(compact, width, height), mask)


@FAST
@given(data=st.data())
def test_encode_values_matches_sdk_encode_rle(data: st.DataObject) -> None:
    values = run_values(data.draw, 8, 400)
    if not values:
        return
    arr = np.array(values, dtype=np.uint8)
    assert list(rle.encode_values(arr)) == encode_rle(arr)


def test_bool_and_wide_integer_masks() -> None:
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:3, 2:6] = True
    expected = mask2rle(mask.astype(np.uint8) * 255)
    assert rle.encode(mask) == expected
    assert rle.encode(mask.astype(np.int64) * 255) == expected
    with pytest.raises(ValueError):
        rle.encode(np.full((2, 2), 256))
    with pytest.raises(TypeError):
        rle.encode(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError):
        rle.encode(np.zeros((2, 2, 4), dtype=np.uint8))


def test_encode_accepts_non_contiguous_and_unaligned_masks() -> None:
    base = np.zeros((40, 81), dtype=np.uint8)
    base[5:30, 10:70] = 200
    for view in (base[:, 1:], base[::2, ::3], base.T):
        assert rle.encode(view) == mask2rle(np.ascontiguousarray(view))


# --------------------------------------------------------------------------------------
# Any valid stream: random parameters, grouped literals, other encoders
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
@FAST
@given(data=st.data(), p=params, compact=st.booleans())
def test_round_trip_random_parameters(
    name: str, data: st.DataObject, p: tuple[int, list[int]], compact: bool
) -> None:
    word_size, sizes = p
    values = run_values(data.draw, word_size, 600)
    arr = np.array(values, dtype=np.uint64)
    with backend(name):
        stream = rle.encode_values(arr, word_size=word_size, rle_sizes=sizes, compact=compact)
        header = rle.read_header(stream)
        assert (header.num, header.word_size, header.rle_sizes) == (
            len(values),
            word_size,
            tuple(sizes),
        )
        out = rle.decode(stream)
        np.testing.assert_array_equal(out, arr)
        assert out.dtype.itemsize == (1 if word_size <= 8 else 2 if word_size <= 16 else 4)
    if compact and values:
        assert stream == rle_pack_reference(values, word_size, sizes)


@pytest.mark.parametrize("name", BACKENDS)
@FAST
@given(data=st.data(), p=params, seed=st.integers(0, 2**32), pad=st.integers(0, 20))
def test_decode_any_chunking(
    name: str, data: st.DataObject, p: tuple[int, list[int]], seed: int, pad: int
) -> None:
    word_size, sizes = p
    values = run_values(data.draw, word_size, 300)
    stream = write_stream(values, word_size, sizes, random.Random(seed), pad_bits=pad)
    with backend(name):
        np.testing.assert_array_equal(rle.decode(stream), np.array(values, dtype=np.uint64))


@pytest.mark.parametrize("name", BACKENDS)
@FAST
@given(mask=masks(max_side=24), seed=st.integers(0, 2**32))
def test_decode_alpha_from_any_chunking(name: str, mask: np.ndarray, seed: int) -> None:
    """Literal groups that straddle pixels, runs that cover part of a pixel: the alpha
    channel is still every fourth value."""
    height, width = mask.shape
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = 255 - mask
    rgba[..., 1] = mask // 2
    rgba[..., 3] = mask
    stream = write_stream(rgba.reshape(-1).tolist(), 8, [3, 4, 8, 16], random.Random(seed))
    with backend(name):
        np.testing.assert_array_equal(rle.decode(stream, width, height), mask)


def load_rle_pack_cases() -> list[dict]:
    return json.loads((FIXTURES / "rle_pack_streams.json").read_text())["cases"]


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("case", load_rle_pack_cases(), ids=lambda c: c["name"])
def test_streams_recorded_from_rle_pack(name: str, case: dict) -> None:
    """Streams written by @thi.ng/rle-pack (the editor's encoder): grouped literals, word
    sizes 1..32, unusual repeat sizes."""
    values = np.repeat(
        np.array([v for v, _ in case["runs"]], dtype=np.uint64),
        [n for _, n in case["runs"]],
    )
    stream = bytes.fromhex(case["stream"])
    ws, sizes = case["word_size"], case["rle_sizes"]
    with backend(name):
        ours = rle.encode_values(values, word_size=ws, rle_sizes=sizes, compact=True)
        np.testing.assert_array_equal(rle.decode(ours), values)
        if case["rle_pack_decodes"]:
            np.testing.assert_array_equal(rle.decode(stream), values)
            assert ours == stream
        else:
            # rle-pack dropped the final value: the stream is one value short
            with pytest.raises(RLEError, match="truncated"):
                rle.decode(stream)
        if case["name"].startswith("editor_brush_rgba"):
            alpha = rle.decode(stream, 48, 32)
            np.testing.assert_array_equal(alpha.reshape(-1), values[3::4])


# --------------------------------------------------------------------------------------
# Malformed input
# --------------------------------------------------------------------------------------


def sample_stream() -> list[int]:
    mask = np.zeros((9, 13), dtype=np.uint8)
    mask[2:7, 3:11] = 255
    mask[4, 5] = 17
    return mask2rle(mask)


@pytest.mark.parametrize("name", BACKENDS)
def test_every_truncation_decodes_or_raises(name: str) -> None:
    stream = sample_stream()
    full = rle.decode(stream, 13, 9)
    with backend(name):
        for cut in range(len(stream)):
            try:
                out = rle.decode(stream[:cut], 13, 9)
            except RLEError:
                continue
            np.testing.assert_array_equal(out, full)  # only padding was cut


def test_typed_errors_with_clear_messages() -> None:
    stream = sample_stream()
    with pytest.raises(RLEError, match="header"):
        rle.decode(stream[:5])
    with pytest.raises(RLEError, match="another size"):
        rle.decode(stream, 9, 13 + 1)
    with pytest.raises(RLEError, match="0..255"):
        rle.decode([*stream[:-1], 300])
    with pytest.raises(RLEError, match="0..255"):
        rle.decode([*stream[:-1], -1])
    with pytest.raises(RLEError):
        rle.decode(["a", "b"])
    with pytest.raises(RLEError):
        rle.decode("0123456789")
    with pytest.raises(RLEError):
        rle.decode(np.zeros((2, 8), dtype=np.uint8))
    with pytest.raises(RLEError, match="truncated"):
        rle.decode(stream[: len(stream) // 2])
    assert issubclass(RLEError, ValueError)
    with pytest.raises(ValueError, match="both"):
        rle.decode(stream, 13)
    with pytest.raises(ValueError, match="positive"):
        rle.decode(stream, 0, 9)


def header(num: int, word_size: int = 8, sizes: tuple[int, ...] = (3, 4, 8, 16)) -> BitWriter:
    out = BitWriter()
    out.write(num, 32)
    out.write(word_size - 1, 5)
    for size in sizes:
        out.write(size - 1, 4)
    return out


@pytest.mark.parametrize("name", BACKENDS)
def test_chunk_running_past_n(name: str) -> None:
    out = header(8)
    out.write(1, 1)
    out.write(1, 2)
    out.write(11, 4)  # a run of 12 values into a stream of 8
    out.write(255, 8)
    with backend(name), pytest.raises(RLEError, match="runs past"):
        rle.decode(out.bytes())
    out = header(8)
    out.write(0, 1)
    out.write(0, 2)
    out.write(7, 3)  # 8 literal values are fine ...
    for _ in range(8):
        out.write(9, 8)
    np.testing.assert_array_equal(rle.decode(out.bytes()), np.full(8, 9))


@pytest.mark.parametrize("name", BACKENDS)
def test_memory_limit_is_checked_before_allocating(name: str) -> None:
    # a 9-byte stream claiming 2**32 - 1 values, and one claiming a 4096 x 4096 mask
    huge = header(2**32 - 1)
    huge.write(1, 1)
    huge.write(3, 2)
    huge.write(0xFFFF, 16)
    huge.write(0, 8)
    big_mask = rle.encode(np.zeros((4096, 4096), dtype=np.uint8))
    with backend(name):
        with pytest.raises(RLEError, match="limit"):
            rle.decode(huge.bytes())
        with pytest.raises(RLEError, match="truncated"):
            rle.decode(huge.bytes(), max_pixels=2**32)
        with pytest.raises(RLEError, match="limit"):
            rle.decode(big_mask, 4096, 4096, max_pixels=4096 * 4095)
        assert rle.decode(big_mask, 4096, 4096).shape == (4096, 4096)


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(blob=st.binary(min_size=0, max_size=64))
def test_random_bytes_give_values_or_the_typed_error(name: str, blob: bytes) -> None:
    with backend(name):
        try:
            out = rle.decode(blob, max_pixels=1 << 16)
        except RLEError:
            return
        assert out.size == rle.read_header(blob).num


@pytest.mark.parametrize("name", BACKENDS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_corrupted_streams_give_a_mask_or_the_typed_error(name: str, data: st.DataObject) -> None:
    stream = bytearray(sample_stream())
    position = data.draw(st.integers(7, len(stream) - 1))
    stream[position] = data.draw(st.integers(0, 255))
    stream = stream[: data.draw(st.integers(7, len(stream)))]
    with backend(name):
        try:
            out = rle.decode(bytes(stream), 13, 9)
        except RLEError:
            return
        assert out.shape == (9, 13)


def test_encoder_parameter_checks() -> None:
    with pytest.raises(ValueError):
        rle.encode_values([1, 2], word_size=0)
    with pytest.raises(ValueError):
        rle.encode_values([1, 2], word_size=33)
    with pytest.raises(ValueError):
        rle.encode_values([1, 2], rle_sizes=(3, 4, 8, 17))
    with pytest.raises(ValueError):
        rle.encode_values([1, 2], rle_sizes=(3, 4, 8))
    with pytest.raises(ValueError):
        rle.encode_values([4], word_size=2)
    assert rle.decode(rle.encode_values([])).size == 0


def test_accelerator_is_reported() -> None:
    assert rle.accelerator() in ("numba", None)
