"""What the TimmBackbone tests share: the tiny timm models (random weights, or saved to a checkpoint file) and the
swap of a shipped timm config's backbone for a tiny one of the same family."""
import torch

#: a 2-block ViT of width 32 on 32 x 32 images (patch 8: 16 patches + the class token)
TINY_VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
#: a 4-stage ConvNeXt with one block per stage
TINY_CONVNEXT = dict(depths=(1, 1, 1, 1), dims=(8, 8, 16, 32))
TINY_ARCH = 'vit_tiny_patch16_224'


def tiny_timm(**kwargs) -> dict:
    """A ``TimmBackbone`` config of the tiny ViT with random weights (options override)."""
    return dict(dict(type='TimmBackbone', model_name=TINY_ARCH, pretrained=False, model_cfg=dict(TINY_VIT)),
                **kwargs)


def tiny_model_cfg(model_name: str, model_cfg: dict = None) -> dict:
    """The config's ``model_cfg`` with the tiny sizes of the architecture's family (ViT, BEiT, ConvNeXt)."""
    tiny = TINY_CONVNEXT if model_name.startswith('convnext') else TINY_VIT
    return dict(model_cfg or {}, **tiny)


def tiny_swap(backbone: dict) -> dict:
    """A shipped config's ``TimmBackbone`` with random tiny weights of the same family (no hub, no file)."""
    return dict(backbone, pretrained=False, checkpoint=None, checkpoint_key=None,
                model_cfg=tiny_model_cfg(backbone['model_name'], backbone.get('model_cfg')))


def save_tiny_timm(path, num_classes: int = 0, seed: int = 0) -> str:
    """Save the tiny ViT's random timm weights (torch seed ``seed``; a head of ``num_classes``) to ``path``."""
    import timm
    torch.manual_seed(seed)
    model = timm.create_model(TINY_ARCH, pretrained=False, num_classes=num_classes, **TINY_VIT)
    torch.save(model.state_dict(), str(path))
    return str(path)
