"""Checkpoints: loaded with weights_only=True (mmengine's bookkeeping allowed, anything else refused) and refused
when they do not belong to the model, with the keys and the fix in the message."""
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import tiny_backbone
from mmpretrain.registry import MODELS

from mmood.utils import (CheckpointMismatchError, DataError, UnsafeCheckpointError, UserError, check_checkpoint,
                         checkpoint_record, load_checkpoint_file)


def probe(classes=3, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='LinearProbeClassifier', backbone=tiny_backbone(**kwargs),
                              class_names=[f'c{i}' for i in range(classes)]))
    model.head.set_statistics(torch.zeros(model.feature_dim), torch.ones(model.feature_dim))
    return model


def zero_shot():
    torch.manual_seed(0)
    return MODELS.build(dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['a', 'b'],
                             head=dict(type='MCMHead')))


def test_loading_is_weights_only(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer
    ckpt = dict(meta=dict(iter=3), state_dict={'w': torch.ones(2)},
                message_hub=dict(log_scalars={'loss': HistoryBuffer([np.float64(0.5)], [1])},
                                 runtime_info=dict(iter=np.int64(3), dtype=np.dtype('float32'))))
    path = str(tmp_path / 'iter_3.pth')
    torch.save(ckpt, path)  # what mmengine's CheckpointHook writes (numpy values, HistoryBuffer)
    loaded = load_checkpoint_file(path)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2)) and loaded['meta']['iter'] == 3

    class Payload:
        def __reduce__(self):
            return (os.system, ('echo pwned',))

    evil = str(tmp_path / 'evil.pth')
    with open(evil, 'wb') as f:
        pickle.dump({'state_dict': {}, 'x': Payload()}, f)
    torch.save({'state_dict': {}, 'x': Payload()}, evil)
    with pytest.raises(UnsafeCheckpointError, match=r"evil.pth is not a plain checkpoint: unpickling it would "
                                                    r"create \['posix.system'\]"):
        load_checkpoint_file(evil)
    with pytest.raises(DataError, match='can not be found'):  # a FileNotFoundError the tools report in one line
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_a_checkpoint_must_belong_to_the_model(tmp_path):
    three, five = probe(3), probe(5)
    # a 3-class probe into a 5-class config: refused, naming the shapes
    with pytest.raises(CheckpointMismatchError, match=r'head.fc.weight \(3, 64\) in the checkpoint vs \(5, 64\)[\s\S]*'
                                                      r'trained for 3 classes on 64-wide features'):
        check_checkpoint(five, dict(state_dict=three.state_dict()), 'probe3.pth')
    # a PLP checkpoint given to a zero-shot MCM config
    with pytest.raises(CheckpointMismatchError, match=r'unexpected keys[\s\S]*PLP linear-probe checkpoint \(3 classes'):
        check_checkpoint(zero_shot(), dict(state_dict=three.state_dict()))
    # plain open_clip weights (tools/export_clip_weights.py output) given as CHECKPOINT
    with pytest.raises(CheckpointMismatchError, match='plain open_clip weights[\\s\\S]*model.backbone.pretrained=FILE'):
        check_checkpoint(zero_shot(), three.backbone.clip.state_dict())
    # an unrelated file, and one of another width
    with pytest.raises(CheckpointMismatchError, match=r'0 of its 1 keys map onto the model'):
        check_checkpoint(zero_shot(), dict(state_dict={'conv.weight': torch.zeros(3)}))
    wide = MODELS.build(dict(type='CLIPOODClassifier', head=dict(type='MCMHead'), class_names=['a', 'b'],
                             backbone=tiny_backbone(model_name='mmood-tiny-vit-w96', model_cfg=dict(
                                 embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=96, patch_size=8,
                                                               head_width=32),
                                 text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2)))))
    with pytest.raises(CheckpointMismatchError, match='shape mismatch[\\s\\S]*another architecture'):
        check_checkpoint(zero_shot(), dict(state_dict=wide.state_dict()))
    # a probe checkpoint without its statistics: what the method trains must be there
    partial = {k: v for k, v in three.state_dict().items() if not k.startswith('head.mean')}
    with pytest.raises(CheckpointMismatchError, match=r"missing keys that the method trains \(1\): \['head.mean'\]"):
        check_checkpoint(probe(3), partial)
    # what belongs loads, and is recorded
    assert check_checkpoint(probe(3), dict(state_dict=three.state_dict()))['groups'] == {
        'class_counts': 1, 'head.mean': 1, 'head.std': 1, 'head.stats_ready': 1, 'head.fc': 2}
    ddp = {f'module.{k}': v for k, v in zero_shot().state_dict().items()}  # DDP prefixes are revised, as mmengine
    assert check_checkpoint(zero_shot(), ddp)['keys'] == len(ddp)
    path = str(tmp_path / 'p.pth')
    torch.save(dict(state_dict=three.state_dict()), path)
    record = checkpoint_record(path, dict(keys=6))
    assert record['bytes'] == os.path.getsize(path) and len(record['sha256']) == 64 and record['loaded']['keys'] == 6
    assert issubclass(CheckpointMismatchError, UserError)
