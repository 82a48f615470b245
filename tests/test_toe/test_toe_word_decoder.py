"""TOE's word decoder on a tiny random BertGenerationDecoder (config in code) and a WordPiece tokenizer written here:
the converter of the reference's checkpoint layout ({'net': state_dict}), word generation through the TOE word config
path equal to a direct per-image decode, the reference's flattened-batch slice, the filters, tools/train.py on
image-caption pairs (a TSV from a COCO-style annotation file), and the trained checkpoint feeding the word path."""
import glob
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from conftest import REPO, load_tool, run_tool, tiny_backbone, tiny_weights, write_images
from hf_tiny import write_bert_tokenizer
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmood.apis import convert_word_decoder
from mmood.text import NON_SEMANTIC_WORDS, filter_decoded_words, read_outlier_header, select_token_ids
from mmood.utils.errors import UserError

# the tokenizer's ids: [PAD] 0, [UNK] 1, [CLS] 2 (<s>), [SEP] 3 (</s>); hidden 64 = 2 x the tiny CLIP's 32
TINY_DECODER = dict(vocab_size=94, hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                    max_position_embeddings=40, pad_token_id=0, bos_token_id=2, eos_token_id=3)
CLASS_NAMES = ['zero', 'one', 'photo']


@pytest.fixture(scope='module')
def tokenizer_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('bert_tok'))
    write_bert_tokenizer(folder)
    return folder


def build_decoder(tokenizer_dir, seed=0, backbone=None):
    torch.manual_seed(seed)
    return MODELS.build(dict(type='TOEWordDecoder', backbone=backbone, decoder=dict(config=TINY_DECODER),
                             tokenizer=tokenizer_dir, max_length=16)).eval()


def test_select_token_ids_per_image_and_flattened():
    logits = torch.tensor([[5., 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5], [1, 0, 5, 4, 3, 2]])
    # ranks 2-4 (slice (1, 4) of the top 4) per image
    assert select_token_ids(logits, 4, (1, 4)).tolist() == [1, 2, 3, 4, 3, 2, 3, 4, 5]
    # the reference's slice of the flattened (B, 4) ids: [1:] keeps ranks 2-4 of image 0, all 4 of the others
    assert select_token_ids(logits, 4, (1, 4), flatten_batch_slice=True).tolist() == \
        [1, 2, 3, 5, 4, 3, 2, 2, 3, 4, 5]
    assert len(NON_SEMANTIC_WORDS) == 83 and {'', 'a', 'st', 'many', '"', '5'} <= NON_SEMANTIC_WORDS
    words = ['Tiger', 'tiger', 'shark', 'st', 'tiger shark', 'many', 'zebra', '']
    assert filter_decoded_words(words, ['tiger shark']) == ['shark', 'tiger', 'zebra']  # exact names only
    assert filter_decoded_words(words, ['tiger shark'], drop_class_words=True) == ['zebra']


