"""An unreadable image through tools/test.py: an error naming it, or -- skip_unreadable=True -- left out of every
metric, counted and listed in metrics.json and the report, and never cached as features."""
import csv
import glob
import json
import os.path as osp

import numpy as np
import pytest
from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_weights
from PIL import Image


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('unreadable'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    good = osp.join(root, 'bench', 'ood_b', 'zz_truncated.jpg')
    Image.fromarray(np.full((48, 48, 3), 90, np.uint8)).save(good, quality=95)
    with open(good, 'rb') as f:
        data = f.read()
    with open(good, 'wb') as f:
        f.write(data[:300])
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    config = osp.join(root, 'mcm_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
    return dict(root=root, config=config, bad=good, cache=osp.join(root, 'cache'))


def test_an_unreadable_image_stops_the_run_naming_it(setup, capsys):
    from mmengine.logging import MMLogger
    before = set(MMLogger._instance_dict)
    with pytest.raises(SystemExit) as err:
        load_tool('test').main([setup['config'], '--work-dir', osp.join(setup['root'], 'w1'), '--cache-dir',
                                setup['cache']])
    assert err.value.code == 2
    # the failed run released its logger: a next run in this process within the same second logs into its own files
    assert set(MMLogger._instance_dict) <= before
    message = capsys.readouterr().err
    assert f'Cannot read image {setup["bad"]} (set "Flat")' in message and 'skip_unreadable=True' in message


def test_skip_unreadable_counts_and_lists_it(setup, capsys):
    work = osp.join(setup['root'], 'w2')
    metrics = load_tool('test').main([setup['config'], '--work-dir', work, '--cache-dir', setup['cache'],
                                      '--save-features', '--cfg-options',
                                      'test_dataloader.dataset.skip_unreadable=True'])
    log_dir = sorted(glob.glob(osp.join(work, '2*')))[-1]
    with open(osp.join(log_dir, 'metrics.json')) as f:
        record = json.load(f)
    assert record['metrics'] == metrics and record['skipped_images']['count'] == 1
    assert record['skipped_images']['images'][0]['path'] == setup['bad']
    assert 'truncated' in record['skipped_images']['images'][0]['reason'].lower()
    with open(osp.join(log_dir, 'per_sample_results.csv')) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 + 4 + 5 and setup['bad'] not in [r['path'] for r in rows]
    with open(osp.join(log_dir, 'report.md')) as f:
        assert '1 unreadable images left out of the metrics' in f.read()
    # the metrics are those of the readable images alone
    from mmood.evaluation import OODMetric
    set_ids = np.array([['TinyID', 'Noise', 'Flat'].index(r['set']) for r in rows])
    direct = OODMetric.calculate(np.array([float(r['ood_score']) for r in rows]), set_ids, ['TinyID', 'Noise', 'Flat'],
                                 ['id', 'far', 'near'], np.array([int(r['label']) for r in rows]),
                                 np.array([int(r['prediction']) for r in rows]))
    assert all(metrics[k] == pytest.approx(v, abs=1e-9) for k, v in direct.items())
    log = open(glob.glob(osp.join(log_dir, '*.log'))[0]).read()
    assert 'features NOT cached' in log
    from mmood.cache import CacheStore
    assert CacheStore(setup['cache']).list_entries('features') == []
