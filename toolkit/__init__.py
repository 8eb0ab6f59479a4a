"""lstk: Label Studio deployment and labeling integration for image inpainting."""

__version__ = "0.1.0"
