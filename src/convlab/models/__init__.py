"""The model zoo: torchvision's constructors (same names, ``num_classes=``, parameter counts and
``state_dict`` keys, so torchvision weight files load with ``strict=True``) plus the networks of
the lecture notes.

===================  ==============================================  ==============
constructor          architecture                                     parameters
===================  ==============================================  ==============
lenet5               LeNet-5 (28x28, 10 classes)                      61,706
alexnet              AlexNet                                          61,100,840
vgg11/13/16/19       VGG (``_bn``: with BatchNorm)                    132.9-143.7 M
resnet18/34/50       ResNet                                           11,689,512 (18)
resnet101/152        ResNet (deeper)                                  44,549,160 / 60,192,808
resnext50_32x4d      ResNeXt-50 32x4d                                 25,028,904
wide_resnet50_2      Wide ResNet-50-2                                 68,883,240
resnet18_cifar       ResNet-18, 3x3 stem, no max-pool (10 classes)    11,173,962
googlenet            GoogLeNet / Inception v1 (aux heads optional)    6,624,904
inception_v3         Inception v3 (aux head by default, 299x299)      27,161,264
mobilenet_v2         MobileNetV2                                      3,504,872
mnasnet1_0           MNASNet 1.0                                      4,383,312
mobilenet_v1         MobileNet v1 (Keras's; + BN statistics)          4,231,976 (4,253,864)
xception             Xception (Keras's; + BN statistics, 299x299)     22,855,952 (22,910,480)
shufflenet_v2_x1_0   ShuffleNetV2 1.0x                                2,278,604
squeezenet1_0/1_1    SqueezeNet                                       1,248,424 (1_0)
densenet121          DenseNet-121                                     7,978,856
densenet161/169/201  DenseNet-161/169/201                             28,681,000 / 14,149,480 / 20,013,928
unet                 U-Net (seed 000; configurable)                   31,037,698
cats_vs_dogs_cnn     seed 004's cats-vs-dogs CNN (150x150)            23,214,017
fmnist_cnn           seed 004's Fashion-MNIST CNN (the main job)      1,677,674
fmnist_cnn_fast      ... BN before ReLU, no dropout, 128-unit head     468,266
fmnist_cnn_sparse    ... with pre-defined sparse layers (density 0.25) 1,677,674 (415,808 used)
fmnist_cnn_binary    ... with binary weights (BinaryConnect)          1,677,674
fmnist_cnn_xnor      ... as an XNOR-Net (binary weights and inputs)   1,677,674
mlp                  seed 004's MLP baseline (Fashion-MNIST)          669,706
orientation_cnn      seed 000's line-orientation CNN (C = 2)          58
===================  ==============================================  ==============

Example::

    >>> convlab.models.list_models(include="vgg*_bn")
    ['vgg11_bn', 'vgg13_bn', 'vgg16_bn', 'vgg19_bn']
    >>> net = convlab.models.get_model("resnet18", num_classes=10)
"""

from ._registry import get_model, get_model_builder, list_models, register_model
from .compressed import fmnist_cnn_binary, fmnist_cnn_sparse, fmnist_cnn_xnor
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .inception import Inception3, InceptionOutputs, inception_v3
from .mnasnet import MNASNet, MobileNetV1, mnasnet1_0, mobilenet_v1
from .mobilenet import MobileNetV2, mobilenet_v2
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet18_cifar,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    wide_resnet50_2,
)  # fmt: skip
from .seed_models import fmnist_cnn, fmnist_cnn_fast, mlp, orientation_cnn
from .shufflenet import ShuffleNetV2, shufflenet_v2_x1_0
from .small import CatsVsDogsCNN, LeNet5, cats_vs_dogs_cnn, lenet5
from .squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
from .unet import UNet, unet
from .vgg import VGG, AlexNet, alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .xception import Xception, xception

__all__ = [
    "VGG",
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "CatsVsDogsCNN",
    "DenseNet",
    "GoogLeNet",
    "GoogLeNetOutputs", "Inception3", "InceptionOutputs",
    "LeNet5",
    "MNASNet",
    "MobileNetV1",
    "MobileNetV2",
    "ResNet",
    "ShuffleNetV2",
    "SqueezeNet",
    "UNet",
    "Xception",
    "alexnet",
    "cats_vs_dogs_cnn",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "fmnist_cnn",
    "fmnist_cnn_binary",
    "fmnist_cnn_fast",
    "fmnist_cnn_sparse",
    "fmnist_cnn_xnor",
    "get_model",
    "get_model_builder",
    "googlenet",
    "inception_v3",
    "lenet5",
    "list_models",
    "mlp",
    "mnasnet1_0",
    "mobilenet_v1",
    "mobilenet_v2",
    "orientation_cnn",
    "register_model",
    "resnet18",
    "resnet18_cifar",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "shufflenet_v2_x1_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "unet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "wide_resnet50_2",
    "xception",
]  # fmt: skip
