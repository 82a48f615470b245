"""Convert TOE's released word decoder (``model_epoch100.pt``: ``{'net': BertGenerationDecoder state dict}``, as ZOC's
``train_decoder.py`` writes it) into an mmood checkpoint of ``TOEWordDecoder``
(:func:`mmood.apis.word_decoder.convert_word_decoder`; docs/toe.md, "Word decoder").

``python tools/model_converters/toe_decoder_to_mmood.py SRC DST``

The file is on Google Drive (TOE's README; the 4.1 MB copy in its git history is truncated). Then name DST in a word
config: ``--cfg-options model.outliers.decoder.checkpoint=DST`` (configs/toe/toe_word_decoder_vitb16_in1k.py).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmood.apis import guarded
from mmood.apis.word_decoder import convert_word_decoder


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='the reference\'s decoder checkpoint ({"net": state_dict})')
    parser.add_argument('dst', help='the mmood checkpoint to write')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    convert_word_decoder(args.src, args.dst)
    return 0


if __name__ == '__main__':
    sys.exit(main())
