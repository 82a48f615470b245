"""Offline OOD-detection demo: train a tiny CLIP on handwritten digits, then detect unseen digits and noise.

``python tools/demo.py [--work-dir work_dirs/demo] [--cache-dir DIR] [--retrain] [--no-clipn]``

1. Trains the tiny open_clip tower with ``configs/clip_tiny_digits.py`` (scikit-learn's digits 0-4 with
   generated captions; about a minute on 2 CPU cores) through ``tools/train.py``, once: the exported open_clip
   weights are cached as ``<cache-dir>/demo/clip_tiny_digits-<key>.pth``, ``<key>`` being a content key of the
   training config, so later runs reuse them and any config change retrains.
2. Evaluates ``configs/mcm_tiny_digits.py`` and ``configs/neglabel_tiny_digits.py`` through ``tools/test.py``
   with ``model.backbone.pretrained`` set to those weights: ID = held-out digits 0-4, OOD = held-out digits 5-9
   (near) and noise images (far).
3. Trains CLIPN's "no" text tower on the same captions (``configs/clipn_tiny_digits.py``, about 40 s more on 2 CPU
   cores; its checkpoint cached like the weights; ``--no-clipn`` skips it) and evaluates it (ATD, CTW, MSP, ...).
4. Prints the metric tables, the ID accuracy and how to run the real benchmark.

Everything runs offline (``HF_HUB_OFFLINE=1`` is set for the child processes).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

from cli_common import default_cache_dir, guarded
from mmengine.config import Config

from mmood.cache import make_key
from mmood.evaluation.metrics.ood_metric import format_table
from mmood.models.classifiers.clip_contrastive import export_open_clip_weights

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN_CONFIG = 'configs/clip_tiny_digits.py'
EVAL_CONFIGS = ('configs/mcm_tiny_digits.py', 'configs/neglabel_tiny_digits.py')
CLIPN_CONFIG = 'configs/clipn_tiny_digits.py'
GROUP_ROWS = ('near', 'far', 'mean', 'ID')


def repo_path(path: str) -> str:
    """``path`` as given if it exists (relative to the working directory), else relative to the repository."""
    if osp.isabs(path) or osp.exists(path):
        return osp.abspath(path)
    return osp.join(REPO, path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood offline demo: tiny CLIP on handwritten digits')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='logs and results (default work_dirs/demo)')
    parser.add_argument('--cache-dir', help='shared cache for the trained weights and text embeddings '
                        '(default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--train-config', default=TRAIN_CONFIG, help='training config of the tiny CLIP')
    parser.add_argument('--eval-configs', nargs='+', default=list(EVAL_CONFIGS), help='OOD configs to evaluate')
    parser.add_argument('--no-clipn', dest='clipn', action='store_false',
                        help=f'skip CLIPN ({CLIPN_CONFIG}: its "no" tower trained on the digits captions, about 40 s '
                        f'more on 2 CPU cores)')
    parser.add_argument('--retrain', action='store_true', help='train again even if cached weights exist')
    parser.add_argument('--verbose', action='store_true', help='stream the training/testing logs')
    return parser.parse_args(argv)


def weights_key(cfg: Config) -> str:
    """Content key of a training config: a change to any setting (or a base file) retrains."""
    settings = {k: v for k, v in cfg.to_dict().items() if k not in ('work_dir', 'launcher', 'filename')}
    return make_key(dict(kind='demo_clip_weights', config=settings, mmood=mmood.__version__))


def run_tool(argv: List[str], log_file: str, verbose: bool) -> None:
    """Run ``python <argv>`` in the repository root; its output goes to ``log_file`` (and the terminal)."""
    env = dict(os.environ)
    env.setdefault('HF_HUB_OFFLINE', '1')
    env['PYTHONPATH'] = REPO + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    with open(log_file, 'w') as log:
        proc = subprocess.Popen([sys.executable] + argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if verbose:
                sys.stdout.write(line)
        code = proc.wait()
    if code != 0:
        with open(log_file) as f:
            tail = ''.join(f.readlines()[-40:])
        raise SystemExit(f'{" ".join(argv[:2])} failed (exit {code}); last lines of {log_file}:\n{tail}')


def last_val_accuracy(train_dir: str) -> Optional[float]:
    """The last ``accuracy/top1`` the training run logged (its validation at the end), if any."""
    found = None
    for path in sorted(glob.glob(osp.join(train_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'accuracy/top1' in record:
                    found = float(record['accuracy/top1'])
    return found


def train_weights(args, cache_dir: str, work_dir: str) -> Dict:
    """Train once and export, or reuse the cached weights; returns their metadata (``path``, ``train_s``...)."""
    train_config = repo_path(args.train_config)
    cfg = Config.fromfile(train_config)
    key = weights_key(cfg)
    stem = osp.splitext(osp.basename(train_config))[0]
    folder = osp.join(cache_dir, 'demo')
    weights = osp.join(folder, f'{stem}-{key}.pth')
    meta_file = osp.join(folder, f'{stem}-{key}.json')
    steps = len(args.eval_configs) + 1 + bool(args.clipn)
    if osp.isfile(weights) and osp.isfile(meta_file) and not args.retrain:
        with open(meta_file) as f:
            meta = json.load(f)
        print(f'[1/{steps}] Reusing the trained tiny CLIP: {weights} (trained in {meta["train_s"]:.0f} s; '
              f'--retrain to train again)')
        return dict(meta, path=weights, cached=True)
    train_dir = osp.join(work_dir, 'train')
    print(f'[1/{steps}] Training the tiny CLIP on digits 0-4 ({osp.relpath(train_config, REPO)}); '
          f'log: {osp.join(work_dir, "train.log")}', flush=True)
    start = time.time()
    run_tool([osp.join(REPO, 'tools', 'train.py'), train_config, '--work-dir', train_dir, '--cache-dir', cache_dir],
             osp.join(work_dir, 'train.log'), args.verbose)
    train_s = time.time() - start
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    export_open_clip_weights(checkpoint, weights)
    meta = dict(train_s=train_s, val_accuracy=last_val_accuracy(train_dir), config=osp.relpath(train_config, REPO),
                key=key, checkpoint=checkpoint, created=time.strftime('%Y-%m-%d %H:%M:%S'))
    tmp = meta_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, meta_file)
    acc = meta['val_accuracy']
    print(f'      trained in {train_s:.0f} s; zero-shot accuracy on held-out digits 0-4: '
          f'{"n/a" if acc is None else f"{acc:.2f} %"}; weights: {weights}')
    return dict(meta, path=weights, cached=False)


def set_names_of(metrics: Dict[str, float]) -> List[str]:
    """Set names in metric order, with a placeholder for the ID set (what :func:`format_table` expects)."""
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


def train_clipn(weights: Dict, cache_dir: str, work_dir: str, args) -> str:
    """CLIPN's no tower on the digits captions, trained once per (config, CLIP weights) and cached; its checkpoint."""
    config = repo_path(CLIPN_CONFIG)
    key = make_key(dict(kind='demo_clipn', clip=weights['key'], config=weights_key(Config.fromfile(config))))
    cached = osp.join(cache_dir, 'demo', f'clipn_tiny_digits-{key}.pth')
    if osp.isfile(cached) and not args.retrain:
        print(f'      reusing the trained CLIPN no tower: {cached}')
        return cached
    train_dir = osp.join(work_dir, 'clipn_train')
    print(f'      training CLIPN\'s "no" tower on the digits captions (log: {osp.join(work_dir, "clipn_train.log")})',
          flush=True)
    run_tool([osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', train_dir, '--cache-dir', cache_dir,
              '--cfg-options', f'model.backbone.pretrained={weights["path"]}'],
             osp.join(work_dir, 'clipn_train.log'), args.verbose)
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    tmp = cached + '.tmp'
    shutil.copyfile(checkpoint, tmp)
    os.replace(tmp, cached)
    return cached


