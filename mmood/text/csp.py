"""CSP's conjugated labels (Chen et al., "Conjugated Semantic Pool Improves OOD Detection with Pre-trained
Vision-Language Models", NeurIPS 2024, arXiv 2410.08611; the reference's ``CLIPScalableClassifier.__init__``).

CSP widens NegLabel's candidate pool with *conjugated* labels: every adjective of the corpus joined with a general
superclass word (``"white creature"``), a cluster centre for images that share a property across categories. The
reference draws **one** superclass per adjective with Python's ``random.choice`` after seeding the global
generator with 0 (CSP-2, reproduced by default); ``mode='all'`` joins every adjective with all 14 words.

mmood draws from a local ``random.Random(seed)`` (CSP-1: no global state), one draw per adjective in corpus order
(sorted files, first occurrence wins; :func:`mmood.text.load_corpus`), which gives the reference's draws.
"""
import random
from typing import List, Sequence

__all__ = ['CSP_SUPERCLASSES', 'CONJUGATIONS', 'CSP_EXCLUDE_FILES', 'conjugate']

#: The 14 superclass words of CSP, in the reference's order (its ``csp_templates`` in ``class_names.py``).
CSP_SUPERCLASSES = ('environment', 'space', 'object', 'scene', 'place', 'item', 'area', 'view', 'thing', 'pattern',
                    'structure', 'landscape', 'vista', 'creature')
#: ``conjugate`` modes.
CONJUGATIONS = ('random', 'all')
#: Corpus files CSP leaves out of its pool (its config's ``txt_exclude``).
CSP_EXCLUDE_FILES = ('noun.person.txt', 'noun.quantity.txt', 'noun.group.txt', 'adj.pert.txt')


def conjugate(adjectives: Sequence[str], superclasses: Sequence[str] = CSP_SUPERCLASSES, seed: int = 0,
              mode: str = 'random') -> List[str]:
    """Conjugated labels ``"<adjective> <superclass>"``.

    Args:
        adjectives: the adjectives, in corpus order (each draw depends on the ones before it).
        superclasses: the superclass words (CSP's 14 by default).
        seed: seed of the local generator (``mode='random'``).
        mode: ``'random'`` -- one superclass per adjective, ``random.Random(seed).choice`` in order (CSP);
            ``'all'`` -- every adjective with every superclass, adjective-major.

    Returns:
        The labels, one per adjective (``'random'``) or ``len(superclasses)`` per adjective (``'all'``).
    """
    superclasses = list(superclasses)
    if not superclasses:
        raise ValueError('conjugate needs at least one superclass word')
    if mode == 'random':
        rng = random.Random(seed)
        return [f'{a} {rng.choice(superclasses)}' for a in adjectives]
    if mode == 'all':
        return [f'{a} {w}' for a in adjectives for w in superclasses]
    raise ValueError(f'conjugation mode must be one of {CONJUGATIONS}, got {mode!r}')
