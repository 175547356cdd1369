"""Train the seed's small CNN live: a generator of per-batch metrics and per-epoch evaluations.

``train(config)`` yields a :class:`TrainStep` after every mini-batch (loss, running accuracy, the six
first-layer filters) and an :class:`EvalResult` before training and after every epoch (test accuracy,
confusion matrix, predictions on a few test images, the weights). The last one has ``final=True``.
The caller decides how often to draw and stops by no longer pulling (rule 2).

Keeping a trained network (for one session, or saved for everyone under a name) is
:mod:`dreamlab.train.store`'s work; driving a run (curves, status, a stopped run's evaluation) is
:mod:`dreamlab.train.session`'s.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dreamlab.models.tiny_cnn import TinyCNN
from dreamlab.runtime.device import resolve_device
from dreamlab.train.config import TrainConfig
from dreamlab.train.datasets import Dataset, load_dataset
from dreamlab.validate import with_overrides

__all__ = [
    "EvalResult",
    "LayerRow",
    "TrainStep",
    "architecture",
    "evaluate_state",
    "train",
]

StateDict = dict[str, torch.Tensor]

_MEAN, _STD = 0.5, 0.5  # the seed's Normalize((0.5,)*3, (0.5,)*3), as in tiny_cnn_spec
_EVAL_BATCH = 500


@dataclass(frozen=True)
class TrainStep:
    """One mini-batch done.

    ``loss`` / ``batch_accuracy`` are this batch's mean cross-entropy and accuracy;
    ``running_loss`` / ``accuracy`` are over the epoch so far (what the seed printed); ``filters``
    is a CPU copy of ``conv1``'s weights ``(6, 3, 5, 5)``; ``previews`` holds the predicted classes
    of the preview test images every ``preview_every`` batches (else None).
    """

    epoch: int  # 1-based
    batch: int  # 1-based within the epoch
    batches: int  # batches per epoch
    step: int  # global batch count, 1-based
    loss: float
    running_loss: float
    accuracy: float
    batch_accuracy: float
    filters: torch.Tensor = field(repr=False)
    previews: tuple[int, ...] | None = None
    _net: nn.Module | None = field(default=None, repr=False, compare=False)

    def state_dict(self) -> StateDict:
        """A CPU copy of the weights after this batch.

        Valid while the generator is paused at this step (before the next one is pulled): what a
        caller keeps when it stops early.
        """
        if self._net is None:
            raise ValueError("this step carries no network")
        return _cpu_state(self._net)


@dataclass(frozen=True)
class EvalResult:
    """The network on the whole test set: before training (epoch 0), after each epoch.

    ``confusion[i, j]`` counts test images of class ``i`` predicted as ``j``. ``preview_images`` are
    uint8 ``(P, 32, 32, 3)`` test images (one per class first), ``preview_labels`` their true classes
    and ``previews`` the predicted ones. ``final`` marks the last result: save it with
    :func:`dreamlab.train.store.save_trained`.
    """

    epoch: int
    step: int
    accuracy: float
    loss: float
    confusion: np.ndarray = field(repr=False)
    classes: tuple[str, ...]
    config: TrainConfig = field(repr=False)
    state_dict: StateDict = field(repr=False)
    preview_images: np.ndarray = field(repr=False)
    preview_labels: tuple[int, ...] = ()
    previews: tuple[int, ...] = ()
    final: bool = False


@dataclass(frozen=True)
class LayerRow:
    """One layer of the small CNN: its name, what it is, its output shape and parameter count."""

    name: str
    kind: str  # the torch module's class: Conv2d, ReLU, MaxPool2d, Linear (or Flatten)
    detail: str  # its settings: "3 → 6, 5 x 5"
    output_shape: tuple[int, ...]
    params: int


# ---------------------------------------------------------------- helpers


def _cpu_state(net: nn.Module) -> StateDict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - _MEAN) / _STD  # (B, 3, 32, 32) in [-1, 1]


def _build(cfg: TrainConfig, num_classes: int, device: torch.device) -> nn.Module:
    """The seed's network with weights drawn from ``cfg.seed`` (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = TinyCNN(num_classes)
    return net.to(device)


