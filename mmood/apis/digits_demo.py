"""The offline OOD-detection demo (``tools/demo.py``): train a tiny CLIP on handwritten digits, then detect unseen
digits and noise.

1. Trains the tiny open_clip tower with :data:`TRAIN_CONFIG` (scikit-learn's digits 0-4 with generated captions;
   about a minute on 2 CPU cores) through ``tools/train.py``, once: the exported open_clip weights are cached as
   ``<cache-dir>/demo/clip_tiny_digits-<key>.pth``, ``<key>`` being a content key of the training config, so later
   runs reuse them and any config change retrains.
2. Evaluates the zero-shot configs (:data:`EVAL_CONFIGS`) through ``tools/test.py`` with
   ``model.backbone.pretrained`` set to those weights: ID = held-out digits 0-4, OOD = held-out digits 5-9 (near)
   and noise images (far).
3. Trains the configs that learn a part of their own on top of those weights (:data:`TRAINED_CONFIGS`: CLIPN's "no"
   text tower on the same captions, about 40 s more on 2 CPU cores; the checkpoint cached like the weights) and
   evaluates them with their checkpoint.
4. Prints the metric tables, the ID accuracy and how to run the real benchmark.

Everything runs offline (``HF_HUB_OFFLINE=1`` is set for the child processes).
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

__all__ = ['demo', 'TRAIN_CONFIG', 'EVAL_CONFIGS', 'TRAINED_CONFIGS', 'weights_key', 'set_names_of',
           'fpr_convention']

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: the tiny CLIP's training config
TRAIN_CONFIG = 'configs/clip/clip_tiny_digits.py'
#: zero-shot configs evaluated on the trained weights
EVAL_CONFIGS = ('configs/mcm/mcm_tiny_digits.py', 'configs/neglabel/neglabel_tiny_digits.py')
#: configs that train a part of their own on top of the weights (then tested with that checkpoint)
TRAINED_CONFIGS = ('configs/clipn/clipn_tiny_digits.py', )
GROUP_ROWS = ('near', 'far', 'mean', 'ID')

NOTE = """\
What this showed: a CLIP trained only on captioned digits 0-4 classifies held-out 0-4 zero-shot from class
prompts, and its OOD scores (higher = more ID) rank unseen digits 5-9 and noise images below them -- the same
code path (OpenCLIPBackbone -> score head -> OODMetric -> per_sample_results.csv) as the real benchmarks.
Scores depend on a 3.4M-parameter model trained for a minute: expect AUROC in the 80s-90s, not paper numbers.

