"""Model readers: ``load_model`` turns a .tflite or .onnx file into the IR (``snapcheck.ir.Graph``).

The format is told by content, not by the file name. The ONNX reader (and ``onnx``) is imported
only for files that are not TFLite, so checking a .tflite stays fast.
"""

from __future__ import annotations

from pathlib import Path

from snapcheck.errors import InputError
from snapcheck.ir import Graph
from snapcheck.readers.detect import read_model_file, sniff

__all__ = ["load_model", "InputError"]


def load_model(path: str | Path) -> Graph:
    """Read a .tflite or .onnx model; raise ``InputError`` naming the file for any unusable input."""
    p = Path(path)
    buf = read_model_file(p)
    if sniff(buf) == "tflite":
        from snapcheck.readers.tflite_reader import read_tflite

        return read_tflite(p, buf)
    from snapcheck.readers.onnx_reader import read_onnx

    return read_onnx(p, buf)
