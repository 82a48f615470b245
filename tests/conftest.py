"""Shared fixtures: offline mode, the tiny open_clip tower, generated ID/OOD image folders, a small corpus."""
import contextlib
import importlib.util
import os
import os.path as osp
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

import mmood  # noqa: E402,F401  (compat shims before torchvision)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from PIL import Image  # noqa: E402

# Outside a Runner, registries resolve names in mmpretrain's scope (as configs do with default_scope).
DefaultScope.get_instance('mmood-tests', scope_name='mmpretrain')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def method_configs(pattern: str = '*.py') -> list:
    """The shipped configs (``configs/<method>/<name>.py``, one folder per method; not ``configs/_base_``)."""
    import glob
    return sorted(p for p in glob.glob(osp.join(REPO, 'configs', '*', pattern))
                  if osp.basename(osp.dirname(p)) != '_base_')


def config_path(name: str) -> str:
    """The path of the shipped config ``name`` (without ``.py``), in whichever method folder holds it."""
    found = method_configs(f'{name}.py')
    assert len(found) == 1, f'config {name}: {found}'
    return found[0]


def _tiny_model():
    """The tiny open_clip tower, written once in configs/_base_/models/clip_tiny.py (the demo's and the tests')."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'clip_tiny.py'))
    return cfg.model.backbone.model_name, cfg.tiny_model_cfg.to_dict()


TINY_NAME, TINY_CFG = _tiny_model()


def tiny_backbone(**kwargs) -> dict:
    return dict(dict(type='OpenCLIPBackbone', model_name=TINY_NAME, pretrained=None, model_cfg=TINY_CFG), **kwargs)


def tiny_weights(path) -> str:
    """Save the tiny tower's random open_clip weights (torch seed 0) to ``path`` (for ``pretrained``); returns it."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    torch.save(MODELS.build(tiny_backbone()).clip.state_dict(), path)
    return str(path)


def write_images(folder, n, seed, kind):
    """n small RGB images of a recognisable kind ('stripes', 'blobs', 'noise', 'flat')."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        h = w = 40
        if kind == 'stripes':
            base = (np.indices((h, w))[1] // (3 + seed % 4) % 2) * 200
            img = np.stack([base, np.roll(base, seed, 1), 255 - base], -1)
        elif kind == 'flat':
            img = np.ones((h, w, 3)) * rng.integers(0, 255, 3)
        else:
            img = rng.integers(0, 255, (h, w, 3))
        img = np.clip(img + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(osp.join(folder, f'img_{seed}_{i:03d}.png'))


def make_benchmark(root, n_per_class=3, classes=('zero', 'one', 'two'), n_ood=(4, 5)):
    """ID class folders + two OOD folders (one nested) under ``root``; returns the dataset config dict."""
    for c, name in enumerate(classes):
        write_images(osp.join(root, 'id', name), n_per_class, seed=c, kind='stripes')
    write_images(osp.join(root, 'ood_a', 'nested', 'deeper'), n_ood[0], seed=10, kind='noise')
    write_images(osp.join(root, 'ood_b'), n_ood[1], seed=11, kind='flat')
    order = osp.join(root, 'id_folders.txt')  # the class folders in class order (sorted, they would not be)
    with open(order, 'w') as f:
        f.write('\n'.join(classes) + '\n')
    return dict(
        type='OODEvalDataset',
        id_set=dict(name='TinyID', data_root=osp.join(root, 'id'), folder_order=order),
        ood_sets=[dict(name='Noise', data_root=osp.join(root, 'ood_a'), group='far'),
                  dict(name='Flat', data_root=osp.join(root, 'ood_b'), group='near')],
        class_names=list(classes),
        pipeline=tiny_pipeline(),
    )


def tiny_pipeline():
    return [
        dict(type='LoadOODImage', imdecode_backend='pillow'),
        dict(type='ResizeEdge', scale=32, edge='short', backend='pillow', interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=32),
        dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
    ]


class CountingBackbone(torch.nn.Module):
    """Wraps a backbone (the tiny tower), counting the texts it encodes."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.encoded = 0

    @property
    def text_identity(self):
        return self.inner.text_identity

    def encode_text(self, texts, **kwargs):
        self.encoded += len(texts)
        return self.inner.encode_text(texts, **kwargs)


