"""Networks defined in the project (no torchvision import), with layer names that load the published weights.

* :mod:`.vgg`: VGG16 ``features`` (torchvision's layer indices) and LPIPS-VGG (Zhang et al., CVPR 2018).
* :mod:`.inception`: the FID Inception-v3 of pytorch-fid (TensorFlow's 2015-12-05 graph, ported).
* :mod:`.weights`: finding weights (a path, the torch.hub cache, or an explicit download).
"""
