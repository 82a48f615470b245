"""Non-parametric k-nearest-neighbour (KNN) OOD score.

Paper: Y. Sun, Y. Ming, X. Zhu, Y. Li, "Out-of-Distribution Detection with Deep Nearest Neighbors",
ICML 2022, arXiv:2204.06507.

Two forms are provided, both on L2-normalised features by default:

* ``form='distance'`` (Sun et al.): ``S(x) = -|| z - z_(k) ||^2`` where ``z = x / ||x||`` and ``z_(k)`` is the
  k-th nearest normalised bank vector. For unit vectors ``||z - b||^2 = 2 - 2 cos(z, b)``, so the k-th
  nearest neighbour is the k-th largest cosine. The paper thresholds the plain distance ``||z - z_(k)||``;
  squaring is a strictly increasing transform of a non-negative quantity, so the ranking and every OOD metric
  (AUROC, AUPR, FPR95) are identical.
* ``form='exp_cos'`` (PLP's kNN, Adaloglou et al., TMLR 2024, arXiv:2303.05828):
  ``S(x) = mean_{j in top-k} exp(cos(z, b_j) / T)`` over the k most similar bank vectors (temperature ``T``,
  0.02 in PLP). At ``k = 1`` it is monotone in the maximum cosine.

Memory: the full ``N x M`` similarity matrix is never built. Query rows are processed in chunks of
``chunk_size`` and, for large banks, the bank in chunks of ``bank_chunk_size`` with a running top-k merged
after every bank chunk. Computation runs in float32 or better (fp16/bf16 inputs are upcast) on the query's
device; bank chunks are moved there as needed, so a CPU bank can serve GPU queries.

Sign: **higher = more in-distribution** (closer neighbours give larger scores).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .mcm import _check_tau, _upcast

__all__ = ['knn_score']

_FORMS = ('distance', 'exp_cos')


def knn_score(query: Tensor,
              bank: Tensor,
              k: int = 50,
              chunk_size: int = 4096,
              normalize: bool = True,
              form: str = 'distance',
              temperature: float = 0.02,
              bank_chunk_size: int = 16384,
              bank_is_unit: bool = False) -> Tensor:
    """Compute the KNN score of each query against a feature bank.

    Args:
        query (Tensor): Test features, shape ``(N, D)``.
        bank (Tensor): Bank (ID training) features, shape ``(M, D)``.
        k (int): Neighbour rank (``'distance'``) or number of neighbours averaged (``'exp_cos'``); must
            satisfy ``1 <= k <= M``. Defaults to 50.
        chunk_size (int): Number of query rows processed at once. Defaults to 4096.
        normalize (bool): L2-normalise query and bank rows first. If False, ``'distance'`` uses the squared
            Euclidean distance of the raw features and ``'exp_cos'`` uses raw dot products in place of
            cosines. Defaults to True.
        form (str): ``'distance'`` (minus the squared distance to the k-th neighbour) or ``'exp_cos'`` (mean
            of ``exp(cos / temperature)`` over the top-k). Defaults to ``'distance'``.
        temperature (float): Temperature of ``'exp_cos'``; ignored otherwise. Defaults to 0.02.
        bank_chunk_size (int): Number of bank rows compared at once; banks larger than this are scanned in
            chunks with a running top-k. Defaults to 16384.
        bank_is_unit (bool): The bank rows are already L2-normalised (a fitted head normalises its bank once), so
            ``normalize`` applies to the queries only. Defaults to False.

    Returns:
        Tensor: Scores of shape ``(N,)``, float32 (float64 if an input is float64). Higher = more ID.

    Raises:
        ValueError: On malformed inputs, mismatched feature sizes, ``k`` outside ``[1, M]``, non-positive
            chunk sizes, an unknown ``form`` or a non-positive temperature.
    """
    if not isinstance(query, Tensor) or not isinstance(bank, Tensor):
        raise ValueError('query and bank must be torch.Tensors.')
    if query.ndim != 2 or bank.ndim != 2:
        raise ValueError(f'query and bank must have shapes (N, D) and (M, D), got {tuple(query.shape)} and '
                         f'{tuple(bank.shape)}.')
    if not (query.is_floating_point() and bank.is_floating_point()):
        raise ValueError(f'query and bank must be floating tensors, got {query.dtype} and {bank.dtype}.')
    if query.shape[1] != bank.shape[1]:
        raise ValueError(f'Feature sizes differ: query has D={query.shape[1]}, bank has D={bank.shape[1]}.')
    num_bank = bank.shape[0]
    if num_bank < 1:
        raise ValueError('bank must contain at least one vector.')
    k = int(k)
    if not 1 <= k <= num_bank:
        raise ValueError(f'k must be in [1, M] with M = {num_bank} bank vectors, got k = {k}.')
    if int(chunk_size) < 1 or int(bank_chunk_size) < 1:
        raise ValueError(f'chunk_size and bank_chunk_size must be >= 1, got {chunk_size} and {bank_chunk_size}.')
    chunk_size, bank_chunk_size = int(chunk_size), int(bank_chunk_size)
    if form not in _FORMS:
        raise ValueError(f'Unknown form {form!r}; valid forms are {_FORMS}.')
    if form == 'exp_cos':
        temperature = _check_tau(temperature, 'temperature')

    dtype = torch.promote_types(_upcast(query).dtype, _upcast(bank).dtype)
    device = query.device
    queries = query.to(dtype)
    if normalize:
        queries = F.normalize(queries, dim=1)
    use_distance = form == 'distance' and not normalize

    scores = []
    for q_start in range(0, queries.shape[0], chunk_size):
        q_chunk = queries[q_start:q_start + chunk_size]
        q_sqnorm = (q_chunk * q_chunk).sum(dim=1, keepdim=True) if use_distance else None
        best = None  # running top-k similarities, descending, (n, <= k)
        for b_start in range(0, num_bank, bank_chunk_size):
            b_chunk = bank[b_start:b_start + bank_chunk_size].to(device=device, dtype=dtype)
            if normalize and not bank_is_unit:
                b_chunk = F.normalize(b_chunk, dim=1)
            sim = q_chunk @ b_chunk.T
            if use_distance:
                # minus the squared Euclidean distance, so that "larger = nearer" as for cosines
                sim = 2.0 * sim - q_sqnorm - (b_chunk * b_chunk).sum(dim=1)[None, :]
            top = sim.topk(min(k, sim.shape[1]), dim=1).values
            if best is not None:
                merged = torch.cat([best, top], dim=1)
                top = merged.topk(min(k, merged.shape[1]), dim=1).values
            best = top
        if form == 'distance':
            kth = best[:, k - 1]
            if normalize:
                scores.append(-(2.0 - 2.0 * kth).clamp_min(0.0))
            else:
                scores.append(kth.clamp_max(0.0))
        else:
            scores.append(torch.exp(best / temperature).mean(dim=1))
    if not scores:
        return queries.new_zeros((0, ))
    return torch.cat(scores)
