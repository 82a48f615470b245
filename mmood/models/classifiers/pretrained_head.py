"""A fine-tuned model's own classification head as the classifier of the logit and post-hoc detectors.

PLP's fine-tuned ImageNet-1k baselines (Adaloglou et al., TMLR 2024, arXiv:2303.05828; its script
``baseline_fine_tuned_models.py``) score MSP and energy of a timm model's own 1000-way head. Here that head is copied
into the :class:`~mmood.models.heads.LinearProbeHead` of a :class:`LinearProbeClassifier` (no z-scoring: the
identity statistics), so the probe's logit scores (``plp_energy``, ``plp_msp``), ``LogitHead(logits='probe')`` and
every post-hoc detector on the probe view (GEN, ReAct, ASH, SCALE, DICE, ViM, ...; docs/posthoc.md) read the
fine-tuned classifier with no training, through the same scoring path, cached features included.
"""
from typing import List

import torch
from mmpretrain.registry import MODELS

from ...utils.errors import ConfigError
from .plp import LinearProbeClassifier

__all__ = ['PretrainedHeadClassifier']


@MODELS.register_module()
class PretrainedHeadClassifier(LinearProbeClassifier):
    """:class:`LinearProbeClassifier` whose probe is the backbone's own fine-tuned head (nothing to train).

    The backbone lends the head (``backbone.classifier_head()``: :class:`~mmood.models.backbones.TimmBackbone`
    with ``keep_head=True``); the probe reads the same pre-logits feature (``pre_proj``) unscaled, so its logits
    are the model's own. Arguments as :class:`LinearProbeClassifier`; the head must be a single-layer
    ``LinearProbeHead`` with ``zscore=False`` reading ``pre_proj``, and ``class_names`` must have as many entries as
    the head has classes, in its class order.
    """

    #: no checkpoint needed: the probe is the model's head
    checkpoint_required_prefixes = ()

    def __init__(self, backbone: dict, head: dict = dict(type='LinearProbeHead', zscore=False),
                 train_labels: str = 'true', **kwargs):
        super().__init__(backbone=backbone, head=head, train_labels=train_labels, **kwargs)
        probe = self.head
        if probe.zscore or probe.project or probe.hidden or probe.feature != 'pre_proj':
            raise ConfigError('PretrainedHeadClassifier copies the model\'s head into the probe: model.head must be '
                              'LinearProbeHead(zscore=False) on "pre_proj" without hidden layers or projection.')
        lend = getattr(self.backbone, 'classifier_head', None)
        if lend is None:
            raise ConfigError(f'PretrainedHeadClassifier needs a backbone with a classification head '
                              f'(TimmBackbone with keep_head=True), not {type(self.backbone).__name__}.')
        weight, bias = lend()
        if tuple(weight.shape) != tuple(probe.fc.weight.shape):
            raise ConfigError(f'The head of {getattr(self.backbone, "model_name", "the backbone")} maps '
                              f'{weight.shape[1]} features to {weight.shape[0]} classes, but model.class_names has '
                              f'{self.num_classes} names (and the probe reads {probe.in_channels} features): give '
                              f'one name per class of the head, in its order.')
        with torch.no_grad():
            probe.fc.weight.copy_(weight)
            probe.fc.bias.copy_(bias)
        probe.set_statistics(torch.zeros(probe.in_channels), torch.ones(probe.in_channels))

    def loss(self, inputs, data_samples):
        raise ConfigError('PretrainedHeadClassifier scores the model\'s own fine-tuned head: there is nothing to '
                          'train; run tools/test.py CONFIG (no checkpoint needed).')

    def report_notes(self) -> List[str]:
        return super().report_notes() + [
            f'classifier: the fine-tuned head of {getattr(self.backbone, "model_name", "the backbone")} '
            f'({self.num_classes} classes), untrained here']
