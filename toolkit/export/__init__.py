"""Export: a project's annotations -> image/mask pairs for inpainting training.

The public API lives in :mod:`toolkit.exporter`; the modules here are its parts:
:mod:`~toolkit.export.fetch` (tasks from Label Studio as a stream),
:mod:`~toolkit.export.media` (images and EXIF), :mod:`~toolkit.export.render` (masks and
formats per task), :mod:`~toolkit.export.naming` (names and the split),
:mod:`~toolkit.export.state` (incremental state, atomic writes),
:mod:`~toolkit.export.outputs` (metadata, COCO, preview, sweep) and
:mod:`~toolkit.export.core` (the run).
"""
