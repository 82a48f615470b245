"""The activation follows the weights (mmood.models.backbones.weights), checked against OpenAI's own CLIP.

``ViT-B-16`` is replaced here by a one-block copy with small widths (its name keeps open_clip's tag table: ``openai``
needs QuickGELU, ``laion2b_s34b_b88k`` GELU), and OpenAI's ``clip.model.CLIP`` of the same shape is the reference.
"""
import json
import os.path as osp

import clip
import clip.model
import open_clip
import pytest
import torch
from mmpretrain.registry import MODELS

from mmood.models.backbones import PretrainedMismatchError
from mmood.models.backbones.weights import (GELU, QUICK_GELU, has_both_activations, is_torchscript_archive,
                                            openai_format, resolve_activation, weights_activation)
from mmood.utils.errors import ConfigError

SMALL = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16, head_width=64),
             text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=1))
TEXTS = ['a photo of a tench.', 'the nice goldfish']


@pytest.fixture
def small_b16(monkeypatch):
    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, 'ViT-B-16', json.loads(json.dumps(SMALL)))


@pytest.fixture
def openai_ref(tmp_path, small_b16):
    """OpenAI's CLIP with SMALL's shape, random, float16 (as OpenAI's files), its outputs and weight files."""
    torch.manual_seed(0)
    model = clip.model.CLIP(32, 32, 1, 64, 16, 77, 49408, 64, 1, 1)
    state = {k: v.half() for k, v in model.state_dict().items()}
    ref = clip.model.build_model(dict(state)).float().eval()
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = dict(images=images, image=ref.encode_image(images), text=ref.encode_text(clip.tokenize(TEXTS)))
    out['plain'] = str(tmp_path / 'plain.pt')
    torch.save(state, out['plain'])
    out['openai_state'] = str(tmp_path / 'openai_state.pt')  # what a JIT archive's state_dict() holds
    torch.save(dict(state, input_resolution=torch.tensor(32), context_length=torch.tensor(77),
                    vocab_size=torch.tensor(49408)), out['openai_state'])
    out['ref_model'] = ref
    return out


def _build(pretrained, **kwargs):
    return MODELS.build(dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained=pretrained, **kwargs))


def _gap(bb, ref):
    """Largest difference of image and text embeddings, relative to OpenAI's largest value."""
    with torch.no_grad():
        image = bb.encode_image(ref['images'], normalize=False)
        text = bb.encode_text(TEXTS, normalize=False)
    return max(((image - ref['image']).abs().max() / ref['image'].abs().max()).item(),
               ((text - ref['text']).abs().max() / ref['text'].abs().max()).item())


def test_a_plain_file_of_an_architecture_with_both_activations_needs_the_option(openai_ref):
    with pytest.raises(ConfigError, match=r"model\.backbone\.activation='quick_gelu' for OpenAI weights"):
        _build(openai_ref['plain'])
    assert _gap(_build(openai_ref['plain'], activation='quick_gelu'), openai_ref) < 1e-5
    # the wrong activation is what the check exists for: far from OpenAI's embeddings
    assert _gap(_build(openai_ref['plain'], activation='gelu'), openai_ref) > 1e-3


def test_openai_state_dicts_select_quickgelu(openai_ref):
    assert openai_format(openai_ref['plain']) is None
    assert openai_format(openai_ref['openai_state']) == 'state_dict'
    bb = _build(openai_ref['openai_state'])  # open_clip alone refuses its extra entries (strict loading)
    assert bb.activation == QUICK_GELU and _gap(bb, openai_ref) < 1e-5
    with pytest.raises(ConfigError, match='contradicts the weights'):
        _build(openai_ref['openai_state'], activation='gelu')


def test_a_torchscript_archive_of_the_whole_model(openai_ref, tmp_path, monkeypatch):
    archive = str(tmp_path / 'ViT-B-16.pt')
    model = openai_ref['ref_model']

    class Whole(torch.nn.Module):  # OpenAI's archives are the whole CLIP module, its state dict at the top level
        def __init__(self, clip_model):
            super().__init__()
            for name, child in clip_model.named_children():
                self.add_module(name, child)
            for name, param in clip_model.named_parameters(recurse=False):
                self.register_parameter(name, param)
            self.register_buffer('input_resolution', torch.tensor(32))

        def forward(self, image):
            return self.visual(image)

    traced = torch.jit.trace(Whole(model), (openai_ref['images'], ), check_trace=False)
    torch.jit.save(traced.half(), archive)  # float16 weights, as OpenAI's archives
    assert is_torchscript_archive(archive) and openai_format(archive) == 'torchscript'
    activation, why = weights_activation('ViT-B-16', archive, archive)
    assert activation == QUICK_GELU and 'TorchScript' in why
    bb = _build(archive)
    assert bb.activation == QUICK_GELU and _gap(bb, openai_ref) < 1e-5
    # the archive of another architecture: the message reads the archive's weights and names the difference
    small_b32 = json.loads(json.dumps(SMALL))
    small_b32['vision_cfg']['patch_size'] = 32
    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, 'ViT-B-32', small_b32)
    in_the_file = r'another architecture .*visual\.conv1\.weight \(64, 3, 16, 16\) in the file'
    with pytest.raises(PretrainedMismatchError, match=in_the_file):
        MODELS.build(dict(type='OpenCLIPBackbone', model_name='ViT-B-32', pretrained=archive))


