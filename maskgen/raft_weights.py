"""Where RAFT's weights come from: torchvision's published files, which the user downloads (nothing in the
toolkit does). No torch import, so :mod:`maskgen.flow` can say what is missing without torch."""
from __future__ import annotations

__all__ = ["RAFT_WEIGHT_FILES", "weights_hint", "missing_weights_message"]

# by variant: (torchvision's enum listing the file, the file's URL); the enums' DEFAULT entries
RAFT_WEIGHT_FILES: dict[str, tuple[str, str]] = {
    "large": ("Raft_Large_Weights", "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"),
    "small": ("Raft_Small_Weights", "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth"),
}


def weights_hint(variant: str) -> str:
    """``torchvision's Raft_Large_Weights (e.g. raft_large_....pth from https://download.pytorch.org/models/)``."""
    enum, url = RAFT_WEIGHT_FILES[variant]
    folder, name = url.rsplit("/", 1)
    return f"torchvision's {enum} (e.g. {name} from {folder}/)"


def missing_weights_message(variant: str) -> str:
    """The one-line error of ``raft-VARIANT`` created without weights."""
    files = ", ".join(f"{url.rsplit('/', 1)[1]} ({enum})" for enum, url in RAFT_WEIGHT_FILES.values())
    return (f"flow method 'raft-{variant}' needs torchvision-format RAFT weights (weights=PATH, --flow-weights "
            f"PATH): download {files} from torchvision's Raft_Large_Weights / Raft_Small_Weights at "
            f"{RAFT_WEIGHT_FILES[variant][1].rsplit('/', 1)[0]}/")
