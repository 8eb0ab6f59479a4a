"""Brush RLE codec benchmark: toolkit vs label-studio-sdk (and label-studio-brush-rle-rs
when it is installed), in one run, on the same masks.

    python bench/rle_bench.py            # full run, prints a Markdown table
    python bench/rle_bench.py --quick    # fewer repetitions

Every codec turns the same ``H x W`` uint8 mask into the stream Label Studio stores
(encode) and that stream back into the ``H x W`` alpha mask (decode). Times are the best
of several runs, in milliseconds. The outputs are checked against each other first.

- sdk: ``label_studio_sdk.converter.brush.mask2rle`` / ``decode_rle`` (+ alpha view)
- rs: ``label_studio_brush_rle_rs.encode_rle(np.repeat(mask, 4), 8, [3, 4, 8, 16])`` /
  ``decode_rle(stream, False)`` (+ alpha view)
- toolkit: ``toolkit.masks.rle.encode(mask)`` / ``decode(stream, W, H)`` with the numba
  kernels, and "plain" the same calls on the pure Python/numpy path
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.masks import rle  # noqa: E402


def disc(size: int = 2048) -> np.ndarray:
    yy, xx = np.ogrid[:size, :size]
    centre = (size - 1) / 2
    return (((xx - centre) ** 2 + (yy - centre) ** 2) <= (0.45 * size) ** 2).astype(np.uint8) * 255


def blobs(size: int = 1024, seed: int = 0) -> np.ndarray:
    """Smoothed noise, thresholded at its median: a field of irregular blobs."""
    rng = np.random.default_rng(seed)
    field = rng.random((size, size))
    spectrum = np.fft.rfft2(field)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    sigma = 8.0  # px
    spectrum *= np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    smooth = np.fft.irfft2(spectrum, s=(size, size))
    return (smooth > np.median(smooth)).astype(np.uint8) * 255


def noise(size: int = 512, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def antialiased(width: int = 3840, height: int = 2160) -> np.ndarray:
    """Three overlapping discs with a 3 px linear alpha ramp on their edges."""
    yy, xx = np.ogrid[:height, :width]
    alpha = np.zeros((height, width), dtype=np.float32)
    for cx, cy, radius in ((900, 700, 400), (2600, 1200, 700), (3400, 400, 250)):
        distance = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2, dtype=np.float32) - radius
        alpha = np.maximum(alpha, np.clip(0.5 - distance / 3.0, 0, 1))
    return np.rint(alpha * 255).astype(np.uint8)


MASKS: dict[str, Callable[[], np.ndarray]] = {
    "disc 2048x2048": disc,
    "blobs 1024x1024": blobs,
    "noise 512x512": noise,
    "anti-aliased 3840x2160": antialiased,
}


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def measure(
    mask: np.ndarray, rs: Any, repeat: int, sdk_repeat: int, plain: bool
) -> tuple[list[int], dict[str, dict[str, float | None]]]:
    """Check that every codec agrees on ``mask``, then time encode and decode."""
    from label_studio_sdk.converter.brush import decode_rle, mask2rle

    height, width = mask.shape
    stream = mask2rle(mask)
    assert rle.encode(mask) == stream
    assert np.array_equal(rle.decode(stream, width, height), mask)
    assert np.array_equal(decode_rle(stream).reshape(height, width, 4)[..., 3], mask)
    if rs is not None:
        assert list(rs.encode_rle(np.repeat(mask.reshape(-1), 4), 8, [3, 4, 8, 16])) == stream
        assert np.array_equal(rs.decode_rle(stream, False)[3::4].reshape(mask.shape), mask)

    times: dict[str, dict[str, float | None]] = {"encode": {}, "decode": {}}
    times["encode"]["sdk"] = best(lambda: mask2rle(mask), sdk_repeat)
    times["decode"]["sdk"] = best(
        lambda: decode_rle(stream).reshape(height, width, 4)[..., 3], sdk_repeat
    )
    times["encode"]["rs"] = times["decode"]["rs"] = None
    if rs is not None:
        times["encode"]["rs"] = best(
            lambda: rs.encode_rle(np.repeat(mask.reshape(-1), 4), 8, [3, 4, 8, 16]), sdk_repeat
        )
        times["decode"]["rs"] = best(
            lambda: rs.decode_rle(stream, False).reshape(height, width, 4)[..., 3], repeat
        )
    times["encode"]["toolkit"] = best(lambda: rle.encode(mask), repeat)
    times["decode"]["toolkit"] = best(lambda: rle.decode(stream, width, height), repeat)
    times["encode"]["plain"] = times["decode"]["plain"] = None
    if plain:
        saved, rle._KERNELS = rle._KERNELS, False
        try:
            assert rle.encode(mask) == stream
            assert np.array_equal(rle.decode(stream, width, height), mask)
            times["encode"]["plain"] = best(lambda: rle.encode(mask), sdk_repeat)
            times["decode"]["plain"] = best(lambda: rle.decode(stream, width, height), sdk_repeat)
        finally:
            rle._KERNELS = saved
    return stream, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-plain", action="store_true", help="skip the pure-Python path")
    args = parser.parse_args()
    repeat = 5 if args.quick else 30
    sdk_repeat = 1 if args.quick else 3

    try:
        import label_studio_brush_rle_rs as rs
    except ImportError:
        rs = None

    rle._KERNELS = None
    start = time.perf_counter()
    accel = rle.accelerator()
    rle.decode(rle.encode(np.zeros((8, 8), np.uint8)), 8, 8)
    first_call = (time.perf_counter() - start) * 1000.0

    print(f"# Brush RLE codec, {time.strftime('%Y-%m-%d')}")
    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; Python {platform.python_version()},"
        f" numpy {np.__version__}; accelerator: {accel or 'none'}"
        f" (import + first calls {first_call:.0f} ms)"
    )
    print()
    header = (
        "| mask | op | stream bytes | sdk ms | rs ms | toolkit ms | plain ms "
        "| sdk / toolkit | rs / toolkit |"
    )
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    failures: list[str] = []
    for name, make in MASKS.items():
        mask = make()
        stream, times = measure(mask, rs, repeat, sdk_repeat, plain=not args.no_plain)
        for op in ("encode", "decode"):
            t = times[op]
            ours = t["toolkit"]
            assert ours is not None and t["sdk"] is not None
            vs_sdk = t["sdk"] / ours
            vs_rs = None if t["rs"] is None else t["rs"] / ours
            print(
                f"| {name} | {op} | {len(stream)} | {fmt(t['sdk'])} | {fmt(t['rs'])} "
                f"| {fmt(ours)} | {fmt(t['plain'])} | {vs_sdk:.0f}x "
                f"| {'-' if vs_rs is None else f'{vs_rs:.1f}x'} |"
            )
            need = 100 if op == "decode" else 30
            if vs_sdk < need:
                failures.append(f"{name} {op}: {vs_sdk:.0f}x the SDK, target {need}x")
            if op == "decode" and vs_rs is not None and vs_rs < 1:
                failures.append(f"{name} decode: slower than label-studio-brush-rle-rs")

    print()
    compact = {n: len(rle.encode(m(), compact=True)) for n, m in MASKS.items()}
    print("compact mode stream bytes: " + ", ".join(f"{n}: {b}" for n, b in compact.items()))
    print()
    if failures:
        print("targets missed:\n- " + "\n- ".join(failures))
        return 1
    print("targets met: decode >= 100x the SDK (and no slower than rs), encode >= 30x the SDK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
