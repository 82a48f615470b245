"""Convert a released CLIPN training checkpoint into an mmood CLIPN checkpoint.

``python tools/model_converters/clipn_to_mmood.py SRC DST [--model ViT-B-16] [--pretrained laion2b_s34b_b88k]
[--export-towers FILE] [--handcrafted]``

SRC is a checkpoint of xmed-lab/CLIPN's training (``epoch_10.pt``: ``{epoch, name, state_dict, optimizer, scaler}``,
keys ``module.``-prefixed, the "no" tower under ``*_no`` keys and ``prompt_no``; a checkpoint of the hand-crafted
variant, ``hand-crafted/src``, has no ``prompt_no``: convert it with ``--handcrafted --model ViT-B-32
--pretrained laion2b_s34b_b79k`` for ``configs/clipn/clipn_handcrafted_vitb32_cc3m.py``). The tool

1. maps the "no" keys onto mmood's :class:`~mmood.models.backbones.NoTextTower` and loads them strictly into a
   tower built from the named open_clip model;
2. loads every other key strictly into that open_clip model (the frozen image and yes towers), reporting missing or
   unexpected keys -- a checkpoint of another architecture stops here;
3. compares those frozen towers with the config's weights (``--pretrained``, the tag or file of
   ``model.backbone.pretrained``; skipped with a note when they are not on this machine): mmood checkpoints hold the
   no tower only and take the frozen towers from ``model.backbone.pretrained``, so they must agree. If they differ,
   ``--export-towers FILE`` writes the checkpoint's towers as open_clip weights to set as
   ``model.backbone.pretrained=FILE``;
4. writes DST, loadable by ``tools/test.py configs/clipn/clipn_vitb16_cc3m.py DST``.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import os.path as osp
import sys

import torch

from mmood.apis import guarded
from mmood.cache import file_sha256
from mmood.models.backbones import NoTextTower, OpenCLIPBackbone, split_official_clipn_state
from mmood.utils import CheckpointMismatchError, atomic_open, load_checkpoint_file  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: convert a released CLIPN checkpoint')
    parser.add_argument('src', help='CLIPN training checkpoint (e.g. epoch_10.pt)')
    parser.add_argument('dst', help='mmood checkpoint to write (.pth)')
    parser.add_argument('--handcrafted', action='store_true',
                        help='a checkpoint of the hand-crafted variant (a "no" tower without prompt offsets)')
    parser.add_argument('--model', default='ViT-B-16', help='open_clip model name of the checkpoint (ViT-B-16)')
    parser.add_argument('--pretrained', default='laion2b_s34b_b88k',
                        help='the config\'s model.backbone.pretrained (tag or file) to compare the frozen towers '
                             'with; "none" skips the comparison')
    parser.add_argument('--export-towers', default=None,
                        help='also write the checkpoint\'s frozen towers as open_clip weights to this file')
    return parser.parse_args(argv)


def load_strictly(module: torch.nn.Module, state: dict, what: str) -> None:
    """``module.load_state_dict(state)``; any missing, unexpected or mis-shaped key: one error listing them."""
    hint = 'Is --model the architecture the checkpoint was trained with (ViT-B-16 for the released runs)?'
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes: torch lists every mismatch
        raise CheckpointMismatchError(f'{what} do not load: {err}\n  {hint}') from None
    if missing or unexpected:
        lines = [f'{what} do not load strictly:']
        if missing:
            lines.append(f'missing keys ({len(missing)}): {list(missing)[:8]}')
        if unexpected:
            lines.append(f'unexpected keys ({len(unexpected)}): {list(unexpected)[:8]}')
        raise CheckpointMismatchError('\n  '.join(lines + [hint]))


def compare_towers(clip: torch.nn.Module, model_name: str, pretrained: str) -> str:
    """One line: how far the checkpoint's frozen towers are from ``pretrained``'s (or why not compared)."""
    if str(pretrained).lower() == 'none':
        return 'frozen towers not compared (--pretrained none)'
    try:
        reference = OpenCLIPBackbone(model_name, pretrained=pretrained).clip.state_dict()
    except Exception as err:  # offline without the weights: the conversion stands, the comparison is skipped
        return f'frozen towers not compared with {pretrained}: {str(err).splitlines()[0]}'
    ours = clip.state_dict()
    diff = max(float((ours[k].float() - reference[k].float()).abs().max()) for k in ours)
    if diff > 1e-6:
        return (f'WARNING: the checkpoint\'s frozen towers differ from {pretrained} (max |diff| {diff:.3g}): evaluate '
                f'with --export-towers FILE and model.backbone.pretrained=FILE')
    return f'frozen towers equal {pretrained} (max |diff| {diff:.3g})'


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    import open_clip
    checkpoint = load_checkpoint_file(args.src)
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else checkpoint
    try:
        tower_state, rest = split_official_clipn_state(state)
    except KeyError as err:
        raise CheckpointMismatchError(f'{args.src}: {err.args[0]}') from None
    clip = open_clip.create_model(args.model, pretrained=None, device='cpu')
    load_strictly(clip, rest, f'The frozen towers of {args.src} into open_clip {args.model}')
    prompts = 0 if args.handcrafted else int(tower_state['prompt_no'].shape[0]) if 'prompt_no' in tower_state else 16
    tower = NoTextTower(clip, num_prompts=prompts)
    load_strictly(tower, tower_state, f'The "no" tower of {args.src}')
    out = dict(state_dict={'no_tower.' + k: v.detach().clone() for k, v in tower.state_dict().items()},
               meta=dict(converted_from=osp.abspath(args.src), sha256=file_sha256(args.src),
                         epoch=checkpoint.get('epoch'), model=args.model,
                         tool='tools/model_converters/clipn_to_mmood.py'))
    with atomic_open(args.dst, 'wb') as f:
        torch.save(out, f)
    print(f'{args.dst}: "no" tower of {args.src} ({len(tower_state)} keys, '
          f'{sum(v.numel() for v in tower_state.values()):,} numbers, {tower.num_prompts} prompts); '
          f'{len(rest)} frozen-tower keys load strictly into open_clip {args.model}')
    print(compare_towers(clip, args.model, args.pretrained))
    if args.export_towers:
        with atomic_open(args.export_towers, 'wb') as f:
            torch.save(clip.state_dict(), f)
        print(f'{args.export_towers}: the checkpoint\'s frozen towers as open_clip weights '
              f'(model.backbone.pretrained={args.export_towers})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
