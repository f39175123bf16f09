"""Where RAFT's weights come from: torchvision's published files, which the user downloads (nothing in the
toolkit does). No torch import, so :mod:`maskgen.flow` can say what is missing without torch."""
from __future__ import annotations

from inpaint_core.nets.weights import WeightsSpec

__all__ = ["RAFT_WEIGHT_FILES", "weights_hint", "missing_weights_message"]

# by variant: the file and the name of torchvision's enum listing it; the enums' DEFAULT entries
RAFT_WEIGHT_FILES: dict[str, WeightsSpec] = {
    "large": WeightsSpec("Raft_Large_Weights",
                         "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"),
    "small": WeightsSpec("Raft_Small_Weights", "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth"),
}


def _folder(spec: WeightsSpec) -> str:
    """The URL of the folder holding the file, without the final slash."""
    return spec.url.rsplit("/", 1)[0]


def weights_hint(variant: str) -> str:
    """``torchvision's Raft_Large_Weights (e.g. raft_large_....pth from https://download.pytorch.org/models/)``."""
    spec = RAFT_WEIGHT_FILES[variant]
    return f"torchvision's {spec.name} (e.g. {spec.file_name} from {_folder(spec)}/)"


def missing_weights_message(variant: str) -> str:
    """The one-line error of ``raft-VARIANT`` created without weights."""
    files = ", ".join(f"{spec.file_name} ({spec.name})" for spec in RAFT_WEIGHT_FILES.values())
    return (f"flow method 'raft-{variant}' needs torchvision-format RAFT weights (weights=PATH, --flow-weights "
            f"PATH): download {files} from torchvision's Raft_Large_Weights / Raft_Small_Weights at "
            f"{_folder(RAFT_WEIGHT_FILES[variant])}/")
