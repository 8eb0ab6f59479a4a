"""The parts of task streaming that need no server: read-ahead, compaction, annotators."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from toolkit.export import fetch


def test_ahead_yields_everything_in_order() -> None:
    assert list(fetch.ahead(iter(range(50)), depth=2)) == list(range(50))
    assert list(fetch.ahead(iter([]))) == []


def test_ahead_raises_the_producers_error_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("server went away")

    stream = fetch.ahead(broken())
    assert next(stream) == 1
    with pytest.raises(RuntimeError, match="server went away"):
        next(stream)


def test_ahead_stops_the_producer_when_the_consumer_stops() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    stream = fetch.ahead(endless(), depth=1)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count <= 6  # it stopped, a page or so ahead at most
    assert not [t for t in threading.enumerate() if t.name == "lstk-export-fetch"]


def test_compact_turns_rle_lists_into_bytes() -> None:
    task = {
        "annotations": [
            {"result": [{"value": {"rle": [1, 2, 255]}}, {"value": {"points": [[1, 2]]}}]},
            {"result": [{"value": {"rle": [1, 999]}}]},  # not bytes: left for the rasteriser
        ],
        "predictions": [{"result": [{"value": {"rle": [0, 7]}}]}],
    }
    fetch.compact(task)
    assert task["annotations"][0]["result"][0]["value"]["rle"] == b"\x01\x02\xff"
    assert task["annotations"][1]["result"][0]["value"]["rle"] == [1, 999]
    assert task["predictions"][0]["result"][0]["value"]["rle"] == b"\x00\x07"


def test_annotator_names() -> None:
    emails = {1: "admin@x"}
    assert fetch.annotator({"completed_by": 1}, emails) == "admin@x"
    assert fetch.annotator({"completed_by": {"id": 3, "email": "c@x"}}, emails) == "c@x"
    unlisted = {"completed_by": 2, "created_username": " second@x, 2"}
    assert fetch.annotator(unlisted, emails) == "second@x"
    assert fetch.annotator({"completed_by": 9}, emails) == "9"
    assert fetch.annotator({}, emails) is None


def test_times_round_trip_in_the_data_manager_format() -> None:
    moment = fetch.parse_time("2026-11-28T01:51:58.557730Z")
    assert fetch.format_time(moment) == "2026-11-28T01:51:58.557730Z"
    assert fetch.format_time(fetch.parse_time("2026-11-28T01:51:58Z")).endswith(":58.000000Z")
