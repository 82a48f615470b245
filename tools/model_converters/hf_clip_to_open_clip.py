"""Convert Hugging Face transformers CLIPModel weights into open_clip weights.

``python tools/model_converters/hf_clip_to_open_clip.py SRC DST [--no-config]``

SRC is an HF CLIPModel folder (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``, e.g. a
``hf download openai/clip-vit-base-patch16 --local-dir ...`` copy) or a lone weights file; DST the open_clip
state dict to write (``.pth``), for ``model.backbone.pretrained=DST`` of an OpenCLIPBackbone. From a folder,
``open_clip_config.json`` beside DST records the open_clip model config and its activation (QuickGELU for OpenAI's
weights), which mmood reads to build the model with the right one. The key map:
:mod:`mmood.models.backbones.hf_convert`. The same checkpoint also runs unconverted through HFVLMBackbone
(docs/backbones.md).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import json

from mmood.apis import guarded
from mmood.models.backbones.hf_convert import convert_hf_clip


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: convert Hugging Face CLIPModel weights to open_clip')
    parser.add_argument('src', help='HF CLIPModel folder (config.json + weights) or weights file')
    parser.add_argument('dst', help='open_clip weights file to write (.pth)')
    parser.add_argument('--no-config', action='store_true',
                        help='do not write open_clip_config.json beside DST (then set model.backbone.activation)')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    result = convert_hf_clip(args.src, args.dst, write_config=not args.no_config)
    print(f'wrote {result["out"]} ({result["keys"]} tensors)')
    if result['model_cfg']:
        print(f'open_clip model config: {json.dumps(result["model_cfg"])}')
    if result['config_file']:
        print(f'wrote {result["config_file"]}')
    return result


if __name__ == '__main__':
    main()
