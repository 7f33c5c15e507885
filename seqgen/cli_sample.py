"""``seqgen sample DIR --steps N --num N --out FILE``: sequences drawn from a trained run, written by extension.

The samples are ``model.distribution(steps).sample((num,))``: ``x: [num, steps, *obs_shape]``
(long token ids for text, floats otherwise), drawn with ``--seed`` (default 0) on the CPU.

==========  ============================================================================
``--out``   what is written
==========  ============================================================================
``.npz``    ``samples`` (the array), ``model``, ``step``; text runs add ``text`` (decoded)
``.png``    a plot: piano rolls (88-key data), an image grid (MNIST), otherwise each
            observation dimension over time, samples solid and the run's data dashed
``.txt``    text runs: the decoded samples (``<unk>`` written as U+FFFD, and counted)
``.mid``    piano-roll runs: one MIDI file per sample (needs ``pretty_midi``)
==========  ============================================================================
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch

from .cli_run import LoadedRun, load_dataset, load_trained
from .data import NUM_KEYS, write_midi
from .errors import ConfigError, SeqgenError
from .train import seed_everything

__all__ = ["HELP", "add_arguments", "run", "draw", "WRITERS", "write_samples"]

HELP = "sample sequences from a trained run into .npz, .png, .txt (text) or .mid (piano rolls)"

UNKNOWN_CHAR = "\ufffd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run directory written by `seqgen train`")
    parser.add_argument("--steps", type=int, default=100, metavar="N", help="time steps per sequence (default: 100)")
    parser.add_argument("--num", type=int, default=4, metavar="N", help="number of sequences (default: 4)")
    parser.add_argument("--out", required=True, metavar="FILE", help="output file: .npz, .png, .txt (text runs) or .mid (piano-roll runs)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def draw(model, steps: int, num: int, seed: int = 0) -> torch.Tensor:
    """``model.distribution(steps).sample((num,))`` under ``torch.no_grad``: ``[num, steps, *obs_shape]``."""
    seed_everything(seed)
    with torch.no_grad():
        return model.distribution(steps).sample((num,)).cpu()


def _is_pianoroll(run: LoadedRun, x: torch.Tensor) -> bool:
    scheme = str(run.info.get("data", "")).partition(":")[0]
    return scheme == "pianoroll" or (x.dim() == 3 and x.shape[-1] == NUM_KEYS and run.info.get("obs_kind") == "bernoulli")


def _text_only(run: LoadedRun, out: Path) -> None:
    if run.vocab is None:
        raise ConfigError("out", f"--out {out}: only text runs decode to .txt (this run has no vocab.json)", "write .npz or .png instead")


def _write_npz(run: LoadedRun, x: torch.Tensor, out: Path) -> List[str]:
    extra = {"text": np.array([run.vocab.decode(row, unknown=UNKNOWN_CHAR) for row in x])} if run.vocab is not None else {}
    np.savez_compressed(out, samples=x.numpy(), model=np.array(run.name or ""), step=np.array(run.step), **extra)
    return [f"wrote {_count(x.shape[0], 'sample')} {tuple(x.shape[1:])} to {out}"]


def _write_txt(run: LoadedRun, x: torch.Tensor, out: Path) -> List[str]:
    _text_only(run, out)
    texts = [run.vocab.decode(row, unknown=UNKNOWN_CHAR) for row in x]
    if len(texts) == 1:
        body = texts[0] + "\n"
    else:
        body = "".join(f"=== sample {i + 1} of {len(texts)} ===\n{t}\n\n" for i, t in enumerate(texts))
    out.write_text(body, encoding="utf-8")
    unknown = int((x == run.vocab.unk_id).sum())
    return [f"wrote {_count(len(texts), 'sample')} of {x.shape[1]} characters to {out}",
            f"<unk> sampled {unknown} times of {x.numel()} characters (written as U+FFFD {UNKNOWN_CHAR})"]


def _data_for_plot(run: LoadedRun, num: int, steps: int):
    """Up to ``num`` sequences of the run's data, cut to a common length ``<= steps``, or None."""
    spec = run.info.get("data")
    if not spec:
        return None
    split = run.info.get("valid_split") or run.info.get("split") or "train"
    try:
        data = load_dataset(spec, split, run.info.get("data_options", {}), run.vocab)
    except SeqgenError:
        return None  # the data moved: plot the samples alone
    rows = [data[i].x for i in range(min(num, len(data)))]
    length = min([steps] + [r.shape[0] for r in rows])
    return torch.stack([r[:length].reshape(length, -1).float() for r in rows])  # [n, length, dim]


