"""`synthgate sample` and `Release.open(RUN).sample(...)`: post-processing of a release's stored DP
measurements. Reads no data (the input is removed first), spends nothing (the ledger's total is
unchanged, a zero-spend history line is added), refuses bad requests in one line (exit 2)."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import synthgate.privacy.table as table_module
from services.cli import invoke
from services.configs import HEALTH_INSURANCE, shipped_config
from services.exact import chi_square_p, exact_conditional
from synthgate.pipeline.encode import CategoricalCodec, TableCodec
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED
from synthgate.pipeline.release_package import Release
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.mechanisms import DiscreteGaussianCounts
from synthgate.privacy.models import TreeModel
from synthgate.privacy.models.conditional import Evidence
from synthgate.privacy.table import PrivateTable


@pytest.fixture(scope="module")
def release_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A health_insurance release (graphical, AIM) whose input is then deleted; its own ledger."""
    root = tmp_path_factory.mktemp("sample")
    data = Path(shutil.copy(HEALTH_INSURANCE, root / "hi.csv"))
    config = shipped_config("health_insurance", root, source={"path": str(data)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHGATE_LEDGER", str(root / "ledger.sqlite"))
        code, _, err = invoke(["run", str(config), "--out", str(root / "run"), "--seed", "2"])
        assert code == EXIT_RELEASED, err
        data.unlink()  # sample must not need the sensitive input
        yield root / "run", root


def _spent(root: Path) -> tuple[float, list[dict[str, object]]]:
    code, out, _ = invoke(["--ledger", str(root / "ledger.sqlite"), "budget", "show", "health_insurance", "--json"])
    assert code == 0
    shown = json.loads(out)
    return float(shown["spent_epsilon"]), list(shown["samples"])


def _sample(root: Path, run: Path, out: str, *args: str) -> tuple[int, str, str]:
    return invoke(["--ledger", str(root / "ledger.sqlite"), "sample", str(run), "--out", str(root / out), *args])


def test_balanced_conditional_sample_without_data_or_spend(release_run: tuple[Path, Path]) -> None:
    run, root = release_run
    spent_before, samples_before = _spent(root)
    code, out, err = _sample(root, run, "balanced", "--rows", "3001", "--balance", "insurance",
                             "--where", "age=30..48", "--where", "region=south", "--where", "region=west",
                             "--seed", "9")
    assert code == EXIT_RELEASED, err
    assert "spent epsilon=0" in out
    table = pd.read_parquet(root / "balanced" / "synthetic.parquet")
    counts = table["insurance"].value_counts()
    assert len(table) == 3001 and set(counts.index) == {"yes", "no"} and counts.max() - counts.min() <= 1
    assert table["age"].between(30, 48).all() and table["region"].isin(["south", "west"]).all()
    assert pq.read_schema(root / "balanced" / "synthetic.parquet").metadata[b"synthgate.synthetic"] == b"true"
    manifest = json.loads((root / "balanced" / "manifest.json").read_text())
    parent = json.loads((run / "release" / "manifest.json").read_text())
    assert manifest["parent"]["release_id"] == parent["release_id"] and manifest["privacy"]["spent"]["epsilon"] == 0
    assert manifest["request"] == {"rows": 3001, "where": {"age": ["30..48"], "region": ["south", "west"]},
                                   "balance": "insurance", "seed": 9, "allow_held": False}
    assert [s["label"] for s in manifest["conditioning"]["strata"]] == ["insurance=yes", "insurance=no"]
    assert all("rejection" in s["method"] for s in manifest["conditioning"]["strata"])  # AIM's network
    assert "do NOT reflect the population's proportions" in (root / "balanced" / "DATASHEET.md").read_text()
    spent_after, samples_after = _spent(root)
    assert spent_after == spent_before  # nothing spent
    assert len(samples_after) == len(samples_before) + 1 and samples_after[-1]["rows"] == 3001
    assert samples_after[-1]["spent_epsilon"] == 0
    again = _sample(root, run, "again", "--rows", "3001", "--balance", "insurance", "--where", "age=30..48",
                    "--where", "region=south", "--where", "region=west", "--seed", "9")
    assert again[0] == 0 and pd.read_parquet(root / "again" / "synthetic.parquet").equals(table)  # seed: same rows


@pytest.mark.parametrize(("args", "message"), [
    (["--where", "region=mars"], "--where region=mars: not a level of the public domain"),
    (["--where", "age=200..300"], "outside the public bounds"),
    (["--where", "age=30..49"], "cuts a bin of the public domain; use whole bins"),
    (["--where", "age"], "expected COL=VALUE"),
    (["--balance", "age"], "--balance age: needs a categorical or boolean column"),
    (["--where", "nosuch=1"], "--where nosuch: no such column"),
    (["--where", "health=no", "--where", "insurance=no", "--where", "married=yes", "--where", "selfemp=yes",
      "--where", "education=phd", "--where", "ethnicity=other", "--where", "family=20"], "probability"),
])
def test_bad_requests_are_refused_in_one_line(release_run: tuple[Path, Path], args: list[str], message: str) -> None:
    run, root = release_run
    code, _, err = _sample(root, run, "refused", *args)
    assert code == EXIT_BAD_INPUT and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (root / "refused").exists()


def test_held_release_needs_allow_held(release_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = release_run
    held = tmp_path / "held-run"
    shutil.copytree(run, held)
    (held / "release").rename(held / "held")
    code, _, err = _sample(root, held, "from-held", "--rows", "50")
    assert code == EXIT_BAD_INPUT and "--allow-held" in err and len(err.strip().splitlines()) == 1
    code, _, err = _sample(root, held, "from-held", "--rows", "50", "--allow-held")
    assert code == 0, err
    manifest = json.loads((root / "from-held" / "manifest.json").read_text())
    assert manifest["request"]["allow_held"] is True and manifest["parent"]["held"] is True
    assert "HELD by the gate" in (root / "from-held" / "DATASHEET.md").read_text()


def test_tampered_measurements_are_refused(release_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, root = release_run
    copy = tmp_path / "tampered"
    shutil.copytree(run, copy)
    stored_path = copy / "internal" / "measurements.json"
    stored = json.loads(stored_path.read_text())
    stored["measurements"][0]["noisy_counts"][0] += 500.0
    stored_path.write_text(json.dumps(stored))
    code, _, err = _sample(root, copy, "t", "--rows", "10")
    assert code == EXIT_BAD_INPUT and "SHA-256 differs" in err and len(err.strip().splitlines()) == 1


def test_library_api(release_run: tuple[Path, Path]) -> None:
    run, _ = release_run
    release = Release.open(run)
    table = release.sample(101, where={"age": (30, 48), "region": ["south", "west"]}, balance="selfemp", seed=3)
    frame = table.to_pandas()
    assert table.num_rows == 101 and table.schema == release.codec.arrow_schema
    assert frame["age"].between(30, 48).all() and set(frame["region"]) <= {"south", "west"}
    assert sorted(frame["selfemp"].value_counts().tolist()) == [50, 51]
    assert release.sample(101, where={"age": (30, 48)}, balance="selfemp", seed=3).equals(
        release.sample(101, where={"age": (30, 48)}, balance="selfemp", seed=3))
    assert release.sample(20, seed=1).num_rows == 20  # a plain sample: any number of rows


def test_balance_gives_each_level_its_exact_conditional(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a small table whose exact conditionals can be enumerated (a tree model): each level of the
    balanced column gets n/K rows (±1), distributed as the model's conditional given that level and
    the `where` evidence. 30,000 rows, chi-square per level at p > 1e-4 (seeds fixed)."""
    state = np.random.RandomState(5)
    monkeypatch.setattr(table_module, "DiscreteGaussianCounts", functools.partial(DiscreteGaussianCounts,
                                                                                   random_state=state))
    codec = TableCodec([CategoricalCodec("a", [f"a{i}" for i in range(6)], other=False, nulls=False),
                        CategoricalCodec("b", ["no", "yes"], other=False, nulls=False),
                        CategoricalCodec("c", [f"c{i}" for i in range(5)], other=False, nulls=False)])
    domain = codec.domain
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, 20_000)
    b = ((a > 3) ^ (rng.random(20_000) < 0.1)).astype(int)
    c = (a + rng.integers(0, 2, 20_000)) % 5
    model = TreeModel().fit(PrivateTable(np.column_stack([a, b, c]).astype(np.int32), domain,
                                         Accountant(Budget(epsilon=10.0, delta=1e-6))), 0.5)
    release = Release(Path("run"), Path("run/release"), {"release_id": "r", "rows": {"count": 10}}, {"chunk_rows": 4096},
                      codec, model)
    frame = release.sample(30_001, where={"c": ["c1", "c2", "c3"]}, balance="b", seed=8).to_pandas()
    counts = frame["b"].value_counts()
    assert counts.max() - counts.min() <= 1
    codes = codec.encode(frame)
    for level in (0, 1):
        expected, _ = exact_conditional(model, domain, Evidence.from_mapping({"b": [level], "c": [1, 2, 3]}))
        assert chi_square_p(codes[codes[:, 1] == level], expected, domain) > 1e-4