def evaluate(config: str, weights: str, cache_dir: str, work_dir: str, verbose: bool,
             checkpoint: Optional[str] = None) -> Dict:
    """Run tools/test.py on one config (and checkpoint); returns its metrics.json content (plus ``log_dir``)."""
    name = osp.splitext(osp.basename(config))[0]
    out_dir = osp.join(work_dir, name)
    before = set(glob.glob(osp.join(out_dir, '*', 'metrics.json')))
    run_tool([osp.join(REPO, 'tools', 'test.py'), repo_path(config)] + ([checkpoint] if checkpoint else []) +
             ['--work-dir', out_dir, '--cache-dir', cache_dir, '--cfg-options', f'model.backbone.pretrained={weights}'],
             osp.join(work_dir, f'{name}.log'), verbose)
    new = sorted(set(glob.glob(osp.join(out_dir, '*', 'metrics.json'))) - before, key=osp.getmtime)
    if not new:
        raise SystemExit(f'tools/test.py wrote no metrics.json under {out_dir}')
    with open(new[-1]) as f:
        result = json.load(f)
    result['log_dir'] = osp.dirname(new[-1])
    return result


NOTE = """\
What this showed: a CLIP trained only on captioned digits 0-4 classifies held-out 0-4 zero-shot from class
prompts, and its OOD scores (higher = more ID) rank unseen digits 5-9 and noise images below them -- the same
code path (OpenCLIPBackbone -> score head -> OODMetric -> per_sample_results.csv) as the real benchmarks.
Scores depend on a 3.4M-parameter model trained for a minute: expect AUROC in the 80s-90s, not paper numbers.

The real benchmark (CLIP ViT-B/16, ImageNet-1k vs iNaturalist / SUN / Places / Textures):
  data/imagenet/val/*.JPEG + data/imagenet/meta/val.txt  and  data/ood_data/{{iNaturalist,SUN,Places,Textures}}/
  python tools/test.py configs/neglabel_vitb16.py        (or configs/mcm_vitb16.py)
  Weights: open_clip tag 'openai' from the Hugging Face cache, or a local file via
  --cfg-options model.backbone.pretrained=/path/to/ViT-B-16.bin
Re-run one demo evaluation by hand:
  python tools/test.py configs/mcm_tiny_digits.py --cfg-options model.backbone.pretrained={weights}"""


@guarded
def main(argv=None) -> Dict[str, Dict]:
    args = parse_args(argv)
    cache_dir = osp.abspath(osp.expanduser(args.cache_dir or default_cache_dir()))
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    weights = train_weights(args, cache_dir, work_dir)
    results = {}
    runs = [(config, None) for config in args.eval_configs] + ([(CLIPN_CONFIG, 'clipn')] if args.clipn else [])
    for i, (config, method) in enumerate(runs):
        name = osp.splitext(osp.basename(config))[0]
        checkpoint = train_clipn(weights, cache_dir, work_dir, args) if method == 'clipn' else None
        print(f'[{i + 2}/{len(runs) + 1}] Evaluating {name} (log: {osp.join(work_dir, name + ".log")})', flush=True)
        res = evaluate(config, weights['path'], cache_dir, work_dir, args.verbose, checkpoint)
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


if __name__ == '__main__':
    main()
