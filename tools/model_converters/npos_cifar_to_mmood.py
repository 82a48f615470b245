"""Convert a checkpoint of NPOS trained from scratch on CIFAR (deeplearning-wisc/npos ``training_from_scratch``:
``SupCEHeadResNet``, a plain state dict or a ``checkpoint_{epoch}.pth.tar`` training file, ``module.`` prefixes
allowed) into an mmood ``NPOSCIFARClassifier`` checkpoint (:func:`mmood.apis.npos_cifar_checkpoint.convert_npos_cifar`
has the key map).

``python tools/model_converters/npos_cifar_to_mmood.py SRC DST [--config CONFIG] [--cfg-options ...]``

Released files (README of deeplearning-wisc/npos; Google Drive ids; not downloaded or checked here), e.g.
``gdown --id 1O-75ro2iwg_LFhPoyYkXrPDOmdWxIX75 -O checkpoints/npos/cifar10_scratch.pt`` (CIFAR-10) or
``1Vd5eoUHmQtlsfMxcH3evFcUiYYdyqvNU`` (CIFAR-100), then::

    python tools/model_converters/npos_cifar_to_mmood.py checkpoints/npos/cifar10_scratch.pt \\
        checkpoints/npos_resnet18_cifar10.pth
    python tools/test.py configs/npos/npos_resnet18_cifar10.py checkpoints/npos_resnet18_cifar10.pth

The depth is read from the file (ResNet-18 or -34) and picks the authors' config of that depth unless --config is
given.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmood.apis import guarded
from mmood.apis.npos_cifar_checkpoint import convert_npos_cifar


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='the reference checkpoint (state dict or training file)')
    parser.add_argument('dst', help='the mmood checkpoint to write')
    parser.add_argument('--config', default=None,
                        help='the NPOSCIFARClassifier config (default: the authors\' config of the file\'s depth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config options')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    convert_npos_cifar(args.src, args.dst, args.config, args.cfg_options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
