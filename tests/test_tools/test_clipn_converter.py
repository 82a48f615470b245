"""tools/model_converters/clipn_to_mmood.py: a checkpoint written in the layout of CLIPN's released runs
(``module.``-prefixed, ``*_no`` keys, ``prompt_no``, optimizer and scaler entries) converts to an mmood checkpoint
that tools/test.py loads strictly and whose "no" tower is the original one; wrong checkpoints are refused."""
import os.path as osp

import pytest
import torch
from conftest import load_tool, tiny_backbone
from mmpretrain.registry import MODELS

from mmood.models.backbones import NoTextTower
from mmood.utils import check_checkpoint, load_checkpoint_file

OFFICIAL_NAMES = {'transformer.': 'transformer_no.', 'token_embedding.': 'token_embedding_no.',
                  'ln_final.': 'ln_final_no.', 'positional_embedding': 'positional_embedding_no',
                  'text_projection': 'text_projection_no', 'prompt_no': 'prompt_no'}


def official_key(key):
    for ours, theirs in OFFICIAL_NAMES.items():
        if key.startswith(ours):
            return theirs + key[len(ours):]
    raise AssertionError(key)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clipn_convert'))
    torch.manual_seed(0)
    clip = MODELS.build(tiny_backbone()).clip  # registers the tiny architecture with open_clip
    weights = osp.join(root, 'tiny.pt')
    torch.save(clip.state_dict(), weights)
    tower = NoTextTower(clip)
    with torch.no_grad():  # a "trained" no tower: every part differs from the yes tower
        for p in tower.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = {'module.' + k: v for k, v in clip.state_dict().items()}
    state.update({'module.' + official_key(k): v for k, v in tower.state_dict().items()})
    official = osp.join(root, 'epoch_10.pt')
    torch.save(dict(epoch=10, name='clipn-run-1', state_dict=state, optimizer=dict(state={}, param_groups=[]),
                    scaler=dict(scale=65536.0)), official)
    return dict(root=root, weights=weights, tower=tower, state=state, official=official,
                tool=load_tool('model_converters/clipn_to_mmood'))


def convert(setup, src, dst, *extra):
    return setup['tool'].main([src, dst, '--model', 'mmood-tiny-vit', '--pretrained', setup['weights'], *extra])


def test_round_trip_into_the_model(setup, capsys):
    dst = osp.join(setup['root'], 'clipn_mmood.pth')
    towers = osp.join(setup['root'], 'towers.pth')
    assert convert(setup, setup['official'], dst, '--export-towers', towers) == 0
    out = capsys.readouterr().out
    assert 'frozen towers equal' in out and '16 prompts' in out
    model = MODELS.build(dict(type='CLIPNClassifier', backbone=tiny_backbone(pretrained=setup['weights']),
                              class_names=['zero', 'one']))
    checkpoint = load_checkpoint_file(dst)
    assert check_checkpoint(model, checkpoint, dst)['groups']  # strict: every key maps, the no tower complete
    model.load_state_dict(checkpoint['state_dict'], strict=False)
    for key, value in setup['tower'].state_dict().items():
        assert torch.equal(model.no_tower.state_dict()[key], value), key
    assert checkpoint['meta']['epoch'] == 10 and len(checkpoint['meta']['sha256']) == 64
    exported = torch.load(towers, weights_only=True)
    for key, value in exported.items():
        assert torch.equal(value, setup['state']['module.' + key]), key


def test_wrong_checkpoints_are_refused(setup, capsys):
    root = setup['root']
    no_prompts = {k: v for k, v in setup['state'].items() if k != 'module.prompt_no'}
    plain = {k: v for k, v in setup['state'].items() if '_no' not in k}
    wider = dict(setup['state'], **{'module.text_projection': torch.zeros(64, 48)})
    for name, state, message in [('no_prompts', no_prompts, "missing keys (1): ['prompt_no']"),
                                 ('plain', plain, 'not a CLIPN training checkpoint'),
                                 ('wider', wider, 'size mismatch')]:
        src = osp.join(root, f'{name}.pt')
        torch.save(dict(state_dict=state), src)
        with pytest.raises(SystemExit) as err:  # one line on stderr, exit status 2
            convert(setup, src, osp.join(root, f'{name}_out.pth'))
        text = capsys.readouterr().err
        assert err.value.code == 2 and text.startswith("error: ")
        assert message in text, (name, text)
        assert not osp.exists(osp.join(root, f'{name}_out.pth'))
