"""Export names (sanitised, collision-safe, stable) and the train/val split."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.export.naming import Names, base_name, sanitize, source_path, split_of

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo", "photo"),
        ("my photo (1)", "my_photo_1"),
        ("café", "cafe"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "image"),
        ("", "image"),
        (".hidden", "hidden"),
        ("CON", "CON_"),
        ("lpt1.tar", "lpt1.tar_"),
        ("a..b", "a_b"),
        ("街道", "image"),
    ],
)
def test_sanitize(raw: str, expected: str) -> None:
    assert sanitize(raw) == expected


@given(st.text(max_size=300))
def test_sanitize_is_always_one_safe_component(raw: str) -> None:
    name = sanitize(raw)
    assert SAFE.match(name), name
    assert "/" not in name and "\\" not in name and ".." not in name
    assert 0 < len(name) <= 96
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul"}


@pytest.mark.parametrize(
    ("url", "key", "expected"),
    [
        ("/data/local-files/?d=root/images/a/x.jpg", "a/x.jpg", "a/x.jpg"),
        ("/data/local-files/?d=root/images/a/x.jpg", None, "x.jpg"),
        ("/data/local-files/?d=root/images/My%20Pic.png", None, "My Pic.png"),
        ("/data/upload/3/1a2b3c4d-street.jpg", None, "street.jpg"),
        ("/data/upload/3/street.jpg", None, "street.jpg"),
        ("https://cdn.example.com/p/q/img.webp?size=large", None, "img.webp"),
        ("s3://bucket/prefix/img.png", None, "img.png"),
        ("/data/upload/3/abc.jpg", "/abs/elsewhere/orig.jpg", "orig.jpg"),
        ("https://host/x.jpg", "https://host/x.jpg", "x.jpg"),
        ("https://host/", None, "image"),
        ("/data/local-files/?d=x.jpg", "../../escape.jpg", "escape.jpg"),
    ],
)
def test_source_path(url: str, key: str | None, expected: str) -> None:
    assert source_path(url, key) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("x.JPG", ("x", ".jpg")),
        ("a/b/x.jpeg", ("a__b__x", ".jpeg")),
        ("noext", ("noext", "")),
        ("archive.tar.gz", ("archive.tar", ".gz")),
        ("we ird/na me.png", ("we_ird__na_me", ".png")),
        ("a/" * 60 + "leaf.png", None),
    ],
)
def test_base_name(path: str, expected: tuple[str, str] | None) -> None:
    name, ext = base_name(path)
    if expected is not None:
        assert (name, ext) == expected
    assert len(name) <= 96 and name.endswith("leaf" if expected is None else name)
    assert SAFE.match(name)


def test_names_collide_without_regard_to_case_and_use_the_task_id() -> None:
    names = Names()
    assert names.claim("street", 5) == "street"
    assert names.claim("Street", 9) == "Street-9"
    assert names.claim("street", 12) == "street-12"
    assert names.owner("STREET") == 5


def test_names_are_stable_for_a_task_and_freed_when_it_goes() -> None:
    names = Names()
    assert names.claim("a", 1) == "a"
    assert names.claim("a", 2) == "a-2"
    # task 2 keeps its name on the next run even though "a" exists
    assert names.claim("a", 2, prefer="a-2") == "a-2"
    names.release(1)
    assert names.claim("a", 3) == "a"
    # a suffix collision: task 7's "x-7" is taken by a task whose own base is "x-7"
    names.claim("x", 4)
    names.claim("x-7", 8)
    assert names.claim("x", 7) == "x-7-2"


def test_names_reserve_every_pair_name_of_a_task() -> None:
    names = Names()
    assert names.claim("img", 1, ["-a10", "-a11"]) == "img"
    assert names.owner("img-a11") == 1
    # another task whose plain name would be one of those pair names
    assert names.claim("img-a10", 2) == "img-a10-2"
    # re-claiming with different annotations releases the old pair names
    names.claim("img", 1, ["-a12"], prefer="img")
    assert names.owner("img-a10") is None
    assert names.owner("img-a12") == 1


def test_split_is_deterministic_and_close_to_the_fraction() -> None:
    keys = [f"image_{i}" for i in range(20000)]
    first = [split_of(k, 0.2, seed=3) for k in keys]
    assert first == [split_of(k, 0.2, seed=3) for k in keys]
    share = first.count("val") / len(keys)
    assert 0.19 < share < 0.21
    other_seed = [split_of(k, 0.2, seed=4) for k in keys]
    assert other_seed != first
    # adding images never moves existing ones
    assert [split_of(k, 0.2, seed=3) for k in keys[:100]] == first[:100]


def test_split_edges() -> None:
    assert {split_of(f"k{i}", 0.0) for i in range(200)} == {"train"}
    assert {split_of(f"k{i}", 1.0) for i in range(200)} == {"val"}
    # a larger fraction only moves images from train to val, never back
    for i in range(500):
        if split_of(f"k{i}", 0.1) == "val":
            assert split_of(f"k{i}", 0.3) == "val"
