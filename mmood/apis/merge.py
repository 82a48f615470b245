"""Several runs merged into mean ± std (``tools/merge_runs.py``): training seeds, or the published checkpoints of
one method, on one benchmark and config.

Runs are merged only when they ran the same config. Each run's config is the one its run dumped (see
:func:`run_config`); :func:`config_identity` reduces it to what makes it a method on a benchmark and digests that. Left
out of the comparison, allowed to differ (the seeds and weights files of each run are recorded in the merged
``metrics.json``):

* the seeds (:data:`SEED_KEYS`): any key named ``seed``, ``seeds``, ``*_seed`` or ``*_seeds`` holding a number, None
  or a list of numbers -- ``randomness.seed``, ``model.synthesis.seed``, a dataset's ``split_seed`` --, wherever it
  is in the config (a hook dict such as ``default_hooks.sampler_seed`` is compared);
* the weights files (:data:`WEIGHT_KEYS`): ``load_from`` (the CHECKPOINT of ``tools/test.py``) and any ``pretrained``
  or ``checkpoint`` whose value is a file path (the checkpoints of repeated trainings differ by design). A
  ``pretrained`` tag (``openai``, ``laion2b_s34b_b88k``) names the model and is compared;
* the run's identity and resources (:data:`RUN_KEYS`, :data:`RUN_KEYS_ANYWHERE`): the work dir, resuming, the
  launcher, the experiment name, ``env_cfg`` (distributed backend, multiprocessing), the log level and visualizer,
  and, anywhere in the config, cache folders, output folders and dataloader workers.

Everything else is compared, key by key: runs whose remaining configs differ are refused with one message naming the
differing keys and their value in each run, unless ``allow_different_configs`` (``--allow-different-configs``), which
merges them and records the differences in the merged ``metrics.json`` and report. A run without a dumped config (a
``tools/score.py`` result records only the config's path, not its ``--cfg-options`` / ``--method-options``) cannot be
checked: it is refused the same way unless forced, and then listed as unchecked.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from ..utils import ConfigError, DataError

__all__ = ['merge_runs', 'metrics_file', 'read_run', 'run_config', 'config_identity', 'load_identity',
           'compare_configs', 'check_configs', 'SEED_KEYS', 'WEIGHT_KEYS', 'RUN_KEYS', 'RUN_KEYS_ANYWHERE']

#: Seeds: keys with these names (or ending in ``_seed`` / ``_seeds``) holding a number, None or a list of numbers.
SEED_KEYS = re.compile(r'^(.+_)?seeds?$')
#: Weights files: ``load_from`` anywhere it is set, and these keys when their value is a file path.
WEIGHT_KEYS = ('pretrained', 'checkpoint')
#: Top-level keys that name the run, not the method: where it writes, how it was launched, how it logs.
RUN_KEYS = ('work_dir', 'resume', 'resume_from', 'launcher', 'experiment_name', 'env_cfg', 'log_level', 'visualizer')
#: Keys that name the run's folders or resources wherever they are (model, datasets, hooks, dataloaders).
RUN_KEYS_ANYWHERE = ('cache_dir', 'work_dir', 'out_dir', 'save_dir', 'log_dir', 'num_workers', 'persistent_workers',
                     'pin_memory')
#: components that only write what a run computed (``tools/test.py --save-features``, ``--out``): run identity
OUTPUT_ONLY_TYPES = ('SaveFeaturesHook', 'DumpResults')
#: the config lists that may hold them
OUTPUT_SECTIONS = ('custom_hooks', 'test_evaluator', 'val_evaluator')
WEIGHT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.ckpt', '.pkl', '.npz')
STAMP = re.compile(r'^\d{8}_\d{6}$')
ABSENT = '<absent>'
NO_CONFIG = '<no config>'
ALLOW_OPTION = '--allow-different-configs'


def metrics_file(run: str) -> str:
    """``run`` itself when it is a file, else the one ``metrics.json`` in it (or in one sub-directory)."""
    if osp.isfile(run):
        return run
    found = sorted(glob.glob(osp.join(run, 'metrics.json'))) or sorted(glob.glob(osp.join(run, '*', 'metrics.json')))
    if len(found) != 1:
        raise DataError(f'{run}: expected one metrics.json in it (or in one sub-directory), found {len(found)}')
    return found[0]


def read_run(path: str, method: str = 'config') -> Dict[str, Any]:
    """A ``metrics.json`` record; for a re-scoring result (one metric dict per method) the metrics of ``method``."""
    with open(path) as f:
        record = json.load(f)
    metrics = record['metrics']
    if 'methods' in record:  # tools/score.py: metrics per method
        if method not in metrics:
            raise ConfigError(f'{path} has no method "{method}" (it has {sorted(metrics)}); use --method')
        metrics = metrics[method]
    return dict(record, metrics=metrics)


def run_config(metrics_path: str, record: Optional[Mapping[str, Any]] = None) -> Tuple[Optional[str], str]:
    """The config a run dumped, found from its ``metrics.json``.

    Looked for, in this order, next to ``metrics.json`` (the run's log directory): ``vis_data/config.py`` (mmengine's
    visualizer dumps the run's final config there: ``--cfg-options``, launcher and work dir included), ``config.py``;
    then the work directory's ``<config name>.py`` (mmengine's ``Runner.dump_config``), used only when that work dir
    holds no other log directory (each run in a work dir overwrites it).

    Returns:
        ``(path, '')``, or ``(None, why)`` when the run has no config to compare.
    """
    log_dir = osp.dirname(osp.abspath(metrics_path))
    for candidate in (osp.join(log_dir, 'vis_data', 'config.py'), osp.join(log_dir, 'config.py')):
        if osp.isfile(candidate):
            return candidate, ''
    name = (record or {}).get('config')
    why = f'no vis_data/config.py or config.py next to {osp.basename(metrics_path)}'
    if osp.basename(log_dir).startswith('score_'):
        why += f'; tools/score.py records only the config path{f", {name}," if name else ""} not its options'
    elif name and STAMP.match(osp.basename(log_dir)):
        work_dir = osp.dirname(log_dir)
        copy = osp.join(work_dir, osp.basename(str(name)))
        if osp.isfile(copy):
            others = [d for d in os.listdir(work_dir) if STAMP.match(d) and d != osp.basename(log_dir)
                      and osp.isdir(osp.join(work_dir, d))]
            if not others:
                return copy, ''
            why += (f'; the work dir\'s {osp.basename(copy)} is the config of the last of its {len(others) + 1} '
                    f'runs')
    return None, why


def _plain(value: Any) -> Any:
    """JSON-comparable form: tuples as lists, integral floats as ints (``tau=1`` equals ``tau=1.0``)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return repr(value)


