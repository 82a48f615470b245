"""Write the ImageNet list files of NPOS's ImageNet-100 (``configs/npos_vitb16_in100.py`` reads them).

NPOS's 100 classes are not MCM's ImageNet-100 and their labels follow NPOS's own order (label i = line i of
``txtfiles/npos_imagenet100_wnids.txt``; the first is n01986214 "hermit crab"), so the train and val images are
named by two "relative/path label" files::

    python tools/npos/make_lists.py --root data/imagenet

writes ``<root>/meta/npos_imagenet100_train.txt`` (from ``<root>/train/<wnid>/``, files sorted) and
``<root>/meta/npos_imagenet100_val.txt`` (the lines of ``<root>/meta/val.txt`` whose class is one of the 100, with
the label mapped from the sorted-wnid index to NPOS's). Existing files are kept unless ``--force``.
"""
import argparse
import os
import os.path as osp
import sys

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png')


def read_words(path):
    with open(path, encoding='utf-8') as f:
        return f.read().split()


def make_lists(root: str, wnids_file: str = 'txtfiles/npos_imagenet100_wnids.txt',
               sorted_wnids_file: str = 'txtfiles/imagenet_wnids.txt', prefix: str = 'npos_imagenet100',
               force: bool = False) -> dict:
    """Write the two lists; returns ``{split: (path, number of images)}``."""
    wnids = read_words(wnids_file)
    label = {w: i for i, w in enumerate(wnids)}
    sorted_wnids = read_words(sorted_wnids_file)
    out = {}
    train_path = osp.join(root, 'meta', f'{prefix}_train.txt')
    val_path = osp.join(root, 'meta', f'{prefix}_val.txt')
    for split, path in (('train', train_path), ('val', val_path)):
        if osp.isfile(path) and not force:
            with open(path, encoding='utf-8') as f:
                out[split] = (path, sum(1 for _ in f))
            continue
        lines = []
        if split == 'train':
            for w in wnids:
                folder = osp.join(root, 'train', w)
                if not osp.isdir(folder):
                    raise FileNotFoundError(f'ImageNet train folder not found: {folder}')
                lines += [f'{w}/{name} {label[w]}\n' for name in sorted(os.listdir(folder))
                          if name.lower().endswith(IMAGE_EXTENSIONS)]
        else:
            source = osp.join(root, 'meta', 'val.txt')
            if not osp.isfile(source):
                raise FileNotFoundError(f'ImageNet val list not found: {source} (mmpretrain\'s meta/val.txt)')
            with open(source, encoding='utf-8') as f:
                for line in f:
                    name, index = line.split()
                    if sorted_wnids[int(index)] in label:
                        lines.append(f'{name} {label[sorted_wnids[int(index)]]}\n')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path + '.tmp', 'w', encoding='utf-8') as f:
            f.writelines(lines)
        os.replace(path + '.tmp', path)
        out[split] = (path, len(lines))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description='Write the list files of NPOS\'s ImageNet-100')
    parser.add_argument('--root', default='data/imagenet', help='the ImageNet root (train/, val/, meta/val.txt)')
    parser.add_argument('--force', action='store_true', help='write the lists again')
    args = parser.parse_args(argv)
    try:
        written = make_lists(args.root, force=args.force)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for split, (path, count) in written.items():
        print(f'{split}: {count} images in {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
