"""tools/model_converters/npos_to_mmood.py: a checkpoint written in the layout of the NPOS CLIP release
(``CLIP_ft``'s attribute names, ``module.``-prefixed, fp16 weights with fp32 LayerNorms and MLP) converts to an mmood
checkpoint that the strict checker accepts, every tensor at its mapped key; unknown keys, wrong shapes, missing keys
and mmood checkpoints are refused; official -> mmood -> official round-trips."""
import os.path as osp

import pytest
import torch
from conftest import REPO, load_tool
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.cache import file_sha256
from mmood.utils import check_checkpoint, load_checkpoint_file

CONFIG = osp.join(REPO, 'configs', 'npos', 'npos_tiny_digits.py')
WIDTH, EMBED, HIDDEN = 64, 32, 32  # the tiny tower's width and embedding size, the outlier MLP's hidden width
#: one block of OpenAI CLIP's ViT (CLIP_ft keeps them as transformer_resblocks.block<i>): shape, dtype on CUDA
BLOCK = {
    'ln_1.weight': ((WIDTH, ), torch.float32), 'ln_1.bias': ((WIDTH, ), torch.float32),
    'attn.in_proj_weight': ((3 * WIDTH, WIDTH), torch.float16), 'attn.in_proj_bias': ((3 * WIDTH, ), torch.float16),
    'attn.out_proj.weight': ((WIDTH, WIDTH), torch.float16), 'attn.out_proj.bias': ((WIDTH, ), torch.float16),
    'ln_2.weight': ((WIDTH, ), torch.float32), 'ln_2.bias': ((WIDTH, ), torch.float32),
    'mlp.c_fc.weight': ((4 * WIDTH, WIDTH), torch.float16), 'mlp.c_fc.bias': ((4 * WIDTH, ), torch.float16),
    'mlp.c_proj.weight': ((WIDTH, 4 * WIDTH), torch.float16), 'mlp.c_proj.bias': ((WIDTH, ), torch.float16),
}
OTHERS = {
    'ln_post.weight': ((WIDTH, ), torch.float32), 'ln_post.bias': ((WIDTH, ), torch.float32),
    'proj': ((WIDTH, EMBED), torch.float16),
    'outlier_MLP.0.weight': ((HIDDEN, EMBED), torch.float32), 'outlier_MLP.0.bias': ((HIDDEN, ), torch.float32),
    'outlier_MLP.2.weight': ((1, HIDDEN), torch.float32), 'outlier_MLP.2.bias': ((1, ), torch.float32),
}
VISUAL = 'backbone.clip.visual.'


def official_state(num_blocks, prefix='module.', seed=0):
    """Random tensors in the release's layout (what ``torch.save(net.state_dict())`` wrote under DataParallel)."""
    gen = torch.Generator().manual_seed(seed)
    entries = {f'transformer_resblocks.block{i}.{k}': v for i in range(num_blocks) for k, v in BLOCK.items()}
    entries.update(OTHERS)
    return {prefix + k: torch.randn(shape, generator=gen).to(dtype) for k, (shape, dtype) in entries.items()}


def expected_key(key, first_block):
    key = key[len('module.'):] if key.startswith('module.') else key
    if key.startswith('transformer_resblocks.block'):
        index, rest = key[len('transformer_resblocks.block'):].split('.', 1)
        return f'{VISUAL}transformer.resblocks.{first_block + int(index)}.{rest}'
    if key.startswith('outlier_MLP.'):
        return 'outlier_mlp.' + key[len('outlier_MLP.'):]
    return VISUAL + key


def build_model(trainable_blocks=2):
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.pretrained = None  # the digits CLIP is not on the test machine; random tower weights
    cfg.model.backbone.trainable_blocks = trainable_blocks
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('npos_convert'))
    state = official_state(2)
    official = osp.join(root, 'ImageNet-100_clip_baseline_dense_epoch_19.pt')
    torch.save(state, official)
    return dict(root=root, state=state, official=official, tool=load_tool('model_converters/npos_to_mmood'))


def convert(setup, src, dst, *extra):
    return setup['tool'].main([src, dst, '--config', CONFIG, *extra])


def refused(setup, capsys, src, *extra):
    """The one-line error of a refused conversion (exit status 2, nothing written)."""
    dst = src + '.converted.pth'
    with pytest.raises(SystemExit) as err:
        convert(setup, src, dst, *extra)
    text = capsys.readouterr().err
    assert err.value.code == 2 and text.startswith('error: '), text
    assert not osp.exists(dst)
    return text


def test_official_layout_converts_and_loads_strictly(setup, capsys):
    dst = osp.join(setup['root'], 'npos_mmood.pth')
    assert convert(setup, setup['official'], dst) == 0
    out = capsys.readouterr().out
    assert 'module. prefix stripped' in out and 'not verified' in out and 'synthesis.queue' in out
    checkpoint = load_checkpoint_file(dst)
    model = build_model()
    loaded = check_checkpoint(model, checkpoint, dst)  # strict: every key maps, everything NPOS trains is there
    assert loaded['keys'] == len(model.state_dict())
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    ours = model.state_dict()
    for key, value in setup['state'].items():
        target = expected_key(key, first_block=0)
        assert ours[target].dtype == torch.float32, target
        assert torch.equal(ours[target], value.float()), (key, target)
        assert torch.equal(checkpoint['state_dict'][target], value.float()), (key, target)
    # the training state the release does not hold: empty
    assert not ours['synthesis.queue'].any() and ours['synthesis.queue'].shape == (5, 64, EMBED)
    assert int(ours['synthesis.count'].sum()) == 0 and int(ours['synthesis.ptr'].sum()) == 0
    assert int(ours['synthesis.step']) == 0 and int(ours['iteration']) == 0
    meta = checkpoint['meta']
    assert meta['sha256'] == file_sha256(setup['official']) and meta['converted_from'] == setup['official']
    assert meta['module_prefix'] is True and meta['cast_to'] == 'float32' and meta['fine_tuned_blocks'] == [0, 1]
    assert meta['source_dtypes'] == {'float16': 17, 'float32': 14}
    assert meta['mapping']['transformer_resblocks.block1.mlp.c_fc.weight'] == \
        f'{VISUAL}transformer.resblocks.1.mlp.c_fc.weight'
    assert 'not part of the released file' in meta['training_state']
    assert 'not verified against a real released file' in meta['note']


