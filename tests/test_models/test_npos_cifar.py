"""NPOS from scratch on CIFAR: CIDER's losses against the test vectors and the reference's sequential maths, the
CIFAR ResNet-18 / -34 against the reference's architecture, the classifier's training step (two views, queues,
synthesis from start_iter, prototype initialisation), the data-preprocessor's views and the small-image OOD sets."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

from mmood.datasets import BENCHMARKS, benchmark_sets, seeded_subset, svhn_selection
from mmood.models.losses import CIDERLoss, compactness_loss, dispersion_loss, prototype_ema


def unit(deg):
    return torch.tensor([[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in deg], dtype=torch.float64)


# ------------------------------------------------------------------ CIDER test vectors
def test_compactness_vector():
    loss = compactness_loss(unit([30]), torch.tensor([0]), unit([0, 90]), temperature=0.1, base_temperature=0.07)
    assert float(loss) == pytest.approx(0.0362866, abs=1e-7)


def test_dispersion_vector():
    protos = unit([0, 90, 180])
    logits = protos @ protos.T / 0.1
    rows = [math.log(sum(math.exp(float(logits[i, j])) for j in range(3) if j != i) / 2) for i in range(3)]
    assert rows == pytest.approx([-0.693102, 0.0, -0.693102], abs=1e-6)
    assert float(dispersion_loss(protos, 0.1, 0.1)) == pytest.approx(-0.462068, abs=1e-6)


@pytest.mark.parametrize('m, expected', [(0.95, (0.998618, 0.052559)), (0.5, (0.707107, 0.707107))])
def test_ema_vector(m, expected):
    out = prototype_ema(unit([0]), unit([90]), torch.tensor([0]), m)
    assert out[0].tolist() == pytest.approx(expected, abs=1e-6)


def reference_ema(prototypes, feats, labels, m):
    """DispLoss.forward's loop, transcribed."""
    prototypes = prototypes.clone()
    for j in range(len(feats)):
        prototypes[labels[j].item()] = F.normalize(prototypes[labels[j].item()] * m + feats[j] * (1 - m), dim=0)
    return prototypes


def reference_losses(feats, labels, prototypes, m, temp=0.1):
    """CompLoss and DispLoss of the reference (losses.py), transcribed with its mask arithmetic."""
    protos = reference_ema(prototypes, feats, labels, m)
    num_cls = protos.shape[0]
    lab = torch.arange(num_cls).view(-1, 1)
    mask = 1 - torch.eq(lab, lab.T).float().to(feats.dtype)
    logits = protos @ protos.T / temp
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(num_cls).view(-1, 1), 0)
    mask = mask * logits_mask
    neg = torch.log((mask * torch.exp(logits)).sum(1) / mask.sum(1))
    dis = temp / 0.1 * neg[~torch.isnan(neg)].mean()
    p = F.normalize(protos.detach(), dim=1)
    mask = torch.eq(labels.view(-1, 1), torch.arange(num_cls).view(1, -1)).float().to(feats.dtype)
    dot = feats @ p.T / temp
    logit = dot - dot.max(1, keepdim=True)[0].detach()
    log_prob = logit - torch.log(torch.exp(logit).sum(1, keepdim=True))
    comp = -(temp / 0.07) * (mask * log_prob).sum(1).mean()
    return dis, comp, protos.detach()


@pytest.mark.parametrize('m', [0.95, 0.5])
def test_cider_loss_equals_reference_values_and_gradients(m):
    gen = torch.Generator().manual_seed(0)
    feats = F.normalize(torch.randn(40, 16, generator=gen, dtype=torch.float64), dim=1)
    labels = torch.randint(0, 5, (40, ), generator=gen)
    start = F.normalize(torch.randn(5, 16, generator=gen, dtype=torch.float64), dim=1)
    a = feats.clone().requires_grad_(True)
    dis, comp, protos = reference_losses(a, labels, start, m)
    (0.5 * dis + comp).backward()
    loss = CIDERLoss(5, 16, momentum=m).double()
    loss.initialise(start)
    b = feats.clone().requires_grad_(True)
    out = loss(b, labels)
    (out['loss_dis'] + out['loss_comp']).backward()
    assert float(out['loss_dis'].detach()) == pytest.approx(0.5 * float(dis.detach()), abs=1e-10)
    assert float(out['loss_comp'].detach()) == pytest.approx(float(comp.detach()), abs=1e-10)
    torch.testing.assert_close(loss.prototypes, protos, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.grad, a.grad, rtol=1e-9, atol=1e-12)
    assert float(b.grad.abs().sum()) > 0