def make_corpus(root, n_noun=40, n_adj=12):
    os.makedirs(root, exist_ok=True)
    nouns = [f'thing{i}' for i in range(n_noun)]
    with open(osp.join(root, 'noun.artifact.txt'), 'w') as f:
        f.write('\n'.join(nouns[:n_noun // 2] + ['zero']) + '\n')  # an ID name among candidates
    with open(osp.join(root, 'noun.act.txt'), 'w') as f:
        f.write('\n'.join(nouns[n_noun // 2:]) + '\n')
    with open(osp.join(root, 'adj.all.txt'), 'w') as f:
        f.write('\n'.join(f'colour{i}' for i in range(n_adj)) + '\n')
    with open(osp.join(root, 'verb.x.txt'), 'w') as f:  # ignored part of speech
        f.write('run\n')
    return root


KILLER_MODULE = '''import os
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillAfter(Hook):
    """Simulates kill -9 right after iteration `iteration` (no cleanup, no final checkpoint)."""
    priority = 'LOWEST'

    def __init__(self, iteration):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.iteration:
            os._exit(9)
'''


def run_results(work_dir):
    """``(metrics, rows)`` of the one test run under ``work_dir``: metrics.json's metrics and the per-sample CSV."""
    import csv
    import glob
    import json
    (found, ) = glob.glob(osp.join(work_dir, '*', 'metrics.json'))
    with open(found) as f:
        metrics = json.load(f)['metrics']
    with open(osp.join(osp.dirname(found), 'per_sample_results.csv')) as f:
        return metrics, list(csv.DictReader(f))


def assert_two_processes_agree(config, args, one, two, score, abs_tol=1e-6):
    """tools/dist_test.sh with 2 gloo processes into ``two`` gives the metrics and per-sample ``score_<score>`` of
    the 1-process run already in ``one`` (``args``: the checkpoint, then the other tool arguments)."""
    metrics, rows = run_results(one)
    run_command(['bash', 'tools/dist_test.sh', config, args[0], '2', '--work-dir', two, *args[1:]], port_env='PORT')
    metrics2, rows2 = run_results(two)
    assert list(metrics2) == list(metrics)
    for key, value in metrics.items():
        assert metrics2[key] == pytest.approx(value, abs=abs_tol), key
    assert len(rows2) == len(rows)
    for a, b in zip(rows, rows2):
        assert a['path'] == b['path']
        assert float(a[f'score_{score}']) == pytest.approx(float(b[f'score_{score}']), abs=abs_tol)


def write_killer(root):
    """Writes `killer.py` (the hook `KillAfter`) into `root`; configs import it with `custom_imports`."""
    with open(osp.join(root, 'killer.py'), 'w') as f:
        f.write(KILLER_MODULE)


def kill_and_resume(root, config, resumed, common, kill_at, saved_at, final_iter):
    """Train ``config`` into the folder ``resumed`` with a hook that kills the process at iteration ``kill_at``
    (``os._exit(9)``, no cleanup), check that the checkpoint of iteration ``saved_at`` is there and the final one is
    not, then resume to the end (``common``: the command-line options of both runs, one intra-op thread).

    Returns:
        The final checkpoint of the resumed run (``iter_<final_iter>.pth``).
    """
    write_killer(root)
    killed = osp.join(root, osp.splitext(osp.basename(config))[0] + '_killed.py')
    with open(killed, 'w') as f:
        f.write(f"""_base_ = ['{config}']
custom_imports = dict(imports=['mmood', 'killer'], allow_failed_imports=False)
custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook'),
                dict(type='KillAfter', iteration={kill_at})]
""")
    with pytest.raises(AssertionError, match='exited with 9'):
        run_command([sys.executable, 'tools/train.py', killed, '--work-dir', resumed, *common],
                    env=dict(PYTHONPATH=root + os.pathsep + REPO, OMP_NUM_THREADS='1'))
    assert osp.isfile(osp.join(resumed, f'iter_{saved_at}.pth'))
    assert not osp.isfile(osp.join(resumed, f'iter_{final_iter}.pth'))
    run_tool('train', [config, '--work-dir', resumed, '--resume', *common], threads=1)
    return osp.join(resumed, f'iter_{final_iter}.pth')


_HANDED_OUT = set()


def free_port() -> int:
    """A TCP port free right now and not handed to another test of this session (bound, then released for the
    child; pair it with :func:`run_command`, which retries once with a new port if a race took it anyway)."""
    import socket
    while True:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


_PORT_RACE = ('address already in use', 'EADDRINUSE', 'errno: 98')


def run_command(cmd, env=None, cwd=REPO, timeout=900, port_env=None):
    """Run a command (a tool, a launcher) with the offline environment; assert it succeeds, showing the tail of its
    stdout and stderr otherwise. With ``port_env`` (e.g. ``'PORT'``), a fresh :func:`free_port` is put there and the
    run is retried once if another process took the port first. Timeouts are generous: a loaded 2-core machine."""
    import subprocess
    import sys
    base = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONUNBUFFERED='1',
                PATH=osp.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    base.update(env or {})
    for attempt in range(2):
        if port_env:
            base[port_env] = str(free_port())
        proc = subprocess.run(cmd, cwd=cwd, env=base, capture_output=True, text=True, timeout=timeout)
        if proc.returncode == 0:
            return proc.stdout + proc.stderr
        if not (port_env and attempt == 0 and any(m in proc.stderr for m in _PORT_RACE)):
            break
    raise AssertionError(f'{" ".join(map(str, cmd))} exited with {proc.returncode}\n--- stdout (tail)\n'
                         f'{proc.stdout[-3000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}')


@contextlib.contextmanager
def gloo_group(rank: int, port: int, world: int):
    """Inside a worker of :func:`spawn_with_port`: a gloo process group of ``world`` ranks on ``port`` (one intra-op
    thread per rank), destroyed on exit."""
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        yield
    finally:
        dist.destroy_process_group()


def spawn_with_port(worker, nprocs, args=(), start_method='spawn'):
    """``torch.multiprocessing.start_processes(worker, (port, *args), nprocs)`` with a :func:`free_port`, retried
    once with a new port if another process took it first (the worker is called as ``worker(rank, port, *args)``)."""
    import torch.multiprocessing as mp
    for attempt in range(2):
        try:
            return mp.start_processes(worker, args=(free_port(), ) + tuple(args), nprocs=nprocs,
                                      start_method=start_method)
        except mp.ProcessRaisedException as err:
            if attempt or not any(m in str(err) for m in _PORT_RACE):
                raise


@contextlib.contextmanager
def _restored_global_state(paths=()):
    """Undo what a Runner changes process-wide: deterministic-algorithm mode, thread count, RNG states, the working
    directory, sys.path additions."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads, cwd, rng, np_rng, path = torch.get_num_threads(), os.getcwd(), torch.get_rng_state(), \
        np.random.get_state(), list(sys.path)
    sys.path[:0] = [str(p) for p in paths]
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)
        os.chdir(cwd)
        torch.set_rng_state(rng)
        np.random.set_state(np_rng)
        sys.path[:] = path


def run_tool(name, argv, paths=(), threads=None):
    """``tools/<name>.py``'s ``main(argv)`` in this process: the same code path as the command line without the
    ~8 s a new Python process spends importing torch, mmengine and mmpretrain (most of a tiny run). Use a
    subprocess (:func:`run_command`) where the process boundary is the point (launchers, kills, other scripts).
    ``paths`` go on ``sys.path`` for the call (modules a config's ``custom_imports`` names). Returns main's result
    (the metrics for ``test``, the Runner for ``train``). ``threads``: torch's intra-op threads for the call (1 to
    match launched processes, which run with OMP_NUM_THREADS=1)."""
    with _restored_global_state(paths):
        if threads:
            torch.set_num_threads(threads)
        return load_tool(name).main([str(a) for a in argv])


#: the digits CLIP of the test session: configs/clip/clip_tiny_digits.py shortened to 10 of its 40 epochs, seed 0
DIGITS_EPOCHS = 10
DIGITS_SHORT_TRAIN = [f'train_cfg.max_epochs={DIGITS_EPOCHS}', f'train_cfg.val_interval={DIGITS_EPOCHS}',
                      f'param_scheduler.1.end={DIGITS_EPOCHS}', f'default_hooks.checkpoint.interval={DIGITS_EPOCHS}',
                      'randomness.seed=0']


@pytest.fixture(scope='session')
def digits_clip(tmp_path_factory):
    """The tiny CLIP trained on digits 0-4 once per test session (tools/train.py) and exported
    (tools/export_clip_weights.py): ``dict(root, cache, weights)``; the digits demo and CLIPN tests share it."""
    root = tmp_path_factory.mktemp('digits_clip')
    cache, train_dir = str(root / 'cache'), str(root / 'train')
    run_tool('train', [config_path('clip_tiny_digits'), '--work-dir', train_dir, '--cache-dir', cache,
                       '--cfg-options'] + DIGITS_SHORT_TRAIN)
    weights = str(root / 'clip_tiny_digits.pth')
    load_tool('export_clip_weights').main([train_dir, weights])  # a work dir: its last_checkpoint
    return dict(root=root, cache=cache, weights=weights)


@pytest.fixture(scope='session')
def benchmark_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bench'))
    cfg = make_benchmark(root)
    return root, cfg


@pytest.fixture(scope='session')
def corpus_dir(tmp_path_factory):
    return make_corpus(str(tmp_path_factory.mktemp('corpus')))


def load_tool(name):
    """Import ``tools/<name>.py`` as a module (the tools are scripts, not a package; the tools folder goes on
    ``sys.path`` as when they run as scripts)."""
    import sys
    tools = osp.join(REPO, 'tools')
    if tools not in sys.path:
        sys.path.insert(0, tools)
    module_name = 'tool_' + name.replace('/', '_')  # e.g. 'model_converters/clipn_to_mmood'
    spec = importlib.util.spec_from_file_location(module_name, osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def single_thread():
    """Tiny tensors: one intra-op thread (2 threads on a busy 2-core machine are ~15x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
