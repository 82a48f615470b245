"""ODIN: temperature scaling and an input perturbation along the gradient, on CLIP's zero-shot classifier.

S. Liang, Y. Li, R. Srikant, "Enhancing The Reliability of Out-of-distribution Image Detection in Neural Networks",
ICLR 2018, arXiv:1706.02690 (Sec. 2, "temperature scaling" and "input preprocessing")::

    l(x) = s · unit(f(x)) T̂ᵀ                       zero-shot logits of the preprocessed image x (s = 100)
    ŷ = argmax l(x),   L = CE(l(x)/T, ŷ)            averaged over the batch
    x̃_c = x_c − ε · sign⁺(∂L/∂x_c) / std_c          per channel; sign⁺(0) = +1 (ODIN's and OpenOOD's code)
    S = max_k softmax_k(l(x̃)/T)                     score ``odin``, higher = more in-distribution

ε is in [0, 1]-pixel units: the data preprocessor normalises 0-255 pixels by its ``std``, so one [0, 1]-pixel step is
``1/(std_c/255)`` in the preprocessed input. std comes from the model's data preprocessor (CLIP's by default), not
from a table of dataset names (OpenOOD v1.5's, whose default is 0.5). Defaults T = 1000, ε = 0.0014 (OpenOOD v1.5's;
its search: T ∈ {1, 10, 100, 1000} × ε ∈ {0.0014, 0.0028}). T = 1, ε = 0 is MSP.

ODIN needs the image tower and the gradient with respect to the input, so it scores images only
(:attr:`scores_need_images`): cached features cannot be re-scored (``tools/score.py`` refuses the model). The
classifier's heads are scored as usual on the unperturbed features of the same forward pass.
"""
import contextlib
from types import MappingProxyType
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ...utils.errors import ConfigError
from ...utils.options import Range, check_ranges
from .clip_ood import CLIPOODClassifier

__all__ = ['ODINClassifier', 'ODIN_SCORE']

#: the score name of ODIN
ODIN_SCORE = 'odin'
#: the pixel range the data preprocessor's ``std`` refers to (mmpretrain's images: 0-255)
PIXEL_RANGE = 255.0
REFUSAL = ('ODIN perturbs the input image with the gradient of the image tower, so it needs the images: run '
           'tools/test.py CONFIG; cached features cannot be re-scored (tools/score.py).')


