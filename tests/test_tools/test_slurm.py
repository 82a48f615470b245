"""tools/slurm_test.sh and tools/slurm_train.sh: MMPretrain's srun command line, checked through stand-ins for
``srun`` and ``scontrol`` on PATH. The ``srun`` stand-in records its options, the command and its environment, then
runs the command as the single task of a one-node job, with the SLURM_* variables a real srun sets for it; mmengine's
slurm launcher maps them to RANK / WORLD_SIZE / LOCAL_RANK and asks ``scontrol`` for the master's address."""
import json
import os
import os.path as osp
import subprocess
import sys

from conftest import REPO, run_command, tiny_weights

SRUN = '''#!{python}
import json, os, sys
args = sys.argv[1:]
i = 0
while i < len(args) and args[i].startswith('-'):  # srun's options, then the command
    i += 2 if args[i] in ('-p', '-J', '-n', '-N', '-c', '-w', '-t') else 1
options, command = args[:i], args[i:]
with open({record!r}, 'w') as f:
    json.dump(dict(options=options, command=command, env=dict(os.environ)), f)
if os.environ.get('SRUN_STANDIN_DRY'):
    sys.exit(0)
if '--ntasks=1' not in options:
    sys.exit('the srun stand-in runs one task')
opts = dict(o[2:].split('=', 1) for o in options if o.startswith('--') and '=' in o)
env = dict(os.environ, SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NPROCS='1', SLURM_LOCALID='0', SLURM_NODEID='0',
           SLURM_NNODES='1', SLURM_NODELIST='localhost', SLURM_JOB_NODELIST='localhost', SLURM_STEP_NUM_TASKS='1',
           SLURM_JOB_NAME=opts['job-name'], SLURM_CPUS_PER_TASK=opts['cpus-per-task'],
           SLURM_JOB_PARTITION=options[options.index('-p') + 1])
os.execvpe(command[0], command, env)
'''
SCONTROL = '''#!/bin/sh
echo "$@" >> {record}
echo localhost
'''


def stand_ins(tmp_path):
    """A folder with the ``srun`` and ``scontrol`` stand-ins; returns (PATH, srun record, scontrol record)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    records = str(tmp_path / 'srun.json'), str(tmp_path / 'scontrol.txt')
    (bin_dir / 'srun').write_text(SRUN.format(python=sys.executable, record=records[0]))
    (bin_dir / 'scontrol').write_text(SCONTROL.format(record=records[1]))
    for name in ('srun', 'scontrol'):
        os.chmod(bin_dir / name, 0o755)
    path = os.pathsep.join([str(bin_dir), osp.dirname(sys.executable), os.environ.get('PATH', '')])
    return path, records[0], records[1]


def dry_run(path, record, script, args, **env):
    """Run a launcher with the srun stand-in recording only; returns its record."""
    env = dict(os.environ, PATH=path, SRUN_STANDIN_DRY='1', **env)
    for key in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'):
        if key not in env or env[key] is None:
            env.pop(key, None)
    subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO, env=env, check=True, capture_output=True)
    with open(record) as f:
        return json.load(f)


def test_srun_command_lines(tmp_path):
    path, record, _ = stand_ins(tmp_path)
    test_py, train_py = osp.join(REPO, 'tools', 'test.py'), osp.join(REPO, 'tools', 'train.py')
    # MMPretrain's defaults: 8 GPUs on one node, 5 CPUs per task
    got = dry_run(path, record, 'slurm_test.sh', ['part', 'job', 'cfg.py', 'ckpt.pth', '--work-dir', 'w d'],
                  GPUS=None)
    assert got['options'] == ['-p', 'part', '--job-name=job', '--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8',
                              '--cpus-per-task=5', '--kill-on-bad-exit=1']
    assert got['command'] == ['python', '-u', test_py, 'cfg.py', 'ckpt.pth', '--launcher=slurm', '--work-dir', 'w d']
    assert got['env']['PYTHONPATH'].split(os.pathsep)[0] == osp.join(REPO, 'tools', '..')
    # no checkpoint (zero-shot): "none"; two nodes of 8; extra srun options split into words
    got = dry_run(path, record, 'slurm_test.sh', ['part', 'job', 'cfg.py', '--cfg-options', 'a=1'], GPUS='16',
                  GPUS_PER_NODE='8', CPUS_PER_TASK='2', SRUN_ARGS='--time=60 --quotatype=auto')
    assert got['options'] == ['-p', 'part', '--job-name=job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
                              '--cpus-per-task=2', '--kill-on-bad-exit=1', '--time=60', '--quotatype=auto']
    assert got['command'][3:] == ['cfg.py', 'none', '--launcher=slurm', '--cfg-options', 'a=1']
    # fewer GPUs than a node: one task per GPU, gres of that many
    got = dry_run(path, record, 'slurm_train.sh', ['part', 'train', 'cfg.py', 'work', '--resume'], GPUS='2')
    assert got['options'][2:5] == ['--job-name=train', '--gres=gpu:2', '--ntasks=2']
    assert got['command'] == ['python', '-u', train_py, 'cfg.py', '--work-dir=work', '--launcher=slurm', '--resume']
    got = dry_run(path, record, 'slurm_train.sh', ['part', 'train', 'cfg.py'], GPUS='1')
    assert got['command'] == ['python', '-u', train_py, 'cfg.py', '--launcher=slurm']


def test_slurm_test_runs_on_cpu(tmp_path, monkeypatch):
    """tools/test.py --launcher slurm, one task, gloo on CPU: rank, world size and master from the SLURM_* variables
    (the master's address from scontrol; the port from MASTER_PORT)."""
    path, record, scontrol = stand_ins(tmp_path)
    monkeypatch.delenv('MASTER_ADDR', raising=False)
    weights = tiny_weights(tmp_path / 'tiny.pt')
    work = str(tmp_path / 'work')
    out = run_command(['bash', 'tools/slurm_test.sh', 'cpu', 'mcm-digits', 'configs/mcm/mcm_tiny_digits.py',
                       '--work-dir', work, '--cache-dir', str(tmp_path / 'cache'),
                       '--cfg-options', f'model.backbone.pretrained={weights}'],
                      env=dict(PATH=path, GPUS='1', CPUS_PER_TASK='1', OMP_NUM_THREADS='1'), port_env='MASTER_PORT')
    with open(record) as f:
        got = json.load(f)
    assert got['options'][:5] == ['-p', 'cpu', '--job-name=mcm-digits', '--gres=gpu:1', '--ntasks=1']
    assert 'Distributed launcher: slurm' in out and 'Distributed training: True' in out and 'GPU number: 1' in out
    with open(scontrol) as f:
        assert f.read().split() == ['show', 'hostname', 'localhost']  # mmengine's master address
    (log_dir, ) = [d for d in os.listdir(work) if osp.isdir(osp.join(work, d))]
    with open(osp.join(work, log_dir, 'metrics.json')) as f:
        assert json.load(f)['metrics']['mean/AUROC'] > 0
    dumped = open(osp.join(work, log_dir, 'vis_data', 'config.py')).read()
    assert "launcher='slurm'" in dumped and "backend='gloo'" in dumped
