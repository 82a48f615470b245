"""Atomic outputs: a run killed while writing leaves no file that looks finished."""
import os
import subprocess
import sys

import pytest

from mmood.utils import atomic_open


def test_killed_writer_leaves_no_target(tmp_path):
    target = tmp_path / 'per_sample_results.csv'
    io_module = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), 'mmood', 'utils', 'io.py')
    code = f'''
import importlib.util, os, signal
spec = importlib.util.spec_from_file_location('mmood_io', {io_module!r})  # the module alone: no torch import
io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(io)
atomic_open = io.atomic_open
with atomic_open({str(target)!r}, 'w') as f:
    f.write('index,set\\n')
    for i in range(1000):
        f.write(f'{{i}},ID\\n')
        if i == 500:
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
'''
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9
    assert not target.exists()  # only a .tmp- file, which nothing reads as a result
    assert [p.name for p in tmp_path.iterdir()][0].startswith('.tmp-per_sample_results')


def test_error_keeps_the_old_file(tmp_path):
    target = tmp_path / 'metrics.json'
    target.write_text('{"old": 1}')
    with pytest.raises(RuntimeError):
        with atomic_open(str(target)) as f:
            f.write('{"new": ')
            raise RuntimeError('interrupted')
    assert target.read_text() == '{"old": 1}' and os.listdir(tmp_path) == ['metrics.json']
    with atomic_open(str(target)) as f:
        f.write('{"new": 2}')
    assert target.read_text() == '{"new": 2}'
