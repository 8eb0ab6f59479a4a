from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import EXIT_USAGE, UsageError
from toolkit.spec import load

GOOD = """\
project:
  title: Street inpainting
  tools: [brush, polygon]
  labels:
    - {name: remove, color: "#ff3b30"}
    - protect
data:
  images: ./images
  model_version: ${MODEL:-sam2}
export:
  labels: [remove]
  dilate: 3
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "project.yaml"
    path.write_text(text)
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(UsageError) as info:
        load(path, env=env or {})
    assert info.value.exit_code == EXIT_USAGE
    return str(info.value)


def test_good_spec_resolves_paths_and_defaults(folder: Path) -> None:
    spec = load(write(folder, GOOD), env={})
    assert spec.data.images == (folder / "images").resolve()
    assert spec.export.out == (folder / "dataset").resolve()
    assert spec.data.model_version == "sam2"
    assert [label.color for label in spec.project.labels] == ["#ff3b30", "#34c759"]
    assert spec.export.threshold == 1 and spec.export.formats == ["inpaint"]


def test_environment_interpolation(folder: Path) -> None:
    spec = load(write(folder, GOOD), env={"MODEL": "sam2-hiera-l"})
    assert spec.data.model_version == "sam2-hiera-l"
    text = GOOD.replace("${MODEL:-sam2}", "${MODEL}")
    message = error_of(write(folder, text))
    assert "line 9" in message and "MODEL" in message


def test_typo_key_names_line_and_path(folder: Path) -> None:
    message = error_of(write(folder, GOOD.replace("  dilate: 3", "  dilatte: 3")))
    assert "line 12" in message
    assert "export.dilatte" in message
    assert "unknown key" in message


def test_wrong_type_names_line_and_path(folder: Path) -> None:
    message = error_of(write(folder, GOOD.replace("dilate: 3", "dilate: lots")))
    assert "line 12" in message and "export.dilate" in message


def test_bad_nested_item_names_the_list_index(folder: Path) -> None:
    message = error_of(write(folder, GOOD.replace('"#ff3b30"', '"red"')))
    assert "project.labels.0.color" in message and "line 5" in message


def test_missing_folder_names_line(folder: Path) -> None:
    message = error_of(write(folder, GOOD.replace("./images", "./imgs")))
    assert "line 8" in message and "data.images" in message and "imgs" in message


def test_unknown_export_label_and_short_title(folder: Path) -> None:
    assert "unknown label" in error_of(write(folder, GOOD.replace("[remove]", "[erase]")))
    assert "project.title" in error_of(write(folder, GOOD.replace("Street inpainting", "ab")))


def test_not_yaml_and_missing_file(folder: Path) -> None:
    assert "not valid YAML" in error_of(write(folder, "project: [unclosed\n"))
    assert "does not exist" in error_of(folder / "nope.yaml")


def test_interpolated_values_are_taken_literally(folder: Path) -> None:
    text = GOOD.replace("${MODEL:-sam2}", "${MODEL}") + "  # ${NOT_SET} in a comment is ignored\n"
    spec = load(write(folder, text), env={"MODEL": "a #b: 'c'"})
    assert spec.data.model_version == "a #b: 'c'"


def test_interpolated_numbers_are_numbers(folder: Path) -> None:
    spec = load(write(folder, GOOD.replace("dilate: 3", "dilate: ${DILATE}")), env={"DILATE": "7"})
    assert spec.export.dilate == 7
