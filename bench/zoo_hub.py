"""``hub``: a seventh blind family, architectures as KerasHub implements them (``pip install keras-hub``; not a
dependency of snapcheck, only of this set).

Other sets build their architectures by hand from the papers; these come from another team's code, with its own
ways of writing attention, normalisation and patching, at the configurations of KerasHub's presets (random
weights: the presets' weights need a download), each converted with a batch of 1: DeiT-Tiny/16 at 224, DINOv2-S/14
at 224, a CLIP-like ViT-B/32 at 224, Swin-T at 224, SegFormer-B0 (MiT-B0 encoder, all-MLP decoder) at 512, ResNet-18
and ResNet-50-vd at 224, HGNetV2-B0 (D-FINE-N's backbone; light blocks of 5x5 depthwise convs) at 320, and a
DeepLabV3 head (ASPP at rates 6/12/18) on that ResNet-18 at 384. Chosen and first scored in session 36 before any
change to the estimator for them.
"""

from __future__ import annotations

from typing import Any

from zoo import Arch
from zoo_blind import arch_list


def _hub() -> Any:
    try:
        import keras_hub
    except ImportError as e:  # an optional set: one line, not a traceback from deep inside a build
        raise SystemExit("--set hub needs KerasHub: .venv/bin/pip install keras-hub") from e
    return keras_hub.models


def _resnet18(res: int) -> Any:
    return _hub().ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                                 stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[2, 2, 2, 2],
                                 stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
                                 image_shape=(res, res, 3))


