"""The whole lstk loop on the example project, as `make demo` runs it.

Start Label Studio (the embedded local runtime unless LSTK_RUNTIME=docker), apply the
project, import the sample images with their model masks as pre-annotations, accept the
predictions as annotations (standing in for a human annotator), and export the
inpainting training set with a preview sheet. Running it again reuses everything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from toolkit import exporter, importer, label, provision, runtime
from toolkit.errors import LstkError
from toolkit.server import connect_settings
from toolkit.settings import lstk_home, resolve
from toolkit.spec import load

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main() -> int:
    home = lstk_home()
    chosen = os.environ.get("LSTK_RUNTIME", "local")
    port = int(os.environ.get("LSTK_PORT", "8080"))
    print(f"1/5 starting Label Studio ({chosen} runtime, port {port}) ...", flush=True)
    started = runtime.up(home, chosen, port=port, files_root=REPO)
    state = started.state
    client = connect_settings(resolve(home=home))
    spec = load(HERE / "project.yaml")

    applied = provision.apply(client, spec)
    print(f"2/5 project {applied.project_id}: {applied.plan.action}")

    summary = importer.import_data(
        client, spec, files=importer.FileServing.of(state), cache_dir=home
    )
    how = f" ({summary.mode})" if summary.new else ""
    print(f"3/5 import: {summary.new} new, {summary.skipped} already there{how}")

    accepted = label.accept_predictions(client, applied.project_id)
    print(f"4/5 accepted {accepted} prediction(s) as annotations")

    exported = exporter.export(client, spec, preview=6, files_root=state.files_root)
    print(f"5/5 export: {exported.pairs} image/mask pairs in {exported.out}")

    password = state.password if started.new_password else "(see .lstk/state.json)"
    dataset = exported.out.relative_to(REPO)
    read_it = (
        f"from toolkit.dataset import InpaintingDataset; print(len(InpaintingDataset('{dataset}')))"
    )
    print(
        f"""
Label Studio: {state.url}
  login {state.username} / {password}
  open the project: {state.url}/projects/{applied.project_id}/data
Dataset: {exported.out}
  images/, masks/ (255 = inpaint), metadata.jsonl, preview: {exported.preview}

Next:
  .venv/bin/lstk status
  .venv/bin/lstk export {spec.path.relative_to(REPO)} --since last
  .venv/bin/python -c "{read_it}"
  .venv/bin/lstk down
"""
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LstkError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