def _optimizer(cfg: TrainConfig, net: nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.Adam(net.parameters(), lr=cfg.lr)


def _preview_index(labels: torch.Tensor, count: int) -> list[int]:
    """``count`` test images, the first of each class first (so every class shows up)."""
    firsts: dict[int, int] = {}
    for i, c in enumerate(labels.tolist()):
        firsts.setdefault(c, i)
        if len(firsts) == count:
            break
    chosen = sorted(firsts.values(), key=lambda i: int(labels[i]))[:count]
    taken = set(chosen)
    rest = (i for i in range(len(labels)) if i not in taken)
    return chosen + [next(rest) for _ in range(min(count, len(labels)) - len(chosen))]


@torch.no_grad()
def _predict(
    net: nn.Module, data: Dataset, index: list[int], device: torch.device
) -> tuple[int, ...]:
    if not index:
        return ()
    logits = net(_normalize(data.test.batch(torch.tensor(index), device)))  # (P, K)
    return tuple(logits.argmax(1).tolist())


@torch.no_grad()
def _test_pass(
    net: nn.Module, data: Dataset, device: torch.device
) -> tuple[float, float, np.ndarray]:
    """(accuracy, mean loss, confusion matrix) of ``net`` on the whole test split."""
    k = len(data.classes)
    confusion = torch.zeros(k * k, dtype=torch.int64)
    total_loss = 0.0
    for start in range(0, len(data.test), _EVAL_BATCH):
        sl = slice(start, start + _EVAL_BATCH)
        y = data.test.labels[sl]  # (B,)
        logits = net(_normalize(data.test.batch(sl, device))).float().cpu()  # (B, K)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        confusion += torch.bincount(y * k + logits.argmax(1), minlength=k * k)
    n = max(len(data.test), 1)
    matrix = confusion.view(k, k).numpy()
    return float(np.trace(matrix)) / n, total_loss / n, matrix


def _evaluate(
    net: nn.Module, data: Dataset, cfg: TrainConfig, epoch: int, step: int, final: bool
) -> EvalResult:
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    index = _preview_index(data.test.labels, cfg.previews)
    accuracy, loss, confusion = _test_pass(net, data, device)
    previews = _predict(net, data, index, device)
    net.train(was_training)
    return EvalResult(
        epoch=epoch,
        step=step,
        accuracy=accuracy,
        loss=loss,
        confusion=confusion,
        classes=data.classes,
        config=cfg,
        state_dict=_cpu_state(net),
        preview_images=data.test.uint8_images(index),
        preview_labels=tuple(int(data.test.labels[i]) for i in index),
        previews=previews,
        final=final,
    )


def _resolve(config: TrainConfig | None, overrides: Mapping[str, Any]) -> TrainConfig:
    return with_overrides(config or TrainConfig(), overrides, "training")


def _load(cfg: TrainConfig) -> Dataset:
    return load_dataset(
        cfg.dataset,
        train_size=cfg.train_size,
        test_size=cfg.test_size,
        seed=cfg.data_seed,
        root=cfg.data_root,
    )


# ---------------------------------------------------------------- the training loop


def _epoch(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    data: Dataset,
    cfg: TrainConfig,
    epoch: int,
    step: int,
    gen: torch.Generator,
) -> Iterator[TrainStep]:
    """One pass over the training split in a fresh random order."""
    device = next(net.parameters()).device
    order = torch.randperm(len(data.train), generator=gen)
    batches = math.ceil(len(order) / cfg.batch_size)
    preview_index = _preview_index(data.test.labels, cfg.previews)
    seen = correct = 0
    loss_sum = 0.0
    for b in range(batches):
        idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
        x = _normalize(data.train.batch(idx, device))  # (B, 3, 32, 32)
        y = data.train.labels[idx].to(device)  # (B,)
        logits = net(x)  # (B, K)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # gradients flow back through fc3 ... conv2 to the conv1 filters
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            raise ValueError(
                f"training diverged at epoch {epoch}, batch {b + 1} (the loss is {value}); "
                "try a smaller learning rate"
            )
        hits = int((logits.argmax(1) == y).sum())
        seen += len(idx)
        correct += hits
        loss_sum += value * len(idx)
        step += 1
        show = preview_index and (b + 1) % cfg.preview_every == 0
        yield TrainStep(
            epoch=epoch,
            batch=b + 1,
            batches=batches,
            step=step,
            loss=value,
            running_loss=loss_sum / seen,
            accuracy=correct / seen,
            batch_accuracy=hits / len(idx),
            filters=net.conv1.weight.detach().to("cpu", copy=True),  # (6, 3, 5, 5)
            previews=_predict_eval(net, data, preview_index, device) if show else None,
            _net=net,
        )


def _predict_eval(
    net: nn.Module, data: Dataset, index: list[int], device: torch.device
) -> tuple[int, ...]:
    """Predictions in eval mode (the small CNN has no dropout or batch norm, but stay correct)."""
    net.eval()
    try:
        return _predict(net, data, index, device)
    finally:
        net.train()


def train(config: TrainConfig | None = None, **overrides: Any) -> Iterator[TrainStep | EvalResult]:
    """Train the seed's small CNN, yielding a :class:`TrainStep` per batch and an
    :class:`EvalResult` before training and after each epoch (the last one ``final``).

    Settings come from ``config`` (default :class:`TrainConfig`) with ``overrides`` applied; a bad
    setting, an unavailable data set or a diverging loss raises ``ValueError`` with one line.
    """
    cfg = _resolve(config, overrides)
    device = resolve_device(cfg.device)
    with _cpu_threads(cfg.threads, device):
        data = _load(cfg)
        net = _build(cfg, len(data.classes), device)
        opt = _optimizer(cfg, net)
        gen = torch.Generator().manual_seed(cfg.seed)
        yield _evaluate(net, data, cfg, epoch=0, step=0, final=False)
        step = 0
        net.train()
        for epoch in range(1, cfg.epochs + 1):
            for item in _epoch(net, opt, data, cfg, epoch, step, gen):
                step = item.step
                yield item
            yield _evaluate(net, data, cfg, epoch=epoch, step=step, final=epoch == cfg.epochs)


@contextlib.contextmanager
def _cpu_threads(threads: int | None, device: torch.device) -> Iterator[None]:
    """Run with ``threads`` torch CPU threads, then restore the setting (process-wide in torch:
    the job gate keeps heavy jobs one at a time, so this run is the one that matters)."""
    before = torch.get_num_threads()
    change = threads is not None and device.type == "cpu" and threads != before
    if change:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


def evaluate_state(
    state_dict: Mapping[str, torch.Tensor], config: TrainConfig, *, epoch: int, step: int
) -> EvalResult:
    """A final :class:`EvalResult` for weights kept from a stopped run (a Stop mid-epoch)."""
    device = resolve_device(config.device)
    with _cpu_threads(config.threads, device):
        data = _load(config)
        net = TinyCNN(len(data.classes))
        try:
            net.load_state_dict(dict(state_dict))
        except RuntimeError:
            raise ValueError("these weights do not fit the small CNN for this data set") from None
        return _evaluate(net.to(device), data, config, epoch=epoch, step=step, final=True)


# ---------------------------------------------------------------- the architecture, computed


def _detail(module: nn.Module) -> str:
    """A layer's settings in a few characters (``3 -> 6, 5 x 5``), the same in every language."""
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size
        return f"{module.in_channels} → {module.out_channels}, {k[0]} x {k[1]}"
    if isinstance(module, nn.Linear):
        return f"{module.in_features} → {module.out_features}"
    if isinstance(module, nn.MaxPool2d):
        return f"{module.kernel_size} x {module.kernel_size}"
    return ""


def architecture(num_classes: int = 10) -> list[LayerRow]:
    """Each layer of the seed's network, in the order it runs, with its output shape for one
    3 x 32 x 32 image and its parameter count: measured by running it once with hooks, not
    hard-coded. The ``flatten`` between the convolutions and the first linear layer (a function,
    not a module) gets its own row."""
    net = TinyCNN(num_classes)
    seen: list[tuple[str, nn.Module, tuple[int, ...], tuple[int, ...]]] = []

    def record(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            seen.append((name, module, tuple(inputs[0].shape[1:]), tuple(out.shape[1:])))

        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in net.named_children()]
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, 32, 32))  # (1, 3, 32, 32)
    finally:
        for h in hooks:
            h.remove()
    rows: list[LayerRow] = []
    for name, module, in_shape, out_shape in seen:
        if rows and rows[-1].output_shape != in_shape:
            rows.append(LayerRow("flatten", "Flatten", "", in_shape, 0))
        params = sum(p.numel() for p in module.parameters())
        rows.append(LayerRow(name, type(module).__name__, _detail(module), out_shape, params))
    return rows