def test_cider_loss_leaves_prototypes_in_eval_and_checks():
    loss = CIDERLoss(3, 4)
    loss.initialise(torch.eye(3, 4), torch.ones(3))
    before = loss.prototypes.clone()
    loss.eval()
    loss(F.normalize(torch.randn(6, 4), dim=1), torch.tensor([0, 1, 2, 0, 1, 2]))
    assert torch.equal(loss.prototypes, before)
    with pytest.raises(ValueError, match='no training image'):
        loss.initialise(torch.ones(3, 4), torch.tensor([1, 0, 2]))


# ------------------------------------------------------------------ the CIFAR ResNet
@pytest.mark.parametrize('depth, blocks, params', [(18, (2, 2, 2, 2), 11168832), (34, (3, 4, 6, 3), 21276992)])
def test_cifar_resnet_matches_the_reference(depth, blocks, params, single_thread):
    backbone = MODELS.build(dict(type='CIFARResNetBackbone', depth=depth))
    backbone.init_weights()
    net = backbone.resnet
    # kuangliu / the reference's ResNet-18 has 11,173,962 parameters with its 512 x 10 fc (5,130): no fc here
    assert sum(p.numel() for p in net.parameters()) == params
    assert tuple(len(getattr(net, f'layer{i}')) for i in range(1, 5)) == blocks
    assert net.conv1.weight.shape == (64, 3, 3, 3) and net.conv1.stride == (1, 1) and net.conv1.bias is None
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())
    assert not hasattr(net.layer1[0], 'downsample') or net.layer1[0].downsample is None
    for i, width in zip((2, 3, 4), (128, 256, 512)):
        assert net.get_submodule(f'layer{i}.0.downsample.0').weight.shape[:2] == (width, width // 2)
    # no zero-init residual: every last BN of a block starts at 1
    assert all(float(b.norm2.weight.detach().min()) == 1.0 for layer in (net.layer1, net.layer4) for b in layer)
    assert backbone.embed_dim == 512 and not backbone.has_text
    with torch.no_grad():
        feats = backbone.extract_image_features(torch.randn(2, 3, 32, 32), ('global', 'embed'))
    assert feats['embed'].shape == (2, 512) and bool((feats['embed'] >= 0).all())
    torch.testing.assert_close(feats['global'].norm(dim=1), torch.ones(2))


# ------------------------------------------------------------------ the classifier
def tiny_model(**kwargs):
    cfg = dict(type='NPOSCIFARClassifier', backbone=dict(type='CIFARResNetBackbone', depth=18, base_channels=4),
               class_names=['a', 'b', 'c'], head=dict(type='KNNHead', k=2),
               synthesis=dict(type='NPOSOutlierSynthesis', queue_size=4, k=2, select=3, picks=2, num_draws=8,
                              keep=3),
               start_iter=2)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_heads_and_training_step(single_thread):
    model = MODELS.build(dict(type='NPOSCIFARClassifier', backbone=dict(type='CIFARResNetBackbone', depth=18),
                              class_names=[str(i) for i in range(10)]))
    shapes = [tuple(p.shape) for p in model.proj_head.parameters()]
    assert shapes == [(512, 512), (512, ), (128, 512), (128, )]
    assert [tuple(p.shape) for p in model.outlier_mlp.parameters()] == [(128, 512), (128, ), (1, 128), (1, )]
    assert model.cider.prototypes.shape == (10, 128) and model.synthesis.queue.shape == (10, 1000, 512)
    assert (model.synthesis.k, model.synthesis.select, model.synthesis.picks, model.synthesis.num_draws,
            model.synthesis.keep) == (300, 200, 2, 600, 200)

    model = tiny_model()
    model.train()
    with pytest.raises(RuntimeError, match='IDTrainInitHook'):
        model.loss([torch.randn(3, 3, 32, 32)] * 2, torch.tensor([0, 1, 2]))
    batches = [dict(inputs=torch.randint(0, 255, (6, 3, 32, 32), dtype=torch.uint8),
                    data_samples=[_sample(i % 3) for i in range(6)])]
    model.init_prototypes(batches)
    assert model.training and bool(model.cider.initialised)
    torch.testing.assert_close(model.cider.prototypes.norm(dim=1), torch.ones(3))
    gen = torch.Generator().manual_seed(0)
    seen = []
    for step in range(4):
        views = [torch.randn(6, 3, 32, 32, generator=gen) for _ in range(2)]
        out = model.loss(views, torch.tensor([0, 1, 2, 0, 1, 2]))
        total = out['loss_dis'] + out['loss_comp'] + out['loss_reg']
        total.backward()
        seen.append((float(out['outliers']), int(model.synthesis.count.sum())))
    # 12 views per step fill the 3 queues of 4 in the first step; outliers (3 classes x 2 picks x 3) from step 2
    assert seen == [(0.0, 12), (0.0, 12), (18.0, 12), (18.0, 12)]
    assert int(model.iteration) == 4 and int(model.synthesis.step) == 2
    assert model.backbone.resnet.conv1.weight.grad is not None and model.outlier_mlp[0].weight.grad is not None
    model.eval()
    feats = model.extract_feat(torch.randn(2, 3, 32, 32))
    assert set(feats) == {'global', 'embed'} and model.class_logits(feats).shape == (2, 3)


def _sample(label):
    from mmpretrain.structures import DataSample
    return DataSample().set_gt_label(label)


def test_multi_view_preprocessor_normalises_each_view():
    pre = MODELS.build(dict(type='MultiViewDataPreprocessor', mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 8.0],
                            to_rgb=True))
    a, b = (torch.randint(0, 255, (2, 3, 4, 4), dtype=torch.uint8) for _ in range(2))
    out = pre(dict(inputs=[a, list(b)], data_samples=None))
    single = pre(dict(inputs=a, data_samples=None))
    assert len(out['inputs']) == 2
    torch.testing.assert_close(out['inputs'][0], single['inputs'])
    torch.testing.assert_close(out['inputs'][1][:, 0], (b[:, 2].float() - 10) / 2)  # BGR -> RGB, then mean/std