def test_an_open_clip_config_beside_the_file_states_its_activation(openai_ref, tmp_path):
    folder = tmp_path / 'hub_snapshot'
    folder.mkdir()
    weights = folder / 'open_clip_pytorch_model.bin'
    weights.write_bytes(open(openai_ref['plain'], 'rb').read())
    (folder / 'open_clip_config.json').write_text(json.dumps(dict(model_cfg=dict(SMALL, quick_gelu=True))))
    bb = _build(str(weights))
    assert bb.activation == QUICK_GELU and _gap(bb, openai_ref) < 1e-5
    (folder / 'open_clip_config.json').write_text(json.dumps(dict(model_cfg=SMALL)))
    assert weights_activation('ViT-B-16', str(weights), str(weights))[0] == GELU


def test_tags_decide_and_contradictions_are_refused(small_b16):
    assert weights_activation('ViT-B-16', 'openai', '/x.bin')[0] == QUICK_GELU
    assert weights_activation('ViT-B-16', 'laion2b_s34b_b88k', '/x.bin')[0] == GELU
    assert weights_activation('ViT-B-16-quickgelu', 'metaclip_400m', '/x.bin')[0] == QUICK_GELU
    cfg = open_clip.get_model_config('ViT-B-16')
    assert resolve_activation('ViT-B-16', 'openai', '/x.bin', None, cfg)[0] == QUICK_GELU
    with pytest.raises(ConfigError, match=r"activation='gelu'.*contradicts.*'quick_gelu'"):
        resolve_activation('ViT-B-16', 'openai', '/x.bin', 'gelu', cfg)
    with pytest.raises(ConfigError, match='contradicts'):
        resolve_activation('ViT-B-16', 'laion2b_s34b_b88k', '/x.bin', 'quick_gelu', cfg)
    with pytest.raises(ValueError, match='must be one of'):
        resolve_activation('ViT-B-16', None, None, 'relu', cfg)
    assert has_both_activations('ViT-B-16') and has_both_activations('ViT-L-14')


def test_random_weights_keep_the_architecture_s_own_activation(small_b16):
    assert _build(None).activation == GELU
    assert _build(None, activation='quick_gelu').activation == QUICK_GELU
    assert isinstance(_build(None, activation='quick_gelu').clip.transformer.resblocks[0].mlp.gelu,
                      open_clip.transformer.QuickGELU)


def test_the_activation_is_part_of_every_cache_key(openai_ref):
    quick = _build(openai_ref['plain'], activation='quick_gelu')
    plain = _build(openai_ref['plain'], activation='gelu')
    assert quick.identity != plain.identity and quick.text_identity != plain.text_identity
    assert (quick.identity['activation'], plain.text_identity['activation']) == (QUICK_GELU, GELU)


def test_a_transformers_file_is_named_as_such(tmp_path, small_b16):
    path = str(tmp_path / 'pytorch_model.bin')
    torch.save({'text_model.embeddings.token_embedding.weight': torch.zeros(3, 2),
                'vision_model.post_layernorm.weight': torch.zeros(2)}, path)
    with pytest.raises(PretrainedMismatchError, match='Hugging Face transformers CLIPModel.*hf_clip_to_open_clip.py'):
        _build(path, activation='quick_gelu')
    assert osp.isfile(path)


def test_weights_and_activation_are_checked_without_building(openai_ref, capsys):
    """What `tools/verify_data.py --check-weights` (and the reproduce checks) report: the file and the activation,
    or the error a build would raise."""
    from mmood.apis import check_weights as check
    from mmood.models.backbones import locate_weights
    path = openai_ref['openai_state']
    assert locate_weights('ViT-B-16', path)[:2] == (path, QUICK_GELU)
    with pytest.raises(ConfigError, match=r"model\.backbone\.activation"):
        locate_weights('ViT-B-16', openai_ref['plain'])
    assert check(dict(model_name='ViT-B-16', pretrained=openai_ref['plain'], activation='quick_gelu'))
    assert 'activation quick_gelu (stated by' in capsys.readouterr().out
    assert not check(dict(model_name='ViT-B-16', pretrained=openai_ref['plain']))
    assert "weights: Cannot tell which activation" in capsys.readouterr().out
