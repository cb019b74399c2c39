"""Relational scorers (interaction functions): TransE, DistMult, ComplEx, RotatE, SimplE.

Scoring given triples (positives and sampled negatives, any broadcastable batch shape) delegates
to PyKEEN's interaction modules, so the functions are exactly PyKEEN's. Scoring *all* candidate
entities at once (1-vs-all training, evaluation, top-k) must not materialise a
``[batch, entities, dim]`` tensor, which PyKEEN's broadcasting forms do; each scorer therefore
also splits its function into a *query* computed from ``(h, r)`` (or ``(r, t)``) and a *key* per
candidate, compared by a dot product or a p-norm distance: one matrix product or ``cdist``.

Entity and relation representations are real tensors ``[..., dim]``; complex scorers read the
first half of the last dimension as real parts and the second half as imaginary parts, SimplE
reads the halves as its head-role and tail-role vectors.
"""

from __future__ import annotations

from typing import Literal

import torch
from class_resolver import ClassResolver
from pykeen.nn import modules as pk
from torch import nn

from kgforge.errors import ConfigError


def _halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = x.shape[-1] // 2
    return x[..., :d], x[..., d:]


def _complex(x: torch.Tensor) -> torch.Tensor:
    re, im = _halves(x)
    return torch.complex(re.float(), im.float())


class Scorer(nn.Module):
    """An interaction function ``f(h, r, t)``, higher = more plausible."""

    #: how a query compares with candidate keys: "dot" or a p-norm distance
    compare: Literal["dot", "l1", "l2"] = "dot"
    #: whether entity and relation sizes must be even (complex numbers, two roles)
    needs_even_dim: bool = False

    def relation_dim(self, entity_dim: int) -> int:
        """Size of a relation representation for entities of size ``entity_dim``."""
        return entity_dim

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Scores of broadcast triples: ``h, r, t`` ``[..., d]`` give ``[...]``."""
        raise NotImplementedError

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def tail_keys(self, e: torch.Tensor) -> torch.Tensor:
        return e

    def head_keys(self, e: torch.Tensor) -> torch.Tensor:
        return e

    def compare_all(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``B`` queries against ``C`` candidate keys."""
        if self.compare == "dot":
            return queries @ keys.transpose(-1, -2)
        p = 1.0 if self.compare == "l1" else 2.0
        return -torch.cdist(queries.float(), keys.float(), p=p)

    def score_tails(self, h: torch.Tensor, r: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``(h[b], r[b], tails[c])``."""
        return self.compare_all(self.tail_query(h, r), self.tail_keys(tails))

    def score_heads(self, heads: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, C]`` of ``(heads[c], r[b], t[b])``."""
        return self.compare_all(self.head_query(r, t), self.head_keys(heads))


class TransEScorer(Scorer):
    """TransE: ``-||h + r - t||_p`` (Bordes et al., 2013)."""

    def __init__(self, p: int = 1) -> None:
        super().__init__()
        if p not in (1, 2):
            raise ConfigError(f"TransE supports p=1 or p=2, not {p!r}", field="p")
        self.p = p
        self.compare = "l1" if p == 1 else "l2"
        self.interaction = pk.TransEInteraction(p=p)

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.interaction(h, r, t)

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h + r

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return t - r


class DistMultScorer(Scorer):
    """DistMult: ``<h, r, t>`` (Yang et al., 2014)."""

    def __init__(self) -> None:
        super().__init__()
        self.interaction = pk.DistMultInteraction()

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.interaction(h, r, t)

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return h * r

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return r * t


class ComplExScorer(Scorer):
    """ComplEx: ``Re(<h, r, conj(t)>)`` (Trouillon et al., 2016)."""

    needs_even_dim = True

    def __init__(self) -> None:
        super().__init__()
        self.interaction = pk.ComplExInteraction()

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.interaction(_complex(h), _complex(r), _complex(t))

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        (hr, hi), (rr, ri) = _halves(h), _halves(r)
        # Re(h r conj(t)) = Re(hr) Re(t) + Im(hr) Im(t)
        return torch.cat([hr * rr - hi * ri, hr * ri + hi * rr], dim=-1)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        (rr, ri), (tr, ti) = _halves(r), _halves(t)
        # Re(h * (r conj(t))) = Re(h) Re(x) - Im(h) Im(x), x = r conj(t)
        return torch.cat([rr * tr + ri * ti, -(ri * tr - rr * ti)], dim=-1)


class RotatEScorer(Scorer):
    """RotatE: ``-||h * r - t||`` in complex space, ``r`` of unit modulus (Sun et al., 2019)."""

    compare = "l2"
    needs_even_dim = True

    def __init__(self) -> None:
        super().__init__()
        self.interaction = pk.RotatEInteraction()

    @staticmethod
    def _unit(r: torch.Tensor) -> torch.Tensor:
        re, im = _halves(r)
        modulus = torch.sqrt(re**2 + im**2).clamp_min(1e-9)
        return torch.cat([re / modulus, im / modulus], dim=-1)

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.interaction(_complex(h), _complex(self._unit(r)), _complex(t))

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        (hr, hi), (rr, ri) = _halves(h), _halves(self._unit(r))
        return torch.cat([hr * rr - hi * ri, hr * ri + hi * rr], dim=-1)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # |h r - t| = |h - t conj(r)| for |r| = 1
        (rr, ri), (tr, ti) = _halves(self._unit(r)), _halves(t)
        return torch.cat([tr * rr + ti * ri, ti * rr - tr * ri], dim=-1)


class SimplEScorer(Scorer):
    """SimplE: ``(<h_h, r, t_t> + <t_h, r_inv, h_t>) / 2`` (Kazemi & Poole, 2018).

    An entity's vector holds its head-role and tail-role halves; a relation's holds ``r`` and
    ``r_inv``.
    """

    needs_even_dim = True

    def __init__(self) -> None:
        super().__init__()
        self.interaction = pk.SimplEInteraction()

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # PyKEEN averages f(h[0], r[0], t[0]) and f(t[1], r[1], h[1]): the tail goes in as
        # (tail role, head role)
        t_head, t_tail = _halves(t)
        return self.interaction(_halves(h), _halves(r), (t_tail, t_head))

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        (hh, ht), (rf, rb) = _halves(h), _halves(r)
        return 0.5 * torch.cat([hh * rf, ht * rb], dim=-1)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        (rf, rb), (th, tt) = _halves(r), _halves(t)
        return 0.5 * torch.cat([rf * tt, rb * th], dim=-1)

    def tail_keys(self, e: torch.Tensor) -> torch.Tensor:
        eh, et = _halves(e)
        return torch.cat([et, eh], dim=-1)


scorer_resolver: ClassResolver[Scorer] = ClassResolver(
    [TransEScorer, DistMultScorer, ComplExScorer, RotatEScorer, SimplEScorer],
    base=Scorer,
    default=TransEScorer,
    suffix="Scorer",
)
