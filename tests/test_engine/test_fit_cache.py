"""Fitted statistics are computed once and cached: every head fitted on ID-train features (KNN, Mahalanobis, ReAct,
DICE, ViM, SHE, NNGuide, fDBD, KL-Matching) of a tiny config through tools/test.py is fitted by the first run and
loaded from the cache by the next ones (test runs and tools/score.py alike), with the same metrics bit for bit; a
changed head option or changed prompts fit again under a new key."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, make_benchmark, run_tool, tiny_backbone, tiny_pipeline, tiny_weights
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.engine.fitting import FIT_NAMESPACE, pack_fit_state, unpack_fit_state
from mmood.models.heads import HeadContext

FITTED = [dict(type='KNNHead', k=2), dict(type='MahalanobisHead'), dict(type='ReActHead'), dict(type='DICEHead'),
          dict(type='ViMHead', dim=8), dict(type='SHEHead'), dict(type='NNGuideHead', k=2, bank_size=4),
          dict(type='FDBDHead'), dict(type='KLMatchingHead', logit_scale=None)]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('fit_cache'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    id_train = dict(type='CustomDataset', data_root=osp.join(root, 'bench', 'id'), pipeline=tiny_pipeline())

    def config(name, heads=FITTED, templates='mcm'):
        body = f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             templates={templates!r}, extra_heads={heads!r})
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
id_train_dataloader = dict(batch_size=4, num_workers=0, dataset={id_train!r})
'''
        path = osp.join(root, f'{name}.py')
        with open(path, 'w') as f:
            f.write(body)
        return path

    react80 = [dict(h, percentile=80.0) if h['type'] == 'ReActHead' else h for h in FITTED]
    return dict(root=root, cache=osp.join(root, 'cache'), config=config('fitted'),
                react80=config('fitted_react80', heads=react80),
                prompts=config('fitted_prompts', templates=['a blurry photo of a {}.']))


def _test_run(setup, config, name, *extra):
    work = osp.join(setup['root'], name)
    metrics = run_tool('test', [config, '--work-dir', work, '--cache-dir', setup['cache'], *extra])
    return metrics, _log(work)


def _log(work):
    logs = sorted(glob.glob(osp.join(work, '**', '*.log'), recursive=True))
    with open(logs[-1]) as f:
        return f.read()


def _fits(setup):
    return {e['key']: e for e in CacheStore(setup['cache']).list_entries(FIT_NAMESPACE) if e['status'] == 'ok'}


def test_fitted_statistics_are_cached_and_reused(setup):
    first, log = _test_run(setup, setup['config'], 'first')
    fits = _fits(setup)
    assert sorted(e['meta']['head'] for e in fits.values()) == sorted(h['type'] for h in FITTED)
    assert log.count('cached as ') == len(FITTED) and 'loaded fitted statistics' not in log
    # the second run loads every fitted head from the cache and scores exactly as the first
    second, log = _test_run(setup, setup['config'], 'second', '--save-features')
    assert log.count('loaded fitted statistics') == len(FITTED) and 'cached as ' not in log
    assert second == first
    assert _fits(setup).keys() == fits.keys()
    # tools/score.py shares the mechanism: the same fits, the same metrics
    result = run_tool('score', [setup['config'], '--cache-dir', setup['cache'], '--work-dir',
                                osp.join(setup['root'], 'score'), '--methods', 'config', '--no-plots'])
    with open(osp.join(result['log_dir'], 'score.log')) as f:
        assert f.read().count('loaded fitted statistics') == len(FITTED)
    assert result['metrics'] == first
    assert _fits(setup).keys() == fits.keys()
    # a changed head option fits that head again (a new entry); the other heads still load
    _, log = _test_run(setup, setup['react80'], 'react80')
    new = {k: e for k, e in _fits(setup).items() if k not in fits}
    assert [e['meta']['head'] for e in new.values()] == ['ReActHead']
    assert log.count('loaded fitted statistics') == len(FITTED) - 1
    assert next(iter(new.values()))['meta']['key_parts']['head']['options']['percentile'] == 80.0
    # other prompts change the ID prototypes every fit reads: every head fits again
    before = _fits(setup)
    _, log = _test_run(setup, setup['prompts'], 'prompts')
    assert len(_fits(setup)) == len(before) + len(FITTED) and 'loaded fitted statistics' not in log


def test_loaded_state_scores_exactly_as_the_fit():
    """The state round trip (through the arrays the cache stores) is exact for every fitted head, and the fit
    identity follows the options that change the fit, not those that only change the score."""
    torch.manual_seed(0)
    proj = torch.randn(24, 16)
    ctx = HeadContext(id_text=F.normalize(torch.randn(5, 16), dim=1), logit_scale=50.0, extra=dict(projection=proj))
    pre = torch.randn(120, 24)
    train = {'pre_proj': pre, 'global': F.normalize(pre @ proj, dim=1)}
    query = {'pre_proj': torch.randn(30, 24)}
    query['global'] = F.normalize(query['pre_proj'] @ proj, dim=1)
    labels = torch.randint(0, 5, (120, ))
    for cfg in FITTED:
        fitted = MODELS.build(cfg).prepare(ctx).fit(train, labels)
        arrays, layout = pack_fit_state(fitted.fit_state())
        loaded = MODELS.build(cfg).prepare(ctx).load_fit_state(unpack_fit_state(arrays, layout))
        assert loaded.fitted
        expected, got = fitted(query), loaded(query)
        assert all(torch.equal(expected[k], got[k]) for k in expected), cfg['type']
    react = MODELS.build(dict(type='ReActHead')).prepare(ctx)
    assert MODELS.build(dict(type='ReActHead', percentile=80.0)).prepare(ctx).fit_identity() != react.fit_identity()
    assert MODELS.build(dict(type='ReActHead', prefix='x_')).prepare(ctx).fit_identity() == react.fit_identity()
    dice = MODELS.build(dict(type='DICEHead')).prepare(ctx)
    assert MODELS.build(dict(type='DICEHead', percentile=70.0)).prepare(ctx).fit_identity() == dice.fit_identity()
    # every registered fitted head declares its state (the cached fit restores it)
    from mmood.models.heads import BaseOODHead
    fitted_classes = {name for name, cls in MODELS.module_dict.items()
                      if isinstance(cls, type) and issubclass(cls, BaseOODHead) and cls.requires_fit}
    assert {h['type'] for h in FITTED} <= fitted_classes
    assert all(MODELS.module_dict[name].fit_state_names for name in fitted_classes), fitted_classes
    other = HeadContext(id_text=F.normalize(torch.randn(5, 16), dim=1), logit_scale=50.0, extra=dict(projection=proj))
    assert MODELS.build(dict(type='ReActHead')).prepare(other).fit_identity() != react.fit_identity()