def _is_seed(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_seed(v) for v in value)
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _is_weights_file(value: Any) -> bool:
    """A file path (``/x/run1.pth``, ``checkpoints/w.bin``), not a tag (``openai``, ``hf-hub:org/name``)."""
    if not isinstance(value, str) or re.match(r'^[\w+.-]+:[^\\]', value):
        return False
    return value.lower().endswith(WEIGHT_SUFFIXES) or '/' in value or '\\' in value


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f'{prefix}.{k}' if prefix else k, out)
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f'{prefix}[{i}]', out)
    else:
        out[prefix] = value


def config_identity(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """What of a run's config makes it a method on a benchmark.

    Args:
        cfg: the run's config (a dict or an mmengine ``Config``).

    Returns:
        ``dict(digest=..., compared={flat key: value}, seeds={...}, weights={...}, run={...})``: the SHA-256 digest
        (16 hex digits) of the compared keys, the compared keys (``model.head.tau``, ``custom_hooks[0].type``), and
        the keys left out: seeds, weights files and run identity (see the module's documentation).
    """
    plain = _plain(cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg))
    outputs = {}
    for section in OUTPUT_SECTIONS:  # what a run writes besides its results (cached features, raw predictions)
        entries = plain.get(section)
        if isinstance(entries, list):
            kept = [e for e in entries if not (isinstance(e, dict) and str(e.get('type')) in OUTPUT_ONLY_TYPES)]
            if len(kept) != len(entries):
                outputs[section] = [e for e in entries if e not in kept]
                plain[section] = kept
    flat: Dict[str, Any] = {}
    _flatten(plain, '', flat)
    out = dict(compared={}, seeds={}, weights={}, run={})
    for key, value in flat.items():
        names = [re.sub(r'(\[\d+\])+$', '', part) for part in key.split('.')]
        if SEED_KEYS.match(names[-1]) and _is_seed(value):
            out['seeds'][key] = value
        elif 'load_from' in names or names[-1] in WEIGHT_KEYS and _is_weights_file(value):
            out['weights'][key] = value
        elif names[0] in RUN_KEYS or any(name in RUN_KEYS_ANYWHERE for name in names):
            out['run'][key] = value
        else:
            out['compared'][key] = value
    out['run'].update((f'{section} (outputs)', value) for section, value in outputs.items())
    text = json.dumps(sorted(out['compared'].items()), sort_keys=True, default=repr)
    return dict(digest=hashlib.sha256(text.encode()).hexdigest()[:16], **out)


