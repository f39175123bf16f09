from __future__ import annotations

from pathlib import Path

import pytest

from maskgen.evaluate import evaluate_case, f1_iou, find_sintel_cases


def test_f1_iou_reference_values() -> None:
    import numpy as np

    truth = np.zeros((10, 10), dtype=bool)
    truth[:, :4] = True  # 40 px
    predicted = np.zeros((10, 10), dtype=bool)
    predicted[:, 2:6] = True  # 40 px, 20 overlap
    f1, iou = f1_iou(predicted, truth)
    assert f1 == pytest.approx(0.5) and iou == pytest.approx(20 / 60)


@pytest.mark.shared_data
def test_sintel_occlusion_f1_regression_floor(shared_data_dir: Path) -> None:
    cases = find_sintel_cases(shared_data_dir / "flow_gt" / "sintel")
    assert len(cases) == 5
    scores = [evaluate_case(case) for case in cases]
    mean_f1 = sum(s[0] for s in scores) / len(scores)
    # measured 0.432 (0.409 before issue 11, scripts/eval_occlusion_sintel.py); the floor catches a regression
    assert mean_f1 >= 0.42
