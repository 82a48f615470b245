"""TOE's captioner on a tiny random BLIP-2 (transformers, config in code; Unigram tokenizer written here):
tools/dataset_converters/caption_images.py writes one caption per image equal to a direct per-image generate; the
captions are cached per chunk of images and an interrupted run resumes with only the missing chunks; a fully cached
run loads no model; the captions file feeds TOE's caption level and its Mahalanobis filter."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import run_tool, tiny_backbone, write_images
from hf_tiny import write_xlmr_tokenizer
from mmpretrain.registry import MODELS

from mmood.apis import captions as captions_api
from mmood.apis.captions import read_captions
from mmood.text import caption_filter, read_outlier_header, select_per_class


@pytest.fixture(scope='module')
def blip2_dir(tmp_path_factory):
    import transformers
    folder = str(tmp_path_factory.mktemp('blip2'))
    write_xlmr_tokenizer(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    vocab = len(tokenizer)
    config = transformers.Blip2Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        qformer_config=dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, encoder_hidden_size=32),
        text_config=dict(model_type='opt', vocab_size=vocab + 1, hidden_size=32, num_hidden_layers=1, ffn_dim=64,
                         num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=32, bos_token_id=0,
                         eos_token_id=2, pad_token_id=1),
        num_query_tokens=4, image_token_index=vocab)
    torch.manual_seed(0)
    model = transformers.Blip2ForConditionalGeneration(config).eval()
    with torch.no_grad():  # spread the random weights so that greedy captions vary between images
        for p in model.parameters():
            if p.ndim > 1:
                p.normal_(0, 0.5)
    processor = transformers.Blip2Processor(image_processor=transformers.BlipImageProcessor(
        size=dict(height=32, width=32)), tokenizer=tokenizer, num_query_tokens=4)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_captions_direct_cached_resumed_and_filtered(blip2_dir, tmp_path, monkeypatch):
    import transformers
    images = str(tmp_path / 'images')
    write_images(images, 5, 0, 'noise')
    cache = str(tmp_path / 'cache')
    out = str(tmp_path / 'captions.txt')
    common = ['--model', blip2_dir, '--batch-size', '2', '--chunk-size', '2', '--max-new-tokens', '5',
              '--device', 'cpu', '--cache-dir', cache]

    # a run killed after its first chunk: the finished chunk stays in the cache
    real_call = captions_api._Captioner.__call__
    calls = []

    def dies_on_second_chunk(self, paths):
        calls.append(list(paths))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_call(self, paths)

    monkeypatch.setattr(captions_api._Captioner, '__call__', dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_tool('dataset_converters/caption_images', [images, out, *common])
    assert not osp.exists(out)
    monkeypatch.setattr(captions_api._Captioner, '__call__', real_call)
    done = run_tool('dataset_converters/caption_images', [images, out, *common])
    assert (done['chunks'], done['cached_chunks'], done['captioned']) == (3, 1, 3)  # resumed: 2 of 5 were cached

    # direct: each image alone through the processor and generate
    model = transformers.Blip2ForConditionalGeneration.from_pretrained(blip2_dir).eval()
    processor = transformers.AutoProcessor.from_pretrained(blip2_dir)
    direct = []
    for path in done['paths']:
        from PIL import Image
        inputs = processor(images=[Image.open(path).convert('RGB')], return_tensors='pt')
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=5)
        direct.append(processor.batch_decode(ids, skip_special_tokens=True)[0].strip())
    assert done['captions'] == direct and len(set(direct)) > 1 and all(direct)
    assert read_captions(out) == direct and read_outlier_header(out)['images'] == '5'

    # everything cached: no model is loaded
    monkeypatch.setattr(captions_api._Captioner, 'load', lambda self: pytest.fail('the model was loaded'))
    again = run_tool('dataset_converters/caption_images', [images, str(tmp_path / 'again.txt'), *common])
    assert (again['cached_chunks'], again['captioned']) == (3, 0) and again['captions'] == direct

    # the captions file feeds TOE's caption level: its filter keeps what caption_filter keeps on the embeddings
    torch.manual_seed(0)
    toe = MODELS.build(dict(type='TOEClassifier', backbone=tiny_backbone(), class_names=['zero', 'one'],
                            outliers=dict(level='caption', source=out, keep=0.4, per_class=3,
                                          file=str(tmp_path / 'kept.txt'))))

    class TrainSet:
        feats = dict(pre_proj=np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32))
        labels = np.arange(8) % 2

    kept = toe.outlier_texts(str(tmp_path), None, TrainSet())
    rows = select_per_class(TrainSet.labels, 3)
    image = F.normalize(torch.from_numpy(TrainSet.feats['pre_proj'][rows]) @ toe.backbone.projection.detach(), dim=-1)
    with torch.no_grad():
        text = toe.backbone.encode_text(direct)
    index = caption_filter(text, image, torch.from_numpy(TrainSet.labels[rows]), 2, keep=0.4).tolist()
    assert len(index) == 2 and kept == list(dict.fromkeys(direct[i] for i in index))
