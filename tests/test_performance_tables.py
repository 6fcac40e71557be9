"""benchmarks/performance_tables.py turns the benchmarks' printed rows into docs/performance.md's
tables: each row parsed, each ratio judged against its target, the tables put between the
markers. Checked on outputs in the benchmarks' format (no benchmark is run here)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
import performance_tables as P

CPU = "# CPU: AMD EPYC, AVX-512; numba target host, torch AVX512"
TRAIN = f"""# training: fmnist_cnn 40 steps
{CPU}
case                                          convlab ms   torch ms   ratio  extra
fmnist_cnn train step (target 1.0)                 93.00      91.00    1.02  1376 vs 1406 img/s
fmnist_cnn train loader                            94.00      91.00    1.03  loader/step 1.011
fmnist_cnn train epoch (Trainer)                   99.00      91.00    1.09  1293 vs 1406 img/s; epoch/step 1.065 (target 1.05)
resnet18_cifar train step (target 1.2)           1100.00    1000.00    1.10  116 vs 128 img/s
case                                         convlab MiB  torch MiB   ratio  extra
fmnist_cnn train step peak RSS (target 1.2)        125.0      164.0    0.76  batch 128, Adam
"""


def test_train_rows_are_judged_against_their_targets():
    header, rows = P.table("bench_train.py", TRAIN)
    assert header == [CPU[2:]]
    assert len(rows) == 5
    step, loader, epoch, resnet, memory = rows
    assert "| 93.00 ms | 91.00 ms | 1.02 | <= 1.0 **not met** |" in step
    assert "| 1.03 |  |" in loader  # information only: no target
    assert "epoch/step 1.065 | <= 1.05 **not met**" in epoch  # the epoch is judged against the bare step
    assert "| 1.10 | <= 1.2 met |" in resnet
    assert "| 125.0 MiB | 164.0 MiB | 0.76 | <= 1.2 met |" in memory


def test_conv_layers_and_models_targets():
    conv = f"""{CPU}
fmnist conv1 128x1->32 @28 k3 fwd                   1.00       1.00    1.00  GFLOP/s convlab   10.0  torch   10.0
64x64->64 @32 k3 fwd+bwd                           13.00      10.00    1.30  GFLOP/s convlab   10.0  torch   13.0
"""
    _, (fwd, fwd_bwd) = P.table("bench_conv.py", conv)
    assert fwd.endswith("| 1.00 |  | GFLOP/s convlab   10.0  torch   10.0 |")  # forward rows: information
    assert "| 1.30 | <= 1.2 **not met** |" in fwd_bwd
    _, (layer, skipped) = P.table("bench_layers.py", "MaxPool2d(2) (128, 64, 28, 28)   3.00   2.80   1.07  OK\n"
                                                     "Fold (1, 2)                                  skipped: no Fold\n")
    assert "| 1.07 | <= 1.2 met | OK |" in layer
    assert skipped.startswith("| Fold (1, 2)")
    _, (model,) = P.table("bench_models.py", "resnet18 (16, 3, 224, 224)   500.00   400.00   1.25  32 vs 40 images/s")
    assert "| 1.25 | <= 2.0 met |" in model


def test_write_tables_replaces_only_between_the_markers(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text(f"# Speed\nintro\n{P.BEGIN}\nold tables\n{P.END}\nafter\n", encoding="utf-8")
    P.write_tables(str(page), "new tables")
    assert page.read_text(encoding="utf-8") == f"# Speed\nintro\n{P.BEGIN}\nnew tables\n{P.END}\nafter\n"
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no <!-- tables:begin -->"):
        P.write_tables(str(bare), "x")
    assert bare.read_text(encoding="utf-8") == "no markers\n"


def test_the_avx2_environment_restricts_both_libraries():
    env = P.ISAS["avx2"]
    assert env["NUMBA_CPU_NAME"] == "haswell" and "+avx2" in env["NUMBA_CPU_FEATURES"]
    assert "avx512" not in env["NUMBA_CPU_FEATURES"]
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert env["NUMBA_CACHE_DIR"]  # its own compiled kernels, not the host's
