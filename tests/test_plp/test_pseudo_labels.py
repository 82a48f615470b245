"""PLP pseudo-labels: the hand vector N6 (a 3 -> 2 projection and three prompt embeddings; ID local to this module),
equality with a direct zero-shot computation, duplicate names, caching."""
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.cache import CacheStore
from mmood.scores import mcm_score
from mmood.text import PROMPT_SETS
from mmood.text.pseudo_labels import (compute_pseudo_labels, describe_pseudo_labels, ensemble_prototypes,
                                      label_counts, pseudo_label_logits, resolve_class_names,
                                      unlabelled_classes)

# N6 (see the module docstring)
pytestmark = pytest.mark.usefixtures('single_thread')


W_PROJ = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
P0 = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
P1 = torch.tensor([[1., 0.2], [0.2, 1.], [1., -1.]])
X = torch.tensor([[2., 0., 0.], [0., 1., 3.], [0., 1., 0.]])


def test_n6_prototypes_labels_and_pseudo_msp():
    t = ensemble_prototypes(torch.stack([P0, P1], dim=1))
    np.testing.assert_allclose(t.numpy(), [[0.995133, 0.098538], [0.098538, 0.995133], [1, 0]], atol=1e-6)
    assert compute_pseudo_labels(X, t, W_PROJ).tolist() == [2, 1, 1]
    # normalising after the projection instead gives the same argmax (PLP-2)
    after = F.normalize(X @ W_PROJ, dim=-1) @ t.T
    assert after.argmax(1).tolist() == [2, 1, 1]
    # ...but different logits: PLP normalises before projecting and never renormalises
    before = pseudo_label_logits(X, t, W_PROJ)
    assert not torch.allclose(before, after)
    # pseudo-MSP: MCM with tau = 1 on post-projection cosines
    np.testing.assert_allclose(mcm_score(after, tau=1.0).numpy(), [0.416472, 0.383057, 0.562547], atol=1e-6)


def test_batches_and_memory_maps_give_the_same_labels(tmp_path):
    torch.manual_seed(1)
    feats = torch.randn(1000, 3)
    t = F.normalize(torch.randn(7, 2), dim=-1)
    whole = compute_pseudo_labels(feats, t, W_PROJ, batch_size=4096)
    np.save(tmp_path / 'f.npy', feats.numpy())
    mapped = np.load(tmp_path / 'f.npy', mmap_mode='r')
    np.testing.assert_array_equal(compute_pseudo_labels(mapped, t, W_PROJ, batch_size=33), whole)
    assert whole.dtype == np.int64 and whole.shape == (1000, )


def test_duplicate_names_and_no_label_count():
    t = ensemble_prototypes(torch.stack([P0, P1], dim=1))
    t = torch.cat([t, t[1:2]])  # class 3 duplicates class 1's name: identical prototype
    labels = compute_pseudo_labels(X, t, W_PROJ)
    assert labels.tolist() == [2, 1, 1]  # ties go to the lower index
    counts = label_counts(labels, 4)
    assert counts.tolist() == [0, 2, 1, 0] and unlabelled_classes(counts) == [0, 3]
    line = describe_pseudo_labels(counts, ['a', 'b', 'c', 'b'])
    assert line == 'pseudo-labels of 3 images: 2 of 4 classes received no pseudo-label: 0 (a), 3 (b)'


def test_plp_first_synonym_names():
    names = resolve_class_names('plp_first_synonym')
    assert len(names) == 1000 and names[:2] == ['tench', 'goldfish']
    assert names[134] == names[517] == 'crane' and names[638] == names[639] == 'maillot'
    assert len(set(names)) == 998
    assert resolve_class_names(['a', 'a']) == ['a', 'a']
    assert len(resolve_class_names('txtfiles/imagenet_classes.txt')) == 1000


@pytest.fixture(scope='module')
def tiny_probe():
    torch.manual_seed(0)
    return MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(),
                             class_names=['zero', 'one', 'zero', 'two'])).eval()


def test_equal_to_direct_zero_shot_argmax(tiny_probe):
    model = tiny_probe
    torch.manual_seed(3)
    images = torch.randn(12, 3, 32, 32)
    with torch.no_grad():
        feats = model.backbone.extract_image_features(images, ('pre_proj', 'global'))
        text = model.backbone.build_text_classifier(model.class_names, PROMPT_SETS['plp5'])
    direct = (feats['global'] @ text.T).argmax(1).numpy()  # normalize(x W) . t_c, no cache, no batching
    np.testing.assert_array_equal(model.pseudo_labels(feats['pre_proj']), direct)
    assert model.projection.shape == (64, 32) and model.feature_dim == 64
    assert 2 not in direct.tolist()  # the duplicate of 'zero' is never predicted


def test_prepare_cached_training_caches_counts_and_reports(tiny_probe, tmp_path):
    model = tiny_probe
    torch.manual_seed(4)
    feats = np.asarray(torch.randn(40, 64).numpy())
    cset = SimpleNamespace(feats={'pre_proj': feats}, labels=np.zeros(40, dtype=np.int64),
                           metas={'pre_proj': dict(key_parts=dict(entry='unit-test'), manifest_digest='abc')})
    store = CacheStore(str(tmp_path / 'cache'))
    labels = model.prepare_cached_training(cset, store, work_dir=str(tmp_path))
    np.testing.assert_array_equal(labels, model.pseudo_labels(feats))
    assert len(store.list_entries('pseudo_labels')) == 1
    again = model.prepare_cached_training(cset, store)
    np.testing.assert_array_equal(again, labels)
    assert len(store.list_entries('pseudo_labels')) == 1  # answered by the cache
    counts = np.bincount(labels, minlength=4)
    assert model.class_counts.tolist() == counts.tolist() and counts[2] == 0
    with open(osp.join(str(tmp_path), 'pseudo_labels.json')) as f:
        summary = json.load(f)
    assert summary['num_samples'] == 40 and {'index': 2, 'name': 'zero'} in summary['unlabelled_classes']
    duplicates, note = model.report_notes()  # the duplicate name (the cause), then what the probe saw
    assert "duplicate class names" in duplicates and "['zero']" in duplicates
    assert 'pseudo-labels of 40 images' in note and '2 (zero)' in note
    # the z-score statistics were fitted on the same rows
    np.testing.assert_allclose(model.head.mean.numpy(), feats.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.head.std.numpy(), feats.std(0, ddof=1), rtol=1e-5)


def test_imagenet_duplicates_517_and_639_get_no_pseudo_label():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(),
                              class_names='plp_first_synonym')).eval()
    labels = model.pseudo_labels(torch.randn(3000, 64) * 5)
    counts = label_counts(labels, 1000)
    assert counts[517] == counts[639] == 0  # identical prototypes to 134 ("crane") and 638 ("maillot")
    assert torch.equal(model.id_text[134], model.id_text[517]) and torch.equal(model.id_text[638], model.id_text[639])
    line = describe_pseudo_labels(counts, model.class_names, limit=1000)
    assert '517 (crane)' in line and '639 (maillot)' in line
