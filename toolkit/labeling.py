"""Label config XML: generated from the spec for inpainting, and read back for labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from toolkit.errors import UsageError
from toolkit.spec import Project

IMAGE_NAME = "image"
FLAGS_NAME = "flags"
# One control tag per tool; its name is the `from_name` of every result it makes.
TOOL_TAGS = {
    "brush": ("BrushLabels", "brush"),
    "polygon": ("PolygonLabels", "polygon"),
    "rectangle": ("RectangleLabels", "rectangle"),
    "ellipse": ("EllipseLabels", "ellipse"),
}
TOOL_OPTIONS = {
    "polygon": {"strokeWidth": "2", "pointSize": "small", "opacity": "0.5"},
    "rectangle": {"strokeWidth": "2", "opacity": "0.5"},
    "ellipse": {"strokeWidth": "2", "opacity": "0.5"},
}
LABEL_TAGS = {tag for tag, _ in TOOL_TAGS.values()} | {"Labels"}


def generate(project: Project) -> str:
    """The label config for the spec's project (its raw `label_config` when given)."""
    if project.label_config:
        return project.label_config.strip()
    view = ET.Element("View")
    ET.SubElement(view, "Image", name=IMAGE_NAME, value=f"${IMAGE_NAME}", zoom="true")
    for tool in project.tools:
        tag, name = TOOL_TAGS[tool]
        control = ET.SubElement(
            view, tag, name=name, toName=IMAGE_NAME, **TOOL_OPTIONS.get(tool, {})
        )
        for label in project.labels:
            ET.SubElement(control, "Label", value=label.name, background=label.color or "#ff0000")
    if project.flags:
        choices = ET.SubElement(
            view,
            "Choices",
            name=FLAGS_NAME,
            toName=IMAGE_NAME,
            choice="multiple",
            showInline="true",
        )
        for flag in project.flags:
            ET.SubElement(choices, "Choice", value=flag)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


@dataclass(frozen=True)
class ConfigInfo:
    """What the toolkit needs to know about a label config."""

    image_field: str  # the task data key the Image tag reads
    image_name: str  # the Image tag's name: results' to_name
    controls: dict[str, str]  # control name -> tag (BrushLabels, PolygonLabels, ...)
    labels: dict[str, list[str]]  # control name -> label values
    colors: dict[str, str]  # label value -> background colour

    @property
    def all_labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for values in self.labels.values():
            seen.update(dict.fromkeys(values))
        return list(seen)

    def control_for(self, tag: str) -> str | None:
        return next((name for name, t in self.controls.items() if t == tag), None)


def _parse(config: str) -> ET.Element:
    try:
        return ET.fromstring(config)
    except ET.ParseError as exc:
        raise ValueError(f"the label config is not valid XML ({exc})") from None


def control_labels(config: str) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """Label controls of a config: name -> tag, name -> label values, value -> colour."""
    controls: dict[str, str] = {}
    labels: dict[str, list[str]] = {}
    colors: dict[str, str] = {}
    for element in _parse(config).iter():
        if element.tag not in LABEL_TAGS:
            continue
        name = element.get("name", element.tag)
        controls[name] = element.tag
        labels[name] = []
        for label in element.iter("Label"):
            value = label.get("value", "")
            labels[name].append(value)
            if label.get("background"):
                colors.setdefault(value, label.get("background", ""))
    return controls, labels, colors


def read(config: str) -> ConfigInfo:
    """Read the image field, label controls and labels of a label config."""
    image = next((el for el in _parse(config).iter("Image")), None)
    if image is None:
        raise ValueError("the label config has no <Image> tag")
    controls, labels, colors = control_labels(config)
    return ConfigInfo(
        image_field=image.get("value", "$image").lstrip("$"),
        image_name=image.get("name", IMAGE_NAME),
        controls=controls,
        labels=labels,
        colors=colors,
    )


def read_project(project: dict[str, Any]) -> ConfigInfo:
    """The label config of a project on the server, or a UsageError saying what is wrong."""
    try:
        return read(project.get("label_config") or "")
    except ValueError as exc:
        raise UsageError(
            f"The label config of project {project.get('id')} cannot be used ({exc}). lstk "
            "needs an <Image> tag and brush/polygon/rectangle/ellipse labels: run `lstk apply` "
            "with the spec, or fix the config in the project's settings."
        ) from None
