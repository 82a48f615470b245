"""tools/model_converters/npos_cifar_to_mmood.py: a checkpoint in the layout of NPOS's from-scratch models (the
reference's ``SupCEHeadResNet`` transcribed below: ``encoder`` / ``fc`` / ``head`` under DataParallel, so
``encoder.module.`` etc., ``mlp`` unwrapped, zero ``prototypes``) converts to an ``NPOSCIFARClassifier`` checkpoint
that gives the reference's features, projections and outlier logits on a fixed input; the training-file layout
brings the trained prototypes; a depth other than the config's, unknown keys and mis-shaped keys are refused."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import load_tool
from mmpretrain.registry import MODELS

from mmood.apis.npos_cifar_checkpoint import npos_cifar_depth, npos_cifar_to_mmood, source_state
from mmood.utils import CheckpointMismatchError, load_checkpoint_file


class BasicBlock(nn.Module):
    """models/resnet_outliers.py's BasicBlock (shortcut = Sequential(conv 1x1, BN) when the shape changes)."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Encoder(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes, layers = 64, []
        for planes, n, stride in zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)):
            layer = []
            for s in [stride] + [1] * (n - 1):
                layer.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
            layers.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)


class Wrapped(nn.Module):
    """DataParallel's naming: the wrapped module under ``module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)


class SupCEHeadResNet(nn.Module):
    def __init__(self, blocks, num_classes):
        super().__init__()
        self.encoder = Wrapped(Encoder(blocks))
        self.fc = Wrapped(nn.Linear(512, num_classes))
        self.head = Wrapped(nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, 128)))
        self.mlp = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 1))
        self.register_parameter('prototypes', nn.Parameter(torch.zeros(num_classes, 128)))


def reference(num_classes=10, blocks=(2, 2, 2, 2), seed=0):
    torch.manual_seed(seed)
    net = SupCEHeadResNet(blocks, num_classes)
    with torch.no_grad():  # non-trivial BN statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return net.eval()


def test_converts_and_gives_the_reference_features(tmp_path, single_thread):
    net = reference()
    src, dst = tmp_path / 'cifar10.pt', tmp_path / 'mmood.pth'
    torch.save(net.state_dict(), src)
    state, prototypes, prefixed = source_state(load_checkpoint_file(str(src)))
    assert prefixed and prototypes is None and npos_cifar_depth(state) == 18
    _, mapping = npos_cifar_to_mmood(state)
    assert mapping['encoder.layer2.0.shortcut.0.weight'] == 'backbone.resnet.layer2.0.downsample.0.weight'
    assert mapping['head.2.bias'] == 'proj_head.2.bias' and mapping['mlp.0.weight'] == 'outlier_mlp.0.weight'
    assert not any(k.startswith('fc.') or k == 'prototypes' for k in mapping)

    load_tool('model_converters/npos_cifar_to_mmood').main([str(src), str(dst)])
    out = torch.load(dst, map_location='cpu', weights_only=False)
    assert out['meta']['depth'] == 18 and out['meta']['dropped'] == ['fc.bias', 'fc.weight', 'prototypes']
    model = MODELS.build(dict(type='NPOSCIFARClassifier', backbone=dict(type='CIFARResNetBackbone', depth=18),
                              class_names=[str(i) for i in range(10)]))
    model.load_state_dict(out['state_dict'], strict=True)
    model.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h_ref = net.encoder(x)
        feats = model.extract_feat(x)
        torch.testing.assert_close(feats['embed'], h_ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(feats['global'], F.normalize(h_ref, dim=1), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model.project(feats['embed']), F.normalize(net.head(h_ref), dim=1), rtol=1e-5,
                                   atol=1e-5)
        torch.testing.assert_close(model.outlier_mlp(feats['embed']), net.mlp(h_ref), rtol=1e-5, atol=1e-5)


def test_training_file_brings_the_trained_prototypes_and_mismatches_are_refused(tmp_path, single_thread):
    net = reference(num_classes=100, blocks=(3, 4, 6, 3))
    trained = F.normalize(torch.randn(100, 128), dim=1)
    src = tmp_path / 'checkpoint_500.pth.tar'
    torch.save(dict(epoch=500, state_dict=net.state_dict(), opt_state_dict={},
                    criterion_disp=dict(prototypes=trained)), src)
    convert = load_tool('model_converters/npos_cifar_to_mmood').main
    convert([str(src), str(tmp_path / 'r34.pth')])  # depth 34 -> the authors' CIFAR-100 config
    out = torch.load(tmp_path / 'r34.pth', map_location='cpu', weights_only=False)
    assert out['meta']['depth'] == 34 and out['meta']['trained_prototypes']
    assert torch.equal(out['state_dict']['cider.prototypes'], trained) and bool(out['state_dict']['cider.initialised'])

    from mmood.apis.npos_cifar_checkpoint import convert_npos_cifar
    with pytest.raises(CheckpointMismatchError, match='ResNet-34'):  # a ResNet-34 into the ResNet-18 config
        convert_npos_cifar(str(src), str(tmp_path / 'x.pth'), 'configs/npos/npos_resnet18_cifar100.py',
                           verbose=False)
    state = net.state_dict()
    state['encoder.module.extra.weight'] = torch.zeros(1)
    torch.save(state, tmp_path / 'unknown.pt')
    with pytest.raises(CheckpointMismatchError, match='unknown keys'):
        convert_npos_cifar(str(tmp_path / 'unknown.pt'), str(tmp_path / 'x.pth'), verbose=False)
    state = {k: v for k, v in net.state_dict().items() if k != 'encoder.module.extra.weight'}
    torch.save(state, tmp_path / 'c100.pt')
    with pytest.raises(CheckpointMismatchError, match='shape mismatch'):  # another projection width
        convert_npos_cifar(str(tmp_path / 'c100.pt'), str(tmp_path / 'x.pth'),
                           'configs/npos/npos_resnet34_cifar100.py', cfg_options={'model.proj_dim': 64},
                           verbose=False)
    with pytest.raises(CheckpointMismatchError, match='100 classes'):  # CIFAR-100 weights, 10 class names
        convert_npos_cifar(str(tmp_path / 'c100.pt'), str(tmp_path / 'x.pth'),
                           'configs/npos/npos_resnet34_cifar100.py',
                           cfg_options={'model.class_names': 'txtfiles/cifar10_classes.txt'}, verbose=False)
    with pytest.raises(CheckpointMismatchError, match='no part'):
        npos_cifar_to_mmood({'classifier.weight': torch.zeros(1)})