def _hub_builders() -> dict:
    m = _hub()

    def deit_tiny():
        return m.DeiTBackbone(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                              intermediate_dim=768)

    def dinov2_small():
        return m.DINOV2Backbone(patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
                                image_shape=(224, 224, 3), position_embedding_shape=(224, 224, 3))

    def vit_b32():
        return m.ViTBackbone(image_shape=(224, 224, 3), patch_size=32, num_layers=12, num_heads=12, hidden_dim=768,
                             mlp_dim=3072)

    def swin_tiny():
        return m.SwinTransformerBackbone(image_shape=(224, 224, 3), embed_dim=96, depths=[2, 2, 6, 2],
                                         num_heads=[3, 6, 12, 24], window_size=7, drop_path=0.0)

    def segformer_b0():
        mit = m.MiTBackbone(layerwise_depths=[2, 2, 2, 2], num_layers=4, layerwise_num_heads=[1, 2, 5, 8],
                            layerwise_sr_ratios=[8, 4, 2, 1], max_drop_path_rate=0.0, layerwise_patch_sizes=[7, 3, 3, 3],
                            layerwise_strides=[4, 2, 2, 2], image_shape=(512, 512, 3), hidden_dims=[32, 64, 160, 256])
        return m.SegFormerBackbone(image_encoder=mit, projection_filters=256)

    def resnet18():
        return _resnet18(224)

    def resnet50_vd():
        return m.ResNetBackbone(input_conv_filters=[32, 32, 64], input_conv_kernel_sizes=[3, 3, 3],
                                stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[3, 4, 6, 3],
                                stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block_vd",
                                image_shape=(224, 224, 3))

    def hgnetv2_b0():
        # [in, mid, out, blocks, layers per block, kernel] per stage, as D-FINE-N's HGNetV2-B0
        stages = [[16, 16, 64, 1, 3, 3], [64, 32, 256, 1, 3, 3], [256, 64, 512, 2, 3, 5], [512, 128, 1024, 1, 3, 5]]
        return m.HGNetV2Backbone(depths=[1, 1, 2, 1], embedding_size=16, hidden_sizes=[64, 256, 512, 1024],
                                 stem_channels=[3, 16, 16], hidden_act="relu", use_learnable_affine_block=True,
                                 stackwise_stage_filters=stages, apply_downsample=[False, True, True, True],
                                 use_lightweight_conv_block=[False, False, True, True], image_shape=(320, 320, 3))

    def deeplabv3_r18():
        return m.DeepLabV3Backbone(image_encoder=_resnet18(384), spatial_pyramid_pooling_key="P4",
                                   upsampling_size=4, dilation_rates=[6, 12, 18], low_level_feature_key="P2",
                                   projection_filters=48, image_shape=(384, 384, 3))

    def cspdarknet53():  # keras_hub.src.utils.timm.convert_cspnet's "cspdarknet53"
        return m.CSPNetBackbone(stem_filters=32, stem_kernel_size=3, stem_strides=1, stackwise_depth=[1, 2, 8, 8, 4],
                                stackwise_strides=[2, 2, 2, 2, 2], stackwise_num_filters=[64, 128, 256, 512, 1024],
                                block_type="dark_block", stage_type="csp", bottle_ratio=(0.5, 1.0),
                                block_ratio=(1.0, 0.5), expand_ratio=(2.0, 1.0), stem_padding="same",
                                down_growth=True, image_shape=(256, 256, 3))

    def cspresnext50():  # ... and its "cspresnext50": grouped 3x3 convs, 32 groups
        return m.CSPNetBackbone(stem_filters=64, stem_kernel_size=7, stem_strides=4, stackwise_depth=[3, 3, 5, 2],
                                stackwise_strides=[1, 2, 2, 2], stackwise_num_filters=[256, 512, 1024, 2048],
                                block_type="bottleneck_block", stage_type="csp", groups=32, bottle_ratio=[1.0],
                                block_ratio=[0.5], expand_ratio=[1.0], stem_pooling="max", cross_linear=True,
                                image_shape=(224, 224, 3))

    def depth_anything_v2_small():  # DINOv2-S/14 encoder and the DPT neck and head of the "small" preset
        encoder = m.DINOV2Backbone(patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
                                   image_shape=(252, 252, 3), position_embedding_shape=(518, 518))
        return m.DepthAnythingBackbone(image_encoder=encoder, reassemble_factors=[4, 2, 1, 0.5],
                                       neck_hidden_dims=[48, 96, 192, 384], fusion_hidden_dim=64, head_hidden_dim=32,
                                       head_in_index=-1, feature_keys=["stage3", "stage6", "stage9", "stage12"])

    def vitdet_small():  # SAM's image encoder layout (windows of 14, four global layers) at ViT-S width, 448 px
        return m.ViTDetBackbone(hidden_size=384, num_layers=12, intermediate_dim=1536, num_heads=6,
                                global_attention_layer_indices=[2, 5, 8, 11], image_shape=(448, 448, 3))

    return {"hub-deit-tiny-224": deit_tiny, "hub-dinov2-s14-224": dinov2_small, "hub-vit-b32-224": vit_b32,
            "hub-swin-t-224": swin_tiny, "hub-segformer-b0-512": segformer_b0, "hub-resnet18-224": resnet18,
            "hub-resnet50vd-224": resnet50_vd, "hub-hgnetv2-b0-320": hgnetv2_b0, "hub-deeplabv3-r18-384": deeplabv3_r18,
            "hub-cspdarknet53-256": cspdarknet53, "hub-cspresnext50-224": cspresnext50,
            "hub-depth-anything-v2-s-252": depth_anything_v2_small, "hub-vitdet-s-448": vitdet_small}


HUB_NAMES = ("hub-deit-tiny-224", "hub-dinov2-s14-224", "hub-vit-b32-224", "hub-swin-t-224", "hub-segformer-b0-512",
             "hub-resnet18-224", "hub-resnet50vd-224", "hub-hgnetv2-b0-320", "hub-deeplabv3-r18-384",
             "hub-cspdarknet53-256", "hub-cspresnext50-224", "hub-depth-anything-v2-s-252", "hub-vitdet-s-448")
HUB_FAMILIES = {"hub-deit-tiny-224": "transformer-like", "hub-dinov2-s14-224": "transformer-like",
                "hub-vit-b32-224": "transformer-like", "hub-swin-t-224": "transformer-like",
                "hub-segformer-b0-512": "transformer-like", "hub-hgnetv2-b0-320": "many-small-kernel",
                "hub-depth-anything-v2-s-252": "transformer-like", "hub-vitdet-s-448": "transformer-like"}


def hub() -> list[Arch]:
    """The seventh blind family: KerasHub's implementations, each converted with a batch of 1."""
    return arch_list(_hub_builders, HUB_NAMES, HUB_FAMILIES)
