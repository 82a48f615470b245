"""CLIPN's model: the "no" tower equals the yes tower at build, only it trains, prompt draws, prototypes, the untrained
sanity values (T3: the no tower equals the yes tower, so L_yes = L_no = ln 2), the ViT-B-16 trainable count and the
checkpoint layout."""
import math

import pytest
import torch
import torch.nn as nn
from conftest import tiny_backbone
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmood.models.backbones import NoTextTower
from mmood.utils import CheckpointMismatchError, check_checkpoint
from mmood.utils.errors import ConfigError

CAPTIONS = ['a photo of a cat', 'a dog on grass', 'the number three', 'a red car', 'two birds', 'an old house']


def build(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='CLIPNClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
               templates=['a photo of the digit {}', 'the number {}'], logit_scale=None)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(n=len(CAPTIONS), labels=None):
    out = []
    for i in range(n):
        s = DataSample(metainfo=dict(sample_idx=i))
        s.set_field(CAPTIONS[i % len(CAPTIONS)], 'text', field_type='metainfo')
        if labels is not None:
            s.set_gt_label(labels[i])
        out.append(s)
    return out


def test_no_tower_equals_yes_tower_at_build_and_only_it_trains():
    model = build()
    model.train()
    tokens = model.backbone.tokenize(CAPTIONS)
    with torch.no_grad():
        yes = nn.functional.normalize(model.backbone.clip.encode_text(tokens).float(), dim=-1)
        for index in (None, torch.arange(len(CAPTIONS)) % 17):  # any prompt: all offsets are zero at build
            torch.testing.assert_close(model.no_tower(tokens, prompt_index=index), yes, rtol=0, atol=1e-6)
    assert model.no_tower.prompt_no.shape == (16, 16, 64) and not model.no_tower.prompt_no.any()
    images = torch.rand(len(CAPTIONS), 3, 32, 32)
    losses = model.loss(images, samples())
    losses['loss'].backward()
    trained = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained and all(n.startswith('no_tower.') for n in trained)
    assert 'no_tower.prompt_no' in trained and 'no_tower.transformer.resblocks.0.attn.in_proj_weight' in trained
    frozen = [n for n, p in model.named_parameters() if p.requires_grad and not n.startswith('no_tower.')]
    assert frozen == []  # image tower, yes tower and logit_scale frozen
    # untrained: L_yes = L_no = ln 2, L_tso = 2 - sqrt(1e-4), total 1.688147180560 (T3), for any images and captions
    # (float32: g.g = 1 +- 1e-7 moves sqrt(2 - 2 g.h + 1e-4) by ~1e-5)
    assert math.isclose(float(losses['loss'].detach()), 1.688147180560, rel_tol=1e-5)
    assert math.isclose(float(losses['itbo_yes']), math.log(2), rel_tol=1e-6)


def test_prompt_draws_are_keyed_uniform_and_mean_at_eval():
    tower = build().no_tower
    keys = [(3, i) for i in range(6000)]
    draws = tower.draw_prompts(len(keys), keys)
    assert torch.equal(draws, tower.draw_prompts(len(keys), keys))  # a function of (seed, key)
    assert torch.equal(draws[100:200], tower.draw_prompts(100, keys[100:200]))  # independent of the batch
    counts = torch.bincount(draws, minlength=17).float()
    assert counts.numel() == 17 and counts.min() > 0
    chi2 = float(((counts - 6000 / 17) ** 2 / (6000 / 17)).sum())
    assert chi2 < 45  # 16 degrees of freedom: p < 1e-3 above ~39
    assert not torch.equal(draws, tower.draw_prompts(len(keys), [(4, i) for i in range(6000)]))
    with torch.no_grad():
        tower.prompt_no.copy_(torch.randn_like(tower.prompt_no))
    tower.eval()
    torch.testing.assert_close(tower.offsets(2), tower.prompt_no.mean(0).expand(2, -1, -1))
    tower.train()
    picked = tower.offsets(3, torch.tensor([0, 5, 16]))
    torch.testing.assert_close(picked[1], tower.prompt_no[5])
    torch.testing.assert_close(picked[2], tower.prompt_no.mean(0))


