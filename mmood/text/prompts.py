"""Named prompt template sets; configs may also give a list of templates directly."""
from typing import Dict, List, Sequence, Tuple, Union

PROMPT_SETS: Dict[str, Tuple[str, ...]] = {
    # NegLabel: template index 85 of its table, no period (reference_bugs NL-13).
    'neglabel': ('the nice {}', ),
    # MCM / GL-MCM: single template, no period (MCM-2).
    'mcm': ('a photo of a {}', ),
    # PLP's five-prompt ensemble (plp.md §3).
    'plp5': ('a photo of a {}.', 'a blurry photo of a {}.', 'a photo of many {}.', 'a photo of the large {}.',
             'a photo of the small {}.'),
}


def resolve_templates(templates: Union[str, Sequence[str]]) -> List[str]:
    """A list of templates from a named set or an explicit list/one template string containing ``{}``."""
    if isinstance(templates, str):
        if templates in PROMPT_SETS:
            return list(PROMPT_SETS[templates])
        if '{}' in templates:
            return [templates]
        raise ValueError(f'Unknown prompt set {templates!r}; known: {sorted(PROMPT_SETS)} '
                         f'(or give templates containing "{{}}")')
    out = list(templates)
    bad = [t for t in out if '{}' not in t]
    if not out or bad:
        raise ValueError(f'Every prompt template needs one "{{}}" placeholder; got {out}')
    return out