def test_converter_generation_and_direct_decode(tokenizer_dir, tmp_path):
    decoder = build_decoder(tokenizer_dir)
    # the reference's layout: {'net': state_dict} (+ ZOC's epoch and validation loss), here with DataParallel keys
    src, dst = str(tmp_path / 'model_epoch100.pt'), str(tmp_path / 'decoder_mmood.pth')
    torch.save({'net': {f'module.{k}': v for k, v in decoder.decoder.state_dict().items()}, 'epoch': 99,
                'validation loss': 2.5}, src)
    assert load_tool('model_converters/toe_decoder_to_mmood').main([src, dst]) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['decoder_config'] == dict(vocab_size=94, hidden_size=64, num_hidden_layers=1,
                                                   intermediate_size=64, max_position_embeddings=40)
    assert saved['meta']['epoch'] == 99 and saved['meta']['validation_loss'] == 2.5
    for key, value in decoder.decoder.state_dict().items():
        assert torch.equal(saved['state_dict'][f'decoder.{key}'], value)
    no_cross = {k: v for k, v in decoder.decoder.state_dict().items() if '.crossattention.' not in k}
    torch.save({'net': no_cross}, str(tmp_path / 'bad.pt'))
    with pytest.raises(UserError, match='cross-attention'):
        convert_word_decoder(str(tmp_path / 'bad.pt'), str(tmp_path / 'x.pth'))

    # TOE's word level from the decoder, on (fake) cached ID-train features of the tiny tower
    torch.manual_seed(1)
    model = MODELS.build(dict(
        type='TOEClassifier', backbone=tiny_backbone(), class_names=CLASS_NAMES,
        outliers=dict(level='word', word_source='decoder', file=str(tmp_path / 'words.txt'),
                      decoder=dict(model=dict(decoder=dict(config=TINY_DECODER), tokenizer=tokenizer_dir),
                                   checkpoint=dst, batch_size=8))))

    class TrainSet:
        feats = dict(pre_proj=np.random.default_rng(0).standard_normal((20, 64)).astype(np.float32))
        labels = np.arange(20) % 3

    texts = model.outlier_texts(str(tmp_path), None, TrainSet())
    header = read_outlier_header(str(tmp_path / 'words.txt'))
    assert header['word_source'] == 'decoder' and header['images'] == '20'

    # direct: one decoder step from <s> per image on [z, z], ranks 31-55 of the top 55, decoded alone
    z = torch.from_numpy(TrainSet.feats['pre_proj']) @ model.backbone.projection.detach()
    words = set()
    with torch.no_grad():
        for row in z:
            enc = torch.cat([row, row])[None, None]
            logits = decoder.decoder(input_ids=torch.tensor([[2]]), encoder_hidden_states=enc).logits[0, -1]
            for i in logits.topk(55).indices[30:55].tolist():
                words.add(decoder.tokenizer.decode([i], skip_special_tokens=True).strip().lower())
    expected = sorted(words - set(CLASS_NAMES) - NON_SEMANTIC_WORDS)
    assert len(expected) > 10
    assert texts == [f'This is a photo of a {w}' for w in expected]

    # the reference's flattened-batch slice proposes more tokens (all 55 ranks of every image but the first)
    flat_options = dict(model.outliers['decoder'], flatten_batch_slice=True)
    model.outliers.update(file=str(tmp_path / 'flat.txt'), decoder=flat_options)
    flat = model.outlier_texts(str(tmp_path), None, TrainSet())
    assert set(texts) < set(flat)


