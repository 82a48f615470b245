"""What a config reads, checked without running it: the test sets' files and the text inputs its model declares.

``tools/verify_data.py`` (which also decodes every image and prints the findings) and the reproduce checks
(:func:`mmood.apis.reproduce.check_run`) both call these, so they find the same problems.
"""
from typing import Any, Callable, Dict, List, Mapping, Tuple


def read_test_sets(dataset_cfg: Mapping) -> List[Dict[str, Any]]:
    """Read every set of an ``OODEvalDataset`` config with file checks, the ID set first.

    Returns:
        one dict per set: ``spec`` (the set specification), ``group`` (``'id'``, ``'near'`` or ``'far'``), ``paths``
        (its image paths) and ``problems`` (missing roots, lists, files, class folders).

    Raises:
        FileNotFoundError, ValueError: the sets or class names cannot be resolved (as the dataset would raise).
    """
    from ..datasets import read_set, resolve_sets
    from ..text import load_class_names
    id_set, ood_sets, class_names = resolve_sets(dict(dataset_cfg))
    names = load_class_names(class_names)
    sets = []
    for spec, is_id, group in [(id_set, True, 'id')] + [(s, False, s['group']) for s in ood_sets]:
        samples, problems = read_set(spec, is_id, len(names), check_files=True, class_names=names)
        sets.append(dict(spec=spec, group=group, paths=[s['img_path'] for s in samples], problems=problems))
    return sets


def set_overlap_problems(dataset_cfg: Mapping, sets: List[Dict[str, Any]]) -> List[str]:
    """ID/OOD overlap of the sets :func:`read_test_sets` read, unless the config allows it."""
    from ..datasets import overlap_problems
    if dataset_cfg.get('allow_overlap'):
        return []
    return overlap_problems([(s['spec'], s['paths']) for s in sets])


def head_text_inputs(head) -> List[Tuple[str, Callable[[], Tuple[List[str], List[str]]]]]:
    """The text inputs a built head declares (:meth:`~mmood.models.heads.BaseOODHead.text_inputs`)."""
    return list(head.text_inputs())


def _model_class(model_cfg: Mapping):
    """The OOD model class a model config builds (None for anything else)."""
    from mmpretrain.registry import MODELS

    from ..models import OODModel
    model_cls = MODELS.get(model_cfg['type']) if isinstance(model_cfg.get('type'), str) else model_cfg.get('type')
    return model_cls if isinstance(model_cls, type) and issubclass(model_cls, OODModel) else None


def image_inputs(model_cfg: Mapping) -> List[Tuple[str, dict]]:
    """The image datasets a model config reads besides the data loaders (the model class's
    :meth:`~mmood.models.OODModel.config_image_inputs`: TOE's auxiliary outlier images), as ``(where, config)``."""
    model_cls = _model_class(model_cfg)
    return list(model_cls.config_image_inputs(dict(model_cfg))) if model_cls is not None else []


def text_input_checks(model_cfg: Mapping, catch_build_errors: bool = False) -> List[Tuple[str, List[str], List[str]]]:
    """The text inputs a model config reads, checked without encoding anything: the sources its model options name
    (the model class's :meth:`~mmood.models.OODModel.config_text_inputs`) and the inputs every head declares
    (``model.head``, ``model.extra_heads``; :func:`head_text_inputs`).

    Args:
        model_cfg: the config's ``model``.
        catch_build_errors: report a head that cannot be built as a problem instead of raising.

    Returns:
        ``(title, lines, problems)`` per input checked.
    """
    from ..models.heads import build_head
    checks = []
    model_cls = _model_class(model_cfg)
    if model_cls is not None:
        for what, check in model_cls.config_text_inputs(dict(model_cfg)):
            lines, problems = check()
            checks.append((what, lines, problems))
    heads = [('model.head', model_cfg.get('head'))] + [(f'model.extra_heads[{i}]', h)
                                                       for i, h in enumerate(model_cfg.get('extra_heads') or ())]
    for where, head_cfg in heads:
        if not head_cfg:
            continue
        try:
            head = build_head(dict(head_cfg), where)
        except Exception as err:
            if not catch_build_errors:
                raise
            checks.append((where, [], [f'{where}: cannot build {head_cfg.get("type")}: {err}']))
            continue
        for what, check in head_text_inputs(head):
            lines, problems = check()
            checks.append((f'{where} ({head_cfg.get("type")}) {what}', lines, problems))
    return checks
