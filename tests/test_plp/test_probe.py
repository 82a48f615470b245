"""PLP's probe classifier: PLP's lr schedule (N9: T = 20, two warm-up steps; an ID local to this module), the loss on
a toy problem, and checkpoints that hold the probe only. The probe head itself (z-scoring, the zero-variance guard):
tests/test_models/test_plp_head.py."""
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import get_state_dict, load_state_dict
from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

from mmood.engine import warmup_cosine_schedule
from mmood.models.heads import zscore_statistics

N9 = [0, 1e-3, 1e-3, 9.92404e-4, 9.69846e-4, 9.33013e-4, 8.83022e-4, 8.21394e-4, 7.5e-4, 6.71010e-4, 5.86824e-4,
      5e-4, 4.13176e-4, 3.28990e-4, 2.5e-4, 1.78606e-4, 1.16978e-4, 6.6987e-5, 3.0154e-5, 7.59612e-6]


pytestmark = pytest.mark.usefixtures('single_thread')


def test_schedule_n9_exactly():
    np.testing.assert_allclose(warmup_cosine_schedule(20, 1e-3), N9, rtol=2e-5, atol=1e-12)
    assert warmup_cosine_schedule(20, 1e-3)[0] == 0.0
    ref = warmup_cosine_schedule(15700, 1e-3)  # ImageNet: 1,570 warm-up steps, then cosine
    assert ref[1569] == 1e-3 and ref[1570] == 1e-3 and ref[1568] < 1e-3 and 0 < ref[-1] < 1e-9
    # the registered scheduler gives the same lr at every iteration of a run (stepped as mmengine does)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1e-3, weight_decay=1e-3)
    sched = PARAM_SCHEDULERS.build(dict(type='WarmupCosineLR', warmup_ratio=0.1, begin=0, end=20, by_epoch=False),
                                   default_args=dict(optimizer=opt))
    used = []
    for _ in range(20):
        used.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    np.testing.assert_allclose(used, N9, rtol=2e-5, atol=1e-12)
    assert used[0] == 0.0 and used[1] == used[2] == 1e-3 and all(a >= b for a, b in zip(used[2:], used[3:]))
    with pytest.raises(ValueError, match='end'):
        PARAM_SCHEDULERS.build(dict(type='WarmupCosineLR'), default_args=dict(optimizer=opt))


def toy_problem(n=60, d=8, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(c, d, generator=g) * 3 + 5  # offset and scale: z-scoring matters
    labels = torch.arange(n) % c
    return means[labels] + torch.randn(n, d, generator=g), labels


def test_loss_and_training_on_a_toy_problem():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(), class_names=['a', 'b', 'c'],
                              head=dict(type='LinearProbeHead', feature='pre_proj')))
    x, y = toy_problem(d=64)
    model.head.set_statistics(*zscore_statistics(x))
    out = model(x, y, mode='loss')
    z = (x - x.mean(0)) / x.std(0)
    expected = F.cross_entropy(model.head.fc(z), y)
    assert out['loss'].item() == pytest.approx(expected.item(), rel=1e-5)
    # data samples may be DataSamples too (image-style batches)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(int(v)) for v in y]
    assert model(x, samples, mode='loss')['loss'].item() == pytest.approx(expected.item(), rel=1e-5)
    params = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in params} == {id(model.head.fc.weight), id(model.head.fc.bias)}
    opt = torch.optim.Adam(params, lr=1e-2, weight_decay=1e-3)
    sched = PARAM_SCHEDULERS.build(dict(type='WarmupCosineLR', end=100, by_epoch=False),
                                   default_args=dict(optimizer=opt))
    first = None
    for _ in range(100):
        loss = model(x, y, mode='loss')
        first = first if first is not None else loss['loss'].item()
        opt.zero_grad()
        loss['loss'].backward()
        opt.step()
        sched.step()
    assert loss['loss'].item() < 0.2 * first and loss['label_acc'].item() == 1.0


