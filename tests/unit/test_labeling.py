from __future__ import annotations

import pytest

from toolkit.labeling import generate, read
from toolkit.spec import Project


def test_generated_config_has_every_tool_with_the_same_labels() -> None:
    project = Project(
        title="Inpaint",
        tools=["brush", "polygon", "rectangle", "ellipse"],
        labels=[{"name": "remove", "color": "#ff3b30"}, "keep"],
        flags=["unusable", "blurry"],
    )
    info = read(generate(project))
    assert info.image_field == "image" and info.image_name == "image"
    assert info.controls == {
        "brush": "BrushLabels",
        "polygon": "PolygonLabels",
        "rectangle": "RectangleLabels",
        "ellipse": "EllipseLabels",
    }
    assert all(values == ["remove", "keep"] for values in info.labels.values())
    assert info.colors == {"remove": "#ff3b30", "keep": "#34c759"}
    assert 'name="flags"' in generate(project) and 'value="blurry"' in generate(project)


def test_raw_config_is_used_as_is_and_read() -> None:
    raw = (
        '<View><Image name="photo" value="$img"/>'
        '<BrushLabels name="paint" toName="photo"><Label value="hole"/></BrushLabels></View>'
    )
    project = Project(title="Raw", label_config=raw)
    assert generate(project) == raw
    info = read(raw)
    assert (info.image_field, info.image_name) == ("img", "photo")
    assert info.control_for("BrushLabels") == "paint"
    assert info.all_labels == ["hole"]


def test_config_without_image_is_rejected() -> None:
    with pytest.raises(ValueError, match="no <Image>"):
        read("<View><Text name='t' value='$t'/></View>")
