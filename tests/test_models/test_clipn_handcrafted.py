"""CLIPN's hand-crafted variant (``no_prompt_mode='handcrafted'``): the shipped 128 yes/no template pairs follow the
reference's rule, the no tower has no prompt offsets and reads the drawn pair's "no" template with the caption (the
yes tower its "yes" template, or the bare caption with ``yes_text='raw'``), the draws are keyed by (step, sample),
the class prototypes are the per-pair sums of the two columns, and an untrained tower is recognised."""
import hashlib
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, tiny_backbone
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmood.text import resolve_templates
from mmood.utils.errors import ConfigError

CAPTIONS = ['two dogs on a beach', 'a red car', 'the number three', 'an old house', 'two birds']
YES = ['a photo of the digit {}', 'the number {}', 'a handwritten {}']
NO = ['a photo of no digit {}', 'not the number {}', 'not a handwritten {}']


def build(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='CLIPNClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
               no_prompt_mode='handcrafted', logit_scale=None)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(captions=CAPTIONS, with_index=True):
    out = []
    for i, caption in enumerate(captions):
        s = DataSample(metainfo=dict(sample_idx=i) if with_index else {})
        s.set_field(caption, 'text', field_type='metainfo')
        out.append(s)
    return out


def test_shipped_pairs_follow_the_reference_rule():
    """txtfiles/clipn_prompts_no.txt (hand-crafted/src/prompt_no.txt of xmed-lab/CLIPN @e465074, byte for byte plus a
    final LF): 128 lines paired with CLIPN's prompts; lines 1-64 replace the article after "of" by "no", lines 65-128
    "with" by "without", with the three / two irregular pairs of the reference."""
    yes, no = resolve_templates('clipn'), resolve_templates('clipn_no')
    assert len(yes) == len(no) == 128
    with open(osp.join(REPO, 'txtfiles', 'clipn_prompts_no.txt'), 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == \
            'be9c95fca32386b1ffad706f253dfc95cdf2a7fd0defa159571c86f2c0764017'
    irregular = {2: "'a photo of no many {}.'", 31: "'no a {} in a video game.'", 36: "'the {} not in a video game.'",
                 95: "'a {} not appearing in a video game.'", 100: "'the {} not appearing in a video game.'"}
    for line, (y, n) in enumerate(zip(yes, no), start=1):
        if line in irregular:
            assert n == irregular[line], line
        elif line <= 64:
            assert n == re.sub(r' of (a|an|the|my|one) ', ' of no ', y, count=1) and n != y, line
        else:
            assert n == y.replace(' with ', ' without ', 1) and n != y, line
    assert (yes[0], no[0], yes[34], no[34]) == ("'a bad photo of a {}.'", "'a bad photo of no {}.'",
                                                "'a photo of a {}.',", "'a photo of no {}.',")


def test_no_tower_reads_the_tokenized_no_template(monkeypatch):
    model = build()
    model.train()
    assert model.no_tower.prompt_no is None and model.no_tower.num_prompts == 0
    assert model.templates == resolve_templates('clipn') and model.no_templates == resolve_templates('clipn_no')
    # the reference's example (clipn.md: pair 0 with the caption "two dogs on a beach")
    assert model.pair_texts(CAPTIONS[:1], torch.tensor([0])) == (["'a bad photo of a two dogs on a beach.'"],
                                                                 ["'a bad photo of no two dogs on a beach.'"])
    seen = {}
    tower_forward = type(model.no_tower).forward
    encode_text = model.backbone.clip.encode_text

    def spy_tower(self, tokens, *args, **kwargs):
        seen['no'] = tokens.clone()
        return tower_forward(self, tokens, *args, **kwargs)

    def spy_yes(tokens, *args, **kwargs):
        seen['yes'] = tokens.clone()
        return encode_text(tokens, *args, **kwargs)

    monkeypatch.setattr(type(model.no_tower), 'forward', spy_tower)
    monkeypatch.setattr(model.backbone.clip, 'encode_text', spy_yes)
    step = int(model.prompt_step)
    expected_pairs = model.no_tower.draw(len(CAPTIONS), 128, [(step, i) for i in range(len(CAPTIONS))])
    losses = model.loss(torch.rand(len(CAPTIONS), 3, 32, 32), samples())
    no_texts = [model.no_templates[p].replace('{}', c) for p, c in zip(expected_pairs.tolist(), CAPTIONS)]
    yes_texts = [model.templates[p].replace('{}', c) for p, c in zip(expected_pairs.tolist(), CAPTIONS)]
    assert torch.equal(seen['no'], model.backbone.tokenize(no_texts))
    assert torch.equal(seen['yes'], model.backbone.tokenize(yes_texts))
    assert len(set(expected_pairs.tolist())) > 1  # 5 draws from 128
    losses['loss'].backward()
    trained = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained and all(n.startswith('no_tower.') for n in trained)
    assert not any('prompt_no' in k for k in model.state_dict())
    # the same (step, sample) keys draw the same pairs; without sample indices the seeded generator draws
    assert torch.equal(model.no_tower.draw(5, 128, [(step, i) for i in range(5)]), expected_pairs)
    first = model.no_tower.draw(5, 128)
    assert first.min() >= 0 and first.max() < 128
    assert torch.equal(build().no_tower.draw(5, 128), first)  # same seed, same generator sequence


def test_raw_yes_text_ablation(monkeypatch):
    model = build(yes_text='raw')
    seen = {}
    encode_text = model.backbone.clip.encode_text

    def spy_yes(tokens, *args, **kwargs):
        seen['yes'] = tokens.clone()
        return encode_text(tokens, *args, **kwargs)

    monkeypatch.setattr(model.backbone.clip, 'encode_text', spy_yes)
    model.train()
    model.loss(torch.rand(3, 3, 32, 32), samples(CAPTIONS[:3], with_index=False))
    assert torch.equal(seen['yes'], model.backbone.tokenize(CAPTIONS[:3]))


def test_class_weights_sum_each_column_over_the_pairs():
    model = build(prompt_pairs=dict(yes=YES, no=NO), templates=YES)
    with torch.no_grad():  # a trained-looking no tower (it differs from the yes tower)
        torch.manual_seed(1)
        for p in model.no_tower.transformer.parameters():
            p.add_(0.2 * torch.randn_like(p))
    assert not model.no_tower_untrained
    model.eval()
    model.prepare()

    def direct(encode, templates):
        out = []
        for name in model.class_names:
            tokens = model.backbone.tokenize([t.replace('{}', name) for t in templates])
            out.append(F.normalize(F.normalize(encode(tokens).float(), dim=-1).sum(0), dim=0))
        return torch.stack(out)

    with torch.no_grad():
        w_yes = direct(model.backbone.clip.encode_text, YES)
        w_no = direct(lambda t: model.no_tower(t, normalize=False), NO)
    torch.testing.assert_close(model.id_text.float().cpu(), w_yes, rtol=0, atol=1e-5)
    torch.testing.assert_close(model.no_text.float().cpu(), w_no, rtol=0, atol=1e-5)
    assert (model.id_text.float().cpu() - model.no_text.float().cpu()).abs().max() > 0.1


def test_untrained_tower_and_option_errors():
    model = build(prompt_pairs=(YES, NO), templates=YES)
    assert model.no_tower_untrained and 'untrained' in ' '.join(model.report_notes())
    with torch.no_grad():
        model.no_tower.ln_final.bias.add_(1e-3)
    assert not model.no_tower_untrained
    with pytest.raises(ConfigError, match='3 yes templates but 2 no'):
        build(prompt_pairs=(YES, NO[:2]), templates=YES)
    with pytest.raises(ConfigError, match='leave `templates` out'):
        build(prompt_pairs=(YES, NO), templates=['{}'])
    with pytest.raises(ConfigError, match='belongs to no_prompt_mode'):
        build(no_prompt_mode='learnable', prompt_pairs=(YES, NO))
    with pytest.raises(ConfigError, match='no_prompt_mode must be one of'):
        build(no_prompt_mode='fixed')


def test_converter_takes_a_handcrafted_checkpoint(tmp_path, capsys):
    """A checkpoint in the layout of the reference's hand-crafted runs (``*_no`` keys, no ``prompt_no``) converts
    with ``--handcrafted`` into the hand-crafted model strictly; without the flag it is refused (prompts missing)."""
    from conftest import load_tool

    from mmood.utils import check_checkpoint, load_checkpoint_file
    model = build(prompt_pairs=(YES, NO), templates=YES)
    weights = str(tmp_path / 'tiny.pt')
    torch.save(model.backbone.clip.state_dict(), weights)
    names = {'transformer.': 'transformer_no.', 'token_embedding.': 'token_embedding_no.', 'ln_final.': 'ln_final_no.',
             'positional_embedding': 'positional_embedding_no', 'text_projection': 'text_projection_no'}
    with torch.no_grad():
        for p in model.no_tower.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = {'module.' + k: v for k, v in model.backbone.clip.state_dict().items()}
    for key, value in model.no_tower.state_dict().items():
        ours = next(o for o in names if key.startswith(o))
        state['module.' + names[ours] + key[len(ours):]] = value
    src, dst = str(tmp_path / 'epoch_10.pt'), str(tmp_path / 'converted.pth')
    torch.save(dict(epoch=10, state_dict=state), src)
    tool = load_tool('model_converters/clipn_to_mmood')
    common = ['--model', 'mmood-tiny-vit', '--pretrained', weights]
    with pytest.raises(SystemExit):
        tool.main([src, dst, *common])
    assert "missing keys (1): ['prompt_no']" in capsys.readouterr().err
    assert tool.main([src, dst, *common, '--handcrafted']) == 0
    assert '0 prompts' in capsys.readouterr().out
    fresh = build(prompt_pairs=(YES, NO), templates=YES)
    checkpoint = load_checkpoint_file(dst)
    assert check_checkpoint(fresh, checkpoint, dst)['groups']
    fresh.load_state_dict(checkpoint['state_dict'], strict=False)
    for key, value in model.no_tower.state_dict().items():
        assert torch.equal(fresh.no_tower.state_dict()[key], value), key
    assert not fresh.no_tower_untrained


def test_trainable_count_on_vit_b32():
    """The hand-crafted no tower of ViT-B-32 (the variant's backbone): every copied text part, no prompts."""
    import open_clip

    from mmood.models.backbones import NoTextTower
    clip = open_clip.create_model('ViT-B-32', pretrained=None, device='cpu')
    tower = NoTextTower(clip, num_prompts=0)
    assert tower.prompt_no is None and tower.equals_text_tower(clip)
    assert sum(p.numel() for p in tower.parameters() if p.requires_grad) == 63_428_096
