"""PLP end to end on the tiny tower: extract once, delete the images, train with tools/train.py, test with
tools/test.py and the checkpoint, re-score with tools/score.py -- no image is read after the extraction."""
import glob
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, run_tool, tiny_backbone, tiny_pipeline, tiny_weights, write_images
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmood.evaluation import metrics_of

CLASSES = ['zero', 'one', 'two']
MAX_ITERS = 30


def run(tool, argv, work):
    """tools/<tool>.py in this process; returns the text of the run's log file."""
    run_tool(tool, argv + ['--work-dir', work])
    with open(sorted(glob.glob(osp.join(work, '2*', '2*.log')))[-1]) as f:
        return f.read()


@pytest.fixture(scope='module')
def plp(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors on a busy 2-core machine
    try:
        yield build_run(str(tmp_path_factory.mktemp('plp')))
    finally:
        torch.set_num_threads(threads)


def build_run(root):
    """Extract, delete the images, train and test (tools in this process)."""
    bench = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    for c, name in enumerate(CLASSES):
        write_images(osp.join(root, 'train', name), 6, seed=20 + c, kind='stripes')
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    train = dict(type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    config = osp.join(root, 'plp_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/plp/plp_vitb16_in1k.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names={CLASSES!r})
train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
id_train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{train!r}))
val_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
test_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(max_iters={MAX_ITERS}, val_interval={MAX_ITERS // 2}, extraction=dict(batch_size=8))
param_scheduler = dict(end={MAX_ITERS})
default_hooks = dict(checkpoint=dict(interval={MAX_ITERS}), logger=dict(interval=10))
''')
    cache, work = osp.join(root, 'cache'), osp.join(root, 'work')
    report = load_tool('extract_features').main([config, '--cache-dir', cache, '--splits', 'id_train', 'id_test',
                                                 'ood', '--kinds', 'pre_proj', 'global', '--no-progress'])
    assert [r['status'] for r in report] == ['extracted'] * 8  # 4 sets x 2 kinds
    for folder in ('bench', 'train'):  # from here on, nothing may read an image
        shutil.rmtree(osp.join(root, folder))
    out = run('train', [config, '--cache-dir', cache], work)
    assert 'Extracting' not in out and 'pseudo-labels of 18 images' in out
    checkpoint = osp.join(work, f'iter_{MAX_ITERS}.pth')
    assert osp.isfile(checkpoint)
    test_work = osp.join(root, 'test')
    out = run('test', [config, checkpoint, '--cache-dir', cache], test_work)
    log_dir = sorted(glob.glob(osp.join(test_work, '2*')))[-1]
    with open(osp.join(log_dir, 'metrics.json')) as f:
        metrics = json.load(f)['metrics']
    return dict(root=root, config=config, cache=cache, work=work, checkpoint=checkpoint, log_dir=log_dir,
                metrics=metrics, test_out=out)


def trained_model(plp):
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(plp['config'])
    model = MODELS.build(dict(cfg.model.to_dict(), cache_dir=plp['cache']))
    load_checkpoint(model, plp['checkpoint'], map_location='cpu')
    return model.eval(), cfg


def test_training_without_images_and_checkpoint_contents(plp):
    ckpt = torch.load(plp['checkpoint'], map_location='cpu', weights_only=False)
    keys = set(ckpt['state_dict'])
    assert keys == {'class_counts', 'head.mean', 'head.std', 'head.stats_ready', 'head.fc.weight', 'head.fc.bias'}
    assert int(ckpt['state_dict']['class_counts'].sum()) == 18
    with open(glob.glob(osp.join(plp['work'], '2*', 'pseudo_labels.json'))[0]) as f:
        summary = json.load(f)
    assert summary['num_samples'] == 18 and sum(summary['counts']) == 18
    assert len(summary['unlabelled_classes']) == summary['counts'].count(0)
    # the warm-up starts from exactly 0 and the validation ran on the true labels of the ID test set
    log = open(glob.glob(osp.join(plp['work'], '2*', '2*.log'))[0]).read()
    assert 'accuracy/top1' in log


def test_tools_test_matches_direct_computation(plp):
    from mmood.cache import CacheStore
    from mmood.features import CachedFeatureDataset
    from mmood.features import model_identity
    model, cfg = trained_model(plp)
    plain = {f'{s}/{k}' for s in ('Noise', 'Flat', 'near', 'far', 'mean')
             for k in ('AUROC', 'FPR95_id_closest', 'AUPR_IN', 'AUPR_OUT')}
    # the probe's energy (primary) and MSP, each under its name; the primary also under the plain keys
    assert set(plp['metrics']) == plain | {'ID/accuracy'} | {f'{n}/{k}' for n in ('plp_energy', 'plp_msp')
                                                             for k in plain}
    view = CachedFeatureDataset(cfg.test_dataloader.dataset.to_dict(), model_identity(model),
                                CacheStore(plp['cache']).root, kinds=('pre_proj', ))
    batch = view.__getitems__(list(range(len(view))))
    with torch.no_grad():
        logits, scores = model.scores_from_features({'pre_proj': batch['inputs']})
    rows = list(__import__('csv').DictReader(open(osp.join(plp['log_dir'], 'per_sample_results.csv'))))
    assert len(rows) == len(view) == 18
    assert list(scores) == ['plp_energy', 'plp_msp']
    np.testing.assert_allclose([float(r['ood_score']) for r in rows], scores['plp_energy'].numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose([float(r['score_plp_msp']) for r in rows], scores['plp_msp'].numpy(), rtol=1e-5,
                               atol=1e-6)
    energy = torch.logsumexp(logits, dim=1)
    np.testing.assert_allclose(scores['plp_energy'].numpy(), energy.numpy(), rtol=1e-6)
    np.testing.assert_allclose(scores['plp_msp'].numpy(), torch.softmax(logits, 1).amax(1).numpy(), rtol=1e-6)
    labels = view.labels[view.set_ids == 0]
    preds = logits.argmax(1).numpy()[view.set_ids == 0]
    assert plp['metrics']['ID/accuracy'] == pytest.approx(100.0 * np.mean(preds == labels))
    assert 'pseudo-labels of 18 images' in plp['test_out']  # what the probe was trained on, logged at test time


def test_score_py_reports_plp_methods_in_one_table(plp, capsys):
    score = load_tool('score')
    methods = ['config', 'pseudo_msp', 'mcm', 'plp_knn', 'plp_mahalanobis', 'plp_logit_mahalanobis']
    result = score.main([plp['config'], plp['checkpoint'], '--cache-dir', plp['cache'], '--work-dir', plp['work'],
                         '--methods', *methods, '--method-options', 'mcm.templates=plp5', '--no-plots'])
    printed = capsys.readouterr().out
    added = ['pseudo_mcm', 'mcm', 'plp_knn', 'plp_mahalanobis', 'plp_logit_mahalanobis']
    for name in added:
        assert f'{name}: mean AUROC' in printed
        assert all(np.isfinite(v) for v in metrics_of(result['metrics'], name).values())
    scores = result['table'].scores
    np.testing.assert_array_equal(scores['pseudo_mcm'], scores['mcm'])  # PLP's pseudo-MSP: MCM on its 5 prompts
    for key, value in plp['metrics'].items():  # re-scoring the cached features reproduces the test run
        assert result['metrics'][key] == pytest.approx(value, abs=1e-9), key
    # the probe's logit scores as methods (the config's probe scores them): the same numbers as the config's
    alone = score.main([plp['config'], plp['checkpoint'], '--cache-dir', plp['cache'], '--work-dir', plp['work'],
                        '--methods', 'plp_energy', 'plp_msp', '--no-plots'])
    np.testing.assert_array_equal(alone['table'].scores['plp_energy'], scores['plp_energy'])
    np.testing.assert_array_equal(alone['table'].scores['plp_msp'], scores['plp_msp'])