def _write_png(run: LoadedRun, x: torch.Tensor, out: Path) -> List[str]:
    from .plot import image_grid, plot_pianoroll, plot_sequences

    if run.vocab is not None or run.info.get("obs_kind") == "categorical":
        raise ConfigError("out", f"--out {out}: token samples are not plotted", "write .txt (decoded text) or .npz")
    scheme = str(run.info.get("data", "")).partition(":")[0]
    if _is_pianoroll(run, x):
        shown = x[: min(len(x), 6)]
        plot_pianoroll(shown, out, titles=[f"sample {i + 1} (step {run.step})" for i in range(len(shown))])
        return [f"wrote a piano-roll plot of {_count(len(shown), 'sample')} to {out}"]
    if scheme == "mnist":
        # rows as steps: [num, steps, 28] is already an image; one-step images [num, 1, 784] are flattened
        images = x.float() if x.dim() == 3 and x.shape[1] > 1 else x.reshape(x.shape[0], -1).float()
        image_grid(images, out, nrow=min(len(images), 8))
        return [f"wrote an image grid of {_count(len(images), 'sample')} to {out}"]
    series = x.reshape(x.shape[0], x.shape[1], -1).float()  # [num, steps, obs dims flattened]
    data = _data_for_plot(run, x.shape[0], x.shape[1])
    plot_sequences(series, out, data=data, title="samples (solid) vs data (dashed)" if data is not None else "samples")
    return [f"wrote a plot of {len(series)} sampled series" + (" against the run's data" if data is not None else "") + f" to {out}"]


def _write_mid(run: LoadedRun, x: torch.Tensor, out: Path) -> List[str]:
    if not _is_pianoroll(run, x):
        raise ConfigError("out", f"--out {out}: MIDI is written for piano-roll runs only (samples are {tuple(x.shape[1:])})", "write .npz or .png instead")
    paths = [out] if len(x) == 1 else [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(len(x))]
    for roll, path in zip(x, paths):
        write_midi(roll, path)
    return [f"wrote {_count(len(paths), 'MIDI file')}: {', '.join(map(str, paths))}"]


WRITERS: Dict[str, Callable[[LoadedRun, torch.Tensor, Path], List[str]]] = {
    ".npz": _write_npz,
    ".png": _write_png,
    ".txt": _write_txt,
    ".mid": _write_mid,
}


def _check_out(out: Path) -> str:
    ext = out.suffix.lower()
    if ext not in WRITERS:
        raise ConfigError("out", f"--out {out}: expected a file ending in {', '.join(WRITERS)}, got {ext or 'no extension'!r}", "e.g. --out samples.png")
    if ext == ".mid" and importlib.util.find_spec("pretty_midi") is None:
        raise ConfigError("out", f"--out {out}: writing MIDI needs the optional package pretty_midi, which is not installed", "pip install pretty-midi, or write .npz or .png")
    if out.is_dir():
        raise ConfigError("out", f"--out {out}: is a directory", "name a file, e.g. --out samples.png")
    return ext


def write_samples(run: LoadedRun, x: torch.Tensor, out: Path) -> List[str]:
    """Write ``x: [num, steps, *obs_shape]`` to ``out`` by its extension; returns lines to print."""
    ext = _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return WRITERS[ext](run, x, out)


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--steps", args.steps), ("--num", args.num)):
        if value < 1:
            raise ConfigError(flag, f"{flag} must be an integer >= 1 (got {value})", f"pass e.g. {flag} 4")
    out = Path(args.out).expanduser()
    ext = _check_out(out)
    run_ = load_trained(args.dir)
    if ext == ".txt":
        _text_only(run_, out)
    x = draw(run_.model, args.steps, args.num, args.seed)
    for line in write_samples(run_, x, out):
        print(line)
    return 0
