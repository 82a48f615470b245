"""10 evaluations of the tiny config in one process (a notebook, a sweep): after the first, resident memory grows by
less than 50 MB and open files by at most 2 -- each Runner's log file and registered instances are released. (A
Runner's garbage left uncollected measured ~10 MB per evaluation: 9 more evaluations put it near 90 MB.)"""
import os
import os.path as osp

from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_weights
from mmengine.logging import MessageHub, MMLogger


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS')) / 1024


def open_files() -> int:
    return len(os.listdir('/proc/self/fd'))


def test_ten_evaluations_in_one_process(tmp_path):
    dataset = make_benchmark(str(tmp_path / 'bench'))
    weights = tiny_weights(str(tmp_path / 'tiny.pt'))
    config = str(tmp_path / 'mcm_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
    test = load_tool('test')

    def args(i):  # one work dir per run: two runs in the same second would share a timestamp folder
        return [config, '--work-dir', str(tmp_path / 'work' / str(i)), '--cache-dir', str(tmp_path / 'cache')]

    first = test.main(args(0))
    memory, files = rss_mb(), open_files()
    loggers, hubs = len(MMLogger._instance_dict), len(MessageHub._instance_dict)
    for i in range(1, 10):
        assert test.main(args(i)) == first  # the same numbers every time
    assert rss_mb() - memory < 50, (memory, rss_mb())
    assert open_files() - files <= 2, os.listdir('/proc/self/fd')
    assert len(MMLogger._instance_dict) <= loggers and len(MessageHub._instance_dict) <= hubs
    for i in range(10):  # every run wrote its results
        (run, ) = [d for d in os.listdir(osp.join(str(tmp_path), 'work', str(i))) if d.startswith('20')]
        assert osp.isfile(osp.join(str(tmp_path), 'work', str(i), run, 'metrics.json'))
