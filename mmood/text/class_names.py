"""Class names: inline lists or one-name-per-line text files (``txtfiles/``)."""
import os.path as osp
from typing import List, Sequence, Union

_PACKAGE_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def resolve_path(path: str) -> str:
    """Resolve a path relative to the working directory, falling back to the mmood checkout root.

    Configs name shipped files as ``txtfiles/...``; this lets them work from any working directory of an
    editable install.
    """
    path = osp.expanduser(path)
    if osp.isabs(path) or osp.exists(path):
        return path
    candidate = osp.join(_PACKAGE_ROOT, path)
    return candidate if osp.exists(candidate) else path


def load_class_names(names: Union[str, Sequence[str]]) -> List[str]:
    """Return class names from a list, or from a text file with one name per line.

    Duplicates are kept (ImageNet's CLIP list names ``missile`` and ``sunglasses`` twice on purpose).

    Raises:
        FileNotFoundError: the file does not exist (its path is named).
        ValueError: the list is empty.
    """
    if isinstance(names, str):
        path = resolve_path(names)
        if not osp.isfile(path):
            raise FileNotFoundError(f'Class-name file not found: {names} (option `class_names`)')
        with open(path, encoding='utf-8') as f:
            out = [line.strip() for line in f if line.strip()]
        if not out:
            raise ValueError(f'Class-name file {names} is empty')
        return out
    out = [str(n) for n in names]
    if not out:
        raise ValueError('`class_names` is empty')
    return out
