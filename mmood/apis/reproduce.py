"""Reproduce the published numbers of mmood's configs: check, run, compare, in one call.

``configs/metafile.yml`` lists, per *run* (a config, optionally with ``--cfg-options`` and a checkpoint), the numbers
a paper, a reference repository or mmood's own demo published, each under the key ``metrics.json`` gives it, with
its source, whether it is verified, and a tolerance in points. :func:`reproduce` reads that file and, for every
selected run:

1. **checks** what the run needs, with the checks ``tools/verify_data.py`` uses (the same library functions):
   the backbone weights (:func:`~mmood.models.backbones.locate_weights`, whose ``MissingWeightsError`` names
   the file and where to get it), the checkpoint the metafile names, the test data
   (:func:`~mmood.datasets.resolve_sets`, :func:`~mmood.datasets.read_set` with file checks,
   :func:`~mmood.datasets.overlap_problems`; a dataset of another type, such as the digits demo's, is built) and the
   text inputs of negative-label heads and TOE outliers (:func:`~mmood.text.mining.negative_source_problems`,
   :func:`~mmood.text.outlier_source_problems`). Images are not decoded (``tools/verify_data.py CONFIG`` does that);
2. unless ``dry_run``, **runs** ``tools/test.py`` in a subprocess (``python tools/test.py CONFIG [CHECKPOINT]
   --work-dir <work_dir>/<run name> [--cache-dir DIR] [--cfg-options ...]``: the shared feature and text caches
   are reused) -- **resumably**: after a run finishes, ``reproduce_run.json`` beside its log folder records the run's
   digest (the merged config, the checkpoint's and the weights file's identity, :func:`run_digest`) and its
   ``metrics.json``; a later call with the same digest reads that file instead of running again;
3. **writes one table**, ``reproduce.md`` and ``reproduce.csv`` in ``work_dir``: per published number the run, the
   method, the benchmark and OOD set, the metric, the published value (with its source), the measured value,
   Δ = measured − published, the tolerance and whether |Δ| ≤ tolerance; and the summary line
   ``N within tolerance / N compared / N missing``.

With ``dry_run`` nothing runs and nothing is written: each run's check is printed -- what is missing and where to
get it (the weights file and its Hugging Face / URL source, the checkpoint, the data roots and the benchmark's
download notes) -- and whether a finished run is already on record.

Weights are never downloaded by a dry run (the Hugging Face hub is put in offline mode around the check; every
open_clip tag is a hub file). A real run lets the check download a tag's weights, as ``tools/test.py`` would, but
only for a run whose data and checkpoint are present.

Return value (the exit status of ``tools/analysis_tools/reproduce.py``):

* dry run: **0** when every selected run could be checked -- missing weights, data or checkpoints are the output,
  not an error (the summary counts the runs that are ready);
* real run: **0** when every selected published number was measured and is within its tolerance; **1** otherwise
  (a number outside its tolerance, a metric the run did not write, a run skipped for missing weights / data /
  checkpoint, or a failed run; the table says which);
* a malformed metafile, an unknown config or option, or a selection that matches nothing raises
  :class:`~mmood.utils.ConfigError` (the tool prints it and exits with 2).

The cache folder is passed on to every ``tools/test.py`` run (``--cache-dir``); without one, each run resolves the
user's (:func:`~mmood.apis.resolve_cache_dir`).
"""
import argparse
import contextlib
import csv
import fnmatch
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

from ..cache import file_identity, make_key
from ..evaluation.metrics.ood_metric import METRIC_NAMES, fpr_key
from ..evaluation.report import MEAN_ROWS, safe_name
from ..utils.errors import ConfigError
from ..utils.io import atomic_open
from .checks import read_test_sets, set_overlap_problems, text_input_checks
from .config import plain_dict, type_name

__all__ = ['reproduce', 'load_metafile', 'select_runs', 'load_run_config', 'check_run', 'run_digest',
           'valid_metric_keys', 'metafile_problems', 'write_table', 'Published', 'RunSpec', 'RunCheck',
           'DEFAULT_TOLERANCE', 'RECORD_FILE']

#: tolerance in points when neither the metafile's ``Defaults`` nor a result block gives one
DEFAULT_TOLERANCE = 0.5
#: the record a finished run leaves in its folder (digest, metrics.json, command)
RECORD_FILE = 'reproduce_run.json'
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@dataclass
class Published:
    """One published number: ``key`` as ``metrics.json`` names it, ``value`` in percent."""
    key: str
    value: float
    source: str
    verified: bool
    tolerance: float
    dataset: str = ''
    preprocessing: Optional[str] = None
    note: Optional[str] = None


