"""Every speed figure of docs/performance.md, measured and written as markdown tables.

Runs ``bench_conv``, ``bench_layers``, ``bench_train`` (fmnist_cnn step, loader and Trainer
epoch, resnet18_cifar step, peak memory) and ``bench_models`` once per instruction set:

- ``avx512``: the host as it is (convlab's kernels compiled for the host CPU, PyTorch's
  dispatch picking its best ISA);
- ``avx2``: an AVX2-only CPU emulated on the same machine: convlab's kernels compiled for
  Haswell (``NUMBA_CPU_NAME=haswell``, ``NUMBA_CPU_FEATURES`` of tests/test_conv_kernels_targets.py,
  their own ``NUMBA_CACHE_DIR`` so the host's cache is not mixed in), PyTorch restricted by
  ``ATEN_CPU_CAPABILITY=avx2`` and ``ONEDNN_MAX_CPU_ISA=AVX2``.

Each benchmark runs in its own process with the thread settings it inherits (run it on a quiet
machine; pin it with ``taskset`` if you must share one). Each row is ``convlab / PyTorch``
against its target: conv forward+backward <= 1.2, layers <= 1.2, fmnist_cnn train step <= 1.0,
resnet18_cifar train step <= 1.2, Trainer epoch / bare step <= 1.05, peak training memory <= 1.2,
model inference <= 2.0 (bench_models' target). The raw outputs are kept beside the tables.

The tables go to stdout and, with ``--write docs/performance.md``, replace the text between the
``<!-- tables:begin -->`` and ``<!-- tables:end -->`` lines of that file. On a quiet 2-core
machine the default settings take about 10 minutes for both ISAs (``--quick`` about half).

    python benchmarks/performance_tables.py [--isa avx512 --isa avx2] [--quick] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from test_conv_kernels_targets import HASWELL

BEGIN, END = "<!-- tables:begin -->", "<!-- tables:end -->"
ISAS = {
    "avx512": {},
    "avx2": {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL,
             "NUMBA_CACHE_DIR": os.path.join(tempfile.gettempdir(), "convlab-numba-haswell"),
             "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
# a result row of timing.report_row: name, convlab, torch, ratio, then "  extra"
ROW = re.compile(r"^(?P<name>\S.*?)\s+(?P<cl>\d+\.\d+)\s+(?P<th>\d+\.\d+)\s+(?P<ratio>\d+\.\d+)(?:\s{2}(?P<extra>.*))?$")


def benchmarks(quick: bool) -> list[tuple[str, list[str]]]:
    """(title, command arguments) of each benchmark run, trimmed with ``quick``."""
    timed = ["--repeat", "2", "--rounds", "2"] if quick else ["--repeat", "3", "--rounds", "2"]
    train = ["--batches", "20", "--rounds", "2", "--resnet-steps", "2"] if quick else \
        ["--batches", "40", "--rounds", "2", "--resnet-steps", "3"]
    return [
        ("conv2d forward and forward+backward", ["bench_conv.py", *timed]),
        ("layers, forward+backward", ["bench_layers.py", *timed]),
        ("training: time per step, and peak memory of a step", ["bench_train.py", *train]),
        ("model inference", ["bench_models.py", "--repeat", "2" if quick else "3", "--rounds", "2"]),
    ]


def target(script: str, name: str, extra: str) -> tuple[float | None, float | None, str]:
    """(the ratio judged, its target, what is judged) of a row; target None for information only."""
    if script == "bench_conv.py":
        return (None, 1.2, "") if name.endswith("fwd+bwd") else (None, None, "")
    if script == "bench_layers.py":
        return None, 1.2, ""
    if script == "bench_models.py":
        return None, 2.0, ""
    if "epoch" in name:
        match = re.search(r"epoch/step (\d+\.\d+)", extra)
        return (float(match.group(1)) if match else None), 1.05, "epoch/step"
    match = re.search(r"\(target (\d+\.\d+)\)", name)
    return None, float(match.group(1)) if match else None, ""


def table(script: str, output: str) -> tuple[list[str], list[str]]:
    """The CPU lines and the markdown rows of one benchmark's output."""
    lines, header = [], [line[2:] for line in output.splitlines() if line.startswith("# CPU:")]
    for line in output.splitlines():
        if line.startswith(("#", "case ")):
            continue
        row = ROW.match(line)
        if row is None:
            if line.strip():
                lines.append(f"| {line.strip()} | | | | | |")
            continue
        name, extra = row["name"].strip(), (row["extra"] or "").strip()
        judged, goal, what = target(script, name, extra)
        ratio = float(row["ratio"]) if judged is None else judged
        verdict = "" if goal is None else ("met" if ratio <= goal else "**not met**")
        shown = f"{what} {ratio:.3f}" if what else f"{ratio:.2f}"
        unit = "MiB" if "peak RSS" in name else "ms"
        goal_text = "" if goal is None else f"<= {goal} {verdict}"
        lines.append(f"| {name} | {row['cl']} {unit} | {row['th']} {unit} | {shown} | {goal_text} | {extra} |")
    return header, lines


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_isa(isa: str, quick: bool, log) -> list[str]:
    env = {**os.environ, **ISAS[isa]}
    out = [f"### {'AVX-512 (host)' if isa == 'avx512' else 'AVX2 (emulated on the same CPU)'}", ""]
    for title, command in benchmarks(quick):
        started, cpu = time.perf_counter(), _children_cpu()
        result = subprocess.run([sys.executable, os.path.join(HERE, command[0]), *command[1:]], env=env,
                                capture_output=True, text=True, check=False)
        seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
        log.write(f"$ {' '.join(command)}  [{isa}, {seconds:.0f} s, CPU {cpu:.0f} s, exit {result.returncode}]\n"
                  f"{result.stdout}\n")
        log.flush()
        print(f"{isa}: {command[0]} done in {seconds:.0f} s (CPU {cpu:.0f} s)", file=sys.stderr, flush=True)
        if result.returncode != 0:
            raise SystemExit(f"performance_tables: {command[0]} failed under {isa}:\n{result.stderr[-3000:]}")
        header, rows = table(command[0], result.stdout)
        out += [f"**{title}** (`{' '.join(command)}`; {header[0] if header else 'CPU unknown'})", "",
                "| case | convlab | PyTorch | ratio | target | notes |", "|---|---:|---:|---:|---|---|",
                *rows, ""]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=ISAS, action="append", help="instruction sets to measure (default both)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about half the time)")
    parser.add_argument("--write", metavar="MARKDOWN", help="replace the tables between the markers of this file")
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "convlab-performance-tables.log"),
                        help="where the benchmarks' raw outputs go")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = []
    with open(args.log, "w") as log:
        for isa in args.isa or list(ISAS):
            lines += run_isa(isa, args.quick, log)
    lines.append(f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in "
                 f"{(time.perf_counter() - started) / 60:.1f} min by `benchmarks/performance_tables.py"
                 f"{' --quick' if args.quick else ''}`; raw outputs: {args.log}._")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_tables(args.write, text)


def write_tables(path: str, text: str) -> None:
    """Put ``text`` between the markers of ``path`` (written atomically)."""
    from convlab.io.atomic import write_atomically

    with open(path, encoding="utf-8") as f:
        document = f.read()
    if BEGIN not in document or END not in document:
        raise SystemExit(f"performance_tables: {path} has no {BEGIN} ... {END} lines to replace")
    head, rest = document.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    document = f"{head}{BEGIN}\n{text}\n{END}{tail}"

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(document)

    write_atomically(path, write, caller="performance_tables")


if __name__ == "__main__":
    main()
