"""Quality of the SRNN plugin against the issue's targets (a benchmark, not a test).

    python plugins/seqgen-srnn/benchmarks/quality_srnn.py [--music-minutes 40] [--text-minutes 10]
                                                          [--out runs/quality_srnn]

Runs the two examples with a wall-clock training budget each and prints their figures with the
machine they ran on:

- JSB chorales (``examples/srnn_music.py``): validation negative ELBO in nats per time step,
  target <= 6.5, with the IWAE bound (K = 100) beside it; also the imputation of a centred gap
  of 25 % of each validation chorale (``impute()`` against the filtering default). The example's
  emission is ``MADEDecoder`` (each key given the keys below it at the same step; ``-- --obs
  bernoulli`` for the paper's independent keys). Its defaults regularise the 229 training
  chorales: random transposition by -3…+3 semitones, dropout 0.3 on ``d_t``, AdamW with weight
  decay 0.1, the learning rate halved every 4,000 steps, and the weights of the best validation
  round kept (``--keep-best``). The issue sets no
  time limit for JSB; 40 minutes of one thread is the default budget.
  References: Pyro's DMM tutorial 6.87 (test split); the SRNN paper about 4.74 (a bound).
- Tiny Shakespeare (``examples/srnn_text.py``): validation nats per character (the negative
  ELBO, a bound on the NLL), target <= 1.88 within about 10 minutes of CPU training, with the
  IWAE bound on part of the validation text.

Each example runs in its own process with ``OMP_NUM_THREADS`` as set by the caller (the
Makefile sets 1). Extra arguments after ``--`` go to both examples.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[3]
TARGETS = {"music": 6.5, "text": 1.88}


def run_example(script: str, args) -> tuple:
    """Run one example, echoing its output; returns (stdout, seconds)."""
    cmd = [sys.executable, str(REPO / "examples" / script)] + args
    print("$ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        raise SystemExit(f"{script} failed with exit status {proc.returncode}")
    return "".join(lines), time.perf_counter() - start


def grab(pattern: str, text: str):
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SRNN quality figures (JSB chorales, Tiny Shakespeare)")
    ap.add_argument("--music-minutes", type=float, default=40.0)
    ap.add_argument("--text-minutes", type=float, default=10.0)
    ap.add_argument("--out", default="runs/quality_srnn")
    ap.add_argument("--skip", choices=("music", "text"), action="append", default=[])
    ap.add_argument("extra", nargs="*", help="arguments passed to both examples (after --)")
    args = ap.parse_args(argv)
    results = {}
    if "music" not in args.skip:
        out, secs = run_example("srnn_music.py", ["--model", "srnn", "--minutes", str(args.music_minutes), "--iwae", "100",
                                                  "--impute", "0.25", "--keep-best", "--out", f"{args.out}/music"] + args.extra)
        results["music"] = dict(
            neg_elbo=grab(r"neg-ELBO ([\d.]+) \(bound", out), kl=grab(r"of it KL ([\d.]+)", out), iwae=grab(r"IWAE K=100 ([\d.]+)", out),
            impute=grab(r"impute\(\) ([\d.]+)", out), impute_filter=grab(r"GenCore.impute\) ([\d.]+)", out),
            train=grab(r"steps in (\d+) s", out), cpu=grab(r"steps in \d+ s \((\d+) s CPU\)", out),
            steps=grab(r"\| (\d+) steps", out), kept=grab(r"weights of step (\d+), best", out), wall=secs,
        )
    if "text" not in args.skip:
        out, secs = run_example("srnn_text.py", ["--model", "srnn", "--minutes", str(args.text_minutes), "--out", f"{args.out}/text"] + args.extra)
        results["text"] = dict(
            neg_elbo=grab(r"neg-ELBO ([\d.]+) \(bound\)", out), iwae=grab(r"IWAE K=\d+ ([\d.]+)", out),
            part=grab(r"chars: neg-ELBO ([\d.]+),", out), part_chars=grab(r"first (\d+) chars", out),
            train=grab(r"steps in (\d+) s", out), steps=grab(r"\| (\d+) steps", out), wall=secs,
        )

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print("\n=== SRNN quality ===")
    print("command: python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, torch {torch.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average now {load}")
    if "music" in results:
        r = results["music"]
        ok = r["neg_elbo"] is not None and r["neg_elbo"] <= TARGETS["music"]
        print(f"JSB chorales valid: neg-ELBO {r['neg_elbo']} nats/step (bound, of it KL {r['kl']}; target <= {TARGETS['music']}: {'met' if ok else 'NOT met'}), "
              f"IWAE K=100 {r['iwae']} (bound); trained {r['steps']:.0f} steps in {r['train']:.0f} s wall ({r['cpu']:.0f} s CPU)"
              + (f", weights of step {r['kept']:.0f} (best validation round)" if r["kept"] is not None else ""))
        print(f"  gap imputation (25 %), wrong keys per hidden step: impute() {r['impute']}, filtering default {r['impute_filter']}")
    if "text" in results:
        r = results["text"]
        ok = r["neg_elbo"] is not None and r["neg_elbo"] <= TARGETS["text"]
        print(f"Tiny Shakespeare valid: neg-ELBO {r['neg_elbo']} nats/char (bound; target <= {TARGETS['text']}: {'met' if ok else 'NOT met'}), "
              f"trained {r['steps']:.0f} steps in {r['train']:.0f} s")
        print(f"  first {r['part_chars']:.0f} validation characters: neg-ELBO {r['part']}, IWAE {r['iwae']} (bounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