@dataclass
class RunSpec:
    """One run of the metafile: a config with its options and checkpoint, and the numbers it should reproduce."""
    name: str
    method: str
    config: str
    cfg_options: List[str] = field(default_factory=list)
    checkpoint: Optional[str] = None
    checkpoint_get: Optional[str] = None
    pretrained_get: Optional[str] = None
    published: List[Published] = field(default_factory=list)


@dataclass
class RunCheck:
    """What a run needs and what is missing (``problems`` per kind: ``weights``, ``checkpoint``, ``data``)."""
    weights: Optional[str] = None
    checkpoint: Optional[str] = None
    data_lines: List[str] = field(default_factory=list)
    problems: Dict[str, List[str]] = field(default_factory=dict)
    hints: Dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not any(self.problems.values())

    @property
    def missing(self) -> List[str]:
        return [kind for kind, problems in self.problems.items() if problems]


# ----------------------------------------------------------------------------------------------- the metafile
def _yaml():
    try:
        import yaml  # PyYAML: a dependency of mmengine (and timm), so present wherever mmood installs
    except ImportError as err:  # pragma: no cover
        raise ConfigError('Reading the metafile needs PyYAML (pip install pyyaml); mmengine normally brings it') \
            from err
    return yaml


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f'{where}: expected a number, got {value!r}')
    return float(value)


def load_metafile(path: str) -> Dict[str, Any]:
    """Read and check a metafile.

    Returns:
        ``dict(path, runs=[RunSpec, ...], benchmarks={name: how to get its data}, tolerance=default)``.

    Raises:
        ConfigError: the file is missing or not valid YAML, a required field is missing or of the wrong type, or
            two runs share a name.
    """
    if not osp.isfile(path):
        raise ConfigError(f'Metafile not found: {path} (the shipped one is configs/metafile.yml)')
    yaml = _yaml()
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f'Metafile {path} is not valid YAML: {err}') from None
    if not isinstance(data, dict) or not isinstance(data.get('Models'), list):
        raise ConfigError(f'Metafile {path} needs a `Models` list')
    default_tol = _number((data.get('Defaults') or {}).get('Tolerance', DEFAULT_TOLERANCE), f'{path}: Defaults')
    benchmarks = {str(k): str((v or {}).get('Get', '')) for k, v in (data.get('Benchmarks') or {}).items()}
    runs, names = [], set()
    for i, model in enumerate(data['Models']):
        where = f'{path}: Models[{i}]'
        if not isinstance(model, dict) or not model.get('Config'):
            raise ConfigError(f'{where} needs a `Config`')
        config = str(model['Config'])
        name = str(model.get('Name') or osp.splitext(osp.basename(config))[0])
        where = f'{path}: model "{name}"'
        if name in names:
            raise ConfigError(f'{where}: the name is used twice (give each run its own `Name`)')
        names.add(name)
        options = model.get('CfgOptions') or []
        if isinstance(options, str) or not all(isinstance(o, str) and '=' in o for o in options):
            raise ConfigError(f'{where}: `CfgOptions` must be a list of "key=value" strings, got {options!r}')
        checkpoint = model.get('Checkpoint') or {}
        if checkpoint and not (isinstance(checkpoint, dict) and checkpoint.get('Path')):
            raise ConfigError(f'{where}: `Checkpoint` must be a mapping with `Path` (and `Get`)')
        run = RunSpec(name=name, method=str(model.get('In Collection') or model.get('Method') or ''),
                      config=config, cfg_options=list(options), checkpoint=checkpoint.get('Path'),
                      checkpoint_get=checkpoint.get('Get'), pretrained_get=model.get('Pretrained'))
        results = model.get('Results')
        if not isinstance(results, list) or not results:
            raise ConfigError(f'{where} needs a `Results` list')
        for j, block in enumerate(results):
            bwhere = f'{where}, Results[{j}]'
            if not isinstance(block, dict) or not isinstance(block.get('Metrics'), dict) or not block['Metrics']:
                raise ConfigError(f'{bwhere} needs a `Metrics` mapping (metrics.json key: published value)')
            if not block.get('Source'):
                raise ConfigError(f'{bwhere} needs a `Source`')
            verified = block.get('Verified')
            if not isinstance(verified, bool):
                raise ConfigError(f'{bwhere}: `Verified` must be true or false, got {verified!r}')
            tol = _number(block.get('Tolerance', default_tol), f'{bwhere}: Tolerance')
            for key, value in block['Metrics'].items():
                run.published.append(Published(
                    key=str(key), value=_number(value, f'{bwhere}: {key}'), source=str(block['Source']),
                    verified=verified, tolerance=tol, dataset=str(block.get('Dataset') or ''),
                    preprocessing=block.get('Preprocessing'), note=block.get('Note')))
        runs.append(run)
    return dict(path=path, runs=runs, benchmarks=benchmarks, tolerance=default_tol)


