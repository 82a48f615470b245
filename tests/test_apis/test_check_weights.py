"""``tools/verify_data.py --check-weights`` on every shipped config, offline with an empty Hugging Face cache: each
backbone (open_clip, transformers, timm) either builds from random weights (the tiny configs) or names, in one
message, the file to fetch -- its hub repository or URL and the file name -- or the local file that is missing."""
import io
import os.path as osp
import re

import pytest
from conftest import method_configs
from mmengine.config import Config

from mmood.apis.verify import check_weights

CONFIGS = method_configs()
#: what a "fetch this" message must hold: a hub repository or URL, and a weights file name
HUB = re.compile(r'https://huggingface\.co/[\w.-]+/[\w.-]+|https?://\S+')
FILE = re.compile(r'[\w.-]+\.(bin|safetensors|pt|pth|pth\.tar|npz)\b')


def _backbone(path):
    model = Config.fromfile(path).get('model')
    return None if model is None else model.get('backbone')


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'hf' / 'hub'))
    monkeypatch.setattr('huggingface_hub.constants.HF_HUB_CACHE', str(tmp_path / 'hf' / 'hub'), raising=False)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_check_weights_names_the_file(path):
    backbone = _backbone(path)
    assert backbone is not None, f'{path} has no model.backbone'
    out = io.StringIO()
    ok = check_weights(backbone.to_dict(), out)
    text = out.getvalue().strip()
    assert text.startswith('weights: ') and '\n' not in text, text
    if ok:  # only random weights are present offline with an empty cache
        assert 'random initialisation' in text, text
        return
    missing_local = 'does not exist' in text
    assert missing_local or (HUB.search(text) and FILE.search(text)), text
    assert 'model.backbone.' in text, text  # the option to set
