"""FDBDHead: on a tiny CLIP zero-shot view its numerator reads the unnormalised W z (b = 0), not the classifier's
W z / ‖z P‖, and the score equals :func:`mmood.scores.fdbd_score`; the same on a probe's last layer (W z + b);
duplicate class names (identical prototypes) contribute nothing for their pair."""
import pytest
import torch
from test_vim_head import tiny_model

from mmood.models.heads import FDBDHead, HeadContext, LinearProbeHead, build_method, build_view
from mmood.scores import fdbd_score, fit_fdbd


@pytest.mark.parametrize('distance', [True, False])
def test_zero_shot_view_equals_the_score_function(distance):
    model, feats, labels = tiny_model(dict(type='FDBDHead', distance_as_normalizer=distance))
    model.fit_heads({k: v[:30] for k, v in feats.items()}, labels[:30])
    view = build_view('zero_shot', model.head_context(), 'test')
    z, train = view.features(feats), view.features({'pre_proj': feats['pre_proj'][:30]})
    stats = fit_fdbd(train, view.weight)
    expected = fdbd_score(z, z @ view.weight.T, stats['pair_norms'], stats['center'], distance)
    _, scores = model.scores_from_features(feats)
    torch.testing.assert_close(scores['fdbd'], expected.float())
    # the classifier's normalised logits would give another number (the distance to its boundaries is of W z)
    other = fdbd_score(z, view.logits(z), stats['pair_norms'], stats['center'], distance)
    assert not torch.allclose(other.float(), scores['fdbd'])


def test_duplicate_class_names():
    torch.manual_seed(0)
    from mmpretrain.registry import MODELS
    from conftest import tiny_backbone
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(),
                              class_names=['zero', 'one', 'zero'], head=dict(type='FDBDHead')))
    feats = {'pre_proj': torch.randn(12, 64), 'global': torch.randn(12, 32)}
    model.fit_heads(feats)
    norms = model.heads[0].stats['pair_norms']
    assert norms[0, 2] == 0 and norms[2, 0] == 0 and (norms[0, 1] > 0)
    assert torch.isfinite(model.heads[0](feats)['fdbd']).all()


def test_probe_view_equals_the_score_function():
    torch.manual_seed(1)
    probe = LinearProbeHead(6, 4, feature='pre_proj')
    probe.set_statistics(torch.randn(6), torch.rand(6) + 0.5)
    x, q = torch.randn(50, 6), torch.randn(9, 6)
    head = build_method('plp_fdbd').prepare(HeadContext(id_text=torch.eye(4), extra=dict(probe=probe)))
    assert head.score_names == ('plp_fdbd', )
    head.fit({'pre_proj': x})
    w, b = probe.fc.weight.detach().double(), probe.fc.bias.detach().double()
    z, zq = probe.standardize(x).detach().double(), probe.standardize(q).detach().double()
    stats = fit_fdbd(z, w)
    expected = fdbd_score(zq, zq @ w.T + b, stats['pair_norms'], stats['center'])
    torch.testing.assert_close(head({'pre_proj': q})['plp_fdbd'], expected.float())


def test_errors():
    with pytest.raises(RuntimeError, match='must run before scoring'):
        FDBDHead().prepare(HeadContext(id_text=torch.eye(3), extra=dict(projection=None)))({'pre_proj': torch.ones(
            2, 3)})
    with pytest.raises(ValueError, match='reads the probe'):
        FDBDHead(view='probe').prepare(HeadContext(id_text=torch.eye(3)))
