"""SHEHead: on a tiny CLIP zero-shot view (z = pre_proj, ŷ = the classifier's argmax) and on a probe's last layer
it equals :func:`mmood.scores.she_score` with :func:`mmood.scores.fit_she`'s patterns; labels are required."""
import pytest
import torch
from test_vim_head import tiny_model

from mmood.models.heads import HeadContext, LinearProbeHead, SHEHead, build_method, build_view
from mmood.scores import fit_she, she_score


@pytest.mark.filterwarnings('ignore:SHE')  # classes without a correct sample: the fallback (test_she.py)
@pytest.mark.parametrize('metric', ['inner_product', 'cosine'])
def test_zero_shot_view_equals_the_score_function(metric):
    model, feats, _ = tiny_model(dict(type='SHEHead', metric=metric))
    view = build_view('zero_shot', model.head_context(), 'test')
    z = view.features(feats)
    labels = torch.arange(40) % 3  # every class labelled; the first half correct, the rest as it falls
    labels[:20] = view.logits(z[:20]).argmax(dim=1)
    model.fit_heads(feats, labels)
    patterns = fit_she(z, labels, view.logits(z).argmax(dim=1), 3)
    _, scores = model.scores_from_features(feats)
    torch.testing.assert_close(scores['she'], she_score(z, view.logits(z), patterns, metric).float())


@pytest.mark.filterwarnings('ignore:SHE')
def test_probe_view_equals_the_score_function():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 3, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    x, q, labels = torch.randn(60, 6), torch.randn(9, 6), torch.arange(60) % 3
    head = build_method('plp_she').prepare(HeadContext(id_text=torch.eye(3), extra=dict(probe=probe)))
    w, b = probe.fc.weight.detach().double(), probe.fc.bias.detach().double()
    z, zq = probe.standardize(x).detach().double(), probe.standardize(q).detach().double()
    preds = (z @ w.T + b).argmax(dim=1)
    labels[:30] = preds[:30]
    head.fit({'pre_proj': x}, labels)
    expected = she_score(zq, zq @ w.T + b, fit_she(z, labels, preds, 3))
    torch.testing.assert_close(head({'pre_proj': q})['plp_she'], expected.float())


def test_errors():
    with pytest.raises(ValueError, match='metric must be one of'):
        SHEHead(metric='manhattan')
    model, feats, labels = tiny_model(dict(type='SHEHead'))
    with pytest.raises(ValueError, match='needs the ID-train labels'):
        model.heads[0].fit(feats)
    with pytest.raises(RuntimeError, match='must run before scoring'):
        model.heads[0](feats)
