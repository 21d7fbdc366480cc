"""workbench.ablate: variants see the same data from the same start, the table holds what it says, unfair
comparisons are refused."""

import copy

import pytest
import torch

from workbench import losses
from workbench.ablate import compare_runs, measure_losses, varied_terms
from workbench.config import preset
from workbench.data import SynthHumans
from workbench.models import build_model


@pytest.fixture
def shrink_betas():
    @losses.register_loss("test_shrink_betas")
    def shrink(output, batch, model):
        return (output["pred_smpl_params"]["betas"] ** 2).sum()

    yield "test_shrink_betas"
    losses.LOSSES.pop("test_shrink_betas")


def _variants(term):
    base = preset("micro")
    base.train.val_every = base.train.ckpt_every = 100  # validate once, at the last step
    with_term = copy.deepcopy(base)
    with_term.loss.weights[term] = 0.1
    return {"baseline": base, "+ shrink betas": with_term}


def test_variants_share_data_and_start_and_fill_the_table(tmp_path, shrink_betas):
    configs = _variants(shrink_betas)
    assert varied_terms(configs) == [shrink_betas]
    runs = compare_runs(configs, steps=3, out_root=tmp_path, progress=False)
    table = runs.table
    assert list(table.index) == ["baseline", "+ shrink betas"]
    assert {"mpjpe", "pa_mpjpe", "pck@0.05", "keypoints_3d (train)", f"{shrink_betas} (val, per person)"} <= set(table)
    assert table[f"{shrink_betas} (val, per person)"].notna().all()  # measured for the run trained without it too
    assert table[f"{shrink_betas} (train)"].isna().tolist() == [True, False]  # logged only where it was trained
    assert (table["steps"] == 3).all() and sorted(p.name for p in tmp_path.iterdir()) == ["baseline", "shrink_betas"]
    # Step 1's terms are computed before any update: same crops, same initial weights -> the same numbers.
    first = runs.log[(runs.log.kind == "train") & (runs.log.step == 1)].set_index("run")
    assert first.loc["baseline", "keypoints_3d"] == pytest.approx(first.loc["+ shrink betas", "keypoints_3d"], rel=1e-6)
    # Calling again continues the runs instead of starting over.
    again = compare_runs(configs, steps=4, out_root=tmp_path, progress=False)
    assert (again.table["steps"] == 4).all() and again.log.groupby("run").step.max().eq(4).all()


def test_unfair_variants_are_refused(tmp_path):
    a, b = preset("micro"), preset("micro")
    b.data.seed = 1
    with pytest.raises(ValueError, match="differ in data"):
        compare_runs({"a": a, "b": b}, steps=1, out_root=tmp_path, progress=False)


def test_measured_terms_are_per_person_whatever_the_batch(shrink_betas):
    cfg = preset("micro")
    torch.manual_seed(0)
    model = build_model(cfg)
    data = SynthHumans(cfg.data, split="val", num_samples=3)
    one, three = (measure_losses(model, data, [shrink_betas, "keypoints_3d"], batch_size=b) for b in (1, 3))
    assert one == pytest.approx(three, rel=1e-5)
    assert model.training  # the mode is restored
