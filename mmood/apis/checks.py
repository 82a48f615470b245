"""What a config reads, checked without running it: the test sets' files and the text inputs of its heads.

``tools/verify_data.py`` (which also decodes every image and prints the findings) and the reproduce checks
(:func:`mmood.apis.reproduce.check_run`) both call these, so they find the same problems.
"""
from typing import Any, Dict, List, Mapping, Tuple


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


def text_input_checks(model_cfg: Mapping, catch_build_errors: bool = False) -> List[Tuple[str, List[str], List[str]]]:
    """The text inputs a model config reads: TOE's outlier sources (``model.outliers``) and the corpus or ready
    label files of every negative-label head (``model.head``, ``model.extra_heads``).

    Args:
        model_cfg: the config's ``model``.
        catch_build_errors: report a head that cannot be built as a problem instead of raising.

    Returns:
        ``(title, lines, problems)`` per input checked.
    """
    from ..models.heads import build_head
    from ..text import outlier_source_problems
    from ..text.mining import negative_source_problems
    checks = []
    if model_cfg.get('outliers') is not None:
        lines, problems = outlier_source_problems(dict(model_cfg['outliers']))
        checks.append(('model.outliers', lines, problems))
    heads = [('model.head', model_cfg.get('head'))] + [(f'model.extra_heads[{i}]', h)
                                                       for i, h in enumerate(model_cfg.get('extra_heads') or ())]
    for where, head_cfg in heads:
        if not head_cfg:
            continue
        try:
            mining = getattr(build_head(dict(head_cfg), where), 'mining_cfg', None)
        except Exception as err:
            if not catch_build_errors:
                raise
            checks.append((where, [], [f'{where}: cannot build {head_cfg.get("type")}: {err}']))
            continue
        if mining:  # negative-label heads: their corpus or ready label files
            lines, problems = negative_source_problems(mining)
            checks.append((f'{where} ({head_cfg.get("type")}) text inputs', lines, problems))
    return checks
