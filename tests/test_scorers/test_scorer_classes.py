"""Registered post-hoc scorers: hand-computed values (test_vectors N10-N12), numpy cross-checks, chunking."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.registry import SCORERS
from mmood.scorers import (ScorerContext, build_scorer, evaluate_scores, fit_scorers, list_scorers,
                           parse_method_options, required_kinds, score_split)
from mmood.scores import glmcm_score, mcm_score, neglabel_score

EYE3 = torch.eye(3, dtype=torch.float64)


def ctx3(scale=100.0):
    return ScorerContext(id_text=EYE3, logit_scale=scale)


# ---------------------------------------------------------------------------------------------- registry
def test_registry_and_options():
    names = list_scorers()
    for name in ('msp', 'maxlogit', 'energy', 'l1norm', 'knn', 'mahalanobis', 'rmd', 'mcm', 'glmcm', 'neglabel',
                 'config'):
        assert name in names
        assert SCORERS.get(name) is not None
    with pytest.raises(KeyError, match='registered methods'):
        build_scorer('odin')
    with pytest.raises(TypeError, match='Invalid options'):
        build_scorer('knn', dict(kk=3))
    assert parse_method_options(['knn.k=100', 'energy.temperature=2.5', 'knn.form=exp_cos',
                                 'mahalanobis.relative=True']) == {
        'knn': {'k': 100, 'form': 'exp_cos'}, 'energy': {'temperature': 2.5}, 'mahalanobis': {'relative': True}}
    with pytest.raises(ValueError, match='method.option=value'):
        parse_method_options(['k=100'])
    assert build_scorer('knn', dict(k=7)).k == 7


# ---------------------------------------------------------------------------------------------- N10: logit scores
def test_logit_scorers_n10():
    feats = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)  # logits = 1 * feats @ I
    ctx = ctx3()
    energy = build_scorer('energy', dict(logit_scale=1.0)).prepare(ctx)
    msp = build_scorer('msp', dict(logit_scale=1.0)).prepare(ctx)
    l1 = build_scorer('l1norm', dict(logit_scale=1.0)).prepare(ctx)
    maxlogit = build_scorer('maxlogit', dict(logit_scale=1.0)).prepare(ctx)
    np.testing.assert_allclose(energy(feats).numpy(), [2.407606, 1.098612], atol=1e-6)
    np.testing.assert_allclose(msp({'global': feats}).numpy(), [0.665241, 0.333333], atol=1e-6)
    np.testing.assert_allclose(l1(feats).numpy(), [3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(maxlogit(feats).numpy(), [2.0, 0.0], atol=1e-12)
    # temperature: T * lse(l / T) and max softmax(l / T)
    e2 = build_scorer('energy', dict(logit_scale=1.0, temperature=2.0)).prepare(ctx)
    np.testing.assert_allclose(e2(feats).numpy()[0], 2 * np.log(np.exp(1.0) + np.exp(0.5) + 1.0), atol=1e-12)
    m2 = build_scorer('msp', dict(logit_scale=1.0, temperature=2.0)).prepare(ctx)
    np.testing.assert_allclose(m2(feats).numpy()[0], np.exp(1.0) / (np.exp(1.0) + np.exp(0.5) + 1.0), atol=1e-12)


def test_logit_scale_default_and_from_classifier():
    h = F.normalize(torch.tensor([[0.3, 0.2, 0.1]], dtype=torch.float64), dim=1)
    default = build_scorer('maxlogit').prepare(ctx3(scale=50.0))
    np.testing.assert_allclose(default(h).numpy(), 100.0 * h[0, 0].item())  # 100 unless told otherwise
    model_scale = build_scorer('maxlogit', dict(logit_scale=None)).prepare(ctx3(scale=50.0))
    np.testing.assert_allclose(model_scale(h).numpy(), 50.0 * h[0, 0].item())
    with pytest.raises(RuntimeError, match='prepare'):
        build_scorer('msp').score(h)


# ---------------------------------------------------------------------------------------------- N12: KNN
def _n12():
    ang = np.deg2rad([0.0, 90.0, 180.0, 270.0])
    bank = torch.from_numpy(np.stack([np.cos(ang), np.sin(ang)], axis=1))
    query = torch.tensor([[np.cos(np.pi / 4), np.sin(np.pi / 4)]], dtype=torch.float64)
    return query, bank


def test_knn_n12():
    query, bank = _n12()
    for k, want in ((2, -0.585786), (3, -3.414214)):
        scorer = build_scorer('knn', dict(k=k)).prepare(ctx3()).fit(bank)
        np.testing.assert_allclose(scorer(query).numpy(), [want], atol=1e-6)
    with pytest.raises(ValueError, match='knn.k'):
        build_scorer('knn').fit(bank)  # k = 50 > 4 bank features: a clear error
    with pytest.raises(RuntimeError, match='fit'):
        build_scorer('knn', dict(k=1)).score(query)


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
    for form, k in (('distance', 5), ('distance', 1), ('exp_cos', 3)):
        want = _knn_numpy(query, bank, k, form, 0.5)
        full = build_scorer('knn', dict(k=k, form=form, temperature=0.5)).prepare(ctx3()).fit(
            torch.from_numpy(bank))(torch.from_numpy(query)).numpy()
        np.testing.assert_allclose(full, want, rtol=1e-6, atol=1e-6)  # the scorer keeps a float32 bank
        chunked = build_scorer('knn', dict(k=k, form=form, temperature=0.5, chunk_size=4,
                                           bank_chunk_size=7)).prepare(ctx3()).fit(torch.from_numpy(bank))
        np.testing.assert_allclose(chunked(torch.from_numpy(query)).numpy(), full, rtol=0, atol=1e-12)
    # float32 features (the cache) through the float32 bank the scorer keeps
    q32, b32 = torch.from_numpy(query).float(), torch.from_numpy(bank).float()
    one = build_scorer('knn', dict(k=5)).prepare(ctx3()).fit(b32)(q32)
    many = build_scorer('knn', dict(k=5, chunk_size=3, bank_chunk_size=5)).prepare(ctx3()).fit(b32)(q32)
    assert one.dtype == torch.float32
    torch.testing.assert_close(many, one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(one.numpy(), _knn_numpy(query, bank, 5), atol=1e-5)


# ---------------------------------------------------------------------------------------------- N11: Mahalanobis
def _n11():
    c0 = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype=np.float64)
    feats = np.concatenate([c0, c0 + [10, 0]])
    labels = np.array([0] * 4 + [1] * 4)
    queries = np.array([[1, 1], [6, 1], [11, 3]], dtype=np.float64)
    return torch.from_numpy(feats), torch.from_numpy(labels), torch.from_numpy(queries)


def test_mahalanobis_n11():
    feats, labels, queries = _n11()
    ctx = ScorerContext(id_text=torch.zeros(2, 2), logit_scale=100.0)
    maha = build_scorer('mahalanobis', dict(shrinkage=0.0)).prepare(ctx).fit(feats, labels)
    np.testing.assert_allclose(maha(queries).numpy(), [0.0, -18.75, -3.0], atol=1e-9)
    rel = build_scorer('mahalanobis', dict(shrinkage=0.0, relative=True)).prepare(ctx).fit(feats, labels)
    np.testing.assert_allclose(rel(queries).numpy(), [0.841346, -18.75, 1.341346], atol=1e-6)
    rmd = build_scorer('rmd', dict(shrinkage=0.0)).prepare(ctx).fit({'global': feats}, labels)
    np.testing.assert_allclose(rmd({'global': queries}).numpy(), rel(queries).numpy())
    # the default shrinkage (1e-6 relative) barely moves the values
    np.testing.assert_allclose(build_scorer('mahalanobis').prepare(ctx).fit(feats, labels)(queries).numpy(),
                               [0.0, -18.75, -3.0], atol=1e-4)
    with pytest.raises(ValueError, match='labels'):
        build_scorer('mahalanobis').fit(feats)


def _maha_numpy(x, feats, labels, covariance):
    classes = np.unique(labels)
    means = np.stack([feats[labels == c].mean(0) for c in classes])
    if covariance == 'pooled':
        centred = feats - means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / (len(feats) - len(classes))
    else:
        cov = np.mean([np.cov(feats[labels == c], rowvar=False) for c in classes], axis=0)
    prec = np.linalg.inv(cov)
    d = np.stack([np.einsum('nd,de,ne->n', x - m, prec, x - m) for m in means], axis=1)
    return -d.min(axis=1)


@pytest.mark.parametrize('covariance', ['pooled', 'mean_per_class'])
def test_mahalanobis_vs_numpy(covariance):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 15)
    feats = rng.normal(size=(60, 5)) + labels[:, None] * 0.7
    x = rng.normal(size=(23, 5))
    ctx = ScorerContext(id_text=torch.zeros(4, 5), logit_scale=100.0)
    scorer = build_scorer('mahalanobis', dict(covariance=covariance, shrinkage=0.0, chunk_size=6)).prepare(ctx)
    scorer.fit(torch.from_numpy(feats), torch.from_numpy(labels))
    np.testing.assert_allclose(scorer(torch.from_numpy(x)).numpy(), _maha_numpy(x, feats, labels, covariance),
                               rtol=1e-9, atol=1e-9)


def test_mahalanobis_singular_covariance_is_finite():
    rng = np.random.default_rng(2)
    feats = torch.from_numpy(rng.normal(size=(6, 10)))  # D > N: singular covariance
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    ctx = ScorerContext(id_text=torch.zeros(2, 10), logit_scale=100.0)
    out = build_scorer('mahalanobis').prepare(ctx).fit(feats, labels)(torch.from_numpy(rng.normal(size=(4, 10))))
    assert torch.isfinite(out).all()


# ------------------------------------------------------------------------------------ heads via the text tower
@pytest.fixture(scope='module')
def clip_model(tmp_path_factory, corpus_dir):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=dict(type='MCMHead', tau=1.0),
                              cache_dir=str(tmp_path_factory.mktemp('text_cache'))))
    model.eval()
    return model


def _random_feats(n=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {'global': F.normalize(torch.randn(n, 32, generator=gen), dim=-1),
            'local': F.normalize(torch.randn(n, 16, 32, generator=gen), dim=-1)}


def test_zero_shot_head_scorers(clip_model, corpus_dir, tmp_path):
    ctx = ScorerContext.from_model(clip_model, work_dir=str(tmp_path))
    feats = _random_feats()
    e = clip_model.id_text
    mcm = build_scorer('mcm', dict(tau=0.5)).prepare(ctx)
    torch.testing.assert_close(mcm(feats), mcm_score(feats['global'] @ e.T, tau=0.5))
    glmcm = build_scorer('glmcm').prepare(ctx)
    assert glmcm.feature_kinds == ('global', 'local')
    torch.testing.assert_close(glmcm(feats), glmcm_score(feats['global'] @ e.T, feats['local'] @ e.T, 1.0, 0.5))
    neg = build_scorer('neglabel', dict(corpus_dir=corpus_dir, ngroup=2, neg_ratio=0.3)).prepare(ctx)
    neg_text = neg.head.neg_text
    assert neg_text.shape[0] >= 2 and (tmp_path / 'neglabel_negatives.txt').exists()
    # the head keeps its negatives already permuted and grouped (tests/test_models/test_heads.py checks that
    # against the pure function with the permutation), so the groups are contiguous blocks here
    assert neg_text.shape[0] == len(neg.head.perm) and neg_text.shape[0] % 2 == 0
    want = neglabel_score(feats['global'] @ e.T, feats['global'] @ neg_text.T, tau=0.01, ngroup=2)
    torch.testing.assert_close(neg(feats), want)
    # the config's own head is exactly scores_from_features
    config = build_scorer('config').prepare(ctx)
    torch.testing.assert_close(config(feats), clip_model.scores_from_features(feats)[1], rtol=0, atol=0)
    # other prompt templates for one scorer's prototypes
    other = build_scorer('mcm', dict(templates=['a blurry photo of a {}'])).prepare(ctx)
    assert not torch.equal(other.id_text, e)


def test_score_split_and_metrics(clip_model, tmp_path):
    """score_split over a tiny in-memory split equals direct scoring; metrics come from OODMetric.calculate."""
    from mmood.evaluation import OODMetric
    ctx = ScorerContext.from_model(clip_model)
    feats = _random_feats(12, seed=3)
    set_ids = np.array([0] * 6 + [1] * 3 + [2] * 3)
    labels = np.array([0, 1, 2, 0, 1, 2] + [-1] * 6)

    class Split:  # the FeatureSplit interface score_split uses
        def __len__(self):
            return 12

        def iter_batches(self, kinds, batch_size, device='cpu'):
            for s in range(0, 12, batch_size):
                yield {k: feats[k][s:s + batch_size] for k in kinds}

    scorers = {name: build_scorer(name, opts).prepare(ctx) for name, opts in
               (('config', None), ('msp', None), ('knn', dict(k=2)), ('mahalanobis', None))}
    assert required_kinds(scorers) == ('global', )
    train = _random_feats(9, seed=4)['global']
    fit_scorers(scorers, {'global': train.numpy()}, np.array([0, 1, 2] * 3))
    scores, preds = score_split(scorers, Split(), ctx.id_text, ctx.logit_scale, batch_size=5)
    logits, ood = clip_model.scores_from_features(feats)
    np.testing.assert_array_equal(scores['config'], ood.float().numpy())
    np.testing.assert_array_equal(preds, logits.softmax(1).argmax(1).numpy())
    np.testing.assert_allclose(scores['msp'], torch.softmax(100.0 * feats['global'] @ ctx.id_text.T, 1).amax(1),
                               rtol=1e-6)
    metrics = evaluate_scores(scores, set_ids, ['ID', 'A', 'B'], ['id', 'far', 'near'], labels, preds)
    assert metrics['knn'] == OODMetric.calculate(scores['knn'], set_ids, ['ID', 'A', 'B'], ['id', 'far', 'near'],
                                                 labels, preds)
    assert set(metrics) == set(scorers) and 'near/AUROC' in metrics['msp'] and 'ID/accuracy' in metrics['msp']
