"""TOE's ``outliers.debug_expansion`` (the reference's quick start, ``main.py --debug True``): the written list is the
N word prompts then each one's last word in the four templates, the option is part of the list's recipe (a list
written without it is refused, never reused), and the ImageNet word configs turn it on."""

import pytest
import torch
from conftest import config_path, tiny_backbone
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.models.classifiers.toe import OUTLIER_OPTIONS
from mmood.text import TOE_TEMPLATES, read_outlier_header, read_outlier_list
from mmood.utils.errors import UserError


def toe_model(**outliers):
    torch.manual_seed(0)
    return MODELS.build(dict(type='TOEClassifier', backbone=tiny_backbone(), class_names=['zero', 'one', 'two'],
                             outliers=dict(dict(level='word'), **outliers)))


def test_written_list_and_recipe(tmp_path):
    source = tmp_path / 'words.txt'
    source.write_text('This is a photo of a kite\nThis is a photo of a tiger shark\nlamp\none\n')
    base = ['This is a photo of a kite', 'This is a photo of a tiger shark', 'This is a photo of a lamp']
    plain = toe_model(source=str(source))
    assert plain.outlier_texts(str(tmp_path / 'plain')) == base  # off by default; "one" is an ID name
    expanded = toe_model(source=str(source), debug_expansion=True)
    texts = expanded.outlier_texts(str(tmp_path / 'expanded'))
    assert texts[:3] == base and len(texts) == 5 * 3
    assert texts[3:] == [t.format(w) for w in ('kite', 'shark', 'lamp') for t in TOE_TEMPLATES]
    assert texts[7] == 'This is a blurry photo of shark'
    header = read_outlier_header(str(tmp_path / 'expanded' / 'toe_outliers_word.txt'))
    assert header['debug_expansion'] == 'True' and header['count'] == '15' and header['unique'] == '15'
    assert read_outlier_list(str(tmp_path / 'expanded' / 'toe_outliers_word.txt')) == texts
    # the option is part of the recipe; off, the recipe is the one earlier lists were written with
    assert expanded.outlier_recipe_digest() != plain.outlier_recipe_digest()
    with pytest.raises(UserError, match='other outlier options'):
        expanded.outlier_texts(str(tmp_path / 'plain'))
    assert expanded.outlier_texts(str(tmp_path / 'plain'), force=True) == texts
    # other levels ignore it (their recipe does not change)
    assert toe_model(level='description', source=str(source), debug_expansion=True).outlier_recipe_digest() == \
        toe_model(level='description', source=str(source)).outlier_recipe_digest()


@pytest.mark.parametrize('name', ['toe_word_vitb16_in1k', 'toe_word_vitb16_in10', 'toe_word_vitb16_in20'])
def test_imagenet_word_configs_turn_it_on(name):
    cfg = Config.fromfile(config_path(f'{name}'))
    outliers = dict(cfg.model.outliers)
    assert outliers['level'] == 'word' and outliers['debug_expansion'] is True
    assert set(outliers) <= set(OUTLIER_OPTIONS) and OUTLIER_OPTIONS['debug_expansion'] is False
    model = toe_model(**{k: v for k, v in outliers.items() if k != 'level'})  # the options build as they are
    assert model.outliers['debug_expansion'] is True


def test_other_configs_keep_it_off():
    for name in ('toe_word_tiny_digits', 'toe_description_vitb16_in1k', 'toe_caption_vitb16_in1k'):
        assert Config.fromfile(config_path(f'{name}')).model.outliers.debug_expansion is False
