"""Known causes end in one line and exit status 2, never a raw traceback: an unknown open_clip model, an unknown
FPR95 rule, an option outside its declared range, an unwritable work dir or cache folder."""
import errno
import os.path as osp

import pytest
from conftest import REPO, load_tool, make_benchmark, tiny_backbone, tiny_weights

from mmood.apis.cli import guarded


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('errors'))
    dataset = make_benchmark(osp.join(root, 'bench'), n_ood=(2, 2))
    weights = tiny_weights(osp.join(root, 'tiny.pt'))
    configs = {}
    for name, head in (('mcm', "dict(type='MCMHead')"),
                       ('adaneg', "dict(_delete_=True, type='AdaNegHead', memory=dict(gamma=1.5))")):
        configs[name] = osp.join(root, f'{name}_tiny.py')
        with open(configs[name], 'w') as f:
            f.write(f'''_base_ = ['{REPO}/configs/mcm/mcm_vitb16.py']
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}), class_names=['zero', 'one', 'two'],
             head={head})
test_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(_delete_=True, **{dataset!r}))
''')
    return dict(root=root, configs=configs)


def one_line_exit(capsys, argv):
    with pytest.raises(SystemExit) as err:
        load_tool('test').main(argv)
    message = capsys.readouterr().err.strip()
    assert err.value.code == 2 and 'Traceback' not in message and message.count('\n') == 0, message
    assert message.startswith('error: ')
    return message


def test_unknown_model_name(setup, capsys):
    message = one_line_exit(capsys, [setup['configs']['mcm'], '--work-dir', osp.join(setup['root'], 'w'),
                                     '--cfg-options', 'model.backbone.model_name=ViT-B-61',
                                     'model.backbone.model_cfg=None'])
    assert 'Unknown open_clip model name "ViT-B-61"' in message and 'ViT-B-16' in message


def test_unknown_fpr_rule(setup, capsys):
    message = one_line_exit(capsys, [setup['configs']['mcm'], '--work-dir', osp.join(setup['root'], 'w'),
                                     '--cfg-options', 'test_evaluator.fpr_rule=nearest'])
    assert "FPR95 convention ('id', 'nearest')" in message and 'interp' in message


def test_option_outside_its_declared_range(setup, capsys):
    message = one_line_exit(capsys, [setup['configs']['adaneg'], '--work-dir', osp.join(setup['root'], 'w')])
    assert 'AdaNegHead: option outside its range: memory.gamma=1.5' in message


def test_unwritable_work_dir(setup, capsys):
    work = '/sys/mmood-test-work'  # a folder nobody may create, not even root
    if osp.exists(work):
        pytest.skip(f'{work} exists here')
    message = one_line_exit(capsys, [setup['configs']['mcm'], '--work-dir', work])
    assert f'cannot write {work}' in message and '--work-dir' in message and '--cache-dir' in message


def test_guarded_names_the_folder_of_a_refused_write(capsys):
    @guarded
    def main(argv=None):
        raise OSError(errno.EROFS, 'Read-only file system', '/ro/cache/text/abc.npy')

    with pytest.raises(SystemExit) as err:
        main([])
    message = capsys.readouterr().err
    assert err.value.code == 2 and 'cannot write /ro/cache/text/abc.npy: Read-only file system' in message

    @guarded
    def other(argv=None):
        raise OSError(errno.EIO, 'Input/output error')  # not a cause a user fixes with an option: a traceback

    with pytest.raises(OSError):
        other([])