The real benchmark (CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures):
  data/imagenet/val/*.JPEG + data/imagenet/meta/val.txt  and  data/ood_data/{{iNaturalist,SUN,Places,Textures}}/
  python tools/test.py configs/neglabel/neglabel_vitb16.py        (or configs/mcm/mcm_vitb16.py)
  Weights: open_clip tag 'openai' from the Hugging Face cache, or a local file via
  --cfg-options model.backbone.pretrained=/path/to/ViT-B-16.bin
Re-run one demo evaluation by hand:
  python tools/test.py configs/mcm/mcm_tiny_digits.py --cfg-options model.backbone.pretrained={weights}"""


def _repo_path(path: str, repo_root: str) -> str:
    """``path`` as given if it exists (relative to the working directory), else relative to the repository."""
    if osp.isabs(path) or osp.exists(path):
        return osp.abspath(path)
    return osp.join(repo_root, path)


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def weights_key(cfg: Config) -> str:
    """Content key of a training config: a change to any setting (or a base file) retrains."""
    import mmood
    from ..cache import make_key
    settings = {k: v for k, v in cfg.to_dict().items() if k not in ('work_dir', 'launcher', 'filename')}
    return make_key(dict(kind='demo_clip_weights', config=settings, mmood=mmood.__version__))


def _run_tool(argv: List[str], log_file: str, verbose: bool, repo_root: str, python: str) -> None:
    """Run ``python <argv>`` in the repository root; its output goes to ``log_file`` (and the terminal)."""
    from ..utils import UserError
    env = dict(os.environ)
    env.setdefault('HF_HUB_OFFLINE', '1')
    env['PYTHONPATH'] = repo_root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    with open(log_file, 'w') as log:
        proc = subprocess.Popen([python] + argv, cwd=repo_root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if verbose:
                sys.stdout.write(line)
        code = proc.wait()
    if code != 0:
        with open(log_file) as f:
            tail = ''.join(f.readlines()[-40:])
        raise UserError(f'{" ".join(argv[:2])} failed (exit {code}); last lines of {log_file}:\n{tail}')


def _last_val_accuracy(train_dir: str) -> Optional[float]:
    """The last ``accuracy/top1`` the training run logged (its validation at the end), if any."""
    found = None
    for path in sorted(glob.glob(osp.join(train_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'accuracy/top1' in record:
                    found = float(record['accuracy/top1'])
    return found


def _last_checkpoint(train_dir: str) -> str:
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _train_weights(train_config: str, cache_dir: str, work_dir: str, steps: int, retrain: bool, verbose: bool,
                   repo_root: str, python: str) -> Dict:
    """Train once and export, or reuse the cached weights; returns their metadata (``path``, ``train_s``...)."""
    from ..models.classifiers.clip_contrastive import export_open_clip_weights
    cfg = Config.fromfile(train_config)
    key = weights_key(cfg)
    stem = _stem(train_config)
    folder = osp.join(cache_dir, 'demo')
    weights = osp.join(folder, f'{stem}-{key}.pth')
    meta_file = osp.join(folder, f'{stem}-{key}.json')
    if osp.isfile(weights) and osp.isfile(meta_file) and not retrain:
        with open(meta_file) as f:
            meta = json.load(f)
        print(f'[1/{steps}] Reusing the trained tiny CLIP: {weights} (trained in {meta["train_s"]:.0f} s; '
              f'--retrain to train again)')
        return dict(meta, path=weights, cached=True)
    train_dir = osp.join(work_dir, 'train')
    print(f'[1/{steps}] Training the tiny CLIP on digits 0-4 ({osp.relpath(train_config, repo_root)}); '
          f'log: {osp.join(work_dir, "train.log")}', flush=True)
    start = time.time()
    _run_tool([osp.join(repo_root, 'tools', 'train.py'), train_config, '--work-dir', train_dir, '--cache-dir',
               cache_dir], osp.join(work_dir, 'train.log'), verbose, repo_root, python)
    train_s = time.time() - start
    checkpoint = _last_checkpoint(train_dir)
    export_open_clip_weights(checkpoint, weights)
    meta = dict(train_s=train_s, val_accuracy=_last_val_accuracy(train_dir),
                config=osp.relpath(train_config, repo_root), key=key, checkpoint=checkpoint,
                created=time.strftime('%Y-%m-%d %H:%M:%S'))
    tmp = meta_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, meta_file)
    acc = meta['val_accuracy']
    print(f'      trained in {train_s:.0f} s; zero-shot accuracy on held-out digits 0-4: '
          f'{"n/a" if acc is None else f"{acc:.2f} %"}; weights: {weights}')
    return dict(meta, path=weights, cached=False)


def _train_on_weights(config: str, weights: Dict, cache_dir: str, work_dir: str, retrain: bool, verbose: bool,
                      repo_root: str, python: str) -> str:
    """``config``'s own part trained on top of the demo's weights, once per (config, weights) and cached; its
    checkpoint."""
    from ..cache import make_key
    stem = _stem(config)
    key = make_key(dict(kind='demo_trained_on_clip', clip=weights['key'], config=weights_key(Config.fromfile(config))))
    cached = osp.join(cache_dir, 'demo', f'{stem}-{key}.pth')
    if osp.isfile(cached) and not retrain:
        print(f'      reusing the trained {stem}: {cached}')
        return cached
    train_dir = osp.join(work_dir, f'{stem}_train')
    print(f'      training {stem} on top of the tiny CLIP (log: {osp.join(work_dir, stem + "_train.log")})',
          flush=True)
    _run_tool([osp.join(repo_root, 'tools', 'train.py'), config, '--work-dir', train_dir, '--cache-dir', cache_dir,
               '--cfg-options', f'model.backbone.pretrained={weights["path"]}'],
              osp.join(work_dir, f'{stem}_train.log'), verbose, repo_root, python)
    tmp = cached + '.tmp'
    shutil.copyfile(_last_checkpoint(train_dir), tmp)
    os.replace(tmp, cached)
    return cached


def _evaluate(config: str, weights: str, cache_dir: str, work_dir: str, verbose: bool, repo_root: str, python: str,
              checkpoint: Optional[str] = None) -> Dict:
    """Run tools/test.py on one config (and checkpoint); returns its metrics.json content (plus ``log_dir``)."""
    from ..utils import UserError
    name = _stem(config)
    out_dir = osp.join(work_dir, name)
    before = set(glob.glob(osp.join(out_dir, '*', 'metrics.json')))
    _run_tool([osp.join(repo_root, 'tools', 'test.py'), config] + ([checkpoint] if checkpoint else []) +
              ['--work-dir', out_dir, '--cache-dir', cache_dir, '--cfg-options',
               f'model.backbone.pretrained={weights}'], osp.join(work_dir, f'{name}.log'), verbose, repo_root, python)
    new = sorted(set(glob.glob(osp.join(out_dir, '*', 'metrics.json'))) - before, key=osp.getmtime)
    if not new:
        raise UserError(f'tools/test.py wrote no metrics.json under {out_dir}')
    with open(new[-1]) as f:
        result = json.load(f)
    result['log_dir'] = osp.dirname(new[-1])
    return result


def set_names_of(metrics: Dict[str, float]) -> List[str]:
    """Set names in metric order, with a placeholder for the ID set (what ``format_table`` expects)."""
    names = []
    for key in metrics:
        name = key.rsplit('/', 1)[0]
        if '/' not in name and name not in GROUP_ROWS and name not in names:  # '<score>/<set>' keys: named scores
            names.append(name)
    return ['ID'] + names


def fpr_convention(metrics: Dict[str, float]):
    """``(positive, rule)`` of the FPR95 entries (keys ``<set>/FPR95_<positive>_<rule>``)."""
    key = next(k for k in metrics if k.startswith('mean/FPR95_'))
    positive, rule = key[len('mean/FPR95_'):].split('_', 1)
    return positive, rule


def demo(work_dir: str = 'work_dirs/demo', cache_dir: Optional[str] = None, train_config: str = TRAIN_CONFIG,
         eval_configs: Sequence[str] = EVAL_CONFIGS, trained_configs: Sequence[str] = TRAINED_CONFIGS,
         retrain: bool = False, verbose: bool = False, repo_root: str = _REPO,
         python: str = sys.executable) -> Dict[str, Dict]:
    """Run the demo (module docstring) and write ``<work_dir>/demo_summary.json``.

    Args:
        work_dir: logs and results.
        cache_dir: the shared cache for the trained weights and text embeddings (default:
            :func:`~mmood.apis.resolve_cache_dir`).
        train_config: training config of the tiny CLIP.
        eval_configs: zero-shot configs to evaluate on its weights.
        trained_configs: configs trained on top of the weights, then evaluated (``()``: none).
        retrain: train again even if cached weights and checkpoints exist.
        verbose: stream the training / testing logs.
        repo_root: the checkout holding ``tools/`` (configs are looked up from the working directory, then there).
        python: the interpreter of the training and test runs.

    Returns:
        ``dict(weights=..., results={config name: metrics})``.
    """
    from ..evaluation.metrics.ood_metric import format_table
    from .config import resolve_cache_dir
    cache_dir = resolve_cache_dir(cache_dir)
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    runs = [(_repo_path(c, repo_root), False) for c in eval_configs]
    runs += [(_repo_path(c, repo_root), True) for c in trained_configs]
    weights = _train_weights(_repo_path(train_config, repo_root), cache_dir, work_dir, len(runs) + 1, retrain, verbose,
                             repo_root, python)
    results = {}
    for i, (config, trains) in enumerate(runs):
        name = _stem(config)
        checkpoint = _train_on_weights(config, weights, cache_dir, work_dir, retrain, verbose, repo_root,
                                       python) if trains else None
        print(f'[{i + 2}/{len(runs) + 1}] Evaluating {name} (log: {osp.join(work_dir, name + ".log")})', flush=True)
        res = _evaluate(config, weights['path'], cache_dir, work_dir, verbose, repo_root, python, checkpoint)
        results[name] = res
        metrics = res['metrics']
        fpr_positive, fpr_rule = fpr_convention(metrics)
        print(format_table(metrics, set_names_of(metrics), fpr_positive, fpr_rule))
        print(f'Per-sample results and metrics: {res["log_dir"]}\n')
    print('Summary (AUROC / FPR95 in %, ID accuracy = zero-shot top-1 on held-out digits 0-4):')
    for name, res in results.items():
        m = res['metrics']
        sets = set_names_of(m)[1:]
        fpr = {s: next(v for k, v in m.items() if k.startswith(f'{s}/FPR95')) for s in sets}
        cells = '  '.join(f'{s}: {m[f"{s}/AUROC"]:.2f} / {fpr[s]:.2f}' for s in sets)
        print(f'  {name:<24} ID acc {m.get("ID/accuracy", float("nan")):.2f}  {cells}')
    print(f'  training: {weights["train_s"]:.0f} s' + (' (cached)' if weights.get('cached') else ''))
    print()
    print(NOTE.format(weights=weights['path']))
    summary = dict(weights=weights, results={k: v['metrics'] for k, v in results.items()})
    with open(osp.join(work_dir, 'demo_summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary
