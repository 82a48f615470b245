"""Convert a released CLIP-NPOS checkpoint (deeplearning-wisc/npos) into an mmood ``NPOSClassifier`` checkpoint.

``python tools/model_converters/npos_to_mmood.py SRC DST [--config configs/npos/npos_vitb16_in100.py]
[--cfg-options ...]``

``python tools/model_converters/npos_to_mmood.py MMOOD_CKPT OUT.pt --to-official`` writes the inverse: an mmood
checkpoint in the reference's layout (for the reference's ``test_npos.py``).

Released files (README of deeplearning-wisc/npos; Google Drive ids, download e.g. with
``gdown --id ID -O checkpoints/npos/<name>.pt``)::

    CLIP ViT-B/16, ImageNet-100     1S-6d7DaSGPwDMcmgoPXOx06yLEi0CrR1   -> checkpoints/npos/clip_in100.pt
    CLIP ViT-B/16, ImageNet-1k      1nleU7JL12NSvOLcWdOIN9XSkWFSijhXc   -> checkpoints/npos/clip_in1k.pt

(the from-scratch ResNet releases, IN-100 ``1WBVZHjChC2dFWNoWbkb9mag5d66-ia86``, CIFAR-10
``1O-75ro2iwg_LFhPoyYkXrPDOmdWxIX75``, CIFAR-100 ``1Vd5eoUHmQtlsfMxcH3evFcUiYYdyqvNU``, are another model and are
refused). Then::

    python tools/model_converters/npos_to_mmood.py checkpoints/npos/clip_in100.pt \\
        checkpoints/npos_vitb16_in100.pth --config configs/npos/npos_vitb16_in100.py
    python tools/test.py configs/npos/npos_vitb16_in100.py checkpoints/npos_vitb16_in100.pth

Layout of a released file (``CLIP_based/OOD/CLIP/CLIP_ft.py``: ``torch.save(net.state_dict())``, keys prefixed
``module.`` when trained under DataParallel with more than one GPU, as the released runs were; the fine-tuned
weights fp16 as ``clip.load`` left them on CUDA, LayerNorms and the MLP fp32)::

    transformer_resblocks.block{i}.*   ->  backbone.clip.visual.transformer.resblocks.{B - n + i}.*
    ln_post.{weight,bias}              ->  backbone.clip.visual.ln_post.{weight,bias}
    proj                               ->  backbone.clip.visual.proj
    outlier_MLP.{0,2}.{weight,bias}    ->  outlier_mlp.{0,2}.{weight,bias}

with ``n`` the blocks found in the file (block0 is the first fine-tuned one: ``CLIP_ft(layers=10)`` names resblocks
10 and 11 block0 and block1) and ``B`` the blocks of the config's image tower (12 for ViT-B/16); ``n`` must equal
the config's ``model.backbone.trainable_blocks``. The block entries keep OpenAI CLIP's names (``ln_1``,
``attn.in_proj_weight``, ``attn.out_proj``, ``ln_2``, ``mlp.c_fc``, ``mlp.c_proj``), which open_clip uses too.
Every tensor is cast to float32 (mmood trains in fp32/AMP, NP-8). Any other key, a missing key or a
shape that differs from the config's model stops the conversion with the keys listed. NOTE: this layout is read from
the reference's code; it has not been checked against a downloaded release.

What the release does not hold: the training state of NPOS (the per-class queues, their counts and write positions,
the synthesis step and the iteration counter; the reference never saved them, NP-12). ``NPOSClassifier`` checkpoints
must hold them, so DST carries their empty state (zero queues, counts 0, positions 0, step 0, iteration 0: a
tested model, not a resumable run), and ``meta['training_state']`` says so. The zero queues are stored as
broadcast views of one zero, so they take a few bytes in DST whatever the number of classes.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, List, Tuple

import torch

from mmood.apis import guarded, read_config
from mmood.cache import file_sha256
from mmood.utils import CheckpointMismatchError, atomic_open, check_checkpoint, load_checkpoint_file

TOOL = 'tools/model_converters/npos_to_mmood.py'
#: entries of a checkpoint dict that may hold the state dict (the reference saves the bare state dict)
STATE_KEYS = ('state_dict', 'model', 'net', 'model_state_dict', 'module')
VISUAL = 'backbone.clip.visual.'
#: keys of an NPOSClassifier checkpoint that a release does not hold (filled with their empty state)
TRAINING_STATE = ('synthesis.', 'iteration')
_BLOCK = re.compile(r'^transformer_resblocks\.block(\d+)\.(.+)$')
_RESBLOCK = re.compile(r'^' + re.escape(VISUAL) + r'transformer\.resblocks\.(\d+)\.(.+)$')
_SIMPLE = {'ln_post.': VISUAL + 'ln_post.', 'outlier_MLP.': 'outlier_mlp.'}
NOTE = 'key layout read from the reference code (CLIP_ft.py), not verified against a real released file'


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='mmood: convert a released CLIP-NPOS checkpoint')
    parser.add_argument('src', help='released checkpoint (a state_dict saved by the reference\'s train_npos.py)')
    parser.add_argument('dst', help='mmood checkpoint to write (.pth)')
    parser.add_argument('--config', default='configs/npos/npos_vitb16_in100.py',
                        help='the NPOS config the checkpoint is tested with (its tower and class count)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--to-official', action='store_true',
                        help='the inverse: SRC is an mmood NPOS checkpoint, DST gets the reference\'s layout')
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------------------------ reading
def source_state(checkpoint, path: str) -> Tuple[Dict[str, torch.Tensor], bool]:
    """The state dict of a loaded file (the file itself or a usual entry of it), ``module.`` prefixes stripped;
    returns ``(state, had_prefix)``."""
    state = checkpoint
    if isinstance(checkpoint, dict) and not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        found = [k for k in STATE_KEYS if isinstance(checkpoint.get(k), dict)]
        if not found:
            raise CheckpointMismatchError(
                f'{path} holds no state dict: its entries are {sorted(map(str, checkpoint))[:8]} (expected the '
                f'tensors of the reference\'s torch.save(net.state_dict()), or one of the entries {STATE_KEYS})')
        state = checkpoint[found[0]]
    if not isinstance(state, dict) or not state:
        raise CheckpointMismatchError(f'{path} holds a {type(state).__name__}, not a non-empty state dict')
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointMismatchError(f'{path}: entries that are not tensors: {not_tensors[:8]}')
    out, prefixed = {}, False
    for key, value in state.items():
        while key.startswith('module.'):
            key, prefixed = key[len('module.'):], True
        if key in out:
            raise CheckpointMismatchError(f'{path}: key {key} appears twice (with and without "module.")')
        out[key] = value
    return out, prefixed


def refuse_mmood_layout(state: Dict[str, torch.Tensor], path: str) -> None:
    ours = [k for k in state if k.startswith(('backbone.', 'outlier_mlp.') + TRAINING_STATE)]
    if ours:
        raise CheckpointMismatchError(
            f'{path} is not in the layout of the NPOS release but in mmood\'s ({len(ours)} keys such as '
            f'{ours[:3]}): it is already an mmood checkpoint. Test it directly (tools/test.py CONFIG {path}), or '
            f'pass --to-official to write it in the reference\'s layout.')


# ------------------------------------------------------------------------------------------------ mapping
def official_to_mmood(state: Dict[str, torch.Tensor], total_blocks: int) -> Dict[str, str]:
    """The mmood key of every key of a released state dict (``module.`` already stripped).

    Block ``i`` of the ``n`` fine-tuned ones goes to resblock ``total_blocks - n + i``.

    Raises:
        CheckpointMismatchError: keys of no known form (listed), block numbers that are not 0..n-1, or more blocks
            than the tower has.
    """
    blocks = sorted({int(m.group(1)) for m in map(_BLOCK.match, state) if m})
    if blocks != list(range(len(blocks))):
        raise CheckpointMismatchError(f'The fine-tuned blocks of the file are numbered {blocks}, not 0..n-1 '
                                      f'(transformer_resblocks.block0, block1, ...)')
    first = total_blocks - len(blocks)
    if first < 0:
        raise CheckpointMismatchError(f'The file fine-tunes {len(blocks)} blocks; the config\'s image tower has '
                                      f'{total_blocks}')
    mapping, unknown = {}, []
    for key in state:
        block = _BLOCK.match(key)
        if block:
            mapping[key] = f'{VISUAL}transformer.resblocks.{first + int(block.group(1))}.{block.group(2)}'
        elif key == 'proj':
            mapping[key] = VISUAL + 'proj'
        elif key.startswith(tuple(_SIMPLE)):
            prefix = next(p for p in _SIMPLE if key.startswith(p))
            mapping[key] = _SIMPLE[prefix] + key[len(prefix):]
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatchError(
            f'Keys of no known NPOS release form ({len(unknown)}): {unknown[:8]}' + (' ...' if len(unknown) > 8
                                                                                     else '') +
            '\n  A CLIP-NPOS release holds transformer_resblocks.block<i>.*, ln_post.*, proj and outlier_MLP.* only '
            '(the from-scratch ResNet releases are another model).')
    return mapping


def mmood_to_official(state: Dict[str, torch.Tensor]) -> Dict[str, str]:
    """The reference key of every trained key of an mmood NPOS state dict (the training state is dropped).

    Raises:
        CheckpointMismatchError: other keys (listed).
    """
    resblocks = sorted({int(m.group(1)) for m in map(_RESBLOCK.match, state) if m})
    position = {index: i for i, index in enumerate(resblocks)}
    inverse = {v: k for k, v in _SIMPLE.items()}
    mapping, unknown = {}, []
    for key in state:
        block = _RESBLOCK.match(key)
        if block:
            mapping[key] = f'transformer_resblocks.block{position[int(block.group(1))]}.{block.group(2)}'
        elif key == VISUAL + 'proj':
            mapping[key] = 'proj'
        elif key.startswith(tuple(inverse)):
            prefix = next(p for p in inverse if key.startswith(p))
            mapping[key] = inverse[prefix] + key[len(prefix):]
        elif not key.startswith(TRAINING_STATE):
            unknown.append(key)
    if unknown:
        raise CheckpointMismatchError(f'Keys that are not part of an NPOS checkpoint ({len(unknown)}): '
                                      f'{unknown[:8]}')
    if not mapping:
        raise CheckpointMismatchError('No trained NPOS weights (backbone.clip.visual.*, outlier_mlp.*) in the file')
    return mapping


def as_float32(value: torch.Tensor) -> torch.Tensor:
    """A contiguous float32 copy of a floating tensor (fp16 weights of the release, NP-8); others unchanged."""
    return value.detach().to(torch.float32).contiguous() if value.is_floating_point() else value.detach().clone()


def empty_state(value: torch.Tensor) -> torch.Tensor:
    """The model's initial value of a training-state tensor: all-zero ones as a broadcast view of one zero."""
    if not bool((value == 0).all()):
        return value.detach().clone()
    return torch.zeros((), dtype=value.dtype).expand(value.shape)


