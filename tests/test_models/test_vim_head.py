"""ViMHead: on a tiny CLIP zero-shot view (z = pre_proj, s = W z / ‖z P‖, b = 0) and on a probe's last layer it
equals :func:`mmood.scores.vim_score` of the view's features and logits; fitted through the classifier; errors."""
import pytest
import torch
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.models.heads import HeadContext, LinearProbeHead, ViMHead, build_method, build_view
from mmood.scores import fit_vim, vim_score


def tiny_model(head):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(),
                              class_names=['zero', 'one', 'two'], head=head))
    model.prepare()
    images = torch.rand(40, 3, 32, 32) * 255
    with torch.no_grad():
        feats = model.backbone.extract_image_features(model.data_preprocessor(dict(inputs=images))['inputs'],
                                                      ('global', 'pre_proj'))
    return model, feats, torch.arange(40) % 3


def test_zero_shot_view_equals_the_score_function():
    model, feats, labels = tiny_model(dict(type='ViMHead', dim=8))
    assert [type(h).__name__ for h in model.heads_to_fit()] == ['ViMHead']
    model.fit_heads({k: v[:30] for k, v in feats.items()}, labels[:30])
    assert model.heads_to_fit() == []
    view = build_view('zero_shot', model.head_context(), 'test')
    train, test = view.features({'pre_proj': feats['pre_proj'][:30]}), view.features({'pre_proj': feats['pre_proj']})
    stats = fit_vim(train, view.logits(train).max(dim=1).values, view.weight, None, 8)
    assert not stats['origin'].any()  # b = 0: o = 0
    expected = vim_score(test, view.logits(test), stats)
    _, scores = model.scores_from_features(feats)
    torch.testing.assert_close(scores['vim'], expected.float(), rtol=1e-5, atol=1e-5)
    # the energy term is the classifier's own: lse of its zero-shot logits
    torch.testing.assert_close(view.logits(test).float(), model.class_logits(feats), rtol=1e-5, atol=1e-4)


def test_probe_view_equals_the_score_function():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 3, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    x, q = torch.randn(50, 6), torch.randn(9, 6)
    ctx = HeadContext(id_text=torch.eye(3), extra=dict(probe=probe))
    head = build_method('plp_vim', dict(dim=2)).prepare(ctx)
    assert head.score_names == ('plp_vim', )
    head.fit({'pre_proj': x})
    w, b = probe.fc.weight.detach().double(), probe.fc.bias.detach().double()
    z, zq = probe.standardize(x).detach().double(), probe.standardize(q).detach().double()
    stats = fit_vim(z, (z @ w.T + b).max(dim=1).values, w, b, 2)
    torch.testing.assert_close(head({'pre_proj': q})['plp_vim'], vim_score(zq, zq @ w.T + b, stats).float())


def test_errors():
    with pytest.raises(ValueError, match='dim=0'):
        ViMHead(dim=0)
    model, feats, _ = tiny_model(dict(type='LogitHead'))
    ctx = model.head_context()
    with pytest.raises(ValueError, match='dim=64 must be below the feature dimension D = 64'):
        ViMHead(dim=64).prepare(ctx)
    head = ViMHead(dim=8).prepare(ctx)
    with pytest.raises(RuntimeError, match='must run before scoring'):
        head(feats)
    with pytest.raises(RuntimeError, match='prepare'):
        ViMHead(dim=8).fit(feats)
    with pytest.raises(ValueError, match='view must be one of'):
        ViMHead(view='h')
