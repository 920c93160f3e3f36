"""TensorFlow's start-up lines (oneDNN, CPU features, absl) kept off the user's stderr.

TensorFlow's C++ side writes them to file descriptor 2 while `import tensorflow` runs, whatever
module triggers that import (keras, tflite, a stage); TF_CPP_MIN_LOG_LEVEL no longer covers the
absl ones. ``quiet_tensorflow`` sets that variable and puts a one-shot import hook in front of
`tensorflow` that points descriptor 2 at a scratch file while the package loads; the scratch
text is shown only if the import fails. With -v nothing is hidden.

``quiet_native`` does the same around later calls whose native code or deprecation warnings
write to stderr (the TFLite interpreter's "Created TensorFlow Lite XNNPACK delegate" line, the
converter's "Saved artifact" listing), unless logging is at INFO or more detail (-v).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import importlib.util
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_tensorflow(enabled: bool = True):
    """While active, the first `import tensorflow` runs with stderr's descriptor captured."""
    if not enabled or "tensorflow" in sys.modules:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    hook = _QuietImport()
    sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        if hook in sys.meta_path:
            sys.meta_path.remove(hook)


@contextlib.contextmanager
def quiet_native():
    """Descriptor 2, Python warnings and sys.stdout/sys.stderr text kept off the terminal while
    active (shown if the block raises); everything passes through with -v."""
    import logging
    import warnings

    if logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    with _fd2_captured() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = io.StringIO()
        try:
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        except BaseException:
            scratch.replay = True
            scratch.write(text.getvalue().encode())
            raise


class _QuietImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)                 # one shot: find the real spec without us
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Delegates to TensorFlow's own loader; only exec_module runs with descriptor 2 captured."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _fd2_captured() as scratch:
            try:
                self._loader.exec_module(module)
            except BaseException:
                scratch.replay = True
                raise


@contextlib.contextmanager
def _fd2_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        sink.replay = False
        os.dup2(sink.fileno(), 2)
        try:
            yield sink
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if sink.replay:
                sink.seek(0)
                os.write(2, sink.read())
