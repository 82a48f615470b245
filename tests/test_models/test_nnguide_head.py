"""NNGuideHead: on a tiny CLIP zero-shot view (unit(pre_proj), energy of the classifier's logits) and on a probe's
last layer it equals :func:`mmood.scores.nnguide_score` of the bank of the seeded subset; bank-size errors."""
import pytest
import torch
from test_vim_head import tiny_model

from mmood.models.heads import HeadContext, LinearProbeHead, NNGuideHead, build_method, build_view
from mmood.scores import nnguide_bank, nnguide_score, nnguide_subset


def test_zero_shot_view_equals_the_score_function():
    model, feats, labels = tiny_model(dict(type='NNGuideHead', k=3, alpha=0.25, seed=2))
    model.fit_heads({k: v[:32] for k, v in feats.items()}, labels[:32])
    view = build_view('zero_shot', model.head_context(), 'test')
    index = nnguide_subset(32, 0.25, seed=2)
    assert index.numel() == 8
    bank_z = view.features({'pre_proj': feats['pre_proj'][index]})
    bank = nnguide_bank(bank_z, torch.logsumexp(view.logits(bank_z), dim=1))
    torch.testing.assert_close(model.heads[0].bank, bank)
    z = view.features(feats)
    _, scores = model.scores_from_features(feats)
    torch.testing.assert_close(scores['nnguide'], nnguide_score(z, view.logits(z), bank, 3).float())


def test_probe_view_equals_the_score_function():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 3, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    x, q = torch.randn(50, 6), torch.randn(9, 6)
    head = build_method('plp_nnguide', dict(k=5, bank_size=20)).prepare(
        HeadContext(id_text=torch.eye(3), extra=dict(probe=probe)))
    head.fit({'pre_proj': x})
    w, b = probe.fc.weight.detach().double(), probe.fc.bias.detach().double()
    z, zq = probe.standardize(x).detach().double(), probe.standardize(q).detach().double()
    zb = z[nnguide_subset(50, bank_size=20)]
    expected = nnguide_score(zq, zq @ w.T + b, nnguide_bank(zb, torch.logsumexp(zb @ w.T + b, dim=1)), 5)
    torch.testing.assert_close(head({'pre_proj': q})['plp_nnguide'], expected.float())
    # OpenOOD's leading rows
    head = NNGuideHead(k=5, bank_policy='loader_prefix', loader_batch_size=8, view='probe').prepare(
        HeadContext(id_text=torch.eye(3), extra=dict(probe=probe)))
    head.fit({'pre_proj': x})
    assert head.bank.shape[0] == 8  # int(0.5) = 0 -> one batch of 8
    torch.testing.assert_close(head.bank, nnguide_bank(z[:8], torch.logsumexp(z[:8] @ w.T + b, dim=1)))


def test_errors():
    for bad, match in ((dict(k=0), 'k=0'), (dict(alpha=0), 'alpha=0'), (dict(alpha=1.5), 'alpha=1.5'),
                       (dict(bank_size=0), 'bank_size=0'), (dict(bank_policy='first'), 'bank_policy')):
        with pytest.raises(ValueError, match=match):
            NNGuideHead(**bad)
    model, feats, _ = tiny_model(dict(type='LogitHead'))
    ctx = model.head_context()
    with pytest.raises(ValueError, match='bank would hold 0 of the 40'):
        NNGuideHead().prepare(ctx).fit(feats)  # round(0.01 * 40) = 0
    with pytest.raises(ValueError, match='k=100 but the bank holds 10'):
        NNGuideHead(bank_size=10).prepare(ctx).fit(feats)
    with pytest.raises(RuntimeError, match='must run before scoring'):
        NNGuideHead().prepare(ctx)(feats)