def select_runs(runs: Sequence[RunSpec], configs: Optional[Sequence[str]] = None,
                methods: Optional[Sequence[str]] = None) -> List[RunSpec]:
    """The runs whose config path, config file name or run name matches one of the ``configs`` globs and whose
    method is one of ``methods`` (case-insensitive); no filter keeps everything.

    Raises:
        ConfigError: a filter matches no run (the message lists the names).
    """
    def matches(run):
        if configs:
            stem = osp.splitext(osp.basename(run.config))[0]
            names = (run.config, osp.basename(run.config), stem, run.name)
            if not any(fnmatch.fnmatch(n, pattern) for pattern in configs for n in names):
                return False
        if methods and run.method.lower() not in {m.lower() for m in methods}:
            return False
        return True

    chosen = [r for r in runs if matches(r)]
    if not chosen:
        raise ConfigError(f'No run of the metafile matches configs={list(configs or [])} methods={list(methods or [])}'
                          f'; runs: {", ".join(r.name for r in runs)}; methods: '
                          f'{", ".join(sorted({r.method for r in runs}))}')
    return chosen


# ----------------------------------------------------------------------------------------------- configs
def _parse_options(items: Sequence[str], where: str = '--cfg-options') -> Dict[str, Any]:
    """``['a.b=1', 'c=[x,y]']`` -> a dict, exactly as ``--cfg-options`` parses them (mmengine's ``DictAction``)."""
    from mmengine.config import DictAction
    if not items:
        return {}
    bad = [item for item in items if '=' not in item]
    if bad:
        raise ConfigError(f'{where}: {bad[0]!r} is not of the form key=value')
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--options', nargs='+', action=DictAction)
    return parser.parse_args(['--options', *items]).options or {}


def _parse_pairs(items: Optional[Sequence[str]], what: str) -> List[Tuple[str, str]]:
    out = []
    for item in items or ():
        left, sep, right = item.partition('=')
        if not sep or not left or not right:
            raise ConfigError(f'{what}: {item!r} must look like NAME=PATH')
        out.append((left, right))
    return out


def _repo_file(path: str, repo_root: str) -> str:
    """``path`` as given when it exists (relative to the working directory), else relative to the repository."""
    if osp.isabs(path) or osp.exists(path):
        return osp.abspath(path)
    return osp.join(repo_root, path)


