"""Named prompt template sets; configs may also give a list of templates or a template file directly."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

from .class_names import resolve_path

PROMPT_SETS: Dict[str, Tuple[str, ...]] = {
    # NegLabel: template index 85 of its table, no period (NL-13).
    'neglabel': ('the nice {}', ),
    # MCM / GL-MCM: single template, no period (MCM-2).
    'mcm': ('a photo of a {}', ),
    # PLP's five-prompt ensemble (docs/plp.md).
    'plp5': ('a photo of a {}.', 'a blurry photo of a {}.', 'a photo of many {}.', 'a photo of the large {}.',
             'a photo of the small {}.'),
    # CSP (its class_names.py), also NegRefine's: ID names and candidate nouns (8), conjugated labels (4); CSP averages
    # the raw embeddings of an ensemble (ensemble='raw_mean')
    'csp_noun': ('a close-up photo of the nice {}.', 'a photo with the nice {}.', 'a good photo with the nice {}.',
                 'a photo of the nice {}.', '{}', 'the {}', 'the good {}', 'the nice {}'),
    'csp_adj': ('{}', 'a nice photo of {}', 'a good photo of {}', 'a close-up photo of {}'),
    # NPOS: 18 of CLIP's 80 ImageNet templates (deeplearning-wisc/npos CLIP_ft.py @583c06d, a fact of
    # the method), averaged as unit embeddings
    'npos18': ('a photo of a {}.', 'a blurry photo of a {}.', 'a black and white photo of a {}.',
               'a low contrast photo of a {}.', 'a high contrast photo of a {}.', 'a bad photo of a {}.',
               'a good photo of a {}.', 'a photo of a small {}.', 'a photo of a big {}.', 'a photo of the {}.',
               'a blurry photo of the {}.', 'a black and white photo of the {}.', 'a low contrast photo of the {}.',
               'a high contrast photo of the {}.', 'a bad photo of the {}.', 'a good photo of the {}.',
               'a photo of the small {}.', 'a photo of the big {}.'),
    # AdaNeg (its clip_fixed_ood_prompt.py): ID names and nouns, with the period; adjectives
    'adaneg': ('The nice {}.', ),
    'adaneg_adj': ('This is a {} photo.', ),
}

#: Named sets read from shipped files (one template per line, taken literally: quotes and commas are tokenized).
PROMPT_FILES: Dict[str, str] = {
    # CLIPN's 128 inference prompts, each with its literal single quotes; lines 35 and 99 keep a trailing comma
    # (xmed-lab/CLIPN src/prompt/prompt.txt, CN-7: reproduced, the released checkpoints were evaluated with them).
    'clipn': 'txtfiles/clipn_prompts.txt',
    # the "no" twin of each (CLIPN's hand-crafted variant, xmed-lab/CLIPN hand-crafted/src/prompt_no.txt): the
    # article replaced by "no" (lines 1-64), "with" by "without" (lines 65-128); quotes and commas kept
    'clipn_no': 'txtfiles/clipn_prompts_no.txt',
}


def read_template_file(path: str) -> List[str]:
    """Templates from a text file, one per line, taken literally (only the line end is removed; blank lines
    skipped)."""
    resolved = resolve_path(path)
    if not osp.isfile(resolved):
        raise FileNotFoundError(f'Prompt template file not found: {path} (option `templates`)')
    with open(resolved, encoding='utf-8') as f:
        return resolve_templates([line.rstrip('\r\n') for line in f if line.strip()])


def clean_template(template: str) -> str:
    """A quoted template line as written in a Python list (``'a photo of a {}.',``) without its quotes and comma."""
    out = template.strip().rstrip(',').strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in '\'"':
        out = out[1:-1]
    return out


def resolve_templates(templates: Union[str, Sequence[str]]) -> List[str]:
    """A list of templates from a named set or an explicit list/one template string containing ``{}``."""
    if isinstance(templates, str):
        if templates in PROMPT_SETS:
            return list(PROMPT_SETS[templates])
        if templates in PROMPT_FILES:
            return read_template_file(PROMPT_FILES[templates])
        if templates.endswith('_clean') and templates[:-len('_clean')] in PROMPT_FILES:
            return [clean_template(t) for t in read_template_file(PROMPT_FILES[templates[:-len('_clean')]])]
        if templates.endswith('.txt'):
            return read_template_file(templates)
        if '{}' in templates:
            return [templates]
        known = sorted(PROMPT_SETS) + sorted(PROMPT_FILES) + [n + '_clean' for n in sorted(PROMPT_FILES)]
        raise ValueError(f'Unknown prompt set {templates!r}; known: {known} (or give templates containing "{{}}", '
                         f'or a .txt file with one template per line)')
    out = list(templates)
    bad = [t for t in out if '{}' not in t]
    if not out or bad:
        raise ValueError(f'Every prompt template needs one "{{}}" placeholder; got {out}')
    return out
