"""PLP scores: energy / MSP / L1 of the probe's logits, pseudo-MSP, the fitted variants, and a synthetic
benchmark where the probe trained on noisy pseudo-labels beats pseudo-MSP."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

from mmood.evaluation import ood_metrics
from mmood.models.heads import HeadContext, LinearProbeHead, build_method, zscore_statistics
from mmood.scores import mcm_score
from mmood.text import PROMPT_SETS
from mmood.text.pseudo_labels import compute_pseudo_labels


pytestmark = pytest.mark.usefixtures('single_thread')


def identity_probe(width=3, classes=3):
    """A probe whose logits are the first `classes` input coordinates."""
    head = LinearProbeHead(width, classes, feature='pre_proj')
    head.set_statistics(torch.zeros(width), torch.ones(width))
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(classes, width))
        head.fc.bias.zero_()
    return head


def context(head, id_text=None, pseudo_labels=None):
    """The head context of a PLP classifier: what it lends its heads (its probe, its pseudo-labels)."""
    lent = dict(probe=head) if pseudo_labels is None else dict(probe=head, pseudo_labels=pseudo_labels)
    return HeadContext(id_text=id_text if id_text is not None else torch.eye(3), extra=lent)


def method(name, ctx, options=None):
    return build_method(name, options).prepare(ctx)


def test_n10_logit_scores():
    head = identity_probe()
    feats = {'pre_proj': torch.tensor([[2., 1., 0.], [0., 0., 0.]])}
    expected = dict(plp_energy=[2.407606, 1.098612], plp_msp=[0.665241, 0.333333], plp_l1norm=[3.0, 0.0],
                    plp_maxlogit=[2.0, 0.0])
    for name, values in expected.items():
        head_of_method = method(name, context(head))
        assert head_of_method.feature_kinds == ('pre_proj', ) and head_of_method.score_names == (name, )
        np.testing.assert_allclose(head_of_method(feats)[name].numpy(), values, atol=1e-6)
    # the config's own head (tools/test.py) gives the same numbers, primary first
    full = LinearProbeHead(3, 3, feature='pre_proj', score='msp', scores=('energy', 'l1norm', 'maxlogit'))
    full.load_state_dict(head.state_dict())
    out = full(feats)
    assert list(out) == ['plp_msp', 'plp_energy', 'plp_l1norm', 'plp_maxlogit']
    for name, values in out.items():
        np.testing.assert_allclose(values.detach().numpy(), expected[name], atol=1e-6)
    with pytest.raises(ValueError, match='untrained'):
        method('plp_energy', context(LinearProbeHead(3, 3)))
    with pytest.raises(ValueError, match='LinearProbeClassifier'):
        method('plp_msp', HeadContext(id_text=torch.eye(3)))


def test_pseudo_msp_is_mcm_with_the_5_prompt_ensemble():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(), class_names=['a', 'b', 'c']))
    model.head.set_statistics(torch.zeros(64), torch.ones(64))
    ctx = model.head_context()
    scorer = method('pseudo_msp', ctx)
    with torch.no_grad():
        feats = model.backbone.extract_image_features(torch.randn(5, 3, 32, 32), ('global', 'pre_proj'))
        text = model.backbone.build_text_classifier(['a', 'b', 'c'], PROMPT_SETS['plp5'])
    expected = torch.softmax(feats['global'] @ text.T, dim=1).amax(1)  # tau = 1 on cosines
    np.testing.assert_allclose(scorer(feats)['pseudo_mcm'].numpy(), expected.numpy(), rtol=1e-5)


def test_fitted_variants_use_pseudo_labels_and_probe_spaces():
    torch.manual_seed(0)
    x, xq = torch.randn(40, 3) * 2 + 1, torch.randn(6, 3)
    head = LinearProbeHead(3, 3, feature='pre_proj')
    head.set_statistics(*zscore_statistics(x))
    pseudo = torch.tensor([0, 1, 1] * 13 + [0])

    def pseudo_labels(raw):
        return pseudo.numpy()

    z, zq = head.standardize(x), head.standardize(xq)
    with torch.no_grad():
        lg = head.logits(x)
    knn = method('plp_knn', context(head, pseudo_labels=pseudo_labels), dict(k=1)).fit({'pre_proj': x})
    best = (F.normalize(zq, dim=-1) @ F.normalize(z, dim=-1).T).amax(1)
    np.testing.assert_allclose(knn({'pre_proj': xq})['plp_knn'].numpy(), torch.exp(best / 0.02).numpy(), rtol=1e-4)
    maha = method('plp_mahalanobis', context(head, pseudo_labels=pseudo_labels))
    maha.fit({'pre_proj': x}, torch.zeros(40, dtype=torch.long))
    assert maha.gaussians['class_mask'].tolist() == [True, True, False]  # class 2 got no pseudo-label
    mu = torch.stack([z[pseudo == c].mean(0) for c in (0, 1)]).double()
    cov = sum(((z[pseudo == c].double() - mu[c]).T @ (z[pseudo == c].double() - mu[c])) for c in (0, 1)) / 40
    prec = torch.linalg.inv(cov)
    d = torch.stack([(((zq.double() - mu[c]) @ prec) * (zq.double() - mu[c])).sum(1) for c in (0, 1)], 1)
    np.testing.assert_allclose(maha({'pre_proj': xq})['plp_mahalanobis'].numpy(), (-d.min(1).values).numpy(),
                               rtol=1e-4)
    logit = method('plp_logit_mahalanobis', context(head, pseudo_labels=pseudo_labels), dict(shrinkage=0.0))
    logit.fit({'pre_proj': x})
    assert logit.covariance == 'mean_per_class'
    np.testing.assert_allclose(logit.gaussians['means'][:2].numpy(),
                               torch.stack([lg[pseudo == c].mean(0) for c in (0, 1)]).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert torch.isfinite(logit({'pre_proj': xq})['plp_logit_mahalanobis']).all()
    true = method('plp_mahalanobis', context(head, pseudo_labels=pseudo_labels), dict(labels='true'))
    true.fit({'pre_proj': x}, torch.arange(40) % 3)
    assert true.gaussians['class_mask'].tolist() == [True, True, True]


def synthetic_benchmark(seed=1, dim=32, classes=6, per_class=100):
    """Separable ID classes around a shared offset, OOD = the offset plus noise, text prototypes = noisy class
    directions (pseudo-labels ~70 % right)."""
    g = torch.Generator().manual_seed(seed)
    offset = F.normalize(torch.randn(dim, generator=g), dim=0) * 2
    means = F.normalize(torch.randn(classes, dim, generator=g), dim=-1) * 4

    def sample(n):
        y = torch.arange(n) % classes
        return offset + means[y] + torch.randn(n, dim, generator=g), y

    x_train, y_train = sample(classes * per_class)
    x_test, _ = sample(classes * 50)
    x_ood = offset + torch.randn(200, dim, generator=g)
    prototypes = F.normalize(F.normalize(means, dim=-1) + 1.5 * torch.randn(classes, dim, generator=g) / dim**0.5,
                             dim=-1)
    return x_train, y_train, x_test, x_ood, prototypes, g


def test_probe_on_noisy_pseudo_labels_beats_pseudo_msp():
    x_train, y_train, x_test, x_ood, prototypes, g = synthetic_benchmark()
    pseudo = torch.from_numpy(compute_pseudo_labels(x_train, prototypes))  # projected space = identity here
    assert 0.5 < (pseudo == y_train).float().mean() < 0.9  # noisy pseudo-labels
    torch.manual_seed(0)
    head = LinearProbeHead(x_train.shape[1], prototypes.shape[0], feature='pre_proj', score='energy')
    head.set_statistics(*zscore_statistics(x_train))
    opt = torch.optim.Adam(head.fc.parameters(), lr=1e-2, weight_decay=1e-3)
    sched = PARAM_SCHEDULERS.build(dict(type='WarmupCosineLR', end=300, by_epoch=False),
                                   default_args=dict(optimizer=opt))
    for _ in range(300):
        idx = torch.randint(0, len(x_train), (64, ), generator=g)
        loss = F.cross_entropy(head.logits(x_train[idx]), pseudo[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    scorer = method('plp_energy', context(head))
    pmsp = method('pseudo_msp', context(head, id_text=prototypes), dict(templates=None))
    with torch.no_grad():
        probe = ood_metrics(scorer({'pre_proj': x_test})['plp_energy'].numpy(),
                            scorer({'pre_proj': x_ood})['plp_energy'].numpy())
    unit = {'global': F.normalize(x_test, dim=-1)}, {'global': F.normalize(x_ood, dim=-1)}
    base = ood_metrics(pmsp(unit[0])['pseudo_mcm'].numpy(), pmsp(unit[1])['pseudo_mcm'].numpy())
    np.testing.assert_allclose(pmsp(unit[0])['pseudo_mcm'].numpy(),
                               mcm_score(unit[0]['global'] @ prototypes.T, 1.0).numpy(), rtol=1e-6)
    print(f'synthetic AUROC: probe (energy) {probe["AUROC"]:.2f} vs pseudo-MSP {base["AUROC"]:.2f}')
    assert probe['AUROC'] > base['AUROC'] + 5
