"""TOE's real/virtual x image/text study on generated images and the tiny tower: the shipped ImageNet-10 config of
each cell (backbone, data and schedule made small) trains through tools/train.py and tests through tools/test.py;
the real/image cell reads its auxiliary images' cached features, the virtual cells draw Gaussian virtual outliers;
tools/analysis_tools/study_table.py prints the table whose entries are the runs' own metrics. The virtual outliers are
the lowest-density draws of the fitted Gaussians."""
import glob
import io
import os.path as osp
import re

import pytest
import torch
from conftest import REPO, make_benchmark, run_results, run_tool, tiny_backbone, tiny_pipeline, tiny_weights, \
    write_images

from mmood.apis import study_table
from mmood.models.losses import gaussian_virtual_outliers

CLASSES = ['zero', 'one', 'two']
CELLS = dict(real_image='toe_study_real_image_dtd_in10', real_text='toe_study_real_text_dtd_in10',
             virtual_image='toe_study_virtual_image_in10', virtual_text='toe_study_virtual_text_in10')


def test_gaussian_virtual_outliers_are_the_lowest_density_draws():
    queues = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = gaussian_virtual_outliers(queues, 50, 2, 1e-4, torch.Generator().manual_seed(1))
    # the same draws by hand: class means, shared covariance of the centred queues, all 50 draws, density ranking
    means = queues.mean(1)
    centred = (queues - means[:, None]).reshape(-1, 4)
    cov = centred.T @ centred / 18 + 1e-4 * torch.eye(4, dtype=torch.float64)
    eps = torch.randn((3, 50, 4), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    draws = means[:, None] + eps @ torch.linalg.cholesky(cov).T
    for c in range(3):
        density = torch.distributions.MultivariateNormal(means[c], cov).log_prob(draws[c])
        expected = draws[c][density.argsort()[:2]]
        torch.testing.assert_close(out[2 * c:2 * c + 2], expected)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toe_study'))
    bench = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    for c, name in enumerate(CLASSES):
        write_images(osp.join(root, 'train', name), 6, seed=20 + c, kind='stripes')
    write_images(osp.join(root, 'aux', 'nested'), 10, seed=30, kind='noise')
    with open(osp.join(root, 'aux_names.txt'), 'w') as f:
        f.write('\n'.join(f'thing{i}' for i in range(40)) + '\n')
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    train = dict(_delete_=True, type='CustomDataset', data_root=osp.join(root, 'train'), pipeline=tiny_pipeline())
    aux = dict(_delete_=True, type='CustomDataset', data_root=osp.join(root, 'aux'), with_label=False,
               pipeline=tiny_pipeline())
    cache, runs = osp.join(root, 'cache'), {}
    for cell, name in CELLS.items():
        extra = dict(real_image=f'aux_images={aux!r}',
                     real_text=f'outliers=dict(source={osp.join(root, "aux_names.txt")!r})',
                     virtual_image='queue_size=2, num_samples=50, start_epoch=1',
                     virtual_text='num_samples=50, start_epoch=1')[cell]
        config = osp.join(root, f'{name}.py')
        with open(config, 'w') as f:
            f.write(f'''_base_ = ['{REPO}/configs/toe/{name}.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names={CLASSES!r},
             id_batch_size=6, {extra})
train_dataloader = dict(batch_size=6, num_workers=0, dataset={train!r})
id_train_dataloader = dict(batch_size=6, num_workers=0, dataset={train!r})
test_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_delete_=True, **{bench!r}))
train_cfg = dict(epochs=3, extraction=dict(batch_size=8))
default_hooks = dict(logger=dict(interval=1))
''')
        work, test = osp.join(root, 'work', name), osp.join(root, 'test', name)
        run_tool('train', [config, '--work-dir', work, '--cache-dir', cache], threads=1)
        (checkpoint, ) = glob.glob(osp.join(work, 'iter_*.pth'))
        run_tool('test', [config, checkpoint, '--work-dir', test, '--cache-dir', cache], threads=1)
        with open(glob.glob(osp.join(work, '2*', '2*.log'))[-1]) as f:
            log = f.read()
        runs[cell] = dict(checkpoint=checkpoint, log=log, metrics=run_results(test)[0])
    return dict(root=root, runs=runs)


def test_each_cell_trains_as_specified(study):
    runs = study['runs']
    # real/image: 18 ID images / 6 and 10 auxiliary images / 32 -> min(3, 1) = 1 iteration per epoch
    assert osp.basename(runs['real_image']['checkpoint']) == 'iter_3.pth'
    assert '10 auxiliary images' in runs['real_image']['log'] and 'loss_oe' in runs['real_image']['log']
    # real/text: 40 names -> 2 batches of 32 per epoch; virtual: 3 ID batches per epoch
    assert osp.basename(runs['real_text']['checkpoint']) == 'iter_6.pth'
    for cell in ('virtual_image', 'virtual_text'):
        assert osp.basename(runs[cell]['checkpoint']) == 'iter_9.pth'
        virtual = [float(v) for v in re.findall(r'loss_virtual: ([0-9.]+)', runs[cell]['log'])]
        assert len(virtual) == 9 and virtual[:3] == [0.0] * 3 and all(v > 0 for v in virtual[3:]), virtual
    for run in runs.values():
        assert 0.0 <= run['metrics']['mean/AUROC'] <= 100.0
    # the virtual/image cell's queues are saved with the head (a resumed run continues them)
    state = torch.load(runs['virtual_image']['checkpoint'], map_location='cpu', weights_only=False)['state_dict']
    assert state['queue'].shape == (3, 2, 32) and state['queue_count'].tolist() == [2, 2, 2]


def test_study_table_equals_the_runs(study):
    buffer = io.StringIO()
    tables = study_table([osp.join(study['root'], 'test')], out=buffer)
    (rows, ) = tables.values()
    assert len(rows) == 4 and {r['id_set'] for r in rows} == {'ImageNet-10'}
    by_cell = {r['cell']: r for r in rows}
    for cell, run in study['runs'].items():
        row = by_cell[cell.replace('_', ' x ')]
        assert row['auroc'] == run['metrics']['mean/AUROC']
        assert row['fpr95'] == run['metrics']['mean/FPR95_id_closest']
        line = f'{row["fpr95"]:.2f} / {row["auroc"]:.2f}'
        assert line in buffer.getvalue()
    text = buffer.getvalue()
    assert '| ID | cell | Textures (DTD) | none (virtual) |' in text
    assert '| ImageNet-10 | virtual x text | ' in text


def test_verify_data_checks_the_auxiliary_images(tmp_path):
    """tools/verify_data.py checks the real/image cell's auxiliary images (the model's declared image inputs) besides
    the loaders: a missing Textures folder is named; with its images present the auxiliary set is counted."""
    from mmood.apis import verify_data
    config = osp.join(REPO, 'configs', 'toe', 'toe_study_real_image_dtd_in10.py')
    out = io.StringIO()
    root = str(tmp_path / 'data')
    opts = {'model.aux_images.benchmark_root': root}
    assert verify_data(config, cfg_options=opts, decode=False, out=out) == 1
    text = out.getvalue()
    assert '== model.aux_images (BenchmarkSetImages)' in text
    aux_line = text.split('== model.aux_images')[1].splitlines()[1]
    assert 'cannot build BenchmarkSetImages' in aux_line and 'ood_data/Textures' in aux_line, aux_line
    write_images(osp.join(root, 'ood_data', 'Textures', 'banded'), 3, seed=0, kind='noise')
    out = io.StringIO()
    verify_data(config, cfg_options=opts, decode=True, out=out)
    aux_line = out.getvalue().split('== model.aux_images')[1].splitlines()[1]
    assert aux_line.split()[:1] == ['model.aux_images'] and aux_line.split()[-2:] == ['3', 'ok'], aux_line
