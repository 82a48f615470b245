"""Caption images with a BLIP-2 model: ``python tools/dataset_converters/caption_images.py IMAGES OUT [--model NAME]
[--batch-size 16] [--max-new-tokens 20] [--prompt TEXT] [--device cuda:0] [--dtype fp16] [--chunk-size 256]``
(:func:`mmood.apis.caption_images`).

IMAGES is a folder (searched recursively, sorted) or a ``.txt`` list of image paths; OUT is a ``.txt`` file with one
caption per image, in image order, that a caption-level textual-outlier config reads (``model.outliers.source``).
Captions are cached per chunk of images, keyed by the model, the options and the images' contents: an interrupted
run resumes where it stopped, and a finished one is read back from the cache.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import add_cache_argument, caption_images, guarded, resolve_cache_dir


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: caption images with BLIP-2 (transformers)')
    parser.add_argument('images', help='a folder of images or a .txt list of image paths')
    parser.add_argument('out', help='the captions file to write (.txt, one caption per image)')
    parser.add_argument('--model', default='Salesforce/blip2-opt-2.7b', help='hub name or folder of a BLIP-2 model')
    parser.add_argument('--batch-size', type=int, default=16, help='images per generate call')
    parser.add_argument('--max-new-tokens', type=int, default=20, help='tokens per caption')
    parser.add_argument('--prompt', default=None, help='text prompt (default: none, unconditional captions)')
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--dtype', choices=('fp16', 'bf16', 'fp32'), default=None,
                        help='default: fp16 on CUDA, fp32 on CPU')
    parser.add_argument('--chunk-size', type=int, default=256, help='images per cache entry (unit of resumption)')
    add_cache_argument(parser)
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return caption_images(args.images, args.out, resolve_cache_dir(args.cache_dir), model=args.model,
                          batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, prompt=args.prompt,
                          device=args.device, dtype=args.dtype, chunk_size=args.chunk_size)


if __name__ == '__main__':
    main()