def test_untrained_model_scores_half_everywhere_and_prototypes_follow_the_tower():
    model = build()
    model.eval()
    feats = {'global': nn.functional.normalize(torch.randn(7, 32), dim=-1)}
    _, scores = model.scores_from_features(feats)
    assert set(scores) == {'atd', 'ctw', 'msp', 'maxlogit', 'energy'} and model.primary_score == 'atd'
    # W_no = W_yes up to float32 rounding of two separate text passes (1e-7), times s = 100: 0.5 to ~1e-6
    torch.testing.assert_close(scores['ctw'], torch.full((7, ), 0.5), rtol=0, atol=1e-5)
    torch.testing.assert_close(scores['atd'], torch.full((7, ), 0.5), rtol=0, atol=1e-5)
    torch.testing.assert_close(model.no_text, model.id_text, rtol=0, atol=1e-6)
    # W_no: normalised mean over templates of the unit "no" embeddings (mean prompt), recomputed after training
    with torch.no_grad():
        model.no_tower.prompt_no.normal_(std=0.5)
    model.train()
    model.eval()
    model.scores_from_features(feats)
    tower = model.no_tower
    per_template = [tower(model.backbone.tokenize([t.format(c) for c in model.class_names]))
                    for t in model.templates]
    expected = nn.functional.normalize(torch.stack(per_template).mean(0), dim=-1)
    torch.testing.assert_close(model.no_text, expected, rtol=0, atol=1e-6)
    assert (model.no_text - model.id_text).abs().max() > 1e-2


def test_mask_same_class_needs_labels_and_checkpoints_hold_the_no_tower():
    model = build(loss=dict(type='CLIPNLoss', mask_same_class=True))
    model.train()
    with pytest.raises(ConfigError, match='gt_label'):
        model.loss(torch.rand(6, 3, 32, 32), samples())
    out = model.loss(torch.rand(6, 3, 32, 32), samples(labels=[0, 1, 0, 2, 1, 2]))
    assert torch.isfinite(out['loss']) and int(model.prompt_step) == 1
    state = model.state_dict()
    assert not any(k.startswith('backbone.') for k in state)  # the frozen towers come from the weights
    assert 'no_tower.prompt_no' in state and 'prompt_step' in state
    assert check_checkpoint(model, dict(state_dict=state))['keys'] == len(state)
    with pytest.raises(CheckpointMismatchError, match='missing keys that the method trains'):
        check_checkpoint(model, dict(state_dict={'prompt_step': torch.tensor(3)}))
    other = build()
    other.load_state_dict(state)
    assert int(other.prompt_step) == 1
    torch.testing.assert_close(other.no_tower.prompt_no, model.no_tower.prompt_no)


def test_trainable_count_on_vit_b16_and_custom_text_towers_refused():
    import open_clip
    clip = open_clip.create_model('ViT-B-16', pretrained=None, device='cpu')
    tower = NoTextTower(clip)
    assert tower.prompt_no.numel() == 630_784
    assert sum(p.numel() for p in tower.parameters() if p.requires_grad) == 64_058_880  # the whole no tower
    del clip, tower

    class CustomText(nn.Module):  # what open_clip's CustomTextCLIP exposes: a `text` module, no text parts
        def __init__(self):
            super().__init__()
            self.visual, self.text = nn.Linear(2, 2), nn.Linear(2, 2)

    with pytest.raises(TypeError, match='CustomTextCLIP'):
        NoTextTower(CustomText())


def test_clipn_head_needs_a_clipn_model_and_matches_the_score_function():
    from mmood.models.heads import HeadContext, build_method
    from mmood.scores import clipn_scores
    id_text = nn.functional.normalize(torch.randn(4, 8), dim=-1)
    no_text = nn.functional.normalize(torch.randn(4, 8), dim=-1)
    with pytest.raises(ConfigError, match='CLIPNClassifier config'):
        build_method('clipn').prepare(HeadContext(id_text=id_text))
    head = build_method('clipn', dict(scores=('ctw', 'atd'), logit_scale=10.0))
    head.prepare(HeadContext(id_text=id_text, extra=dict(no_text=no_text)))
    feats = nn.functional.normalize(torch.randn(5, 8), dim=-1)
    out = head({'global': feats})
    expected = clipn_scores(feats @ id_text.T, feats @ no_text.T, 10.0)
    assert list(out) == ['ctw', 'atd'] and head.primary_score == 'ctw'
    for name in out:
        torch.testing.assert_close(out[name], expected[name])
    with pytest.raises(ConfigError, match='unknown scores'):
        build_method('clipn', dict(scores=('atd', 'yes')))