def test_block_indices_follow_the_tower(setup, capsys):
    """One fine-tuned block of a 2-block tower is its last one; a file with 2 for a config training 1 is refused."""
    src = osp.join(setup['root'], 'one_block.pt')
    state = official_state(1, prefix='', seed=1)
    torch.save(dict(state_dict=state, epoch=3), src)  # a state dict under a usual key, no prefix
    dst = osp.join(setup['root'], 'one_block.pth')
    assert convert(setup, src, dst, '--cfg-options', 'model.backbone.trainable_blocks=1') == 0
    capsys.readouterr()
    checkpoint = load_checkpoint_file(dst)
    model = build_model(trainable_blocks=1)
    check_checkpoint(model, checkpoint, dst)
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[expected_key(key, first_block=1)], value.float()), key
    assert checkpoint['meta']['fine_tuned_blocks'] == [1] and checkpoint['meta']['module_prefix'] is False
    text = refused(setup, capsys, setup['official'], '--cfg-options', 'model.backbone.trainable_blocks=1')
    assert 'fine-tunes 2 blocks' in text and 'model.backbone.trainable_blocks=2' in text


@pytest.mark.parametrize('name,change,message', [
    ('unknown_top', {'module.text_embeddings': torch.zeros(EMBED, 5)}, "'text_embeddings'"),
    ('unknown_in_block', {'module.transformer_resblocks.block0.ls_1.gamma': torch.zeros(WIDTH)},
     'transformer_resblocks.block0.ls_1.gamma (-> backbone.clip.visual.transformer.resblocks.0.ls_1.gamma)'),
    ('unknown_mlp_layer', {'module.outlier_MLP.4.weight': torch.zeros(1, 1)}, 'outlier_MLP.4.weight'),
    ('wrong_shape', {'module.proj': torch.zeros(WIDTH + 1, EMBED, dtype=torch.float16)},
     f'shape mismatch (1): proj ({WIDTH + 1}, {EMBED}) vs backbone.clip.visual.proj ({WIDTH}, {EMBED})'),
    ('wrong_block_shape', {'module.transformer_resblocks.block1.mlp.c_fc.weight': torch.zeros(8, WIDTH)},
     'transformer_resblocks.block1.mlp.c_fc.weight (8, 64) vs'),
    ('missing', {'module.ln_post.bias': None}, "missing keys (1): ['backbone.clip.visual.ln_post.bias']"),
    ('gap', {f'module.transformer_resblocks.block0.{k}': None for k in BLOCK}, 'numbered [1]'),
])
def test_wrong_files_are_refused(setup, capsys, name, change, message):
    state = dict(setup['state'])
    for key, value in change.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    src = osp.join(setup['root'], f'{name}.pt')
    torch.save(state, src)
    text = refused(setup, capsys, src)
    assert message in text, (name, text)


def test_mmood_checkpoint_is_refused_and_round_trips(setup, capsys):
    """An NPOSClassifier.state_dict() file is not the release's layout: refused, with the way out; --to-official
    writes the release's layout back: official -> mmood -> official gives the source tensors (in float32)."""
    model = build_model()
    ours = osp.join(setup['root'], 'iter_200.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=200)), ours)
    text = refused(setup, capsys, ours)
    assert 'already an mmood checkpoint' in text and '--to-official' in text
    converted = osp.join(setup['root'], 'round_trip_mmood.pth')
    back = osp.join(setup['root'], 'round_trip_official.pt')
    assert convert(setup, setup['official'], converted) == 0
    assert setup['tool'].main([converted, back, '--to-official']) == 0
    out = capsys.readouterr().out
    assert "'iteration'" in out and "'synthesis.queue'" in out  # named as not written
    restored = torch.load(back, weights_only=True)
    source = {k[len('module.'):]: v for k, v in setup['state'].items()}
    assert set(restored) == set(source)
    for key, value in source.items():
        assert restored[key].dtype == torch.float32 and torch.equal(restored[key], value.float()), key
    # and the restored file converts again to the same checkpoint
    again = osp.join(setup['root'], 'round_trip_again.pth')
    assert convert(setup, back, again) == 0
    first, second = load_checkpoint_file(converted)['state_dict'], load_checkpoint_file(again)['state_dict']
    assert list(first) == list(second) and all(torch.equal(first[k], second[k]) for k in first)


def test_not_a_state_dict_is_refused(setup, capsys):
    src = osp.join(setup['root'], 'no_state.pt')
    torch.save(dict(epoch=19, args=dict(lr=0.1)), src)
    assert 'holds no state dict' in refused(setup, capsys, src)