def test_checkpoint_holds_the_probe_only(caplog):
    torch.manual_seed(0)
    cfg = dict(type='LinearProbeClassifier', backbone=tiny_backbone(), class_names=['a', 'b', 'c'])
    model = MODELS.build(cfg)
    model.head.set_statistics(torch.arange(64.), torch.ones(64) * 2)
    state = get_state_dict(model)
    assert set(state) == {'class_counts', 'head.mean', 'head.std', 'head.stats_ready', 'head.fc.weight',
                          'head.fc.bias'}
    assert set(model.state_dict()) == set(state)
    other = MODELS.build(cfg)
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        load_state_dict(other, state, logger=logger)
    finally:
        logger.removeHandler(handler)
    assert not any('missing keys' in r.getMessage() for r in records)
    assert torch.equal(other.head.mean, model.head.mean) and bool(other.head.stats_ready)
    assert torch.equal(other.head.fc.weight, model.head.fc.weight)
    with pytest.raises(ValueError, match='frozen'):
        MODELS.build(dict(cfg, backbone=tiny_backbone(frozen=False)))


def test_checkpoint_written_before_the_head_family_still_loads(tmp_path):
    """A probe checkpoint in the layout of the single-score LinearProbeHead (what tools/train.py wrote before the
    detector family: class_counts + head.{mean, std, stats_ready, fc.weight, fc.bias}) loads strictly and scores
    with the same probe: energy as the primary score, MSP beside it."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(), class_names=['a', 'b', 'c']))
    width = model.feature_dim
    old = {'class_counts': torch.tensor([5, 0, 3]), 'head.mean': torch.linspace(-1, 1, width),
           'head.std': torch.linspace(0.5, 2, width), 'head.stats_ready': torch.tensor(True),
           'head.fc.weight': torch.randn(3, width), 'head.fc.bias': torch.tensor([0.1, -0.2, 0.3])}
    path = str(tmp_path / 'iter_100.pth')
    torch.save(dict(meta=dict(iter=100), state_dict=old), path)
    result = model.load_state_dict(torch.load(path, weights_only=True)['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(4, width)
    logits = (x - old['head.mean']) / old['head.std'] @ old['head.fc.weight'].T + old['head.fc.bias']
    with torch.no_grad():
        got_logits, scores = model.scores_from_features({'pre_proj': x})
    torch.testing.assert_close(got_logits, logits)
    assert list(scores) == ['plp_energy', 'plp_msp'] and model.primary_score == 'plp_energy'
    torch.testing.assert_close(scores['plp_energy'], torch.logsumexp(logits, 1))
    torch.testing.assert_close(scores['plp_msp'], torch.softmax(logits, 1).amax(1))
    assert model.class_counts.tolist() == [5, 0, 3]


def test_is_feature_batch_tells_cached_features_from_images():
    """(B, D) rows, (B, P, D) local features and dicts are cached features; only (B, C, H, W) is a batch of images
    (the data preprocessor must not normalise cached local features as if they were pixels)."""
    from mmood.models.classifiers.plp import FeatureClsDataPreprocessor, is_feature_batch
    assert is_feature_batch(torch.zeros(4, 8)) and is_feature_batch(torch.zeros(4, 16, 8))
    assert is_feature_batch({'local': torch.zeros(4, 16, 8)}) and not is_feature_batch(torch.zeros(2, 3, 8, 8))
    pre = FeatureClsDataPreprocessor(mean=[1., 2., 3.], std=[2., 2., 2.], to_rgb=True)
    local = torch.randn(2, 16, 8)
    assert torch.equal(pre(dict(inputs=local, data_samples=None))['inputs'], local)  # moved, never normalised
    images = pre(dict(inputs=[torch.full((3, 2, 2), 5, dtype=torch.uint8)] * 2, data_samples=None))['inputs']
    assert images.shape == (2, 3, 2, 2) and torch.allclose(images[0, 0], torch.full((2, 2), 2.0))  # (5 - 1) / 2
