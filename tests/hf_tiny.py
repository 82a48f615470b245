"""Tiny random Hugging Face dual encoders (ALIGN, AltCLIP, GroupViT, CLIP) with their tokenizers, saved as model
folders (``save_pretrained``) for HFVLMBackbone's tests; nothing is downloaded.

The tokenizers are real transformers tokenizers of the models' kinds on small vocabularies written here: WordPiece
(BERT, ALIGN's), Unigram (XLM-R, AltCLIP's; built from a piece list, no sentencepiece package needed) and OpenAI's CLIP
BPE, rebuilt from open_clip's bundled ``bpe_simple_vocab_16e6.txt.gz`` exactly as open_clip's ``SimpleTokenizer``
reads it (the same token ids, which the open_clip parity test relies on)."""
import gzip
import json
import os
import os.path as osp
import string

import torch

#: words of the tests' prompts; any other word falls back to single characters
WORDS = ('zero', 'one', 'two', 'three', 'the', 'nice', 'this', 'is', 'a', 'photo', 'of', 'thing', 'colour')
_CHARS = string.ascii_lowercase + string.ascii_uppercase + string.digits
_PUNCT = ".,-!'"

#: tiny configs (``HFVLMBackbone(model_cfg=...)``), each taking 32 x 32 images
TINY_CFGS = dict(
    align=dict(
        model_type='align', projection_dim=32,
        text_config=dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64),
        vision_config=dict(image_size=32, width_coefficient=1.0, depth_coefficient=1.0, kernel_sizes=[3, 3],
                           in_channels=[32, 16], out_channels=[16, 32], strides=[2, 2], num_block_repeats=[1, 1],
                           expand_ratios=[1, 2], hidden_dim=64, depthwise_padding=[])),
    altclip=dict(
        model_type='altclip', projection_dim=32,
        text_config=dict(vocab_size=160, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=40, project_dim=32, pad_token_id=1),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=16)),
    groupvit=dict(
        model_type='groupvit', projection_dim=16, projection_intermediate_dim=32,
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77),
        vision_config=dict(hidden_size=32, intermediate_size=64, depths=[1, 1], num_hidden_layers=2,
                           num_group_tokens=[4, 0], num_output_groups=[4, 4], num_attention_heads=2, image_size=32,
                           patch_size=8)),
    clip=dict(
        model_type='clip', projection_dim=32,
        text_config=dict(vocab_size=49408, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act='quick_gelu'),
        vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=16, hidden_act='quick_gelu')),
)
TOKENIZER_KIND = dict(align='bert', altclip='xlmr', groupvit='clip', clip='clip')


def write_bert_tokenizer(folder):
    """A WordPiece (BERT) tokenizer: the words, single characters and their ``##`` continuations."""
    import transformers
    os.makedirs(folder, exist_ok=True)
    lower = string.ascii_lowercase + string.digits
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *WORDS, *lower, *(f'##{c}' for c in lower), *_PUNCT]
    path = osp.join(folder, 'vocab.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    transformers.BertTokenizer(vocab=path).save_pretrained(folder)


def write_xlmr_tokenizer(folder):
    """A Unigram (XLM-R) tokenizer from a piece list: ``<s> <pad> </s> <unk>`` at XLM-R's ids 0-3."""
    import transformers
    vocab = [('<s>', 0.0), ('<pad>', 0.0), ('</s>', 0.0), ('<unk>', 0.0), ('\u2581', -3.0)]
    vocab += [('\u2581' + w, -2.0) for w in WORDS] + [('\u2581' + c, -4.0) for c in _CHARS]
    vocab += [(c, -5.0) for c in _CHARS + _PUNCT] + [('<mask>', 0.0)]
    transformers.XLMRobertaTokenizer(vocab=vocab).save_pretrained(folder)


def write_clip_tokenizer(folder):
    """OpenAI's CLIP BPE (vocab.json + merges.txt) from open_clip's bundled merges, as open_clip reads them."""
    import transformers
    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    os.makedirs(folder, exist_ok=True)
    merges = gzip.open(default_bpe()).read().decode('utf-8').split('\n')[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + '</w>' for v in vocab] + [''.join(m.split()) for m in merges]
    vocab += ['<|startoftext|>', '<|endoftext|>']
    with open(osp.join(folder, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f)
    with open(osp.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + '\n'.join(merges) + '\n')
    transformers.CLIPTokenizer(vocab=osp.join(folder, 'vocab.json'),
                               merges=osp.join(folder, 'merges.txt')).save_pretrained(folder)


WRITERS = dict(bert=write_bert_tokenizer, xlmr=write_xlmr_tokenizer, clip=write_clip_tokenizer)


def build_tiny(kind, seed=0):
    """The tiny random model ``kind`` (eval mode), its weights drawn with torch seed ``seed``."""
    import transformers
    cfg = dict(TINY_CFGS[kind])
    config = transformers.AutoConfig.for_model(cfg.pop('model_type'), **cfg)
    torch.manual_seed(seed)
    return transformers.AutoModel.from_config(config).eval()


def save_tiny(kind, folder, seed=0):
    """Save the tiny model ``kind`` and its tokenizer into ``folder`` (a model folder for ``model_id``)."""
    build_tiny(kind, seed).save_pretrained(folder)
    WRITERS[TOKENIZER_KIND[kind]](folder)
    return str(folder)


#: hub repository of the shipped configs -> the tiny model of its kind
KIND_OF_REPO = {'kakaobrain/align-base': 'align', 'BAAI/AltCLIP': 'altclip', 'nvidia/groupvit-gcc-yfcc': 'groupvit',
                'openai/clip-vit-base-patch16': 'clip'}


def tiny_swap(backbone, root):
    """A shipped config's HFVLMBackbone dict with the tiny random model of the same kind instead of the hub weights:
    ``model_cfg`` builds it, the tokenizer of its kind is written under ``root`` once (tests/test_configs.py)."""
    kind = KIND_OF_REPO[backbone['model_id']]
    folder = osp.join(str(root), f'hf_tiny_tokenizer_{kind}')
    if not osp.isdir(folder):
        WRITERS[TOKENIZER_KIND[kind]](folder)
    kept = {k: v for k, v in backbone.items() if k in ('precision', 'frozen', 'max_length')}
    return dict(type='HFVLMBackbone', model_id=backbone['model_id'], model_cfg=dict(TINY_CFGS[kind]), tokenizer=folder,
                **kept)
