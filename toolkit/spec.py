"""The project spec: a YAML file that defines the project, its data and its export.

Loading interpolates ``${VAR}`` (and ``${VAR:-default}``) from the environment, resolves
paths relative to the spec file, rejects unknown keys, and names the file, line and key
path of any error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolkit.errors import UsageError

Tool = Literal["brush", "polygon", "rectangle", "ellipse"]
Format = Literal["inpaint", "per-label", "semantic", "control", "coco"]
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Distinct, readable on photos; used in order for labels without a colour.
PALETTE = ("#ff3b30", "#34c759", "#007aff", "#ff9500", "#af52de", "#5ac8fa", "#ffcc00", "#ff2d55")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(Strict):
    name: str = Field(min_length=1)
    color: str | None = None

    @field_validator("color")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not HEX_COLOR.match(value):
            raise ValueError(f"colour {value!r} is not of the form #rrggbb")
        return value


class Project(Strict):
    title: str | None = Field(default=None, min_length=3, max_length=50)
    id: int | None = None
    description: str = ""
    instructions: str = ""
    tools: list[Tool] = Field(default_factory=lambda: ["brush"], min_length=1)
    labels: list[Label] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    label_config: str | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _names_as_labels(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> Project:
        if self.title is None and self.id is None:
            raise ValueError("give the project a `title` (at least 3 characters) or an `id`")
        if self.label_config is None and not self.labels:
            raise ValueError("list at least one label under `labels`, or give a `label_config`")
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"label names must be unique, got {names}")
        for i, label in enumerate(self.labels):
            label.color = label.color or PALETTE[i % len(PALETTE)]
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


class S3Source(Strict):
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    presign: bool = True
    regex_filter: str = r".*\.(jpe?g|png|webp|bmp|tiff?)$"


class Data(Strict):
    images: Path | None = None
    mode: Literal["auto", "local-files", "upload", "url"] = "auto"
    manifest: Path | None = None
    masks: Path | None = None
    mask_label: str | None = None  # label given to imported masks; default: the first label
    model_version: str = "lstk-import"
    s3: S3Source | None = None


class Split(Strict):
    val: float = Field(default=0.1, ge=0.0, le=1.0)
    seed: int = 0


class Export(Strict):
    out: Path = Path("dataset")
    labels: list[str] | None = None
    annotations: Literal["latest", "union", "all"] = "latest"
    threshold: int = Field(default=1, ge=1, le=255)
    dilate: int = Field(default=0, ge=0)
    feather: int = Field(default=0, ge=0)
    min_area: int = Field(default=0, ge=0)
    split: Split = Field(default_factory=Split)
    formats: list[Format] = Field(default_factory=lambda: ["inpaint"], min_length=1)


class Spec(Strict):
    project: Project
    data: Data = Field(default_factory=Data)
    export: Export = Field(default_factory=Export)
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _labels_exist(self) -> Spec:
        known = set(self.project.label_names)
        if not known:  # a raw label_config: labels are checked against the server's reading
            return self
        for where, names in (
            ("export.labels", self.export.labels or []),
            ("data.mask_label", [self.data.mask_label] if self.data.mask_label else []),
        ):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(
                    f"{where} names unknown label(s) {unknown}; known: {sorted(known)}"
                )
        return self

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


STR_TAG = "tag:yaml.org,2002:str"


def interpolate(node: yaml.Node, source: str, env: dict[str, str] | None = None) -> None:
    """Replace ${VAR} and ${VAR:-default} in the string values of a parsed document.

    Working on parsed values (not on the text) keeps a value with `#`, `: ` or quotes
    exactly as it is, and leaves comments alone. Unset without a default is an error.
    """
    env = dict(os.environ) if env is None else env
    if isinstance(node, yaml.ScalarNode):
        if node.tag == STR_TAG and "${" in node.value:
            line = node.start_mark.line + 1

            def replace(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                if name in env:
                    return env[name]
                if default is not None:
                    return default
                raise UsageError(
                    f"{source}, line {line}: ${{{name}}} is not set in the environment. "
                    f"Export {name}, or write ${{{name}:-default}} in the spec."
                )

            node.value = _VAR.sub(replace, node.value)
    elif isinstance(node, yaml.MappingNode):
        for _, value in node.value:
            interpolate(value, source, env)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            interpolate(item, source, env)


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a YAML document to its 1-based line number."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_line_index(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    keys = tuple(str(k) if isinstance(k, str) else k for k in loc)
    for end in range(len(keys), -1, -1):
        if keys[:end] in lines:
            return ".".join(str(k) for k in keys) or "(top level)", lines[keys[:end]]
    return ".".join(str(k) for k in keys), None


def load(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> Spec:
    """Read and validate a spec file; raise UsageError (exit 2) naming file, line, key."""
    spec_path = Path(path).absolute()
    if not spec_path.is_file():
        raise UsageError(f"Spec file {spec_path} does not exist. Pass the path to project.yaml.")
    try:
        node = yaml.compose(spec_path.read_text(), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise UsageError(f"{spec_path}{where}: not valid YAML ({exc}).") from None
    raw = None
    if node is not None:
        interpolate(node, str(spec_path), env)
        raw = yaml.SafeLoader("").construct_document(node)
    if not isinstance(raw, dict):
        raise UsageError(f"{spec_path}: expected a mapping with `project:` at the top.")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        lines = _line_index(node) if node is not None else {}
        raise UsageError(_explain(spec_path, exc, lines)) from None
    spec.path = spec_path
    _resolve_paths(spec)
    _check_paths_exist(spec, _line_index(node))
    return spec


def _explain(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> str:
    problems = []
    for error in exc.errors()[:5]:
        key, line = _locate(tuple(error["loc"]), lines)
        at = f"line {line}, " if line else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against docs/spec.md)"
        problems.append(f"{path}, {at}{key}: {message}")
    more = len(exc.errors()) - len(problems)
    tail = f"\n(and {more} more)" if more > 0 else ""
    return "\n".join(problems) + tail


def _resolve_paths(spec: Spec) -> None:
    base = spec.base_dir
    data = spec.data
    for name in ("images", "manifest", "masks"):
        value = getattr(data, name)
        if value is not None:
            setattr(data, name, (base / value).resolve())
    spec.export.out = (base / spec.export.out).resolve()


def _check_paths_exist(spec: Spec, lines: dict[tuple[Any, ...], int]) -> None:
    for name in ("images", "manifest", "masks"):
        value = getattr(spec.data, name)
        if value is not None and not value.exists():
            key, line = _locate(("data", name), lines)
            raise UsageError(
                f"{spec.path}, line {line}, {key}: {value} does not exist. Fix the path "
                "(relative paths start at the spec file's folder)."
            )
