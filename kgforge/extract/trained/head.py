"""The MLP head both trained classifiers put on the frozen encoder: its training loop, the
"none" weight tuned on held-out F1, and the model files."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kgforge.errors import ConfigError
from kgforge.extract.trained.encoder import TokenEncoder, shared_encoder
from kgforge.progress import progress

NONE = "none"


class _MLP(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_in, n_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(n_hidden, n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the previous count after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@_one_thread()
def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    n_out: int,
    score: Callable[[nn.Module], float] | None,
    *,
    hidden: int,
    dropout: float,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
) -> tuple[nn.Module, list[float]]:
    """Train an MLP with AdamW; keep the epoch that ``score`` (held-out F1) likes best.

    Runs on one thread: batches this small gain nothing from more, and on a busy machine
    several threads spinning on them make an epoch many times slower.
    """
    torch.manual_seed(seed)
    net = _MLP(x.shape[1], hidden, n_out, dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, history = -1.0, None, []
    for _ in progress(range(epochs), desc="training", leave=False):
        net.train()
        for idx in torch.randperm(len(xt), generator=gen).split(batch_size):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        net.eval()
        if score is not None:
            value = score(net)
            history.append(value)
            if value > best:
                best, best_state = value, copy.deepcopy(net.state_dict())
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, history


def f1(gold: set, pred: set) -> float:
    tp = len(gold & pred)
    return 2 * tp / (len(gold) + len(pred)) if gold or pred else 1.0


class TrainedHead:
    """What both trained classifiers share: hyperparameters, the frozen encoder, the MLP head's
    training with a tuned "none" weight, and saving and loading (a plain dict of tensors and
    settings, read with ``weights_only=True``: the files name no Python classes)."""

    kind = ""

    def __init__(
        self,
        encoder: str | None = None,
        hidden: int = 256,
        dropout: float = 0.3,
        epochs: int = 40,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.encoder_name = encoder
        self.params = dict(
            hidden=hidden,
            dropout=dropout,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            seed=seed,
        )
        self.labels: list[str] = []
        self.net: nn.Module | None = None
        self.history: list[float] = []
        self.none_weight = 1.0
        self.held_out_f1: float | None = None
        self._encoder: TokenEncoder | None = None

    @property
    def encoder(self) -> TokenEncoder:
        """The frozen encoder, loaded on first use; assign one to share it between models."""
        if self._encoder is None:
            self._encoder = shared_encoder(self.encoder_name)
        return self._encoder

    @encoder.setter
    def encoder(self, value: TokenEncoder) -> None:
        self._encoder = value

    def _extra_state(self) -> dict:
        return {}

    def _set_extra_state(self, state: dict) -> None:
        pass

    def _fit_net(self, x: np.ndarray, y: np.ndarray, score: Callable | None) -> None:
        """Train the head; with a held-out ``score``, also tune the weight of "none".

        The head is trained on many more "none" examples than real ones; scaling the "none"
        probability by a factor chosen on held-out F1 trades its precision for recall.
        """
        random.seed(self.params["seed"])
        np.random.seed(self.params["seed"])
        self.net, self.history = train_mlp(x, y, len(self.labels), score, **self.params)
        if score is None:
            return
        best, best_weight = -1.0, 1.0
        for weight in (1.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.5, 2.0):
            self.none_weight = weight
            value = score(self.net)
            if value > best:
                best, best_weight = value, weight
        self.none_weight, self.held_out_f1 = best_weight, best

    def _choose(self, p: np.ndarray, none: int) -> int:
        """The predicted label of one row of probabilities, "none" scaled by its weight."""
        q = p.copy()
        q[none] *= self.none_weight
        return int(q.argmax())

    def _probs(self, x: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise ConfigError(f"the {self.kind} classifier is not trained")
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            return torch.softmax(self.net(torch.from_numpy(x)), -1).numpy()

    def save(self, path: str | Path) -> None:
        """Write the head (half precision), labels and settings; the encoder is referenced."""
        if self.net is None:
            raise ConfigError(f"the {self.kind} classifier is not trained")
        state = {k: v.half() for k, v in self.net.state_dict().items()}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "kind": self.kind,
                "encoder": self.encoder_name,
                "params": self.params,
                "labels": self.labels,
                "history": self.history,
                "none_weight": self.none_weight,
                "held_out_f1": self.held_out_f1,
                "state": state,
                **self._extra_state(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path, encoder: str | None = None):
        """Load a saved model; ``encoder`` overrides the encoder it was trained with."""
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ConfigError(f"model file not found: {path}") from None
        except Exception as exc:
            raise ConfigError(f"not a kgforge model file: {exc}", path) from None
        if not isinstance(blob, dict) or blob.get("kind") != cls.kind:
            raise ConfigError(f"not a kgforge {cls.kind} classifier file", path)
        model = cls(encoder=encoder or blob["encoder"], **blob["params"])
        model.labels = list(blob["labels"])
        model.history = list(blob["history"])
        model.none_weight = float(blob.get("none_weight", 1.0))
        model.held_out_f1 = blob.get("held_out_f1")
        model._set_extra_state(blob)
        state = {k: v.float() for k, v in blob["state"].items()}
        n_in, n_hidden = state["net.1.weight"].shape[1], state["net.1.weight"].shape[0]
        model.net = _MLP(n_in, n_hidden, len(model.labels), model.params["dropout"])
        model.net.load_state_dict(state)
        model.net.eval()
        return model
