"""The known capability words a model may declare, and the check for unknown ones.

A model lists what it can do in ``capabilities`` (a frozenset of these words) instead of
leaving methods half-implemented; the conformance kit selects its checks by them.

| word | means the model implements |
|---|---|
| ``elbo`` | ``elbo(x)``: an evidence lower bound |
| ``log_prob`` | ``log_prob(x)``: the exact log-likelihood |
| ``iwae`` | ``iwae(x, num_particles)``: an importance-weighted bound / estimate |
| ``latents`` | ``infer(x)``: posterior or filtered latents |
| ``pyro`` | ``model(x)`` / ``guide(x)`` as Pyro programs |
| ``generate`` | the per-step interface, so GenCore and ``distribution`` sample from it |
| ``forecast`` | ``condition``/``forecast``/``prefix_condition`` from an observed prefix |
| ``impute`` | ``impute(x, mask)`` fills unobserved steps |
| ``reconstruct`` | ``reconstruct(x)`` through a code |
| ``adversarial`` | trained by a ``PhasedObjective`` with a discriminator |
| ``gradient`` | trained by backpropagation: every parameter gets a gradient from the loss |
| ``local_rule`` | trained by a ``LocalRuleObjective`` (no backpropagation) |
"""

from __future__ import annotations

from typing import Iterable

from .errors import ConfigError, closest_names

__all__ = ["KNOWN_CAPABILITIES", "validate_capabilities"]

KNOWN_CAPABILITIES = frozenset(
    {
        "elbo",
        "log_prob",
        "iwae",
        "latents",
        "pyro",
        "generate",
        "forecast",
        "impute",
        "reconstruct",
        "adversarial",
        "gradient",
        "local_rule",
    }
)


def validate_capabilities(words: Iterable[str], *, owner: str = "capabilities") -> frozenset[str]:
    """Return ``words`` as a frozenset, or raise ConfigError naming an unknown word."""
    caps = frozenset(words)
    for w in sorted(caps):
        if w not in KNOWN_CAPABILITIES:
            near = closest_names(w, KNOWN_CAPABILITIES)
            hint = f"did you mean {near[0]!r}?" if near else f"known words: {', '.join(sorted(KNOWN_CAPABILITIES))}"
            raise ConfigError(owner, f"{owner}: unknown capability word {w!r}", hint)
    return caps
