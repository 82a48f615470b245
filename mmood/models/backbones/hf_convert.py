"""Hugging Face transformers ``CLIPModel`` weights as open_clip weights (the same model, two key layouts).

A checkpoint such as ``openai/clip-vit-base-patch16`` runs either through :class:`~mmood.models.backbones.HFVLMBackbone`
as it is, or converted by :func:`hf_clip_to_open_clip` for :class:`~mmood.models.backbones.OpenCLIPBackbone` (the
open_clip-only methods: CLIP fine-tuning, CLIPN, NPOS, GL-MCM's local features). Both builds give the same image and
text embeddings (tests/test_models/test_hf_backbone.py checks it on a tiny random CLIPModel, tokenizer included).

Key map (HF -> open_clip; ``i`` a block index, the text tower's blocks at the top level, the image tower's under
``visual.``):

==========================================================  ==========================================================
``text_model.embeddings.token_embedding.weight``            ``token_embedding.weight``
``text_model.embeddings.position_embedding.weight``         ``positional_embedding``
``*.encoder.layers.i.self_attn.{q,k,v}_proj.{weight,bias}``  ``*.resblocks.i.attn.in_proj_{weight,bias}`` (q, k, v rows)
``*.encoder.layers.i.self_attn.out_proj.*``                 ``*.resblocks.i.attn.out_proj.*``
``*.encoder.layers.i.layer_norm{1,2}.*``                    ``*.resblocks.i.ln_{1,2}.*``
``*.encoder.layers.i.mlp.fc1.*`` / ``fc2.*``                ``*.resblocks.i.mlp.c_fc.*`` / ``c_proj.*``
``text_model.final_layer_norm.*``                           ``ln_final.*``
``text_projection.weight`` (D, W)                           ``text_projection`` (W, D), transposed
``vision_model.embeddings.class_embedding``                 ``visual.class_embedding``
``vision_model.embeddings.patch_embedding.weight``          ``visual.conv1.weight``
``vision_model.embeddings.position_embedding.weight``       ``visual.positional_embedding``
``vision_model.pre_layrnorm.*`` (sic)                       ``visual.ln_pre.*``
``vision_model.post_layernorm.*``                           ``visual.ln_post.*``
``visual_projection.weight`` (D, W)                         ``visual.proj`` (W, D), transposed
``logit_scale``                                             ``logit_scale``
==========================================================  ==========================================================

The ``position_ids`` buffers are dropped. The activation is the HF config's ``hidden_act``: ``quick_gelu`` (OpenAI's
CLIP) is open_clip's QuickGELU (``quick_gelu=True`` in the open_clip config, ``activation='quick_gelu'`` in mmood's),
``gelu`` its GELU. :func:`hf_clip_config_to_open_clip` gives the open_clip model config of an HF ``CLIPConfig``.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, Optional, Tuple

import torch

from ...utils.errors import UserError

__all__ = ['hf_clip_to_open_clip', 'hf_clip_config_to_open_clip', 'load_hf_clip', 'convert_hf_clip',
           'HFConversionError']

_LAYER = re.compile(r'^(text_model|vision_model)\.encoder\.layers\.(\d+)\.(.+)$')
#: renames inside one encoder layer (HF -> open_clip), beside the fused q/k/v projection
_LAYER_PARTS = {
    'self_attn.out_proj.': 'attn.out_proj.',
    'layer_norm1.': 'ln_1.',
    'layer_norm2.': 'ln_2.',
    'mlp.fc1.': 'mlp.c_fc.',
    'mlp.fc2.': 'mlp.c_proj.',
}
#: renames outside the encoder layers
_TOP = {
    'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
    'text_model.embeddings.position_embedding.weight': 'positional_embedding',
    'text_model.final_layer_norm.weight': 'ln_final.weight',
    'text_model.final_layer_norm.bias': 'ln_final.bias',
    'vision_model.embeddings.class_embedding': 'visual.class_embedding',
    'vision_model.embeddings.patch_embedding.weight': 'visual.conv1.weight',
    'vision_model.embeddings.position_embedding.weight': 'visual.positional_embedding',
    'vision_model.pre_layrnorm.weight': 'visual.ln_pre.weight',
    'vision_model.pre_layrnorm.bias': 'visual.ln_pre.bias',
    'vision_model.post_layernorm.weight': 'visual.ln_post.weight',
    'vision_model.post_layernorm.bias': 'visual.ln_post.bias',
    'logit_scale': 'logit_scale',
}
_TRANSPOSED = {'text_projection.weight': 'text_projection', 'visual_projection.weight': 'visual.proj'}
_DROPPED = ('text_model.embeddings.position_ids', 'vision_model.embeddings.position_ids')


class HFConversionError(UserError, ValueError):
    """The input is not a Hugging Face ``CLIPModel`` state dict / folder (the message says what is wrong)."""


def hf_clip_to_open_clip(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """An HF ``CLIPModel`` state dict under open_clip's ``CLIP`` key names (see the module docstring).

    Args:
        state_dict: ``CLIPModel.state_dict()`` (a ``module.`` prefix is stripped).

    Returns:
        A new state dict; tensors are shared or concatenated, never modified in place.

    Raises:
        HFConversionError: keys the map does not know, or a block without all of q, k and v.
    """
    state = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state_dict.items()}
    out, qkv, unknown = {}, {}, []
    for key, value in state.items():
        if key in _DROPPED:
            continue
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        if key in _TRANSPOSED:
            out[_TRANSPOSED[key]] = value.t().contiguous()
            continue
        match = _LAYER.match(key)
        if not match:
            unknown.append(key)
            continue
        tower, index, rest = match.groups()
        base = ('' if tower == 'text_model' else 'visual.') + f'transformer.resblocks.{index}.'
        proj = re.match(r'^self_attn\.([qkv])_proj\.(weight|bias)$', rest)
        if proj:
            qkv.setdefault((base, proj.group(2)), {})[proj.group(1)] = value
            continue
        for old, new in _LAYER_PARTS.items():
            if rest.startswith(old):
                out[base + new + rest[len(old):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise HFConversionError(f'{len(unknown)} keys of the state dict are not those of a Hugging Face CLIPModel: '
                                f'{unknown[:6]}{" ..." if len(unknown) > 6 else ""}')
    for (base, kind), parts in sorted(qkv.items()):
        if set(parts) != {'q', 'k', 'v'}:
            raise HFConversionError(f'{base} has the attention projections {sorted(parts)} ({kind}), not q, k and v')
        out[f'{base}attn.in_proj_{kind}'] = torch.cat([parts['q'], parts['k'], parts['v']], dim=0)
    if 'token_embedding.weight' not in out or 'visual.conv1.weight' not in out:
        raise HFConversionError('The state dict lacks the text or the image tower of a Hugging Face CLIPModel '
                                '(text_model.embeddings.token_embedding.weight, '
                                'vision_model.embeddings.patch_embedding.weight)')
    return out


def _act(cfg: dict, where: str) -> bool:
    act = cfg.get('hidden_act', 'quick_gelu')
    if act not in ('quick_gelu', 'gelu'):
        raise HFConversionError(f'{where}.hidden_act={act!r}: open_clip has quick_gelu and gelu only')
    return act == 'quick_gelu'


def hf_clip_config_to_open_clip(config: dict) -> dict:
    """The open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``, ``quick_gelu``) of an HF
    ``CLIPConfig`` dict (``CLIPConfig.to_dict()``: complete text and vision configs).

    Raises:
        HFConversionError: not a CLIP config, towers with different activations, or a layer-norm epsilon open_clip
            does not use (1e-5).
    """
    if config.get('model_type') != 'clip':
        raise HFConversionError(f'Not a CLIPModel config (model_type={config.get("model_type")!r})')
    text, vision = config['text_config'], config['vision_config']
    quick = {_act(text, 'text_config'), _act(vision, 'vision_config')}
    if len(quick) != 1:
        raise HFConversionError('The text and vision towers use different activations; open_clip builds both alike')
    for name, cfg in (('text_config', text), ('vision_config', vision)):
        eps = cfg.get('layer_norm_eps', 1e-5)
        if abs(eps - 1e-5) > 1e-12:
            raise HFConversionError(f'{name}.layer_norm_eps={eps}: open_clip\'s LayerNorm uses 1e-5')
    return dict(
        embed_dim=int(config['projection_dim']),
        quick_gelu=quick.pop(),
        vision_cfg=dict(image_size=int(vision['image_size']), layers=int(vision['num_hidden_layers']),
                        width=int(vision['hidden_size']), patch_size=int(vision['patch_size']),
                        head_width=int(vision['hidden_size']) // int(vision['num_attention_heads']),
                        mlp_ratio=float(vision['intermediate_size']) / float(vision['hidden_size'])),
        text_cfg=dict(context_length=int(text['max_position_embeddings']), vocab_size=int(text['vocab_size']),
                      width=int(text['hidden_size']), heads=int(text['num_attention_heads']),
                      layers=int(text['num_hidden_layers']),
                      mlp_ratio=float(text['intermediate_size']) / float(text['hidden_size'])),
    )


def _read_weights(path: str) -> Dict[str, torch.Tensor]:
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    state = torch.load(path, map_location='cpu', weights_only=True)
    return state.get('state_dict', state) if isinstance(state, dict) else state


def load_hf_clip(src: str) -> Tuple[Dict[str, torch.Tensor], Optional[dict]]:
    """The state dict and the full config dict (None for a lone weights file) of an HF CLIPModel folder
    (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded or not) or weights file."""
    from .hf_backbone import weight_files
    if osp.isdir(src):
        files = [f for f in weight_files(src) if not f.endswith('.index.json')]
        if not files:
            raise HFConversionError(f'{src} holds no model.safetensors or pytorch_model.bin')
        state = {}
        for f in files:
            state.update(_read_weights(f))
        config = None
        if osp.isfile(osp.join(src, 'config.json')):
            try:
                import transformers
                config = transformers.CLIPConfig.from_pretrained(src).to_dict()
            except ImportError:
                with open(osp.join(src, 'config.json'), encoding='utf-8') as f:
                    config = json.load(f)
        return state, config
    if not osp.isfile(src):
        raise HFConversionError(f'{src} is neither a Hugging Face model folder nor a weights file')
    return _read_weights(src), None


def convert_hf_clip(src: str, out: str, write_config: bool = True) -> dict:
    """Convert an HF CLIPModel folder or weights file ``src`` into open_clip weights ``out`` (``torch.save``).

    With ``write_config`` and a folder's ``config.json``, ``open_clip_config.json`` beside ``out`` states the open_clip
    model config, its activation included (mmood reads the activation from it:
    :mod:`mmood.models.backbones.weights`); an existing different one there is an error rather than overwritten.

    Returns:
        ``dict(out=..., keys=N, model_cfg=... or None, config_file=... or None)``.
    """
    state, config = load_hf_clip(src)
    converted = hf_clip_to_open_clip(state)
    model_cfg = hf_clip_config_to_open_clip(config) if config else None
    sidecar = None
    if model_cfg and write_config:
        sidecar = osp.join(osp.dirname(osp.abspath(out)), 'open_clip_config.json')
        record = dict(model_cfg=model_cfg)
        if osp.isfile(sidecar):
            with open(sidecar, encoding='utf-8') as f:
                if json.load(f).get('model_cfg') != model_cfg:
                    raise HFConversionError(f'{sidecar} exists and states another model; write the output to another '
                                            f'folder (or pass --no-config)')
        else:
            os.makedirs(osp.dirname(sidecar), exist_ok=True)
            with open(sidecar, 'w', encoding='utf-8') as f:
                json.dump(record, f, indent=2)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(converted, out)
    return dict(out=out, keys=len(converted), model_cfg=model_cfg, config_file=sidecar)