def test_decoder_trains_on_image_captions(tokenizer_dir, tmp_path):
    # COCO-style annotations -> TSV (first 2 captions per image; one image has only 1)
    image_dir = str(tmp_path / 'images')
    write_images(image_dir, 6, 0, 'noise')
    files = sorted(os.listdir(image_dir))
    captions = ['one zero', 'the nice thing', 'a photo of one', 'this is zero', 'two three', 'nice colour']
    coco = dict(images=[dict(id=i, file_name=f) for i, f in enumerate(files)],
                annotations=[dict(image_id=i, caption=c) for i, c in enumerate(captions)]
                + [dict(image_id=i, caption=f'{c} again') for i, c in enumerate(captions[:5])]
                + [dict(image_id=0, caption='third one')])
    with open(tmp_path / 'captions.json', 'w') as f:
        json.dump(coco, f)
    tsv = str(tmp_path / 'captions.tsv')
    info = run_tool('dataset_converters/coco_captions_to_tsv',
                    [str(tmp_path / 'captions.json'), image_dir, tsv, '--per-image', '2'])
    assert info == dict(images=6, captions=11, short=1)
    with open(tsv) as f:
        assert f.readline().rstrip('\n') == f'{osp.join(image_dir, files[0])}\tone zero'

    weights = str(tmp_path / 'clip.pth')
    tiny_weights(weights)
    config = tmp_path / 'decoder_tiny.py'
    config.write_text(f"""_base_ = [{osp.join(REPO, 'configs', 'toe', 'toe_word_decoder_vitb32_coco.py')!r}]
model = dict(backbone=dict(_delete_=True, **{tiny_backbone(pretrained=weights)!r}),
             decoder=dict(_delete_=True, config={TINY_DECODER!r}), tokenizer={tokenizer_dir!r}, max_length=16)
decoder_pipeline = [dict(type='LoadOODImage', imdecode_backend='pillow'),
                    dict(type='ResizeEdge', scale=32, edge='short', backend='pillow', interpolation='bicubic'),
                    dict(type='CenterCrop', crop_size=32), dict(type='PackInputs', algorithm_keys=('text', ))]
train_dataloader = dict(batch_size=11, num_workers=0, persistent_workers=False,
                        dataset=dict(tsv={tsv!r}, pipeline=decoder_pipeline))
train_cfg = dict(max_epochs=25)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=25))
randomness = dict(seed=0)
""")
    work = str(tmp_path / 'work')
    run_tool('train', [str(config), '--work-dir', work, '--cache-dir', str(tmp_path / 'cache')], threads=1)
    with open(glob.glob(osp.join(work, '2*', '2*.log'))[-1]) as f:
        curve = [float(v) for v in re.findall(r' loss: ([0-9.]+)', f.read())]
    assert len(curve) == 25 and curve[-1] < 0.5 * curve[0], curve  # one batch per epoch
    state = torch.load(osp.join(work, 'epoch_25.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert state and all(k.startswith('decoder.') for k in state)  # the frozen tower is not saved
    # the trained decoder loads from its checkpoint and reproduces its training loss on a caption
    cfg = Config.fromfile(str(config))
    trained = build_decoder(tokenizer_dir, backbone=cfg.model.backbone)
    trained.load_state_dict(state, strict=False)
    fresh = build_decoder(tokenizer_dir, seed=5, backbone=cfg.model.backbone)
    images = torch.randn(2, 3, 32, 32)
    assert trained.caption_loss(trained.image_embedding(images), ['one zero', 'two three']) < \
        fresh.caption_loss(fresh.image_embedding(images), ['one zero', 'two three'])
    ids = trained.caption_ids(['one zero'])
    assert ids['input_ids'][0].tolist()[0] == 2 and ids['input_ids'][0].tolist()[-1] == 3
    # the checkpoint of tools/train.py feeds TOE's word level as it is
    model = MODELS.build(dict(
        type='TOEClassifier', backbone=tiny_backbone(pretrained=weights), class_names=CLASS_NAMES,
        outliers=dict(level='word', word_source='decoder', file=str(tmp_path / 'words.txt'),
                      decoder=dict(model=dict(decoder=dict(config=TINY_DECODER), tokenizer=tokenizer_dir),
                                   checkpoint=osp.join(work, 'epoch_25.pth')))))

    class TrainSet:
        feats = dict(pre_proj=np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32))

    texts = model.outlier_texts(str(tmp_path), None, TrainSet())
    z = torch.from_numpy(TrainSet.feats['pre_proj']) @ model.backbone.projection.detach()
    ranked = trained.first_step_logits(z).topk(55).indices[:, 30:55].reshape(-1).tolist()
    words = {trained.decode_token(i) for i in ranked} - set(CLASS_NAMES) - NON_SEMANTIC_WORDS
    assert texts == [f'This is a photo of a {w}' for w in sorted(words)]


def test_decoder_clip_option_encodes_the_images_itself(tokenizer_dir, tmp_path):
    """outliers.decoder.clip: another CLIP encodes the ID-train images for the decoder; with this model's weights it
    gives the words of the cached-feature path."""
    from types import SimpleNamespace

    from conftest import tiny_pipeline
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    weights = tiny_weights(str(tmp_path / 'clip.pth'))
    for c, name in enumerate(['zero', 'one']):
        write_images(str(tmp_path / 'train' / name), 3, seed=c, kind='stripes')
    spec = dict(type='CustomDataset', data_root=str(tmp_path / 'train'), pipeline=tiny_pipeline())
    checkpoint = str(tmp_path / 'decoder.pth')
    state = build_decoder(tokenizer_dir).decoder.state_dict()
    torch.save(dict(state_dict={f'decoder.{k}': v for k, v in state.items()}), checkpoint)

    def toe(name, **decoder):
        return MODELS.build(dict(
            type='TOEClassifier', backbone=tiny_backbone(pretrained=weights), class_names=CLASS_NAMES,
            outliers=dict(level='word', word_source='decoder', file=str(tmp_path / name),
                          decoder=dict(model=dict(decoder=dict(config=TINY_DECODER), tokenizer=tokenizer_dir),
                                       checkpoint=checkpoint, **decoder))))

    cached = toe('cached.txt')
    dataset = DATASETS.build(spec)
    with torch.no_grad():
        images = cached.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), False)['inputs']
        pre_proj = cached.backbone.extract_image_features(images, ('pre_proj', ))['pre_proj']
    train_set = SimpleNamespace(feats=dict(pre_proj=pre_proj.numpy()), labels=np.array([0, 0, 0, 1, 1, 1]),
                                source=SimpleNamespace(spec=spec))
    words = cached.outlier_texts(str(tmp_path), None, train_set)
    other = toe('other.txt', clip=tiny_backbone(pretrained=weights))
    assert other.outlier_texts(str(tmp_path), None, train_set) == words and len(words) > 5
    assert '(decoder.clip,' in read_outlier_header(str(tmp_path / 'other.txt'))['conditioning_clip']