def load_identity(path: str) -> Dict[str, Any]:
    """:func:`config_identity` of a dumped config file; an unreadable file is a :class:`ConfigError`."""
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(path, import_custom_modules=False, format_python_code=False)
    except Exception as err:  # a dumped config mmengine cannot read back: say which
        raise ConfigError(f'cannot read the config {path} to compare runs: {type(err).__name__}: {err}') from None
    return config_identity(cfg)


def _short(value: Any, width: int = 60) -> str:
    text = ABSENT if value is ABSENT else json.dumps(value, default=repr)
    return text if len(text) <= width else text[:width - 3] + '...'


def _run_list(indices: Sequence[int]) -> str:
    return ('run ' if len(indices) == 1 else 'runs ') + ', '.join(str(i + 1) for i in indices)


def compare_configs(identities: Sequence[Optional[Mapping[str, Any]]]) -> Dict[str, List[Any]]:
    """The compared keys whose value is not the same in every run that has a config: ``{key: [value per run]}``
    (``'<absent>'`` where a run lacks the key, ``'<no config>'`` for runs without a config)."""
    known = [i for i, ident in enumerate(identities) if ident is not None]
    if len({identities[i]['digest'] for i in known}) <= 1:
        return {}
    keys = list(dict.fromkeys(k for i in known for k in identities[i]['compared']))
    diffs = {}
    for key in keys:
        values = [identities[i]['compared'].get(key, ABSENT) if i in known else NO_CONFIG
                  for i in range(len(identities))]
        if len({json.dumps(values[i], default=repr) if values[i] is not ABSENT else ABSENT for i in known}) > 1:
            diffs[key] = values
    return diffs


def describe_differences(diffs: Mapping[str, Sequence[Any]], limit: int = 8) -> str:
    """``key: value (runs 1, 3) vs value (run 2); ...`` -- at most ``limit`` keys."""
    parts = []
    for key, values in list(diffs.items())[:limit]:
        groups: Dict[str, List[int]] = {}
        for i, value in enumerate(values):
            if value is not NO_CONFIG:
                groups.setdefault(_short(value), []).append(i)
        parts.append(f'{key}: ' + ' vs '.join(f'{v} ({_run_list(idx)})' for v, idx in groups.items()))
    if len(diffs) > limit:
        parts.append(f'and {len(diffs) - limit} more keys')
    return '; '.join(parts)


def check_configs(files: Sequence[str], records: Sequence[Mapping[str, Any]],
                  allow_different_configs: bool = False) -> Dict[str, Any]:
    """Compare the runs' configs; refuse different or unknown ones unless ``allow_different_configs``.

    Returns:
        ``dict(status='same'|'different'|'unchecked', differences={key: [value per run]}, unchecked=[run paths],
        runs=[dict(run=..., config=..., digest=..., seeds=..., weights=...) per run])``.

    Raises:
        ConfigError: (without ``allow_different_configs``) runs with different configs, naming the keys and their
            values per run, or runs without a config to compare.
    """
    identities, details, missing = [], [], []
    for i, (path, record) in enumerate(zip(files, records)):
        config, why = run_config(path, record)
        ident = load_identity(config) if config else None
        identities.append(ident)
        if ident is None:
            missing.append((i, why))
        details.append(dict(run=path, config=config, digest=ident and ident['digest'],
                            seeds=ident['seeds'] if ident else {}, weights=ident['weights'] if ident else {}))
    diffs = compare_configs(identities)
    legend = '; '.join(f'run {i + 1} = {p}' for i, p in enumerate(files))
    force = f'pass {ALLOW_OPTION} to merge them anyway (the merged metrics.json and report record the {{}})'
    if diffs and not allow_different_configs:
        raise ConfigError(f'the runs ran different configs, so their spread would not be a spread over seeds: '
                          f'{describe_differences(diffs)} ({legend}). Merge runs of one config (seeds, weights files '
                          f'and work dirs may differ), or {force.format("differences")}')
    if missing and not allow_different_configs:
        raise ConfigError('cannot check that the runs ran one config: '
                          + '; '.join(f'run {i + 1} ({files[i]}) has no dumped config ({why})' for i, why in missing)
                          + f'. Merge runs of tools/test.py (their log directories hold vis_data/config.py), or '
                          f'{force.format("unchecked runs")}')
    status = 'different' if diffs else 'unchecked' if missing else 'same'
    return dict(status=status, differences=diffs, unchecked=[files[i] for i, _ in missing], runs=details)


