"""Shared fixtures: offline mode, the tiny open_clip tower, generated ID/OOD image folders, a small corpus."""
import importlib.util
import os
import os.path as osp

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
TINY_NAME = 'mmood-tiny-vit'
TINY_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
)


def tiny_backbone(**kwargs) -> dict:
    return dict(dict(type='OpenCLIPBackbone', model_name=TINY_NAME, pretrained=None, model_cfg=TINY_CFG), **kwargs)


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
    return dict(
        type='OODEvalDataset',
        id_set=dict(name='TinyID', data_root=osp.join(root, 'id')),
        ood_sets=[dict(name='Noise', data_root=osp.join(root, 'ood_a'), group='far'),
                  dict(name='Flat', data_root=osp.join(root, 'ood_b'), group='near')],
        class_names=list(classes),
        pipeline=tiny_pipeline(),
    )


def tiny_pipeline():
    return [
        dict(type='LoadImageFromFile', imdecode_backend='pillow'),
        dict(type='ResizeEdge', scale=32, edge='short', backend='pillow', interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=32),
        dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood')),
    ]


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


@pytest.fixture(scope='session')
def benchmark_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bench'))
    cfg = make_benchmark(root)
    return root, cfg


@pytest.fixture(scope='session')
def corpus_dir(tmp_path_factory):
    return make_corpus(str(tmp_path_factory.mktemp('corpus')))


def load_tool(name):
    """Import ``tools/<name>.py`` as a module (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f'tool_{name}', osp.join(REPO, 'tools', f'{name}.py'))
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
