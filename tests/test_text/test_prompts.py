"""Prompt sets: CLIPN's 128 quoted prompts are shipped and read literally (CN-7; T7: they tokenize differently)."""
import pytest

from mmood.text import resolve_templates


def test_clipn_prompts_are_literal():
    prompts = resolve_templates('clipn')
    assert len(prompts) == 128 and len(set(prompts)) == 128
    assert prompts[0] == "'a bad photo of a {}.'" and prompts[64] == "'a bad photo with a {}.'"
    assert prompts[34] == "'a photo of a {}.'," and prompts[98] == "'a photo with a {}.',"  # lines 35 and 99
    assert prompts[30] == "'a {} in a video game.'" and prompts[94] == "'a {} appearing in a video game.'"
    assert all(p.startswith("'") for p in prompts) and sum(p.endswith(',') for p in prompts) == 2
    clean = resolve_templates('clipn_clean')
    assert clean[0] == 'a bad photo of a {}.' and clean[34] == 'a photo of a {}.' and len(clean) == 128


def test_t7_quotes_and_commas_are_tokenized():
    import open_clip
    tokenize = open_clip.get_tokenizer('ViT-B-16')

    def ids(text):
        row = tokenize([text])[0].tolist()
        return row[:row.index(49407) + 1]

    quoted = resolve_templates('clipn')
    assert ids(quoted[0].format('goldfish')) == [49406, 262, 320, 2103, 1125, 539, 320, 40293, 5938, 49407]
    assert ids(quoted[34].format('goldfish')) == [49406, 262, 320, 1125, 539, 320, 40293, 13, 5662, 49407]
    clean = resolve_templates('clipn_clean')[34].format('goldfish')
    assert ids(clean) == [49406, 320, 1125, 539, 320, 40293, 269, 49407]


def test_template_files_and_errors(tmp_path):
    path = tmp_path / 'mine.txt'
    path.write_text("a {} here\n\n'quoted {}.'\r\n")
    assert resolve_templates(str(path)) == ['a {} here', "'quoted {}.'"]
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        resolve_templates(str(tmp_path / 'missing.txt'))
    with pytest.raises(ValueError, match='clipn_clean'):
        resolve_templates('clipm')
