"""Set-level metrics per cell: LPIPS (mean over pairs) and FID, KID, P-IDS and U-IDS (between the Inception
features of the ground truths and the outputs; KID in :mod:`benchmark.kid`, P-/U-IDS in :mod:`benchmark.ids`).

Both need published network weights (:mod:`inpaint_core.nets.weights`): they are computed when the weights are
found (given paths, or the torch.hub cache, or an explicit download) and otherwise *omitted*, with the
reason recorded in ``run.json`` — never faked. FID over few images is biased upwards and its covariance is
singular below 2048 images; ``summary.csv`` reports the image count next to it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inpaint_core.cli import TORCH_EXTRA, cli_help
from inpaint_core.conventions import images_to_tensor
from inpaint_core.nets.weights import FID_INCEPTION, LPIPS_VGG_LIN, VGG16_IMAGENET, locate_weights

__all__ = ["SetMetricOptions", "SetMetrics", "frechet_distance", "FeatureLog", "SET_METRIC_NAMES", "FEATURE_METRICS"]

FEATURE_DIM = 2048
SET_METRIC_NAMES = ("lpips", "fid", "kid", "p_ids", "u_ids")  # run.json "set_metrics": computed or the reason
FEATURE_METRICS = ("kid", "p_ids", "u_ids")  # from the Inception features, like FID


@dataclass(frozen=True)
class SetMetricOptions:
    """Which set-level metrics to try and where their weights are.

    Attributes:
        enabled: ``False`` turns both off.
        vgg_weights, lpips_weights, fid_weights: explicit weight files (else the torch.hub cache).
        download: fetch missing weights through ``torch.hub.load_state_dict_from_url``.
        device: torch device (default: CUDA when available, else CPU).
    """

    enabled: bool = field(default=True, metadata=cli_help(
        "LPIPS and FID per cell, where their weights are found (else omitted with the reason).", name="set-metrics"))
    vgg_weights: str | None = field(default=None, metadata=cli_help("torchvision vgg16-397923af.pth."))
    lpips_weights: str | None = field(default=None, metadata=cli_help("LPIPS v0.1 vgg.pth (lpips package)."))
    fid_weights: str | None = field(default=None, metadata=cli_help(
        "pt_inception-2015-12-05-6726825d.pth (pytorch-fid)."))
    download: bool = field(default=False, metadata=cli_help(
        "Fetch missing metric-network weights through torch.hub (needs network).", flag=True,
        name="download-weights"))
    device: str | None = field(default=None, metadata=cli_help(
        "torch device for the metric networks (default: cuda if available)."))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Heusel et al.), as pytorch-fid computes it."""
    from scipy import linalg

    import warnings

    difference = mu1 - mu2
    with warnings.catch_warnings():  # singular below FEATURE_DIM samples: expected, the count is reported
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * 1e-6
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(difference.dot(difference) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


class SetMetrics:
    """Loads the networks it can; ``omitted`` maps a metric to the reason it is not computed."""

    def __init__(self, options: SetMetricOptions) -> None:
        self.options = options
        self.omitted: dict[str, str] = {}
        self.weights: dict[str, str] = {}
        self.lpips = None
        self.inception = None
        if not options.enabled:
            self.omitted = {name: "set-level metrics turned off" for name in SET_METRIC_NAMES}
            return
        given = {"--vgg-weights": options.vgg_weights, "--lpips-weights": options.lpips_weights,
                 "--fid-weights": options.fid_weights}
        for option, path in given.items():
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{option} {path!r} does not exist (leave the option out to use the torch.hub "
                                 "cache, or --no-set-metrics to go without LPIPS and FID)")
        try:
            import torch
        except ImportError:
            if any(path is not None for path in given.values()):
                raise ValueError(f"LPIPS and FID need torch: {TORCH_EXTRA}") from None
            self.omitted = {"lpips": f"torch is not installed ({TORCH_EXTRA})",
                            "fid": f"torch is not installed ({TORCH_EXTRA})"}
            self._omit_feature_metrics()
            return
        self.device = torch.device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        vgg, vgg_reason = locate_weights(VGG16_IMAGENET, options.vgg_weights, download=options.download)
        lin, lin_reason = locate_weights(LPIPS_VGG_LIN, options.lpips_weights, download=options.download)
        if vgg is not None and lin is not None:
            from inpaint_core.nets.vgg import LPIPS

            self.lpips = LPIPS.from_files(vgg, lin).to(self.device)
            self.weights.update(vgg16=str(vgg), lpips=str(lin))
        else:
            self.omitted["lpips"] = vgg_reason or lin_reason
        fid, fid_reason = locate_weights(FID_INCEPTION, options.fid_weights, download=options.download)
        if fid is not None:
            from inpaint_core.nets.inception import FIDInception
            from inpaint_core.nets.weights import load_state_dict

            self.inception = FIDInception()
            self.inception.load_state_dict(load_state_dict(fid))
            self.inception.to(self.device)
            self.weights["fid"] = str(fid)
        else:
            self.omitted["fid"] = fid_reason
        self._omit_feature_metrics()

    def _omit_feature_metrics(self) -> None:
        """KID, P-IDS and U-IDS share FID's features (and its reason when omitted); P-/U-IDS need scikit-learn."""
        from .ids import ids_unavailable

        for name in FEATURE_METRICS:
            if "fid" in self.omitted:
                self.omitted[name] = self.omitted["fid"]
        missing = ids_unavailable()
        if "fid" not in self.omitted and missing:
            self.omitted["p_ids"] = self.omitted["u_ids"] = missing

    @property
    def active(self) -> bool:
        return self.lpips is not None or self.inception is not None

    def pair(self, truth: np.ndarray, output: np.ndarray) -> tuple[float, np.ndarray | None]:
        """LPIPS of one (ground truth, output) pair (NaN when omitted) and their stacked FID features."""
        import torch

        batch = images_to_tensor([truth, output]).to(self.device)
        lpips_value = float("nan")
        features = None
        with torch.no_grad():
            if self.lpips is not None:
                lpips_value = float(self.lpips(batch[:1] * 2 - 1, batch[1:] * 2 - 1)[0])
            if self.inception is not None:
                features = self.inception.features(batch).double().cpu().numpy()
        return lpips_value, features


class FeatureLog:
    """Append-only file of (pair index, truth features, output features) records, resumable after a kill."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.record = struct.calcsize("<i") + 2 * FEATURE_DIM * 8

    def append(self, index: int, features: np.ndarray) -> None:
        with open(self.path, "ab") as handle:
            handle.write(struct.pack("<i", index) + features.astype("<f8").tobytes())

    def read(self) -> dict[int, np.ndarray]:
        if not self.path.is_file():
            return {}
        data = self.path.read_bytes()
        usable = len(data) - len(data) % self.record
        result = {}
        for offset in range(0, usable, self.record):
            (index,) = struct.unpack_from("<i", data, offset)
            result[index] = np.frombuffer(data, dtype="<f8", count=2 * FEATURE_DIM,
                                          offset=offset + 4).reshape(2, FEATURE_DIM)
        return result
