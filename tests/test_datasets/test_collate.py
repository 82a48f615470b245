"""stack_collate + the fused pipeline: the same normalised batches, bit for bit, as the configured pipeline with
mmengine's pseudo_collate, in the main process and from loading workers; other batches are pseudo_collate's."""
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from mmood.datasets import OODEvalDataset, stack_collate
from mmood.models.classifiers import clip_data_preprocessor
from mmood.models.classifiers.clip_ood import build_data_preprocessor

PIPELINE = [dict(type='LoadOODImage', imdecode_backend='pillow'),
            dict(type='ResizeEdge', scale=24, edge='short', backend='pillow', interpolation='bilinear'),
            dict(type='CenterCrop', crop_size=24),
            dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))]


def _images(root):
    """Colour and grayscale JPEGs and PNGs of odd sizes, one EXIF-rotated, in an ID set (2 classes) and an OOD set."""
    rng = np.random.default_rng(3)
    sizes = [(37, 53), (61, 29), (24, 24), (33, 70), (45, 31), (90, 17)]
    for n, (h, w) in enumerate(sizes):
        for sub in ('id/a', 'id/b', 'ood'):
            (root / sub).mkdir(parents=True, exist_ok=True)
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            img = Image.fromarray(rgb if n % 2 else rgb[..., 0])
            if n == 3:
                exif = img.getexif()
                exif[0x0112] = 6
                img.save(str(root / sub / f'{n}.jpg'), exif=exif)
            else:
                img.save(str(root / sub / (f'{n}.jpg' if n % 3 else f'{n}.png')))


def _dataset(root):
    return OODEvalDataset(id_set=dict(name='ID', data_root=str(root / 'id')),
                          ood_sets=[dict(name='OOD', data_root=str(root / 'ood'))], class_names=['a', 'b'],
                          pipeline=PIPELINE)


def test_stacked_batches_equal_the_configured_pipeline(tmp_path):
    _images(tmp_path)
    dataset = _dataset(tmp_path)
    assert len(dataset.pipeline.transforms) == 2  # load + resize + crop fused into one step, then PackInputs
    preprocessor = build_data_preprocessor(clip_data_preprocessor())
    configured = dataset._configured_steps
    want = []
    for i in range(len(dataset)):
        results = dict(dataset.get_data_info(i))
        for step in configured:  # the pipeline as configured: four steps, no fusion
            results = step(results)
        want.append(results)
    reference = preprocessor(pseudo_collate(want), False)
    fast = preprocessor(stack_collate([dataset[i] for i in range(len(dataset))]), False)
    assert torch.equal(fast['inputs'], reference['inputs']) and fast['inputs'].shape == (18, 3, 24, 24)
    for a, b in zip(fast['data_samples'], reference['data_samples']):
        assert torch.equal(a.gt_label, b.gt_label) and a.img_path == b.img_path and a.set_id == b.set_id
    # from two loading workers: the same batches (stacked in shared memory)
    loader = torch.utils.data.DataLoader(dataset, batch_size=5, num_workers=2, collate_fn=stack_collate)
    batches = [preprocessor(b, False)['inputs'] for b in loader]
    assert torch.equal(torch.cat(batches), reference['inputs'])


def test_stack_collate_falls_back_to_pseudo_collate():
    same = [dict(inputs=torch.zeros(3, 4, 4, dtype=torch.uint8), data_samples=i) for i in range(3)]
    out = stack_collate(same)
    assert isinstance(out['inputs'], torch.Tensor) and out['inputs'].shape == (3, 3, 4, 4)
    assert out['data_samples'] == [0, 1, 2]
    mixed = same[:2] + [dict(inputs=torch.zeros(3, 5, 4, dtype=torch.uint8), data_samples=2)]
    assert isinstance(stack_collate(mixed)['inputs'], list)
    dtypes = same[:2] + [dict(inputs=torch.zeros(3, 4, 4), data_samples=2)]
    assert isinstance(stack_collate(dtypes)['inputs'], list)
    assert stack_collate([(1, 2), (3, 4)]) == pseudo_collate([(1, 2), (3, 4)])