# ------------------------------------------------------------------ small-image OOD sets
def test_svhn_selection_rule_and_dataset(tmp_path):
    labels = np.array([1, 1, 2, 1, 10, 2, 10, 10, 1])
    assert svhn_selection(labels, per_class=2).tolist() == [0, 1, 2, 4, 5, 6]
    from scipy.io import savemat
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 32, 3, 9), dtype=np.uint8)
    savemat(str(tmp_path / 'test_32x32.mat'), dict(X=x, y=labels.reshape(-1, 1)))
    ds = DATASETS.build(dict(type='SVHNMatDataset', data_root=str(tmp_path), per_class=2))
    assert len(ds) == 6 and [ds.get_data_info(i)['gt_label'] for i in range(6)] == [1, 1, 2, 0, 2, 0]
    assert np.array_equal(ds.get_data_info(3)['img'], x[..., 4])
    assert len(DATASETS.build(dict(type='SVHNMatDataset', data_root=str(tmp_path), selection='full'))) == 9


def test_seeded_subset_and_loading_step(tmp_path):
    sub = seeded_subset(100, 10, 0)
    assert len(sub) == 10 and list(sub) == sorted(sub) and np.array_equal(sub, seeded_subset(100, 10, 0))
    assert seeded_subset(5, 10, 0).tolist() == [0, 1, 2, 3, 4]
    from PIL import Image
    for i in range(5):
        Image.fromarray(np.full((8, 8, 3), (i * 10, 0, 255), np.uint8)).save(tmp_path / f'img_{i}.png')
    ds = DATASETS.build(dict(type='SeededSubsetFolder', data_root=str(tmp_path), num=3, seed=1))
    paths = [ds.get_data_info(i)['img_path'] for i in range(3)]
    assert [osp.basename(p) for p in paths] == [f'img_{i}.png' for i in seeded_subset(5, 3, 1)]
    load = TRANSFORMS.build(dict(type='LoadImageOrArray'))
    from_file = load(dict(img_path=paths[0]))['img']
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 7
    from_array = load(dict(img=rgb))['img']
    assert from_file[0, 0].tolist()[0] == 255 and from_array[0, 0].tolist() == [0, 0, 7]  # both BGR


