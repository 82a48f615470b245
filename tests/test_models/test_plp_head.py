"""PLP's probe head (:mod:`mmood.models.heads.plp_head`): z-scoring with the ID-train statistics (N8:
X = [(1,2),(3,6),(5,4)], an ID local to this module) and the zero-variance guard (PLP-12)."""
import pytest
import torch

from mmood.models.heads import LinearProbeHead, zscore_statistics

pytestmark = pytest.mark.usefixtures('single_thread')


def test_zscore_n8():
    x = torch.tensor([[1., 2.], [3., 6.], [5., 4.]])
    mean, std = zscore_statistics(x, batch_size=2)  # batched passes give the exact statistics
    assert mean.tolist() == [3., 4.] and std.tolist() == [2., 2.]
    head = LinearProbeHead(2, 3)
    with pytest.raises(RuntimeError, match='no z-score statistics'):
        head.standardize(x)
    assert head.set_statistics(mean, std) == 0
    assert head.standardize(x).tolist() == [[-1., -1.], [0., 1.], [1., 0.]]


def test_zero_variance_column_stays_finite():
    x = torch.tensor([[1., 7.], [3., 7.], [5., 7.]])
    head = LinearProbeHead(2, 3)
    assert head.set_statistics(*zscore_statistics(x)) == 1
    z = head.standardize(torch.tensor([[1., 7.], [2., 9.]]))
    assert torch.isfinite(z).all() and z.tolist() == [[-1., 0.], [-0.5, 2.]]  # centred, not scaled
    assert torch.isfinite(head.logits(z)).all()
