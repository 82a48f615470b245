"""Checkpoints and weights through the tools, as a careless user would pass them: every wrong file stops the run
with one message naming it and the fix; a right one is recorded (path, size, hash, what loaded) in metrics.json.
The same through MMPretrain's own tools/test.py (what `mim test` runs): the config's hooks do everything."""
import glob
import json
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import REPO, load_tool, make_benchmark, run_command, tiny_backbone
from mmengine.logging.history_buffer import HistoryBuffer
from mmpretrain.registry import MODELS


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ckpt'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(4, 5))
    torch.manual_seed(0)
    clip = MODELS.build(tiny_backbone()).clip
    weights = osp.join(root, 'tiny_openclip.pt')  # plain open_clip weights (export_clip_weights.py output)
    torch.save(clip.state_dict(), weights)
    files = dict(weights=weights, unrelated=osp.join(root, 'resnet.pth'), model=osp.join(root, 'epoch_3.pth'),
                 wide=osp.join(root, 'wide.pt'))
    torch.save(dict(state_dict={'conv1.weight': torch.zeros(8, 3, 3, 3), 'fc.bias': torch.zeros(10)}),
               files['unrelated'])
    # a training checkpoint of a whole CLIP model, as mmengine writes it (message hub with a HistoryBuffer)
    torch.save(dict(meta=dict(epoch=3), message_hub=dict(log_scalars=dict(loss=HistoryBuffer([0.5], [1]))),
                    state_dict={f'backbone.clip.{k}': v for k, v in clip.state_dict().items()}), files['model'])
    wide_cfg = dict(tiny_backbone()['model_cfg'], vision_cfg=dict(image_size=32, layers=2, width=96, patch_size=8,
                                                                  head_width=32))
    torch.save(MODELS.build(tiny_backbone(model_name='mmood-tiny-w96', model_cfg=wide_cfg)).clip.state_dict(),
               files['wide'])
    config = osp.join(root, 'mcm_tiny.py')
    with open(config, 'w') as f:
        f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'])
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
    return dict(root=root, config=config, cache=osp.join(root, 'cache'), **files)


def run_test(setup, *args, work='work'):
    return load_tool('test').main([setup['config'], *args, '--work-dir', osp.join(setup['root'], work),
                                   '--cache-dir', setup['cache']])


def refused(setup, capsys, *args):
    with pytest.raises(SystemExit) as err:
        run_test(setup, *args, work='refused')
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith('error: ') and 'Traceback' not in message
    return message


def test_wrong_checkpoints_are_refused(setup, capsys):
    message = refused(setup, capsys, setup['unrelated'])
    assert f'Checkpoint {setup["unrelated"]} does not fit CLIPOODClassifier: 0 of its 2 keys' in message
    assert "unexpected keys (2): ['conv1.weight', 'fc.bias']" in message
    message = refused(setup, capsys, setup['weights'])  # the trained CLIP's weights given as CHECKPOINT
    assert 'plain open_clip weights' in message and 'model.backbone.pretrained=FILE' in message
    message = refused(setup, capsys, '--cfg-options', f'model.backbone.pretrained={setup["model"]}')
    assert 'training checkpoint of a whole mmood CLIP model' in message and 'tools/export_clip_weights.py' in message
    message = refused(setup, capsys, '--cfg-options', f'model.backbone.pretrained={setup["wide"]}')
    assert 'weights of another architecture' in message and '(96,' in message and 'model_name' in message


def test_a_right_checkpoint_is_loaded_and_recorded(setup):
    metrics = run_test(setup, setup['model'], work='loaded')
    log_dir = sorted(glob.glob(osp.join(setup['root'], 'loaded', '2*')))[-1]
    with open(osp.join(log_dir, 'metrics.json')) as f:
        record = json.load(f)
    assert record['metrics'] == metrics
    ckpt = record['checkpoint']
    assert ckpt['path'] == setup['model'] and ckpt['bytes'] == os.path.getsize(setup['model'])
    assert len(ckpt['sha256']) == 64 and ckpt['loaded']['keys'] > 20 and 'backbone.clip' in ckpt['loaded']['groups']
    with open(osp.join(log_dir, 'report.md')) as f:
        assert f'checkpoint: {setup["model"]}' in f.read()
    plain = run_test(setup, 'none', work='plain')  # the same weights as the config's: the same numbers
    assert plain == metrics


def test_mmpretrain_tools_test_runs_the_same(setup):
    """MMPretrain's tools/test.py (mim test) on the same config: metrics.json, the per-sample CSV and the report
    come from the config's hooks; a wrong checkpoint is refused there too."""
    import mmpretrain
    script = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'test.py')
    work = osp.join(setup['root'], 'mim')
    run_command([sys.executable, script, setup['config'], 'none', '--work-dir', work, '--cfg-options',
                 f'model.cache_dir={setup["cache"]}'], env=dict(PYTHONPATH=REPO))
    log_dir = sorted(glob.glob(osp.join(work, '2*')))[-1]
    for name in ('metrics.json', 'per_sample_results.csv', 'report.md', 'report.csv'):
        assert osp.isfile(osp.join(log_dir, name)), name
    with open(osp.join(log_dir, 'metrics.json')) as f:
        mim = json.load(f)['metrics']
    assert mim == run_test(setup, 'none', work='ours')
    with pytest.raises(AssertionError, match='does not fit CLIPOODClassifier') as err:
        run_command([sys.executable, script, setup['config'], setup['unrelated'], '--work-dir', work],
                    env=dict(PYTHONPATH=REPO))
    assert 'CheckpointMismatchError' in str(err.value)


def test_class_names_against_the_data_through_tools_test(setup, capsys):
    message = refused(setup, capsys, '--cfg-options', 'model.class_names=[zero,one]')
    assert 'model.class_names has 2 names but the test data has 3 classes' in message
    message = refused(setup, capsys, '--cfg-options', 'model.class_names=[one,zero,two]')
    assert 'at label 0: "one" vs "zero"' in message and 'class_name_check="count"' in message
