"""tools/score.py on a model whose checkpoint changes its image features (NPOS's fine-tuned blocks): missing
features are named with the reason (the checkpoint) and the extraction command carries the checkpoint."""
import pytest
from conftest import make_benchmark
from mmengine.config import Config

from mmood.cache import CacheStore
from mmood.features import MissingFeaturesError, load_eval_split


def test_missing_features_name_the_checkpoint(tmp_path):
    dataset = make_benchmark(str(tmp_path / 'bench'))
    cfg = Config(dict(test_dataloader=dict(dataset=dataset)))
    model_id = dict(backbone=dict(model='tiny'), preprocessor={}, checkpoint='file:0123')
    with pytest.raises(MissingFeaturesError) as err:
        load_eval_split(cfg, model_id, CacheStore(str(tmp_path / 'cache')), ['global'], 'CONFIG CKPT.pth')
    assert 'depend on the checkpoint' in str(err.value)
    assert 'python tools/extract_features.py CONFIG CKPT.pth --splits id_test ood --kinds global' in str(err.value)
    with pytest.raises(MissingFeaturesError) as err:
        load_eval_split(cfg, dict(model_id, checkpoint=None), CacheStore(str(tmp_path / 'cache')), ['global'])
    assert 'depend on the checkpoint' not in str(err.value)
