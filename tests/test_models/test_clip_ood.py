"""CLIPOODClassifier: text-side caching follows the weights actually loaded (load_from), not only the config."""
import torch
from conftest import tiny_backbone
from mmpretrain.registry import MODELS


def build(cache_dir, **kwargs):
    cfg = dict(type='CLIPOODClassifier', backbone=tiny_backbone(), class_names=['zero', 'one'],
               head=dict(type='MCMHead'), cache_dir=str(cache_dir))
    return MODELS.build(dict(cfg, **kwargs))


def test_loaded_checkpoint_is_part_of_text_cache_key(tmp_path):
    torch.manual_seed(0)
    model = build(tmp_path / 'cache')
    model.prepare()
    before = model.id_text.clone()
    base_identity = model.backbone.identity
    # "load_from": other weights loaded over the same open_clip config
    with torch.no_grad():
        for p in model.backbone.clip.transformer.parameters():
            p.add_(0.5)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    model.prepare(force=True, checkpoint=str(ckpt))
    assert model.backbone.identity == base_identity  # image-feature identity unchanged (features add it apart)
    assert model.backbone.text_identity['checkpoint'].startswith('file:')
    fresh = model.backbone.build_text_classifier(['zero', 'one'], ['a photo of a {}'])
    torch.testing.assert_close(model.id_text, fresh)  # re-encoded with the loaded weights, not the stale cache
    assert not torch.allclose(model.id_text, before)


def test_head_only_checkpoints_do_not_change_text_keys(tmp_path):
    model = build(tmp_path / 'cache')
    model.checkpoint_changes_features = False
    ckpt = tmp_path / 'probe.pth'
    torch.save({}, ckpt)
    model.prepare(checkpoint=str(ckpt))
    assert 'checkpoint' not in model.backbone.text_identity