@MODELS.register_module()
class ODINClassifier(CLIPOODClassifier):
    """CLIP zero-shot classifier scoring ODIN (primary, ``odin``) beside its heads' scores.

    Args:
        backbone, class_names, head: as :class:`CLIPOODClassifier`.
        temperature: T (1000).
        epsilon: ε, the perturbation magnitude in [0, 1]-pixel units (0.0014).
        primary_score: the primary score (default ``odin``).
        **kwargs: the other options of :class:`CLIPOODClassifier` (``extra_heads``, ``templates``, ``logit_scale``,
            ``data_preprocessor``...).
    """

    scores_need_images = True
    option_ranges = MappingProxyType(dict(temperature=Range(gt=0, why='T divides the logits'),
                                          epsilon=Range(ge=0, why='a perturbation magnitude')))

    def __init__(self, backbone: dict, class_names: Union[str, Sequence[str]], head: dict,
                 temperature: float = 1000.0, epsilon: float = 0.0014, primary_score: Optional[str] = None,
                 **kwargs):
        check_ranges('ODINClassifier', self.option_ranges, dict(temperature=temperature, epsilon=epsilon))
        super().__init__(backbone, class_names, head,
                         primary_score=None if primary_score == ODIN_SCORE else primary_score, **kwargs)
        if ODIN_SCORE in [n for h in self.heads for n in h.score_names]:
            raise ConfigError(f'ODINClassifier: a head gives a score named "{ODIN_SCORE}"; set its `prefix`')
        self.primary_score = primary_score or ODIN_SCORE
        self.temperature = float(temperature)
        self.epsilon = float(epsilon)
        self.pixel_std()  # refuse a preprocessor without normalisation now, not at the first batch
        self._batch = None  # (inputs, unperturbed features, odin scores) of the batch being scored

    @property
    def score_names(self) -> List[str]:
        names = [ODIN_SCORE] + [n for h in self.heads for n in h.score_names]
        return [self.primary_score] + [n for n in names if n != self.primary_score]

    def pixel_std(self) -> torch.Tensor:
        """(1, C, 1, 1) the preprocessing std per channel in [0, 1]-pixel units (the data preprocessor's / 255)."""
        std = getattr(self.data_preprocessor, 'std', None)
        if not isinstance(std, torch.Tensor):
            raise ConfigError(f'ODINClassifier divides ε by the preprocessing std; the data preprocessor '
                              f'{type(self.data_preprocessor).__name__} does not normalise (give it mean and std)')
        return std.detach().float().reshape(1, -1, 1, 1) / PIXEL_RANGE

    def odin_scores(self, inputs: torch.Tensor):
        """``(unperturbed features {kind: (B, ...)}, ODIN scores (B,))`` of a batch of preprocessed images: one
        forward with the input gradient (the tower's parameters stay frozen), one forward of the perturbed input."""
        if not self._prepared:
            self.prepare()
        with torch.enable_grad():
            x = inputs.detach().float().requires_grad_(True)
            feats = self.backbone.extract_image_features(x, self.feature_kinds)
            logits = self.class_logits(feats).float()
            loss = F.cross_entropy(logits / self.temperature, logits.detach().argmax(dim=1))
            grad, = torch.autograd.grad(loss, x)
        sign = torch.where(grad >= 0, 1.0, -1.0)  # sign⁺: a zero gradient still perturbs (+1)
        std = self.pixel_std().to(device=x.device)
        if std.shape[1] != x.shape[1]:
            raise ConfigError(f'ODINClassifier: the preprocessing std has {std.shape[1]} channels, the input '
                              f'{x.shape[1]}')
        perturbed = x.detach() - self.epsilon * sign / std
        with torch.no_grad():
            pert = self.class_logits(self.backbone.extract_image_features(perturbed, ('global', ))).float()
            odin = (pert / self.temperature).softmax(dim=1).max(dim=1).values
        return {k: v.detach() for k, v in feats.items()}, odin

    @contextlib.contextmanager
    def _scoring_images(self, inputs: torch.Tensor):
        """Within: :meth:`extract_feat` of ``inputs`` gives the unperturbed features of ODIN's forward pass and
        :meth:`scores_from_features` of them adds the ODIN score."""
        feats, odin = self.odin_scores(inputs)
        self._batch = (inputs, feats, odin)
        try:
            yield
        finally:
            self._batch = None

    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        batch = self._batch
        if batch is not None and batch[0] is inputs:
            return batch[1]
        return super().extract_feat(inputs)

    def scores_from_features(self, feats: Dict[str, torch.Tensor]):
        """The classifier's logits and scores of the batch being scored from images, with ``odin``; refused on
        features alone (:data:`REFUSAL`)."""
        batch = self._batch
        if batch is None or batch[1] is not feats:
            raise ConfigError(REFUSAL)
        logits, scores = super().scores_from_features(feats)
        return logits, dict({ODIN_SCORE: batch[2]}, **scores)

    def predict(self, inputs: torch.Tensor, data_samples=None):
        with self._scoring_images(inputs):
            return super().predict(inputs, data_samples)

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'tensor':
            with self._scoring_images(inputs):
                return super().forward(inputs, data_samples, mode)
        return super().forward(inputs, data_samples, mode)

    def report_notes(self) -> List[str]:
        return super().report_notes() + [f'ODIN: T = {self.temperature:g}, epsilon = {self.epsilon:g} ([0, 1] '
                                         f'pixels), std {[round(float(s), 4) for s in self.pixel_std().flatten()]}']