def load_run_config(run: RunSpec, cfg_options: Sequence[str] = (), pretrained: Sequence[str] = (),
                    repo_root: str = _REPO):
    """The run's config with its options merged: the metafile's ``CfgOptions``, then ``cfg_options`` (given to
    every run), then a ``pretrained`` override (``MODEL=PATH`` or ``MODEL/TAG=PATH``: sets
    ``model.backbone.pretrained`` when the backbone is that open_clip model, with that tag).

    Returns:
        ``(cfg, config_path, options)``: ``options`` are the ``--cfg-options`` strings for ``tools/test.py``.

    Raises:
        ConfigError: the config file is missing, or an option names a key that does not exist
            (:func:`mmood.utils.check_cfg_options`).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from ..utils.config import check_cfg_options
    path = _repo_file(run.config, repo_root)
    if not osp.isfile(path):
        raise ConfigError(f'Config file not found: {run.config} (run "{run.name}" of the metafile)')
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    options = list(run.cfg_options) + list(cfg_options or ())
    merged = _parse_options(options)
    if merged:
        check_cfg_options(cfg, merged)
        cfg.merge_from_dict(merged)
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    for model_tag, file in _parse_pairs(pretrained, '--pretrained'):
        model, _, tag = model_tag.partition('/')
        if backbone.get('model_name') == model and (not tag or backbone.get('pretrained') == tag):
            option = f'model.backbone.pretrained={file}'
            options.append(option)
            cfg.merge_from_dict(_parse_options([option]))
            break
    return cfg, path, options


def _settings(cfg) -> Dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k not in ('work_dir', 'launcher', 'filename', 'cache_dir')}


def _identity(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    full = osp.expanduser(path)
    return file_identity(full) if osp.isfile(full) else str(path)


def run_digest(cfg, checkpoint: Optional[str] = None) -> str:
    """Content key of a run: every setting of the merged config (work and cache folders aside), the checkpoint's
    file identity and, when ``model.backbone.pretrained`` is a file, its identity (a tag stays a name: the same tag
    is the same weights). A change to any of them makes a finished run stale."""
    pretrained = ((cfg.get('model') or {}).get('backbone') or {}).get('pretrained')
    return make_key(dict(kind='reproduce_run', config=_settings(cfg), checkpoint=_identity(checkpoint),
                         pretrained=_identity(pretrained) if isinstance(pretrained, str) else pretrained))


# ----------------------------------------------------------------------------------------------- checks
@contextlib.contextmanager
def _hub_offline(offline: bool = True):
    """The Hugging Face hub in offline mode for the block (no download; cached files still resolve)."""
    if not offline:
        yield
        return
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _dataset_problems(name: str, dataset: Mapping) -> Tuple[List[str], List[str], Optional[List[str]]]:
    """``(lines, problems, set_names)`` of one dataset config: for an ``OODEvalDataset`` every set's image count and
    problems (missing roots, lists, files; ID/OOD overlap) without decoding (:func:`~mmood.apis.checks.read_test_sets`);
    any other dataset is built without its pipeline (the digits demo's sets are generated in memory)."""
    dataset = dict(dataset)
    if type_name(dataset) == 'OODEvalDataset':
        try:
            sets = read_test_sets(dataset)
        except (FileNotFoundError, ValueError) as err:
            return [], [f'{name}: {err}'], None
        lines = [f'{s["spec"]["name"]} ({s["group"]}): {len(s["paths"])} images' for s in sets]
        problems = [p for s in sets for p in s['problems']] + set_overlap_problems(dataset, sets)
        return lines, problems, [s['spec']['name'] for s in sets]
    from mmengine.dataset import BaseDataset
    from mmpretrain.registry import DATASETS
    try:
        built = DATASETS.build(dict(dataset, pipeline=[]))
        count = len(built)
    except Exception as err:  # a missing root or file: reported, the other checks still run
        return [], [f'{name}: cannot build {type_name(dataset)}: {err}'], None
    set_names = list(built.metainfo.get('set_names') or []) if isinstance(built, BaseDataset) else []
    return [f'{name}: {count} samples ({type_name(dataset)})'], [], set_names or None


def _benchmark_of(cfg, run: RunSpec) -> str:
    dataset = ((cfg.get('test_dataloader') or {}).get('dataset') or {})
    if dataset.get('benchmark'):
        return str(dataset['benchmark'])
    return next((p.dataset for p in run.published if p.dataset), '')


def check_run(run: RunSpec, cfg, benchmarks: Optional[Mapping[str, str]] = None, download: bool = False,
              checkpoint: Optional[str] = None) -> RunCheck:
    """Check what ``run`` needs (see the module docstring); ``download`` lets the weights check fetch an open_clip
    tag's file (only tried when the data and checkpoint are present). ``checkpoint`` overrides the metafile's."""
    from ..models.backbones import locate_weights, register_model_config
    from ..text import resolve_path
    check = RunCheck(problems=dict(weights=[], checkpoint=[], data=[]))
    path = checkpoint or run.checkpoint
    if path:
        full = resolve_path(path)
        if osp.isfile(full):
            check.checkpoint = osp.abspath(full)
        else:
            check.problems['checkpoint'].append(f'checkpoint file not found: {path}')
            if run.checkpoint_get:
                check.hints['checkpoint'] = run.checkpoint_get
    loaders = [('test', (cfg.get('test_dataloader') or {}).get('dataset'))]
    if (cfg.get('id_train_dataloader') or {}).get('dataset') is not None:  # fitted heads read ID-train features
        loaders.append(('id_train', cfg.id_train_dataloader.dataset))
    for name, dataset in loaders:
        if dataset is None:
            check.problems['data'].append(f'the config has no {name}_dataloader.dataset')
            continue
        lines, problems, _ = _dataset_problems(name, plain_dict(dataset))
        check.data_lines += lines
        check.problems['data'] += problems
    check.problems['data'] += [p for _, _, found in text_input_checks(cfg.get('model') or {}, catch_build_errors=True)
                               for p in found]
    if check.problems['data']:
        benchmark = _benchmark_of(cfg, run)
        if benchmarks and benchmarks.get(benchmark):
            check.hints['data'] = f'{benchmark}: {benchmarks[benchmark]}'
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    name, pretrained = backbone.get('model_name'), backbone.get('pretrained')
    with _hub_offline(not (download and check.ready)):
        try:
            if name and backbone.get('model_cfg'):
                register_model_config(name, dict(backbone['model_cfg']))
            check.weights = locate_weights(name, pretrained, backbone.get('activation'))[0] if name else None
        except (FileNotFoundError, ValueError) as err:  # MissingWeightsError, an unknown tag, ConfigError
            check.problems['weights'].append(f'{name} / {pretrained}: {err}')
            if run.pretrained_get:
                check.hints['weights'] = run.pretrained_get
    return check


# ----------------------------------------------------------------------------------------------- metric keys
def valid_metric_keys(cfg) -> List[str]:
    """Every key a test run of ``cfg`` writes into ``metrics.json``'s ``metrics``: ``<set>/<metric>`` of the
    primary score, ``<score>/<set>/<metric>`` of every named score, ``ID/accuracy`` and, for scores repeated over
    stream seeds, ``<score>/seeds/<row>/<metric>/mean|std`` and ``<score>/seeds/count``. Sets are the config's OOD
    sets and its mean rows (``mean``; ``near`` / ``far`` when it has such sets); metrics AUROC, AUPR_IN, AUPR_OUT
    and one FPR95 key per convention of ``test_evaluator``.

    Raises:
        ConfigError: the test dataset's sets or the heads cannot be read from the config.
    """
    from ..models.heads import build_head
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    if dataset is None:
        raise ConfigError('the config has no test_dataloader.dataset')
    dataset = plain_dict(dataset)
    groups: List[str] = []
    if type_name(dataset) == 'OODEvalDataset':
        from ..datasets import resolve_sets
        id_set, ood_sets, _ = resolve_sets(dataset)
        names = [s['name'] for s in ood_sets]
        groups = [s['group'] for s in ood_sets]
    else:
        from mmpretrain.registry import DATASETS
        meta = DATASETS.build(dict(dataset, pipeline=[])).metainfo
        names, groups = list(meta['set_names'][1:]), list(meta['set_groups'][1:])
    evaluator = cfg.get('test_evaluator') or {}
    evaluator = evaluator[0] if isinstance(evaluator, (list, tuple)) else evaluator
    conventions = [(evaluator.get('fpr_positive', 'id'), evaluator.get('fpr_rule', 'closest'))]
    conventions += [tuple(c) for c in (evaluator.get('extra_fpr') or ())]
    metrics = ['AUROC'] + [fpr_key(*c) for c in conventions] + [m for m in METRIC_NAMES if m != 'FPR95']
    means = ['mean'] + [g for g in ('near', 'far') if g in groups]
    model = cfg.get('model') or {}
    scores, bases = [], []
    for head_cfg in [model.get('head')] + list(model.get('extra_heads') or ()):
        if head_cfg:
            head = build_head(dict(head_cfg))
            scores += list(head.score_names)
            bases += list(head.replicates)
    rows = [f'{s}/{m}' for s in names + means for m in metrics]
    keys = rows + ['ID/accuracy'] + [f'{score}/{row}' for score in scores for row in rows]
    keys += [f'{b}/seeds/{g}/{m}/{stat}' for b in bases for g in means for m in metrics for stat in ('mean', 'std')]
    keys += [f'{b}/seeds/count' for b in bases]
    return keys


def metafile_problems(metafile: Mapping[str, Any], repo_root: str = _REPO) -> List[str]:
    """Every problem of a loaded metafile: a config that does not exist or does not load with its options, a
    metric key the config's run would not write (:func:`valid_metric_keys`). Empty when all is well."""
    problems = []
    for run in metafile['runs']:
        try:
            cfg, _, _ = load_run_config(run, repo_root=repo_root)
            valid = set(valid_metric_keys(cfg))
        except Exception as err:
            problems.append(f'{run.name}: {type(err).__name__}: {err}')
            continue
        for p in run.published:
            if p.key not in valid:
                problems.append(f'{run.name}: {p.key!r} is not a key a run of {run.config} writes')
    return problems


# ----------------------------------------------------------------------------------------------- running
def _read_record(run_dir: str) -> Optional[Dict[str, Any]]:
    path = osp.join(run_dir, RECORD_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    metrics = osp.join(run_dir, record.get('metrics_json', ''))
    return dict(record, metrics_path=metrics) if record.get('metrics_json') and osp.isfile(metrics) else None


def _finished(run_dir: str, digest: str) -> Optional[Dict[str, Any]]:
    """The record of a finished run of this digest in ``run_dir``, if any."""
    record = _read_record(run_dir)
    return record if record and record.get('digest') == digest else None


def _run_test(command: List[str], run_dir: str, log_path: str, repo_root: str, out: TextIO,
              verbose: bool) -> Tuple[int, Optional[str]]:
    """Run ``tools/test.py``; ``(exit status, the metrics.json it wrote)``."""
    before = set(glob.glob(osp.join(run_dir, '*', 'metrics.json')))
    env = dict(os.environ)
    env['PYTHONPATH'] = repo_root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    os.makedirs(run_dir, exist_ok=True)
    with open(log_path, 'w') as log:
        log.write(' '.join(command) + '\n')
        log.flush()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if verbose:
                out.write(line)
        code = proc.wait()
    new = sorted(set(glob.glob(osp.join(run_dir, '*', 'metrics.json'))) - before, key=osp.getmtime)
    return code, (new[-1] if new else None)


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path) as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


# ----------------------------------------------------------------------------------------------- the table
def _split_key(key: str) -> Tuple[str, str]:
    """``(OOD set label, metric label)`` of a metrics.json key (mean rows labelled as in the OOD reports)."""
    labels = {prefix: f'{label} (mean)' for prefix, label in MEAN_ROWS}
    parts = key.split('/')
    if key == 'ID/accuracy':
        return 'ID', 'accuracy'
    if len(parts) == 5 and parts[1] == 'seeds':  # <score>/seeds/<row>/<metric>/<stat>
        return labels.get(parts[2], parts[2]), f'{parts[0]} {parts[3]} ({parts[4]} over stream seeds)'
    if len(parts) == 3:
        return labels.get(parts[1], parts[1]), f'{parts[0]} {parts[2]}'
    if len(parts) == 2:
        return labels.get(parts[0], parts[0]), parts[1]
    return '', key


def _fmt(value: Optional[float], signed: bool = False) -> str:
    if value is None:
        return '—'
    if signed:
        return f'{value + 0.0 if abs(value) >= 0.005 else 0.0:+.2f}'  # no "-0.00" for a difference that rounds away
    return f'{value:.2f}'


def _row(run: RunSpec, p: Published, measured: Optional[float], status: str, metrics_path: Optional[str],
         options: Sequence[str]) -> Dict[str, Any]:
    ood_set, metric = _split_key(p.key)
    delta = None if measured is None else measured - p.value
    within = None if delta is None else abs(delta) <= p.tolerance + 1e-9
    if within is not None:
        status = 'within' if within else 'outside'
    return dict(run=run.name, config=run.config, cfg_options=' '.join(options), method=run.method,
                benchmark=p.dataset, set=ood_set, metric=metric, key=p.key, published=p.value, source=p.source,
                verified=p.verified, preprocessing=p.preprocessing or '', measured=measured, delta=delta,
                tolerance=p.tolerance, within=within, status=status, metrics_json=metrics_path or '')


def summary_line(rows: Sequence[Mapping[str, Any]]) -> str:
    """``N within tolerance / N compared / N missing`` (and the same for the verified numbers)."""
    compared = [r for r in rows if r['measured'] is not None]
    within = [r for r in compared if r['within']]
    verified = [r for r in compared if r['verified']]
    return (f'{len(within)} within tolerance / {len(compared)} compared / {len(rows) - len(compared)} missing '
            f'(of {len(rows)} published numbers; verified ones: {sum(1 for r in verified if r["within"])} within / '
            f'{len(verified)} compared)')


def write_table(rows: Sequence[Mapping[str, Any]], out_dir: str, notes: Sequence[str] = ()) -> Dict[str, str]:
    """Write ``reproduce.md`` and ``reproduce.csv`` into ``out_dir`` (atomically, as the OOD reports).

    ``reproduce.csv``: ``#`` comment lines (title, notes, the summary), then one row per published number with
    columns ``run, config, cfg_options, method, benchmark, set, metric, key, published, source, verified,
    preprocessing, measured, delta, tolerance, within, status, metrics_json`` (values at full precision; read it
    with ``pandas.read_csv(path, comment='#')``). ``reproduce.md``: the same as a table, numbers with 2 decimals,
    sources as numbered notes under it.

    Returns:
        ``{'md': path, 'csv': path}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    title = 'Published numbers vs mmood (tools/analysis_tools/reproduce.py)'
    summary = summary_line(rows)
    columns = ['run', 'config', 'cfg_options', 'method', 'benchmark', 'set', 'metric', 'key', 'published', 'source',
               'verified', 'preprocessing', 'measured', 'delta', 'tolerance', 'within', 'status', 'metrics_json']
    csv_path = osp.join(out_dir, 'reproduce.csv')
    with atomic_open(csv_path, 'w', newline='') as f:
        f.write(f'# {title}\n')
        for note in notes:
            f.write(f'# {note}\n')
        f.write(f'# {summary}\n')
        f.write('# values in percent; delta = measured - published; within: |delta| <= tolerance\n')
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(['' if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c]
                             for c in columns])
    sources: List[str] = []
    lines = [f'# {title}', ''] + [f'- {note}' for note in notes]
    lines += ['- values in percent; Δ = measured − published; within: |Δ| ≤ tolerance (points)',
              f'- **{summary}**', '',
              '| config | method | benchmark | OOD set | metric | published | measured | Δ | tol. | within |',
              '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        source = r['source'] + ('' if r['verified'] else ' — unverified') + \
            (f'; preprocessing: {r["preprocessing"]}' if r['preprocessing'] else '')
        if source not in sources:
            sources.append(source)
        within = {True: 'yes', False: '**no**'}.get(r['within'], r['status'])
        lines.append(f'| {r["run"]} | {r["method"]} | {r["benchmark"]} | {r["set"]} | {r["metric"]} | '
                     f'{r["published"]:.2f} [{sources.index(source) + 1}] | {_fmt(r["measured"])} | '
                     f'{_fmt(r["delta"], signed=True)} | {r["tolerance"]:g} | {within} |')
    lines += ['', 'Sources:', ''] + [f'{i + 1}. {s}' for i, s in enumerate(sources)]
    md_path = osp.join(out_dir, 'reproduce.md')
    with atomic_open(md_path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(md=md_path, csv=csv_path)


# ----------------------------------------------------------------------------------------------- reproduce
def _print_check(run: RunSpec, check: RunCheck, out: TextIO) -> None:
    weights = check.problems['weights']
    print(f'  weights     {"MISSING: " + weights[0] if weights else "ok: " + (check.weights or "random init")}',
          file=out)
    if weights and check.hints.get('weights'):
        print(f'              get: {check.hints["weights"]}', file=out)
    if run.checkpoint or check.checkpoint or check.problems['checkpoint']:
        problems = check.problems['checkpoint']
        print(f'  checkpoint  {"MISSING: " + problems[0] if problems else "ok: " + str(check.checkpoint)}',
              file=out)
        if problems and check.hints.get('checkpoint'):
            print(f'              get: {check.hints["checkpoint"]}', file=out)
    problems = check.problems['data']
    if problems:
        print(f'  data        MISSING: {len(problems)} problem(s)', file=out)
        for p in problems[:12]:
            print(f'              {p}', file=out)
        if len(problems) > 12:
            print(f'              ... {len(problems) - 12} more', file=out)
        if check.hints.get('data'):
            print(f'              get: {check.hints["data"]}', file=out)
    else:
        print(f'  data        ok: {"; ".join(check.data_lines)}', file=out)


def reproduce(metafile: str = 'configs/metafile.yml',
              configs: Optional[Sequence[str]] = None,
              methods: Optional[Sequence[str]] = None,
              work_dir: str = 'work_dirs/reproduce',
              cache_dir: Optional[str] = None,
              dry_run: bool = False,
              cfg_options: Sequence[str] = (),
              pretrained: Sequence[str] = (),
              checkpoints: Sequence[str] = (),
              rerun: bool = False,
              python: str = sys.executable,
              repo_root: str = _REPO,
              verbose: bool = False,
              out: Optional[TextIO] = None) -> int:
    """Check, run and compare every selected run of ``metafile`` (see the module docstring).

    Args:
        metafile: the published numbers (``configs/metafile.yml``; a relative path is looked up from the working
            directory, then the repository).
        configs: globs on a run's config path, config file name or run name (``'configs/mcm/*'``,
            ``'*tiny_digits*'``); None: every run.
        methods: method names (the metafile's ``In Collection``, case-insensitive); None: every method.
        work_dir: each run writes into ``<work_dir>/<run name>/``; the table goes to ``<work_dir>/reproduce.md`` and
            ``.csv``.
        cache_dir: the shared cache for ``tools/test.py`` (``--cache-dir``); None: its default
            (:func:`~mmood.apis.resolve_cache_dir`).
        dry_run: check and print what is missing; run nothing, write nothing.
        cfg_options: ``key=value`` strings added to every run's ``--cfg-options`` (after the metafile's).
        pretrained: ``MODEL=PATH`` or ``MODEL/TAG=PATH``: the weights file of every run whose backbone is that
            open_clip model (and tag), e.g. ``ViT-B-16/openai=checkpoints/ViT-B-16_openai.bin``.
        checkpoints: ``RUN=PATH``: the checkpoint of run ``RUN`` instead of the metafile's.
        rerun: run even when a finished run of the same digest is on record.
        python: the interpreter for ``tools/test.py``.
        repo_root: the checkout holding ``tools/test.py`` (and the configs named relative to it).
        verbose: stream the runs' output.
        out: where the progress and the table are printed (default: ``sys.stdout``).

    Returns:
        The exit status (module docstring): 0 or 1.
    """
    out = out or sys.stdout
    meta = load_metafile(_repo_file(metafile, repo_root))
    runs = select_runs(meta['runs'], configs, methods)
    overrides = dict(_parse_pairs(checkpoints, '--checkpoint'))
    unknown = sorted(set(overrides) - {r.name for r in meta['runs']})
    if unknown:
        raise ConfigError(f'--checkpoint names runs not in the metafile: {unknown}')
    _parse_options(list(cfg_options or ()))  # a malformed option stops before anything runs
    rows: List[Dict[str, Any]] = []
    done: Dict[str, str] = {}  # digest -> metrics.json of a run finished in this call (two runs of one setting)
    ready = 0
    missing_count: Dict[str, int] = {}
    print(f'{"Checking" if dry_run else "Reproducing"} {len(runs)} run(s) of {meta["path"]} '
          f'({sum(len(r.published) for r in runs)} published numbers)', file=out)
    for i, run in enumerate(runs):
        cfg, config_path, options = load_run_config(run, cfg_options, pretrained, repo_root)
        checkpoint = overrides.get(run.name)
        run_dir = osp.join(work_dir, safe_name(run.name))
        digest = run_digest(cfg, _checkpoint_path(checkpoint or run.checkpoint))
        record = None if rerun else _finished(run_dir, digest)
        if record is None and digest in done:
            record = dict(metrics_path=done[digest])
        print(f'[{i + 1}/{len(runs)}] {run.name} -- {run.method}, {run.config}'
              f'{" " + " ".join(options) if options else ""} ({len(run.published)} published numbers)', file=out)
        if record and not dry_run:
            print(f'  finished earlier (same digest): {record["metrics_path"]} -- not run again', file=out)
            done[digest] = record['metrics_path']
            rows += _rows_from(run, record['metrics_path'], options)
            continue
        check = check_run(run, cfg, meta['benchmarks'], download=not dry_run, checkpoint=checkpoint)
        _print_check(run, check, out)
        for kind in check.missing:
            missing_count[kind] = missing_count.get(kind, 0) + 1
        ready += check.ready
        if dry_run:
            if record:
                print(f'  => finished run on record: {record["metrics_path"]} (same digest; would not run again)',
                      file=out)
            else:
                print(f'  => {"ready" if check.ready else "not ready (missing: " + ", ".join(check.missing) + ")"}',
                      file=out)
            continue
        if not check.ready:
            reason = f'not run: {", ".join(check.missing)} missing'
            print(f'  => {reason}', file=out)
            rows += [_row(run, p, None, reason, None, options) for p in run.published]
            continue
        command = [python, osp.join(repo_root, 'tools', 'test.py'), config_path]
        command += [check.checkpoint] if check.checkpoint else []
        command += ['--work-dir', run_dir] + (['--cache-dir', cache_dir] if cache_dir else [])
        command += ['--cfg-options', *options] if options else []
        log_path = osp.join(run_dir, 'reproduce_test.log')
        print(f'  running tools/test.py (log: {log_path})', file=out, flush=True)
        start = time.time()
        code, metrics_path = _run_test(command, run_dir, log_path, repo_root, out, verbose)
        seconds = time.time() - start
        if code != 0 or metrics_path is None:
            reason = f'run failed (exit {code}; log {log_path})'
            print(f'  => {reason}; last lines:\n{_tail(log_path)}', file=out)
            rows += [_row(run, p, None, reason, None, options) for p in run.published]
            continue
        with atomic_open(osp.join(run_dir, RECORD_FILE), 'w') as f:
            json.dump(dict(digest=digest, metrics_json=osp.relpath(metrics_path, run_dir), run=run.name,
                           config=run.config, cfg_options=options, checkpoint=check.checkpoint, weights=check.weights,
                           command=command, seconds=round(seconds, 1),
                           finished=time.strftime('%Y-%m-%d %H:%M:%S')), f, indent=1)
        print(f'  => finished in {seconds:.0f} s: {metrics_path}', file=out)
        done[digest] = metrics_path
        rows += _rows_from(run, metrics_path, options)
    if dry_run:
        missing = ', '.join(f'{k} {v}' for k, v in missing_count.items()) or 'nothing'
        print(f'dry run: {ready} of {len(runs)} run(s) ready; missing: {missing} (runs lacking each). Nothing was '
              f'run or written.', file=out)
        return 0
    paths = write_table(rows, work_dir, notes=[f'metafile: {meta["path"]}', f'work dir: {work_dir}'])
    with open(paths['md']) as f:
        print('\n' + f.read(), file=out)
    print(f'table: {paths["md"]}, {paths["csv"]}', file=out)
    print(summary_line(rows), file=out)
    compared_all = all(r['measured'] is not None for r in rows)
    return 0 if compared_all and all(r['within'] for r in rows) else 1


def _checkpoint_path(path: Optional[str]) -> Optional[str]:
    """A checkpoint path as ``check_run`` finds it (the working directory, then the repository)."""
    from ..text import resolve_path
    return resolve_path(path) if path else None


def _rows_from(run: RunSpec, metrics_path: str, options: Sequence[str]) -> List[Dict[str, Any]]:
    with open(metrics_path) as f:
        metrics = json.load(f).get('metrics') or {}
    rows = []
    for p in run.published:
        value = metrics.get(p.key)
        rows.append(_row(run, p, None if value is None else float(value),
                         'metric missing' if value is None else '', metrics_path, options))
    return rows
