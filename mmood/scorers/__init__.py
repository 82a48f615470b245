"""Post-hoc OOD scorers, registered in :data:`mmood.registry.SCORERS` (higher score = more ID).

=============== ============================================================ ==========
name            score                                                        needs fit
=============== ============================================================ ==========
``msp``         ``max_k softmax_k(l / T)``, ``l = s · cos(h, e_k)`` (s = 100)  no
``maxlogit``    ``max_k l_k``                                                no
``energy``      ``T · logsumexp(l / T)``                                     no
``l1norm``      ``Σ_k (l_k − min l)`` (PLP)                                  no
``mcm``         ``max_k softmax_k(cos(h, e_k) / τ)``                         no
``glmcm``       MCM + ``λ`` · best-patch MCM (local features)                no
``neglabel``    ID share of the softmax over ID + mined negative labels      no
``config``      the config's own head, exactly as ``tools/test.py``          no
``knn``         ``−‖z − z_(k)‖²`` to the ID-train bank (or PLP's exp-cos)    yes
``mahalanobis`` ``−min_c (x − μ_c)ᵀ Σ⁻¹ (x − μ_c)``, shared Σ                 yes
``rmd``         relative Mahalanobis                                         yes
=============== ============================================================ ==========

Build one with :func:`build_scorer` (``build_scorer('knn', dict(k=100))``) or ``SCORERS.build``.
"""
from .apply import evaluate_scores, fit_scorers, required_kinds, score_split
from .base import BaseScorer, ScorerContext, build_scorer, list_scorers, parse_method_options
from .feature_space import KNNScorer, MahalanobisScorer, RelativeMahalanobisScorer
from .logits import (EnergyScorer, L1NormScorer, MaxLogitScorer, MSPScorer, ZeroShotLogitScorer,
                     zero_shot_logits)
from .zero_shot import ConfigHeadScorer, GLMCMScorer, HeadScorer, MCMScorer, NegLabelScorer
from . import plp  # noqa: F401,E402  (PLP scorers: plp_energy, plp_msp, plp_knn, ..., pseudo_msp)

__all__ = [
    'BaseScorer', 'ScorerContext', 'build_scorer', 'list_scorers', 'parse_method_options', 'ZeroShotLogitScorer',
    'MSPScorer', 'MaxLogitScorer', 'EnergyScorer', 'L1NormScorer', 'zero_shot_logits', 'KNNScorer',
    'MahalanobisScorer', 'RelativeMahalanobisScorer', 'HeadScorer', 'MCMScorer', 'GLMCMScorer', 'NegLabelScorer',
    'ConfigHeadScorer', 'fit_scorers', 'score_split', 'evaluate_scores', 'required_kinds'
]