def build_model(config: str, cfg_options=None):
    """The config's model with random tower weights (only the keys and shapes matter here)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    import mmood.models  # noqa: F401  (registers the models)
    cfg = read_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if cfg.model.get('type') != 'NPOSClassifier':
        raise CheckpointMismatchError(f'{config} builds a {cfg.model.get("type")}, not an NPOSClassifier')
    cfg.model.backbone.pretrained = None
    return MODELS.build(cfg.model)


def convert(state: Dict[str, torch.Tensor], model) -> Tuple[Dict[str, torch.Tensor], Dict[str, str], List[str]]:
    """The mmood state dict of a released one for ``model``: ``(state_dict, mapping, filled keys)``.

    Raises:
        CheckpointMismatchError: unknown, missing or mis-shaped keys (all listed in one message).
    """
    backbone = model.backbone
    total = len(backbone.clip.visual.transformer.resblocks)
    mapping = official_to_mmood(state, total)
    found = len({m.group(1) for m in map(_BLOCK.match, state) if m})
    if found != backbone.trainable_blocks:
        raise CheckpointMismatchError(
            f'The file fine-tunes {found} blocks (resblocks {total - found}..{total - 1} of {total}); the config '
            f'trains {backbone.trainable_blocks}: set model.backbone.trainable_blocks={found}')
    model_state = model.state_dict()
    trained = [k for k in model_state if not k.startswith(TRAINING_STATE)]
    unexpected = [f'{src} (-> {dst})' for src, dst in mapping.items() if dst not in model_state]
    shapes = [f'{src} {tuple(state[src].shape)} vs {dst} {tuple(model_state[dst].shape)} in the model'
              for src, dst in mapping.items()
              if dst in model_state and tuple(state[src].shape) != tuple(model_state[dst].shape)]
    missing = sorted(set(trained) - set(mapping.values()))
    if unexpected or shapes or missing:
        lines = ['The file does not fit the config\'s NPOSClassifier:']
        if unexpected:
            lines.append(f'unknown keys ({len(unexpected)}): {unexpected[:8]}')
        if shapes:
            lines.append(f'shape mismatch ({len(shapes)}): ' + '; '.join(shapes[:5]))
        if missing:
            lines.append(f'missing keys ({len(missing)}): {missing[:8]}')
        lines.append('Is --config the model the file was trained for (ViT-B/16, trainable_blocks=2, mlp_hidden=32)?')
        raise CheckpointMismatchError('\n  '.join(lines))
    out = {dst: as_float32(state[src]) for src, dst in mapping.items()}
    filled = [k for k in model_state if k.startswith(TRAINING_STATE)]
    out.update({k: empty_state(model_state[k]) for k in filled})
    return {k: out[k] for k in model_state}, mapping, filled


# ------------------------------------------------------------------------------------------------ main
def to_official(args) -> int:
    checkpoint = load_checkpoint_file(args.src)
    state, _ = source_state(checkpoint, args.src)
    mapping = mmood_to_official(state)
    out = {dst: as_float32(state[src]) for src, dst in mapping.items()}
    with atomic_open(args.dst, 'wb') as f:
        torch.save(out, f)
    dropped = sorted(k for k in state if k not in mapping)
    print(f'{args.dst}: {len(out)} tensors of {args.src} in the layout of the NPOS release (float32, no "module." '
          f'prefix); not written (the release has no place for them): {dropped}')
    return 0


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.to_official:
        return to_official(args)
    checkpoint = load_checkpoint_file(args.src)
    state, prefixed = source_state(checkpoint, args.src)
    refuse_mmood_layout(state, args.src)
    official_to_mmood(state, 10**6)  # unknown keys are reported before the model is built
    model = build_model(args.config, args.cfg_options)
    converted, mapping, filled = convert(state, model)
    dtypes = Counter(str(v.dtype).replace('torch.', '') for v in state.values())
    blocks = sorted({int(m.group(1)) for m in map(_RESBLOCK.match, converted) if m})
    meta = dict(
        converted_from=osp.abspath(args.src), sha256=file_sha256(args.src), tool=TOOL, config=args.config,
        source='deeplearning-wisc/npos CLIP_based/OOD/CLIP/CLIP_ft.py state_dict', module_prefix=prefixed,
        source_dtypes=dict(dtypes), cast_to='float32', fine_tuned_blocks=blocks, mapping=mapping,
        training_state=(f'not part of the released file: {filled} hold their empty state (zero queues, counts 0, '
                        f'write positions 0, synthesis step 0, iteration 0); for testing, not for resuming'),
        note=NOTE)
    out = dict(state_dict=converted, meta=meta)
    check_checkpoint(model, out, args.dst)  # what tools/test.py will check
    model.load_state_dict(converted, strict=True)
    with atomic_open(args.dst, 'wb') as f:
        torch.save(out, f)
    print(f'{args.dst}: {len(mapping)} tensors of {args.src} ({", ".join(f"{n} {d}" for d, n in dtypes.items())}'
          f'{", module. prefix stripped" if prefixed else ""}; cast to float32): resblocks {blocks} of '
          f'{len(model.backbone.clip.visual.transformer.resblocks)}, ln_post, proj, outlier_mlp')
    print(f'  training state not in the release, written empty: {filled} (meta["training_state"])')
    print(f'  {NOTE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
