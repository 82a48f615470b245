"""tools/cache.py clean keeps the unfinished work of running jobs: a run's own folder while its process lives, a
resumable folder while an extraction holds a lock of its namespace; the leftovers of dead runs go."""
import io
import os
import os.path as osp
import subprocess
import sys

from mmood.apis import clean_cache
from mmood.cache import CacheStore, partial_in_use


def test_clean_keeps_what_running_jobs_use(tmp_path):
    store = CacheStore(str(tmp_path))
    mine = store.new_partial_dir('features', 'test-run-20261207_120000')  # this process: alive
    dead_pid = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True,
                              text=True).stdout.strip()
    dead = osp.join(osp.dirname(mine), osp.basename(mine).replace(f'-{os.getpid()}-', f'-{dead_pid}-'))
    os.makedirs(dead)
    resumable = store.partial_dir('features', 'abc123')
    os.makedirs(resumable)
    for folder in (mine, dead, resumable):
        with open(osp.join(folder, 'r0_000000.global.npy'), 'wb') as f:
            f.write(b'x')
    assert 'still running' in partial_in_use(mine) and partial_in_use(dead) is None
    lock = store.lock('features', 'entry1')
    assert lock.acquire(blocking=False)
    try:
        assert 'an extraction holds .lock-entry1' in partial_in_use(resumable)
        out = io.StringIO()
        removed = clean_cache(str(tmp_path), out=out)
        assert [osp.basename(e['path']) for e in removed] == [osp.basename(dead)]
        assert osp.isdir(mine) and osp.isdir(resumable) and not osp.exists(dead)
        assert out.getvalue().count('keeping features/') == 2
    finally:
        lock.release()
    assert partial_in_use(resumable) is None  # no extraction running: a leftover
    clean_cache(str(tmp_path), out=io.StringIO())
    assert not osp.exists(resumable) and osp.isdir(mine)
