from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from maskgen.synthetic import SpriteScene, write_frames, write_video


def shared_data() -> Path | None:
    candidate = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = shared_data()
    if path is None:
        pytest.skip("real test data absent: ../shared/data (or $MASKGEN_TEST_DATA) not found")
    return path


@pytest.fixture(scope="module")
def ray_instance(request: pytest.FixtureRequest):
    """A local Ray instance, ``ray.init(num_cpus=2)``, one per test module; skips when Ray is not installed."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]'): --engine ray untested")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])  # its task functions, by value
    root = str(Path(__file__).resolve().parents[1])
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *([saved] if saved else [])])  # Ray's workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


# scenes that together fill every (bin, border) cell with a few masks
SCENES = {
    "walk_right": SpriteScene(height=180, width=240, sprite=(40, 30, 90, 80), velocity=(0, 14), frames=7, seed=1),
    "walk_diag": SpriteScene(height=180, width=240, sprite=(30, 140, 80, 70), velocity=(10, -16), frames=7, seed=2),
}


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one frame-folder clip and one MJPEG video clip of synthetic sprite scenes."""
    root = tmp_path_factory.mktemp("clips")
    write_frames(SCENES["walk_right"].render(), root / "walk_right")
    write_video(SCENES["walk_diag"].render(), root / "walk_diag.avi")
    return root
