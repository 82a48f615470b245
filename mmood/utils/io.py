"""Writing output files atomically: a killed run leaves nothing that looks finished.

:func:`atomic_open` writes to a temporary file beside the target and renames it into place when the block ends
without an error (``os.replace`` is atomic on POSIX filesystems); on an error, or a kill, the target is untouched
and only a ``.tmp-*`` file may remain. ``metrics.json``, ``per_sample_results.csv``, reports, plots, mined word
lists and checkpoints' side files go through it.
"""
import contextlib
import os
import os.path as osp
import uuid

__all__ = ['atomic_open', 'atomic_path']


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path beside ``path`` to write to (any writer: ``savefig``, ``np.save``...); renamed onto
    ``path`` when the block ends without an error, removed otherwise."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(osp.basename(path))
    tmp = osp.join(folder, f'.tmp-{stem}-{uuid.uuid4().hex[:8]}{ext}')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w', **kwargs):
    """``open(path, mode)`` written atomically (see the module docstring)."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