def test_benchmark_rows():
    small = benchmark_sets('cifar10_small_ood', 'data')
    assert [s['name'] for s in small['ood_sets']] == ['SVHN', 'LSUN-C', 'LSUN-R', 'iSUN', 'Textures', 'Places365']
    assert small['id_set']['dataset']['type'] == 'CIFAR10'
    assert BENCHMARKS['cifar100_small_ood']['id_set']['dataset']['type'] == 'CIFAR100'
    v15 = benchmark_sets('openood_v15_cifar100', 'data')
    assert v15['id_set']['ann_file'] == 'data/openood/benchmark_imglist/cifar100/test_cifar100.txt'
    assert [(s['name'], s['group']) for s in v15['ood_sets']] == [
        ('CIFAR-10', 'near'), ('TinyImageNet', 'near'), ('MNIST', 'far'), ('SVHN', 'far'), ('Textures', 'far'),
        ('Places365', 'far')]


# ------------------------------------------------------------------ two processes
def _ddp_worker(rank, port, out):
    from conftest import gloo_group
    with gloo_group(rank, port, 2):
        torch.manual_seed(0)  # the same initial weights on both ranks (and in the one-process run)
        model = tiny_model(start_iter=10**6).double()
        model.cider.initialise(F.normalize(torch.randn(3, 128, generator=torch.Generator().manual_seed(1),
                                                       dtype=torch.float64), dim=1))
        model.train()
        model.backbone.eval()  # BN statistics are per process under DDP (accepted); here they must not differ
        gen = torch.Generator().manual_seed(2)
        views = [torch.randn(8, 3, 32, 32, generator=gen, dtype=torch.float64) for _ in range(2)]
        labels = torch.randint(0, 3, (8, ), generator=gen)
        local = slice(4 * rank, 4 * rank + 4)
        out_ = model.loss([v[local] for v in views], labels[local])
        (out_['loss_dis'] + out_['loss_comp']).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        for g in grads.values():  # what DDP does: the mean over processes
            torch.distributed.all_reduce(g)
            g /= 2
        torch.save(dict(grads=grads, prototypes=model.cider.prototypes.clone(),
                        queue=model.synthesis.queue.clone(), views=views, labels=labels),
                   osp.join(out, f'rank{rank}.pt'))


def test_two_processes_train_as_one_global_batch(tmp_path):
    from conftest import spawn_with_port
    spawn_with_port(_ddp_worker, 2, (str(tmp_path), ), start_method='fork')  # no re-import: ~1 s, not ~8
    a, b = (torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in (0, 1))
    assert torch.equal(a['prototypes'], b['prototypes']) and torch.equal(a['queue'], b['queue'])
    # one process on the gathered batch in rank order (rank 0's two views, then rank 1's)
    torch.manual_seed(0)
    model = tiny_model(start_iter=10**6).double()
    model.cider.initialise(F.normalize(torch.randn(3, 128, generator=torch.Generator().manual_seed(1),
                                                   dtype=torch.float64), dim=1))
    model.train()
    model.backbone.eval()
    views, labels = a['views'], a['labels']
    x = torch.cat([views[0][:4], views[1][:4], views[0][4:], views[1][4:]])
    y = torch.cat([labels[:4], labels[:4], labels[4:], labels[4:]])
    out = model.loss(x, y)
    (out['loss_dis'] + out['loss_comp']).backward()
    torch.testing.assert_close(model.cider.prototypes, a['prototypes'])
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(a['grads'][name], p.grad, rtol=1e-7, atol=1e-10, msg=name)


