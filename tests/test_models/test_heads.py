"""The head family: named scores equal the pure score functions (vectors N10: logits [[2, 1, 0], [0, 0, 0]];
N11: two 2-D classes for Mahalanobis; N12: KNN on unit vectors -- IDs local to this module -- numpy,
sklearn-free hand cases); the method table; prepare / fit / forward; errors that name the fix."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.models.heads import (METHODS, BaseOODHead, HeadContext, KNNHead, LogitHead, MCMHead, MethodError,
                                NegLabelHead, build_head, build_method, list_methods, neglabel_head)
from mmood.scores import glmcm_score, group_permutation, mcm_score, neglabel_score

EYE3 = torch.eye(3, dtype=torch.float64)


def ctx3(scale=100.0, **kwargs):
    return HeadContext(id_text=EYE3, logit_scale=scale, **kwargs)


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def prepared(name, options=None, ctx=None):
    return build_method(name, options).prepare(ctx or ctx3())


# ---------------------------------------------------------------------------------------------- table
def test_method_table_and_errors():
    assert list_methods() == sorted(METHODS)
    for name in ('msp', 'maxlogit', 'energy', 'l1norm', 'mcm', 'glmcm', 'neglabel', 'knn', 'mahalanobis', 'rmd',
                 'plp_energy', 'plp_msp', 'plp_knn', 'plp_mahalanobis', 'plp_logit_mahalanobis', 'pseudo_msp'):
        head = build_method(name)
        assert isinstance(head, BaseOODHead) and head.score_names
        assert type(head) is MODELS.get(METHODS[name]['type'])  # the table names registered heads, nothing else
    with pytest.raises(MethodError, match='Did you mean "energy"'):
        build_method('energi')
    with pytest.raises(MethodError, match='"kk" .*valid options: .*\'k\''):
        build_method('knn', dict(kk=3))
    with pytest.raises(MethodError, match='"tua" \\(did you mean "tau"\\?\\) for model.head MCMHead'):
        build_head(dict(type='MCMHead', tua=0.5), 'model.head')
    assert build_method('knn', dict(k=7)).k == 7
    assert build_method('rmd').score_names == ('rmd', ) and build_method('glmcm').primary_score == 'glmcm'


# ---------------------------------------------------------------------------------------------- N10: logits
def test_logit_head_n10():
    feats = {'global': torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)}  # logits = feats @ I
    head = LogitHead(scores=('energy', 'msp', 'l1norm', 'maxlogit'), logit_scale=1.0).prepare(ctx3())
    assert head.score_names == ('energy', 'msp', 'l1norm', 'maxlogit') and head.primary_score == 'energy'
    out = head(feats)
    assert list(out) == list(head.score_names)
    np.testing.assert_allclose(out['energy'].numpy(), [2.407606, 1.098612], atol=1e-6)
    np.testing.assert_allclose(out['msp'].numpy(), [0.665241, 0.333333], atol=1e-6)
    np.testing.assert_allclose(out['l1norm'].numpy(), [3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out['maxlogit'].numpy(), [2.0, 0.0], atol=1e-12)
    t2 = LogitHead(scores=('energy', 'msp'), logit_scale=1.0, temperature=2.0).prepare(ctx3())(feats)
    z = np.exp(1.0) + np.exp(0.5) + 1.0
    np.testing.assert_allclose(t2['energy'].numpy()[0], 2 * np.log(z), atol=1e-12)
    np.testing.assert_allclose(t2['msp'].numpy()[0], np.exp(1.0) / z, atol=1e-12)
    with pytest.raises(ValueError, match="unknown logit scores \\['odin'\\]"):
        LogitHead(scores=('odin', ))


def test_logit_scale_default_prefix_and_prepare():
    h = {'global': F.normalize(torch.tensor([[0.3, 0.2, 0.1]], dtype=torch.float64), dim=1)}
    default = prepared('maxlogit', ctx=ctx3(scale=50.0))
    np.testing.assert_allclose(default(h)['maxlogit'].numpy(), 100.0 * h['global'][0, 0].item())  # 100 by default
    model_scale = prepared('maxlogit', dict(logit_scale=None), ctx3(scale=50.0))
    np.testing.assert_allclose(model_scale(h)['maxlogit'].numpy(), 50.0 * h['global'][0, 0].item())
    assert list(LogitHead(prefix='zs_').prepare(ctx3())(h)) == ['zs_msp', 'zs_maxlogit', 'zs_energy']
    with pytest.raises(RuntimeError, match='prepare'):
        build_method('msp')(h)
    with pytest.raises(KeyError, match='needs "global" features'):
        prepared('msp')({'local': h['global']})


# ---------------------------------------------------------------------------------------------- N12: KNN
def _n12():
    ang = np.deg2rad([0.0, 90.0, 180.0, 270.0])
    bank = torch.from_numpy(np.stack([np.cos(ang), np.sin(ang)], axis=1))
    query = torch.tensor([[np.cos(np.pi / 4), np.sin(np.pi / 4)]], dtype=torch.float64)
    return query, bank


def test_knn_n12():
    query, bank = _n12()
    for k, want in ((2, -0.585786), (3, -3.414214)):
        head = prepared('knn', dict(k=k)).fit({'global': bank})
        np.testing.assert_allclose(head({'global': query})['knn'].numpy(), [want], atol=1e-6)
    with pytest.raises(ValueError, match='knn.k'):
        prepared('knn').fit({'global': bank})  # k = 50 > 4 bank features: a clear error
    with pytest.raises(RuntimeError, match='fit'):
        prepared('knn', dict(k=1))({'global': query})
    assert KNNHead.requires_fit and not MCMHead.requires_fit


def _knn_numpy(query, bank, k, form='distance', temperature=0.02):
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    if form == 'distance':
        d = ((q[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return -np.sort(d, axis=1)[:, k - 1]
    cos = np.sort(q @ b.T, axis=1)[:, ::-1][:, :k]
    return np.exp(cos / temperature).mean(axis=1)


def test_knn_vs_numpy_and_chunking():
    rng = np.random.default_rng(0)
    query, bank = rng.normal(size=(41, 8)), rng.normal(size=(67, 8))
    q, b = {'global': torch.from_numpy(query)}, {'global': torch.from_numpy(bank)}
    for form, k in (('distance', 5), ('distance', 1), ('exp_cos', 3)):
        want = _knn_numpy(query, bank, k, form, 0.5)
        full = prepared('knn', dict(k=k, form=form, temperature=0.5)).fit(b)(q)['knn'].numpy()
        np.testing.assert_allclose(full, want, rtol=1e-6, atol=1e-6)  # the head keeps a float32 bank
        chunked = prepared('knn', dict(k=k, form=form, temperature=0.5, chunk_size=4, bank_chunk_size=7)).fit(b)
        np.testing.assert_allclose(chunked(q)['knn'].numpy(), full, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------- N11: Mahalanobis
def _n11():
    c0 = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype=np.float64)
    feats = np.concatenate([c0, c0 + [10, 0]])
    labels = np.array([0] * 4 + [1] * 4)
    queries = np.array([[1, 1], [6, 1], [11, 3]], dtype=np.float64)
    return {'global': torch.from_numpy(feats)}, torch.from_numpy(labels), {'global': torch.from_numpy(queries)}


def test_mahalanobis_n11():
    """Maximum-likelihood covariances (divided by N): class Σ = I, background Σ0 = diag(26, 1)."""
    feats, labels, queries = _n11()
    ctx = HeadContext(id_text=torch.zeros(2, 2))
    maha = prepared('mahalanobis', dict(shrinkage=0.0), ctx).fit(feats, labels)
    np.testing.assert_allclose(maha(queries)['mahalanobis'].numpy(), [0.0, -25.0, -4.0], atol=1e-9)
    rmd = prepared('rmd', dict(shrinkage=0.0), ctx).fit(feats, labels)
    np.testing.assert_allclose(rmd(queries)['rmd'].numpy(), [0.961538, -25.0, 0.961538], atol=1e-6)
    # the default shrinkage (1e-6 relative) barely moves the values
    np.testing.assert_allclose(prepared('mahalanobis', ctx=ctx).fit(feats, labels)(queries)['mahalanobis'].numpy(),
                               [0.0, -25.0, -4.0], atol=1e-4)
    with pytest.raises(ValueError, match='labels'):
        prepared('mahalanobis', ctx=ctx).fit(feats)


def _maha_numpy(x, feats, labels, covariance):
    classes = np.unique(labels)
    means = np.stack([feats[labels == c].mean(0) for c in classes])
    if covariance == 'pooled':
        centred = feats - means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / len(feats)  # maximum likelihood (Lee et al., OpenOOD's EmpiricalCovariance)
    else:
        cov = np.mean([np.cov(feats[labels == c], rowvar=False) for c in classes], axis=0)  # PLP's
    prec = np.linalg.inv(cov)
    d = np.stack([np.einsum('nd,de,ne->n', x - m, prec, x - m) for m in means], axis=1)
    return -d.min(axis=1)


@pytest.mark.parametrize('covariance', ['pooled', 'mean_per_class'])
def test_mahalanobis_vs_numpy(covariance):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 15)
    feats = rng.normal(size=(60, 5)) + labels[:, None] * 0.7
    x = rng.normal(size=(23, 5))
    head = prepared('mahalanobis', dict(covariance=covariance, shrinkage=0.0, chunk_size=6),
                    HeadContext(id_text=torch.zeros(4, 5)))
    head.fit({'global': torch.from_numpy(feats)}, torch.from_numpy(labels))
    np.testing.assert_allclose(head({'global': torch.from_numpy(x)})['mahalanobis'].numpy(),
                               _maha_numpy(x, feats, labels, covariance), rtol=1e-9, atol=1e-9)


def test_mahalanobis_singular_covariance_is_finite():
    rng = np.random.default_rng(2)
    feats = {'global': torch.from_numpy(rng.normal(size=(6, 10)))}  # D > N: singular covariance
    head = prepared('mahalanobis', ctx=HeadContext(id_text=torch.zeros(2, 10)))
    head.fit(feats, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert torch.isfinite(head({'global': torch.from_numpy(rng.normal(size=(4, 10)))})['mahalanobis']).all()


# ---------------------------------------------------------------------------------------------- MCM / NegLabel
def test_mcm_head_and_local_weight():
    id_text, h, loc = unit(5, 8, seed=4), unit(3, 8, seed=5), unit(3, 4, 8, seed=6)
    ctx = HeadContext(id_text=id_text)
    plain = MCMHead(tau=0.5).prepare(ctx)
    assert plain.feature_kinds == ('global', ) and plain.score_names == ('mcm', )
    torch.testing.assert_close(plain({'global': h})['mcm'], mcm_score(h @ id_text.T, tau=0.5))
    gl = MCMHead(tau=0.5, local_weight=0.7).prepare(ctx)
    assert gl.feature_kinds == ('global', 'local') and gl.score_names == ('glmcm', 'mcm', 'local_mcm')
    out = gl({'global': h, 'local': loc})
    torch.testing.assert_close(out['glmcm'], glmcm_score(h @ id_text.T, loc @ id_text.T, tau=0.5, local_weight=0.7))
    torch.testing.assert_close(out['mcm'], plain({'global': h})['mcm'])
    with pytest.raises(ValueError, match='tau'):
        MCMHead(tau=0)


@pytest.mark.parametrize('shuffle,drop_first', [(True, True), (True, False), (False, True)])
def test_neglabel_head_matches_pure_function(monkeypatch, shuffle, drop_first, tmp_path):
    id_text, neg, h = unit(4, 16, seed=1), unit(23, 16, seed=2), unit(6, 16, seed=3)
    prompts = [f'the nice w{i}' for i in range(23)]
    monkeypatch.setattr(neglabel_head, 'mine_negative_labels',
                        lambda *a, **k: dict(prompts=prompts, emb=neg, num_noun=23, num_adj=0, cache_hit=False))
    ctx = HeadContext(id_text=id_text, class_names=['a'] * 4, templates=['{}'], backbone=object(),
                      work_dir=str(tmp_path))
    head = NegLabelHead(grouping=dict(ngroup=5, shuffle=shuffle, seed=3, drop_tail_before_shuffle=drop_first),
                        tau=0.05)
    head.prepare(ctx)
    assert head.neg_text.shape == (20, 16) and head.neg_prompts == prompts
    assert (tmp_path / 'neglabel_negatives.txt').read_text().splitlines() == prompts
    perm = group_permutation(23, 5, shuffle=shuffle, seed=3, drop_tail_before_shuffle=drop_first)
    expected = neglabel_score(h @ id_text.T, h @ neg.T, tau=0.05, ngroup=5, perm=perm)
    torch.testing.assert_close(head({'global': h})['neglabel'], expected)
    with pytest.raises(ValueError, match='ngroup=30 is larger than the number of negative labels \\(23\\)'):
        NegLabelHead(grouping=dict(ngroup=30)).prepare(ctx)
    with pytest.raises(ValueError, match='needs the CLIP text tower'):
        NegLabelHead().prepare(HeadContext(id_text=id_text))


def test_heads_need_prepare():
    with pytest.raises(RuntimeError, match='prepare'):
        NegLabelHead()({'global': unit(2, 4)})
    with pytest.raises(RuntimeError, match='prepare'):
        MCMHead()({'global': unit(2, 4)})


# ---------------------------------------------------------------------------------------------- with a text tower
@pytest.fixture(scope='module')
def clip_model(tmp_path_factory):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='MCMHead', tau=1.0),
                              extra_heads=[dict(type='LogitHead', scores=('msp', 'energy'))],
                              cache_dir=str(tmp_path_factory.mktemp('text_cache'))))
    model.eval()
    return model


def test_heads_with_the_text_tower(clip_model, corpus_dir, tmp_path):
    ctx = clip_model.head_context(str(tmp_path))
    feats = {'global': unit(10, 32, seed=7), 'local': unit(10, 16, 32, seed=8)}
    e = clip_model.id_text
    torch.testing.assert_close(prepared('mcm', dict(tau=0.5), ctx)(feats)['mcm'],
                               mcm_score(feats['global'] @ e.T, tau=0.5))
    neg = prepared('neglabel', dict(mining=dict(corpus_dir=corpus_dir, neg_ratio=0.3), grouping=dict(ngroup=2)), ctx)
    assert neg.neg_text.shape[0] >= 2 and (tmp_path / 'neglabel_negatives.txt').exists()
    want = neglabel_score(feats['global'] @ e.T, feats['global'] @ neg.neg_text.T, tau=0.01, ngroup=2)
    torch.testing.assert_close(neg(feats)['neglabel'], want)
    # other prompt templates for one head's prototypes (PLP's pseudo-MSP: MCM with the 5-prompt ensemble)
    other = prepared('pseudo_msp', ctx=ctx)
    assert other.score_names == ('pseudo_mcm', ) and not torch.equal(other.id_text, e)
    torch.testing.assert_close(other(feats)['pseudo_mcm'], mcm_score(feats['global'] @ other.id_text.T))


def test_classifier_named_scores(clip_model):
    """The classifier's scores: every head's, the method's primary first; duplicates and unknown primaries refused."""
    assert clip_model.score_names == ['mcm', 'msp', 'energy'] and clip_model.primary_score == 'mcm'
    feats = {'global': unit(4, 32, seed=9)}
    logits, scores = clip_model.scores_from_features(feats)
    torch.testing.assert_close(logits, 100.0 * feats['global'] @ clip_model.id_text.T)
    assert list(scores) == ['mcm', 'msp', 'energy']
    torch.testing.assert_close(scores['msp'], torch.softmax(logits, 1).amax(1))
    cfg = dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one'],
               head=dict(type='MCMHead'))
    with pytest.raises(ValueError, match="Score names \\['mcm'\\] are given by more than one head"):
        MODELS.build(dict(cfg, extra_heads=[dict(type='MCMHead')]))
    with pytest.raises(ValueError, match="primary_score='odin' is not a score"):
        MODELS.build(dict(cfg, primary_score='odin'))
    second = MODELS.build(dict(cfg, extra_heads=[dict(type='LogitHead')], primary_score='energy'))
    assert second.score_names[0] == 'energy'


def test_method_options_set_one_key_of_an_option_dict():
    """``--method-options negrefine.mining.percentile=0.9``: a dotted key sets one key of the method's option dict,
    the dict's other keys (METHODS' own ``selected_file`` here) kept; an unknown key names the valid ones."""
    from mmood.models.heads import METHODS, MethodError, method_config
    cfg = method_config('negrefine', {'mining.percentile': 0.9, 'grouping.ngroup': 3})
    assert cfg['mining'] == dict(METHODS['negrefine']['mining'], percentile=0.9) and cfg['grouping'] == dict(ngroup=3)
    assert METHODS['negrefine']['mining'].get('percentile') is None  # the table itself is untouched
    with pytest.raises((MethodError, ValueError), match='neg_ration'):
        method_config('neglabel', {'mining.neg_ration': 0.1})
