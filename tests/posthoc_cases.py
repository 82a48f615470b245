"""What the post-hoc detectors' tests share: the hand-checked 3-sample case (4-d features z, a 3-class linear head W,
b, a 6-row ID-train set F with labels), its zero-norm edge variant, a float64 log-sum-exp, and a tiny zero-shot CLIP
classifier (random weights, seed 0) for the heads' tests."""
import numpy as np
import torch

#: three samples: 4-d penultimate features, a 3-class linear head, and a 6-row ID-train set with its labels
Z = torch.tensor([[0.9, 0.1, 0.4, 1.6], [0.2, 1.1, 0.7, 0.05], [0.5, 0.3, 2.2, 0.8]], dtype=torch.float64)
W = torch.tensor([[0.5, -0.2, 0.1, 0.7], [-0.3, 0.8, 0.4, -0.1], [0.2, 0.1, 0.9, -0.4]], dtype=torch.float64)
B = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64)
F = torch.tensor([[1.0, 0.2, 0.3, 1.2], [0.8, 0.1, 0.5, 0.9], [0.1, 1.2, 0.6, 0.2], [0.3, 0.9, 0.2, 0.1],
                  [0.2, 0.3, 1.5, 0.4], [0.9, 0.2, 1.1, 0.6]], dtype=torch.float64)
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])
#: the edge case: a zero feature, and a bias of its own
Z_EDGE = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.5, 0.1, 0.2, 1.0], [1.0, 0.3, 0.8, 0.0]], dtype=torch.float64)
B_EDGE = torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)


def lse(x: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp in numpy (OpenOOD's energy)."""
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


def tiny_zero_shot(head: dict, seed: int = 0):
    """A prepared ``CLIPOODClassifier`` on the tiny random tower (torch seed ``seed``), classes zero/one/two."""
    from conftest import tiny_backbone
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                              head=head))
    model.prepare()
    return model