def _run_lines(details: Sequence[Mapping[str, Any]]) -> List[str]:
    """One line per run for the report: its path, config digest and the seeds / weights files that vary."""
    def left_out(detail):
        return dict(detail['seeds'], **detail['weights'])

    keys = list(dict.fromkeys(k for d in details for k in left_out(d)))
    varying = [k for k in keys if len({json.dumps(left_out(d).get(k), default=repr) for d in details}) > 1]
    lines = []
    for detail in details:
        if not detail['digest']:
            lines.append(f'{detail["run"]} (config not checked: none dumped)')
            continue
        extra = [f'{k} = {_short(left_out(detail).get(k, ABSENT))}' for k in varying]
        lines.append(f'{detail["run"]} (config {detail["digest"]}' + (f'; {", ".join(extra)})' if extra else ')'))
    return lines


def merge_runs(runs: Sequence[str], out_dir: str, method: str = 'config', out: Optional[TextIO] = None,
               allow_different_configs: bool = False) -> Dict[str, Any]:
    """Merge the metrics of several runs of one config into mean ± sample std.

    Args:
        runs: ``metrics.json`` files or directories holding one (a test run's log directory, a re-scoring
            ``score_*`` directory); they must report the same keys and have run the same config (seeds, weights
            files and run identity aside: see the module's documentation).
        out_dir: writes ``metrics.json`` (``mean``, ``std``, ``num_runs``, the runs, ``config_check``),
            ``report.md`` and ``report.csv`` (one row per score and OOD set / mean: ``mean ± std``).
        method: the method of re-scoring results.
        out: where the report is printed (default ``sys.stdout``).
        allow_different_configs: merge runs of different configs, or without a config to compare, anyway; the
            differences (or the unchecked runs) are recorded in ``metrics.json`` (``config_check``) and the report.

    Returns:
        The merged metrics (:func:`mmood.evaluation.merge_metrics`).

    Raises:
        ConfigError: runs of different configs or without a dumped config (unless ``allow_different_configs``),
            runs with other keys, or a record without its set names.
    """
    from ..evaluation import merge_metrics, write_merged_report
    from ..utils import atomic_open
    out = out or sys.stdout
    files = [metrics_file(r) for r in runs]
    records = [read_run(f, method) for f in files]
    check = check_configs(files, records, allow_different_configs)
    try:
        merged = merge_metrics([r['metrics'] for r in records])
    except ValueError as err:
        raise ConfigError(str(err)) from None
    first = records[0]
    set_names = first.get('set_names')
    if not set_names:
        raise ConfigError(f'{files[0]} does not name its sets (written before mmood recorded them); merge runs '
                          f'written by this version')
    fpr = (first.get('fpr') or [['id', 'closest']])[0]
    scores = first.get('score_names') or [first.get('primary_score') or method]
    notes = []
    if check['differences']:
        notes.append(f'configs differ (merged with {ALLOW_OPTION}): {describe_differences(check["differences"], 50)}')
    if check['unchecked']:
        notes.append(f'configs not checked (merged with {ALLOW_OPTION}): no dumped config for '
                     f'{_run_list([i for i, f in enumerate(files) if f in check["unchecked"]])}')
    os.makedirs(out_dir, exist_ok=True)
    with atomic_open(osp.join(out_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(runs=files, num_runs=merged['num_runs'], set_names=set_names,
                       set_groups=first.get('set_groups'), fpr=first.get('fpr'), score_names=scores,
                       config_check=check, mean=merged['mean'], std=merged['std']), f, indent=1, default=repr)
    written = write_merged_report(out_dir, merged, scores, set_names, first.get('set_groups'), fpr[0], fpr[1],
                                  runs=_run_lines(check['runs']), notes=notes)
    with open(written['md']) as f:
        print(f.read(), file=out)
    for note in notes:
        print(f'warning: {note}', file=out)
    print(f'Merged {merged["num_runs"]} runs: {out_dir}', file=out)
    return merged
