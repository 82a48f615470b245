"""CLIPN trains through mmengine's Runner on image-caption data read by ImageCaptionDataset: webdataset tar shards as
img2dataset writes them (a sample without caption dropped and counted, a corrupt image replaced by the next sample
and counted, not fatal) and a TSV file. The loss falls, checkpoints hold the no tower, and a run stopped after its
epoch-1 checkpoint and resumed ends with the weights of an uninterrupted run (the prompt draws are keyed by the
training step and the sample, the shuffling by the sampler's seed and epoch)."""
import io
import json
import os.path as osp
import tarfile

import numpy as np
import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from mmood.datasets.digits import DIGIT_WORDS, digits_split, to_image

EPOCHS = 3
CAPTIONS = ('a photo of the digit {}', 'the number {}', 'a handwritten {}')


def digit_samples(n=48):
    from sklearn.datasets import load_digits
    data = load_digits()
    keep = [i for i in digits_split('train') if data.target[i] < 5][:n]
    for j, i in enumerate(keep):
        buf = io.BytesIO()
        Image.fromarray(to_image(data.images[i])).save(buf, format='PNG')
        yield j, buf.getvalue(), CAPTIONS[j % 3].format(DIGIT_WORDS[data.target[i]])


def write_shards(root):
    """Two shards of 24 samples; one more sample without caption and one corrupt PNG (replaced, counted)."""
    samples = list(digit_samples())
    paths = []
    for s in range(2):
        path = osp.join(root, f'gcc-train-{s:05d}.tar')
        with tarfile.open(path, 'w') as tar:
            def add(name, data):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for j, png, caption in samples[24 * s:24 * (s + 1)]:
                add(f'{j:06d}.png', png if j != 30 else png[:40])  # sample 30: a truncated (corrupt) image
                add(f'{j:06d}.txt', caption.encode())
            if s == 0:
                add('000999.png', samples[0][1])  # no caption: dropped when indexed
        paths.append(path)
    return paths


def make_cfg(root, work, weights, dataset, **options):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'clipn', 'clipn_tiny_digits.py'))
    cfg.model.backbone.pretrained = weights
    cfg.model.loss.mask_same_class = False  # image-caption data: no class labels
    cfg.work_dir = osp.join(root, work)
    cfg.train_dataloader.batch_size = 8
    cfg.train_dataloader.dataset = dict(dataset, pipeline=[dict(type='LoadOODImage'),
                                                           dict(type='PackInputs', algorithm_keys=('text', ))])
    cfg.train_cfg.max_epochs = options.pop('max_epochs', EPOCHS)
    cfg.param_scheduler[0].end = EPOCHS
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'), dict(type='OODResultsHook')]
    cfg.merge_from_dict(options)
    cfg.launcher = 'none'
    return cfg


def train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def losses(work_dir):
    (log, ) = [p for p in sorted(__import__('glob').glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))][-1:]
    with open(log) as f:
        return [json.loads(line)['loss'] for line in f if '"loss"' in line]


def no_tower(work_dir, epoch=EPOCHS):
    state = torch.load(osp.join(work_dir, f'epoch_{epoch}.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert not any(k.startswith('backbone.') for k in state)  # the frozen towers stay out of checkpoints
    return {k: v for k, v in state.items() if k.startswith('no_tower.') or k == 'prompt_step'}


@pytest.fixture(scope='module')
def setup(digits_clip, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clipn_train'))
    shards = write_shards(root)
    dataset = dict(type='ImageCaptionDataset', shards=osp.join(root, 'gcc-train-{00000..00001}.tar'),
                   cache_dir=osp.join(root, 'cache'), progress=False)
    return dict(root=root, shards=shards, dataset=dataset, weights=digits_clip['weights'])


def test_shards_train_count_skips_and_resume_exactly(setup):
    root, weights, dataset = setup['root'], setup['weights'], setup['dataset']
    runner = train(make_cfg(root, 'full', weights, dataset))
    data = runner.train_dataloader.dataset
    assert len(data) == 48 and data.skipped['no_caption'] == 1
    assert data.unreadable >= 1 and any('000030' in str(s) for s in data.unreadable_samples)
    values = losses(osp.join(root, 'full'))
    assert len(values) == EPOCHS * 6
    assert np.mean(values[-3:]) < np.mean(values[:3]) - 0.05, values  # the loss falls (1.69 at the start)
    full = no_tower(osp.join(root, 'full'))
    assert int(full['prompt_step']) == EPOCHS * 6 and full['no_tower.prompt_no'].abs().max() > 0

    train(make_cfg(root, 'resumed', weights, dataset, max_epochs=1))  # stopped after its epoch-1 checkpoint
    train(make_cfg(root, 'resumed', weights, dataset, resume=True))
    resumed = no_tower(osp.join(root, 'resumed'))
    for key, value in full.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-6, atol=1e-7, msg=key)


def test_a_tsv_trains_too(setup):
    root = setup['root']
    lines = []
    for j, png, caption in digit_samples(24):
        path = osp.join(root, 'tsv_images', f'{j}.png')
        __import__('os').makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(png)
        lines.append(f'{j}.png\t{caption}')
    with open(osp.join(root, 'pairs.tsv'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    dataset = dict(type='ImageCaptionDataset', tsv=osp.join(root, 'pairs.tsv'), data_root=osp.join(root, 'tsv_images'))
    train(make_cfg(root, 'tsv', setup['weights'], dataset, max_epochs=2))
    values = losses(osp.join(root, 'tsv'))
    assert len(values) == 2 * 3 and values[-1] < values[0] - 0.05, values
