"""A pycaffe net from a NetParameter built in Python (pycaffe reads nets only from files)."""

from __future__ import annotations

import os
import tempfile

from google.protobuf import text_format


def test_net(param):
    """caffe.Net in the TEST phase for `param`, with the fillers' weights."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as tmp:
        tmp.write(text_format.MessageToString(param))
    try:
        return caffe.Net(tmp.name, caffe.TEST)
    finally:
        os.unlink(tmp.name)
