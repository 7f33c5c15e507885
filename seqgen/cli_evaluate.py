"""``seqgen evaluate DIR [--data SPEC] [--split NAME] [--iwae K]``: a trained run's figures in nats per time step.

Every figure is ``Σ_sequences value / Σ observed steps`` (DESIGN "Units") and is labelled:

==================  ==========  ===============================================================
figure              label       what
==================  ==========  ===============================================================
``nll``             exact       ``-log p(x)`` (capability ``log_prob``)
``neg_elbo``        bound       ``-ELBO`` ≥ ``-log p(x)`` (capability ``elbo``, when there is no exact ``log_prob``)
``neg_iwae_K``      bound       ``-IWAE_K`` with ``K`` particles (``--iwae K``; capability ``iwae``);
                                an upper bound on ``-log p(x)`` in expectation, tighter as K grows
==================  ==========  ===============================================================

A model with neither ``log_prob`` nor ``elbo`` reports its objective's evaluation metrics, named
as the model names them (``*_bound``: bound, ``nll``: exact, others: ``metric``).

The data default to the run's own (``run.json``) and the ``valid`` split; with the run's data
scheme the run's data options apply, updated by ``--data-opt``. Text is encoded with the run's
vocabulary: characters outside it become ``<unk>`` and their count is printed.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

import attrs
import torch

from .cli_run import check_fit, load_dataset, load_trained, metric_label, parse_assignments, run_data
from .data import CharTextDataset, collate
from .errors import ConfigError
from .train import seed_everything

__all__ = ["HELP", "add_arguments", "run", "Figure", "evaluate_model", "format_figures"]

HELP = "evaluate a trained run on data: nats per time step, each labelled exact or bound"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run directory written by `seqgen train`")
    parser.add_argument("--data", metavar="SPEC", help="data spec (default: the run's data)")
    parser.add_argument("--split", default="valid", metavar="NAME", help="the split to evaluate (default: valid)")
    parser.add_argument("--data-opt", dest="data_opts", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help="a data option (default: the run's, for the run's data scheme)")
    parser.add_argument("--iwae", type=int, metavar="K", help="also report the IWAE bound with K particles (latent models)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N", help="sequences per evaluation batch (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed for stochastic bounds (default: 0)")


@attrs.frozen
class Figure:
    """One reported figure: ``name``, ``kind`` (``'exact'``, ``'bound'`` or ``'metric'``), ``value`` in nats per step."""

    name: str
    kind: str
    value: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})"


def _positive(value, flag: str) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(flag, f"{flag} must be an integer >= 1 (got {value!r})", f"pass e.g. {flag} 10")
    return value


def evaluate_model(model, dataset, *, iwae: Optional[int] = None, batch_size: int = 64) -> List[Figure]:
    """The labelled figures of ``model`` on every sequence of ``dataset`` (see the module docstring).

    Batches of ``batch_size`` sequences go through ``collate`` to the model's device; per-sequence
    values (``[batch]`` nats) are summed and divided by the number of observed steps.
    """
    batch_size = _positive(batch_size, "--batch-size")
    caps = model.capabilities
    terms = []  # (name, kind, batch -> [batch] nats to minimise)
    if "log_prob" in caps:
        terms.append(("nll", "exact", lambda b: -model.log_prob(b.x, context=b.inputs, mask=b.mask)))
    elif "elbo" in caps:  # a bound is only worth printing where no exact figure exists
        terms.append(("neg_elbo", "bound", lambda b: -model.elbo(b.x, context=b.inputs, mask=b.mask)))
    if iwae is not None:
        k = _positive(iwae, "--iwae")
        model.require("iwae", "--iwae needs a model with an importance-weighted bound; drop --iwae")
        terms.append((f"neg_iwae_{k}", "bound", lambda b: -model.iwae(b.x, k, context=b.inputs, mask=b.mask)))
    objective = None if terms else model.objective()
    totals: dict = {}
    steps = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(dataset), batch_size):
                batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]).to(model.device)
                n = int(batch.num_observed)
                steps += n
                if objective is None:
                    for name, _, fn in terms:
                        totals[name] = totals.get(name, 0.0) + float(fn(batch).sum())
                else:  # the model's own per-step metrics, weighted by the batch's observed steps
                    for name, value in objective.evaluate(batch).metrics.items():
                        totals[name] = totals.get(name, 0.0) + float(value) * n
    finally:
        model.train(was_training)
    if objective is None:
        return [Figure(name, kind, totals[name] / steps) for name, kind, _ in terms]
    return [Figure(name, metric_label(name) or "metric", total / steps) for name, total in totals.items()]


def format_figures(figures: List[Figure]) -> List[str]:
    """Aligned lines ``nll (exact)   1.2345 nats/step``."""
    width = max(len(f.label) for f in figures)
    return [f"  {f.label.ljust(width)}  {f.value:.4f} nats/step" for f in figures]


def run(args: argparse.Namespace) -> int:
    batch_size = _positive(args.batch_size, "--batch-size")
    if args.iwae is not None:
        _positive(args.iwae, "--iwae")
    run_ = load_trained(args.dir)
    data_spec, options = run_data(run_.info, args.data, parse_assignments(args.data_opts, "--data-opt"), where=run_.path)
    dataset = load_dataset(data_spec, args.split, options, run_.vocab)
    check_fit(run_.model, dataset, data_spec, run_.name or type(run_.model).__name__,
              fix=f"evaluate on data like the run's ({run_.info.get('data', 'see run.json')})")
    seed_everything(args.seed)
    figures = evaluate_model(run_.model, dataset, iwae=args.iwae, batch_size=batch_size)
    steps = int(dataset.lengths.sum())
    print(f"run {run_.path}: model {run_.name} {run_.version or ''}".rstrip() + f", step {run_.step}")
    print(f"data {data_spec} ({args.split}): {len(dataset)} sequences, {steps} steps")
    for line in format_figures(figures):
        print(line)
    if isinstance(dataset, CharTextDataset):
        print(f"out-of-vocabulary characters: {dataset.num_unknown} of {dataset.num_chars} (mapped to <unk>)")
    return 0
