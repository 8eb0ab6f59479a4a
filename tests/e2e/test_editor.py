"""A real browser opens a task whose pre-annotation lstk imported, and sees the mask.

Headless Chromium from Debian's packages, driven by Selenium through chromedriver,
logs in to the running Label Studio like a person, opens the task in the editor, and
checks the region list and the canvas pixels where the mask is.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.conftest import LiveServer, cannot_run
from toolkit import importer, provision
from toolkit.importer import FileServing
from toolkit.spec import load

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inpainting"
SAMPLE = "street-02"  # a square scene with three objects
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--window-size=1400,1000", "--force-device-scale-factor=1",
)  # fmt: skip
# Set to a path to keep the editor screenshot (docs/images/editor-prediction.png in the docs).
SCREENSHOT_ENV = "LSTK_E2E_SCREENSHOT"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        cannot_run("Chromium and chromedriver are not installed (apt install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(120)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture(scope="module")
def imported_task(label_studio: LiveServer) -> tuple[int, int]:
    """The example project with one sample image and its model mask, imported by lstk."""
    folder = label_studio.files_root / "e2e"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "images" / f"{SAMPLE}.jpg", folder / "images")
    shutil.copy(EXAMPLE / "masks" / f"{SAMPLE}.png", folder / "masks")
    text = (EXAMPLE / "project.yaml").read_text().replace("(example)", "(browser)")
    (folder / "project.yaml").write_text(text)
    spec = load(folder / "project.yaml")
    client = label_studio.client()
    project_id = provision.apply(client, spec).project_id
    summary = importer.import_data(client, spec, files=FileServing.of(label_studio.state))
    assert summary.new == 1 and summary.predictions == 1
    task = client.get("/api/tasks", project=project_id)["tasks"][0]
    return project_id, int(task["id"])


def wait_for(condition, timeout: float = 90.0, step: float = 0.5):  # noqa: ANN001, ANN201
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("the editor did not get there in time")


def test_editor_shows_the_imported_mask(
    label_studio: LiveServer, browser: object, imported_task: tuple[int, int]
) -> None:
    from selenium.webdriver.common.by import By

    project_id, task_id = imported_task
    driver = browser
    driver.get(f"{label_studio.url}/user/login/")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "email").send_keys(label_studio.state.username)  # type: ignore[attr-defined]
    password = driver.find_element(By.NAME, "password")  # type: ignore[attr-defined]
    password.send_keys(label_studio.state.password)
    password.submit()
    wait_for(lambda: "/user/login" not in driver.current_url)  # type: ignore[attr-defined]
    driver.get(f"{label_studio.url}/projects/{project_id}/data?tab=0&task={task_id}")  # type: ignore[attr-defined]

    # The region list (outliner) names the prediction's region with its label.
    def region_listed() -> bool:
        panels = driver.find_elements(By.CSS_SELECTOR, "[class*='outliner']")  # type: ignore[attr-defined]
        return any("remove" in p.text for p in panels)

    wait_for(region_listed)
    stage = wait_for(lambda: _largest_canvas(driver))
    time.sleep(2)  # let the brush layer finish drawing
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")  # type: ignore[attr-defined]
    if os.environ.get(SCREENSHOT_ENV):
        shot.save(os.environ[SCREENSHOT_ENV])

    with Image.open(EXAMPLE / "images" / f"{SAMPLE}.jpg") as source:
        image = np.asarray(ImageOps.exif_transpose(source).convert("RGB")).astype(int)
    mask = np.asarray(Image.open(EXAMPLE / "masks" / f"{SAMPLE}.png")) > 0
    shown = _image_on_screen(shot, stage, image.shape[1], image.shape[0])
    inside, outside = _interior(mask), _interior(~mask)
    redness = shown[..., 0] - shown[..., 1]
    source_redness = image[..., 0] - image[..., 1]
    # Where the mask is, the editor paints the label's red over the image ...
    assert np.median(redness[inside] - source_redness[inside]) > 40
    # ... and elsewhere it shows the image untouched.
    assert np.median(np.abs(shown[outside] - image[outside]).sum(axis=1)) < 40


def _largest_canvas(driver: object) -> dict[str, float] | None:
    from selenium.webdriver.common.by import By

    rects = [c.rect for c in driver.find_elements(By.TAG_NAME, "canvas")]  # type: ignore[attr-defined]
    rects = [r for r in rects if r["width"] > 100 and r["height"] > 100]
    return max(rects, key=lambda r: r["width"] * r["height"]) if rects else None


def _image_on_screen(
    shot: Image.Image, stage: dict[str, float], width: int, height: int
) -> np.ndarray:
    """The screenshot's picture of the image, resampled to the image's own pixel grid."""
    scale = min(stage["width"] / width, stage["height"] / height)
    box = (stage["x"], stage["y"], stage["x"] + width * scale, stage["y"] + height * scale)
    return np.asarray(shot.crop(tuple(round(v) for v in box)).resize((width, height))).astype(int)


def _interior(mask: np.ndarray, margin: int = 4) -> np.ndarray:
    """Pixels at least `margin` pixels inside the region (away from resampled edges)."""
    inner = mask.copy()
    for axis in (0, 1):
        for shift in range(1, margin + 1):
            inner &= np.roll(mask, shift, axis) & np.roll(mask, -shift, axis)
    return inner
