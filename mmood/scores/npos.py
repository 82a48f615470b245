"""NPOS's test score as its reference computes it (Tao et al., "Non-Parametric Outlier Synthesis", ICLR 2023,
arXiv 2303.02966; the reference's ``test_npos.py``, NP-1).

The reference scores MSP on logits normalised by the Frobenius norm of the whole batch of raw image embeddings::

    s_ic = (f_i / ||F||_F) · w_c          S(x_i) = max_c softmax_c(s_i)             (no temperature)

so ``s_ic = cos(f_i, w_c) · ||f_i|| / ||F||_F``: an effective temperature of about sqrt(B) for embeddings of similar
norms, and a score that depends on the other images of the batch. A batch of one is exactly MCM (τ = 1). mmood's
NPOS reports MCM per image (``mcm``) and keeps this score only as a named parity option (``npos_msp``), for
comparing with the reference's checkpoints and numbers.

Sign: **higher = more in-distribution**.
"""
import torch
from torch import Tensor

__all__ = ['batch_frobenius_msp']


def batch_frobenius_msp(embed: Tensor, text: Tensor) -> Tensor:
    """The reference's NPOS score of one batch.

    Args:
        embed: (B, D) raw (un-normalised) image embeddings of one test batch.
        text: (K, D) unit class prototypes.

    Returns:
        (B,) max softmax probabilities (float32, or float64 for float64 inputs).
    """
    if embed.ndim != 2 or text.ndim != 2 or embed.shape[1] != text.shape[1]:
        raise ValueError(f'embed (B, D) and text (K, D) must share D; got {tuple(embed.shape)} and '
                         f'{tuple(text.shape)}')
    dtype = torch.float64 if torch.float64 in (embed.dtype, text.dtype) else torch.float32
    embed, text = embed.to(dtype), text.to(dtype)
    if embed.shape[0] == 0:
        return embed.new_zeros(0)
    logits = (embed / embed.norm()) @ text.T
    return logits.softmax(dim=1).amax(dim=1)
