"""Pure-tensor OOD scoring functions (no registries, no modules).

Every score follows the mmood convention **higher = more in-distribution (ID)**; metrics flip signs internally
when OOD is the positive class.

Public functions:

* :func:`mcm_score` -- MCM, ``max_k softmax_k(cos / tau)`` (Ming et al., NeurIPS 2022).
* :func:`local_mcm_score`, :func:`glmcm_score` -- L-MCM and GL-MCM ``S_MCM + lambda * S_L-MCM``
  (Miyai et al., arXiv:2304.04521).
* :func:`neglabel_score`, :func:`group_permutation` -- NegLabel with negative-label grouping
  (Jiang et al., ICLR 2024).
* :func:`adaneg_stream_scores`, :class:`AdaNegMemory` -- AdaNeg's stream score ``S_ada + lambda * S_nl`` with
  test-time adaptive label proxies (Zhang et al., NeurIPS 2024).
* :func:`multimatch_score`, :func:`compose_texts`, :func:`top_pairs` -- NegRefine's multi-matching-aware score
  ``max_{p,n} sigmoid(c_{p and n} - v_n)`` (Ansari et al., ICCV 2025).
* :func:`msp_score`, :func:`maxlogit_score`, :func:`energy_score`, :func:`l1_norm_score` -- classifier-logit
  scores (MSP, MaxLogit, negative free energy, PLP's L1 norm).
* :func:`gen_score` -- GEN, the negative generalized entropy ``-sum_{top-M} p^g (1 - p)^g`` (Liu et al., CVPR 2023).
* :func:`klm_score`, :func:`klm_fit` -- KL-Matching ``-min_k KL(p || d_k)`` to class-mean softmax templates
  (Hendrycks et al., ICML 2022).
* :func:`gradnorm_score` -- GradNorm ``||z||_1 * sum_c |C p_c - 1|`` (Huang et al., NeurIPS 2021).
* :func:`clipn_scores`, :func:`clipn_p_yes` -- CLIPN's CTW and ATD from
  "yes" and "no" cosines (Wang et al., ICCV 2023).
* :func:`knn_score` -- k-nearest-neighbour distance (Sun et al., ICML 2022) and PLP's ``exp(cos / T)`` form.
* :func:`fit_gaussians`, :func:`mahalanobis_score` -- (relative) Mahalanobis (Lee et al., NeurIPS 2018;
  Ren et al., 2021).
* :func:`batch_frobenius_msp` -- NPOS's reference test score (MSP on batch-Frobenius-normalised logits).
* :func:`vim_score`, :func:`she_score`, :func:`nnguide_score`, :func:`fdbd_score` (and their fits) -- fitted
  feature-space detectors on a linear head: ViM (Wang et al., CVPR 2022), SHE (Zhang et al., ICLR 2023), NNGuide
  (Park et al., ICCV 2023), fDBD (Liu & Qin, ICML 2024).
* :func:`react_score`, :func:`ash_score`, :func:`scale_score`, :func:`dice_score` -- activation shaping on a linear
  head, then the energy: ReAct (Sun et al., NeurIPS 2021), ASH (Djurisic et al., ICLR 2023), SCALE (Xu et al.,
  ICLR 2024), DICE (Sun & Li, ECCV 2022).
"""
from .adaneg import AdaNegMemory, adaneg_stream_scores
from .clipn import clipn_p_yes, clipn_scores
from .glmcm import glmcm_from_parts, glmcm_score, local_mcm_score
from .gen import gen_score
from .gradnorm import gradnorm_score
from .klm import klm_fit, klm_score, klm_statistics, klm_templates
from .knn import knn_score
from .logits import LOGIT_SCORES, energy_score, l1_norm_score, maxlogit_score, msp_score
from .mahalanobis import fit_gaussians, mahalanobis_score
from .mcm import mcm_score
from .neglabel import group_permutation, neglabel_score
from .negrefine import compose_texts, multimatch_score, top_pairs
from .npos import batch_frobenius_msp
from .vim import fit_vim, vim_origin, vim_score
from .she import SHE_METRICS, fit_she, she_score
from .nnguide import nnguide_bank, nnguide_score, nnguide_subset
from .fdbd import boundary_norms, fdbd_score, fit_fdbd
from .ash import ASH_VARIANTS, ash_keep_count, ash_score, ash_shape, sharpen_ratio, top_k_stable
from .dice import dice_mask, dice_mean, dice_score
from .react import linear_energy, react_score, react_shape, react_threshold
from .scale import scale_score, scale_shape

__all__ = [
    'batch_frobenius_msp',
    'fit_vim', 'vim_origin', 'vim_score', 'SHE_METRICS', 'fit_she', 'she_score', 'nnguide_bank', 'nnguide_score',
    'nnguide_subset', 'boundary_norms', 'fdbd_score', 'fit_fdbd',
    'react_threshold', 'react_shape', 'react_score', 'linear_energy', 'ASH_VARIANTS', 'ash_keep_count',
    'top_k_stable', 'ash_shape', 'ash_score', 'sharpen_ratio', 'scale_shape', 'scale_score', 'dice_mean',
    'dice_mask', 'dice_score',
    'adaneg_stream_scores', 'AdaNegMemory',
    'mcm_score', 'local_mcm_score', 'glmcm_score', 'glmcm_from_parts', 'neglabel_score', 'group_permutation',
    'msp_score', 'maxlogit_score', 'energy_score', 'l1_norm_score', 'LOGIT_SCORES', 'gen_score', 'knn_score',
    'gradnorm_score', 'klm_fit', 'klm_score', 'klm_statistics', 'klm_templates',
    'fit_gaussians',
    'mahalanobis_score', 'clipn_scores', 'clipn_p_yes', 'multimatch_score', 'compose_texts', 'top_pairs'
]