# ------------------------------------------------------------------ the recipes
def test_recipes_match_the_reference_scripts():
    from mmengine.config import Config
    from conftest import config_path
    c10, c100, c100_r18 = (Config.fromfile(config_path(n)) for n in (
        'npos_resnet18_cifar10', 'npos_resnet34_cifar100', 'npos_resnet18_cifar100'))
    assert (c10.model.backbone.depth, c100.model.backbone.depth, c100_r18.model.backbone.depth) == (18, 34, 18)
    assert (c10.model.cider.momentum, c100.model.cider.momentum) == (0.95, 0.5)
    assert c10.model.start_iter == c100.model.start_iter == 200 * 195
    assert c10.train_dataloader.batch_size == 256 and c10.train_dataloader.drop_last
    assert c10.model.head == dict(type='KNNHead', k=300)
    assert (c10.test_dataloader.dataset.benchmark, c100.test_dataloader.dataset.benchmark) == (
        'cifar10_small_ood', 'cifar100_small_ood')
    assert c100.train_dataloader.dataset.type == c100.id_train_dataloader.dataset.type == 'CIFAR100'
    assert c100.model.data_preprocessor.std == [68.2125, 65.4075, 70.4055]
    optim = c10.optim_wrapper.optimizer
    assert (optim.lr, optim.momentum, optim.nesterov, optim.weight_decay) == (0.5, 0.9, True, 1e-4)
    # the per-epoch cosine: eta_e = 5e-4 + (0.5 - 5e-4)(1 + cos(pi e / 500)) / 2
    from mmengine.optim import build_optim_wrapper
    from mmengine.optim.scheduler import CosineAnnealingLR
    param = torch.nn.Linear(1, 1)
    wrapper = build_optim_wrapper(param, c10.optim_wrapper)
    (sched, ) = c10.param_scheduler
    scheduler = CosineAnnealingLR(wrapper.optimizer, **{k: v for k, v in sched.items() if k != 'type'})
    lrs = []
    for _ in range(500):
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        scheduler.step()
    for epoch in (0, 200, 499):
        expected = 5e-4 + (0.5 - 5e-4) * (1 + math.cos(math.pi * epoch / 500)) / 2
        assert lrs[epoch] == pytest.approx(expected, rel=1e-6)
    assert lrs[200] == pytest.approx(0.327427, abs=1e-6) and lrs[499] == pytest.approx(5.049e-4, abs=1e-7)


def test_recipe_pipelines_on_a_cifar_image():
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from conftest import config_path
    cfg = Config.fromfile(config_path('npos_resnet18_cifar10'))
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200  # red, as MMPretrain's CIFAR10 holds it (RGB)
    torch.manual_seed(0)
    train = Compose(cfg.train_dataloader.dataset.pipeline)(dict(img=rgb.copy(), gt_label=3))
    assert len(train['inputs']) == 2 and all(v.shape == (3, 32, 32) for v in train['inputs'])
    sample = dict(img=rgb.copy(), gt_label=3, sample_idx=0, img_path='x', set_id=0, is_ood=False)
    test = Compose(cfg.test_dataloader.dataset.pipeline)(sample)
    assert test['inputs'].shape == (3, 32, 32) and test['inputs'][2].float().mean() == 200  # BGR: red last
    pre = MODELS.build(cfg.model.data_preprocessor)
    out = pre(dict(inputs=test['inputs'][None], data_samples=None))
    assert out['inputs'][0, 0].mean() == pytest.approx((200 - 125.307) / 63.0105, rel=1e-5)  # back to RGB
