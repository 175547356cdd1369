"""``python -m dreamlab`` / ``dreamlab``: the same backend API as the web app, from a shell.

Bad input of any kind exits with status 2 and one line ``error: ...`` on stderr (set
``DREAMLAB_DEBUG=1`` to see the traceback of an unexpected failure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dreamlab.validate import parse_float, parse_int

if TYPE_CHECKING:
    from dreamlab.models import LoadedModel

__all__ = ["CliError", "build_parser", "main"]


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _checked(parse: Callable[..., Any], *args: Any) -> Any:
    """A :mod:`dreamlab.validate` parser whose one-line error argparse shows as is."""
    try:
        return parse(*args)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    return _checked(parse_int, text, 1)


def _nonneg_int(text: str) -> int:
    return _checked(parse_int, text, 0)


def _finite_float(text: str) -> float:
    return _checked(parse_float, text)


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _nonneg_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text!r}")
    return value


def _vector(text: str) -> list[float]:
    """A JSON list of numbers, or a .json / .npy file holding one (a direction)."""
    path = Path(text)
    try:
        if path.suffix.lower() == ".npy" and path.is_file():
            import numpy as np

            data = np.load(path, allow_pickle=False).ravel().tolist()
        else:
            data = json.loads(path.read_text(encoding="utf-8") if path.is_file() else text)
        return [parse_float(str(float(v))) for v in data]
    except (ValueError, TypeError, OSError):
        raise argparse.ArgumentTypeError(
            f"expected a JSON list of numbers or a .json/.npy file, got {text!r}"
        ) from None


def _padding(text: str) -> int | str:
    if text in ("same", "valid"):
        return text
    return _nonneg_int(text)


# ---------------------------------------------------------------- commands


def _cmd_models(args: argparse.Namespace) -> None:
    from dreamlab.models import get_spec, list_models
    from dreamlab.models.weights import NoWeights
    from dreamlab.trained_store import register_saved_models

    register_saved_models()
    for info in list_models():
        # random weights ship with the code but are not "embedded" weights: say "untrained"
        untrained = isinstance(get_spec(info.name).weights, NoWeights)
        status = "untrained" if untrained else info.status
        print(f"{info.name}\t{status}\t{info.input_size}\t{info.num_layers} layers\t{info.note}")


def _cmd_layers(args: argparse.Namespace) -> None:
    from dreamlab.models import get_spec
    from dreamlab.trained_store import register_saved_models

    register_saved_models()
    spec = _model(args).spec if args.weights else get_spec(args.model)  # --weights: it fits
    for layer in spec.layers:
        print(layer + ("\t(default)" if layer == spec.default_layer else ""))


def _cmd_classify(args: argparse.Namespace) -> None:
    from dreamlab.backend import classify
    from dreamlab.images import load_image

    image = load_image(args.image)
    model = _model(args)
    for label, prob in classify(model, image.array, top=args.top):
        print(f"{label}\t{prob:.4f}")


def _cmd_convolve(args: argparse.Namespace) -> None:
    from dreamlab.convolution import ConvConfig, convolve, parse_kernel, to_display, to_gray
    from dreamlab.images import load_image
    from dreamlab.media import png_bytes

    if args.output.suffix.lower() != ".png":
        raise CliError(f"convolve writes a PNG: {args.output.name} should end in .png")
    if not args.output.parent.is_dir():
        raise CliError(f"folder {args.output.parent} does not exist")
    kernel = parse_kernel(args.kernel)
    config = ConvConfig(args.stride, args.padding, args.dilation, args.mode, args.boundary)
    image = load_image(args.image, max_side=None).array  # full size: a convolution is cheap
    out = convolve(to_gray(image) if args.gray else image, kernel, **config.to_dict())
    picture = to_display(out, args.view)
    params = {
        "command": "convolve",
        "image": args.image.name,
        "kernel": args.kernel,
        "weights": kernel.tolist(),
        **config.to_dict(),
        "view": args.view,
        "gray": args.gray,
        "output_shape": list(out.shape),
    }
    args.output.write_bytes(png_bytes(picture, params))  # version added by png_bytes
    print(f"{args.output}\t{picture.shape[1]}x{picture.shape[0]}")


def _cmd_dream(args: argparse.Namespace) -> None:
    from dreamlab.backend import dream
    from dreamlab.dream.config import PRESETS
    from dreamlab.dream.export import check_output, dream_model_name, dream_to_file
    from dreamlab.images import load_image

    check_output(args.output)  # before any work
    if _is_video(args.image, args.output):
        return _cmd_dream_video(args)
    noise = args.image == "noise"
    image = "noise" if noise else load_image(Path(args.image), max_side=None).array
    args.model = dream_model_name(args.model, args.preset)  # unset: the preset's own network
    model = _model(args)
    config = _dream_settings(
        args,
        model.name,
        max_side=args.max_side,
        zoom_frames=args.zoom_frames or None,
        zoom=args.zoom,
        rotate=args.rotate,
    )
    source = "noise" if noise else Path(args.image).name
    result = dream_to_file(
        image,
        model,
        args.output,
        config,
        source=source,
        fps=args.fps or 10,
        dreamer=_within_memory(dream),
        preset=PRESETS[args.preset].label_for(model.name) if args.preset else None,
    )
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    h, w = result.size
    print(f"{result.path}\t{w}x{h}\t{result.steps} steps\t{result.frames} frame(s)")


def _is_video(source: str, output: Path) -> bool:
    """A clip to dream frame by frame (a GIF is one unless the output is a PNG)."""
    from dreamlab.media import VIDEO_INPUT_SUFFIXES

    suffix = Path(source).suffix.lower()
    return suffix in VIDEO_INPUT_SUFFIXES and not (
        suffix == ".gif" and output.suffix.lower() == ".png"
    )


def _dream_settings(args: argparse.Namespace, model_name: str, **extra: Any) -> Any:
    """The DreamConfig the dream options make (a preset's settings under them), with ``extra``."""
    from dreamlab.dream.export import build_config
    from dreamlab.images import load_image

    guide = load_image(args.guide, max_side=None).array if args.guide else None
    return build_config(
        model_name,
        args.preset,
        layer=args.layer,
        channel=args.channel,
        num_octaves=args.octaves,
        octave_scale=args.octave_scale,
        iterations=args.iterations,
        lr=args.lr,
        jitter=args.jitter,
        smoothing=args.smoothing,
        seed=args.seed,
        guide=guide,
        precision=args.precision,
        objective=_dream_objective(args),
        logit=args.logit,
        direction=args.direction,
        transforms=args.transforms or None,
        **extra,
    )


def _cmd_dream_video(args: argparse.Namespace) -> None:
    """Dream a clip frame by frame to an MP4 (audio kept) or a GIF, with a progress line."""
    from dreamlab.backend import dream
    from dreamlab.dream.export import dream_model_name
    from dreamlab.dream.video import VideoConfig, dream_video, dream_video_to_file

    if args.output.suffix.lower() not in (".mp4", ".gif"):
        raise CliError(f"a video dream writes a .mp4 or .gif, not {args.output.name}")
    if args.zoom_frames:
        raise CliError("--zoom-frames is for photos: a video's frames come from the clip")
    video = VideoConfig(
        coherence=args.coherence,
        blend=args.blend if args.blend is not None else VideoConfig.blend,
        start=args.start,
        end=args.end,
        fps=args.fps,
        max_side=args.max_side or VideoConfig.max_side,
    )
    args.model = dream_model_name(args.model, args.preset)
    model = _model(args)
    config = _dream_settings(args, model.name)
    run = dream_video(Path(args.image), model, config, video, dreamer=_within_memory(dream))
    progress = _VideoProgress(run.total)
    try:
        path, frames = dream_video_to_file(
            run, args.output, audio_from=Path(args.image), audio_start=video.start,
            on_frame=progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        progress.end()
        done = progress.frames
        print(f"stopped: {args.output} keeps the {done} frame(s) made", file=sys.stderr)
        raise
    progress.end()
    h, w = (run.info.height, run.info.width)
    print(f"{path}\t{frames} frame(s)\t{run.fps:g} fps\tfrom {Path(args.image).name} ({w}x{h})")


class _VideoProgress:
    """The one progress line of a video dream on stderr: frames done, speed, time left."""

    def __init__(self, total: int) -> None:
        self.total, self.frames = total, 0
        self._tty = sys.stderr.isatty()

    def __call__(self, step: Any) -> None:
        self.frames = step.frames_done
        eta = step.eta
        left = f"{int(eta // 60)}:{int(eta % 60):02d} left" if eta is not None else ""
        line = f"frame {step.frames_done}/{step.total}  {step.fps:.2f} fps  {left}"
        print(("\r" + line) if self._tty else line, end="" if self._tty else "\n", file=sys.stderr)
        sys.stderr.flush()

    def end(self) -> None:
        if self._tty and self.frames:
            print(file=sys.stderr)


def _within_memory(dreamer: Any) -> Any:
    """``dreamer``, refusing (one line, exit 2) a dream this machine's memory budget cannot hold."""
    from dreamlab.budget import shared_budget
    from dreamlab.job_costs import dream_run_cost

    def checked(image: Any, model: Any, config: Any = None, **kw: Any) -> Any:
        run = dreamer(image, model, config, **kw)
        refused = shared_budget().refusal(dream_run_cost(model, run))
        if refused is not None:
            run.close()
            raise refused
        return run

    return checked


def _dream_objective(args: argparse.Namespace) -> str | None:
    """--objective, or the one that --logit, --direction or --neuron imply (None: the config's)."""
    if args.objective is not None:
        return args.objective
    if args.logit is not None:
        return "logit"
    if args.direction is not None:
        return "direction"
    return "neuron" if args.neuron else None


def _cmd_visualize(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from dreamlab.backend import visualize
    from dreamlab.media import png_bytes
    from dreamlab.optvis import FeatureVisConfig, as_objective, neuron

    if args.output.suffix.lower() != ".png":
        raise CliError(f"visualize writes a PNG: {args.output.name} should end in .png")
    if not args.output.parent.exists():
        raise CliError(f"cannot write {args.output}: no folder {args.output.parent}")
    if args.neuron and args.channel is None:
        raise CliError("--neuron needs --channel (the neuron is that channel at the centre)")
    given = {
        "steps": args.steps,
        "size": args.size,
        "param": args.param,
        "lr": args.lr,
        "seed": args.seed,
        "octaves": args.octaves,
        "octave_scale": args.octave_scale,
    }
    config = FeatureVisConfig(
        decorrelate=not args.no_decorrelate,
        transforms=not args.no_transforms,
        upsample=not args.no_upsample,
        **{k: v for k, v in given.items() if v is not None},
    )
    config = replace(config, thresholds=(config.steps,))  # only the last frame is kept
    model = _model(args)
    target = args.layer if args.channel is None else f"{args.layer}:{args.channel}"
    objective = neuron(args.layer, args.channel) if args.neuron else as_objective(target)
    frame = list(visualize(model, objective, config))[-1]  # thresholds: only the last frame
    params = {
        "command": "visualize",
        "model": model.name,
        "objective": objective.name,
        "objective_value": frame.loss,
        **config.to_dict(),
    }
    args.output.write_bytes(png_bytes(frame.image, params))
    size, value = f"{config.size}x{config.size}", f"{frame.loss:.4g}"
    print(f"{args.output}\t{size}\t{config.steps} steps\t{objective.name} = {value}")


def _cmd_train(args: argparse.Namespace) -> None:
    from dreamlab import trained_store as store
    from dreamlab.datasets import dataset_status, download_dataset
    from dreamlab.training import EvalResult, TrainConfig, train

    settings = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "train_size": args.train_size,
        "seed": args.seed,
        "device": args.device,
    }
    config = TrainConfig(
        dataset=args.dataset, **{k: v for k, v in settings.items() if v is not None}
    )
    if args.output is None and args.save is None:
        raise CliError("say where the trained model goes: -o FILE, --save NAME, or both")
    if args.output is not None and not args.output.parent.is_dir():  # fail before training
        raise CliError(f"folder {args.output.parent} does not exist")
    if args.save is not None:
        store.register_saved_models()
        store.check_new_name(args.save)
    if dataset_status(config.dataset)[0] == "downloadable":
        for done, _total in download_dataset(config.dataset):
            print(f"\rdownloading {config.dataset}: {done / 1e6:.0f} MB", end="", file=sys.stderr)
        print(file=sys.stderr)
    final, step = None, None
    for item in train(config):
        if not isinstance(item, EvalResult):
            step = item
            continue
        done = f"train loss {step.running_loss:.4f}  acc {step.accuracy:.4f}  " if step else ""
        print(f"epoch {item.epoch}/{config.epochs}  {done}test acc {item.accuracy:.4f}", flush=True)
        final = item if item.final else final
    if args.output is not None:
        store.save_trained(args.output, final)
        print(f"saved {args.output} (test accuracy {final.accuracy:.1%}, {config.dataset})")
    if args.save is not None:
        store.save_model(final, args.save)
        print(f"saved for everyone as the model {args.save} (use --model {args.save})")


def _cmd_serve(args: argparse.Namespace) -> None:
    try:  # optional: pip install "dreamlab[serve]"
        import fastapi  # noqa: F401
        import ray  # noqa: F401
    except ImportError:
        raise CliError('dreamlab serve needs Ray Serve: pip install "dreamlab[serve]"') from None
    from dreamlab.serve.app import serve_forever
    from dreamlab.serve.service import Caps

    token = _serve_token(args.token_file)
    caps = Caps(max_batch=args.max_batch, max_waiting=args.queue, gather_s=args.gather)
    ready = lambda url: print(f"DreamLab backend on {url} (Ctrl-C stops it)", flush=True)  # noqa: E731
    batching = {"auto": None, "on": True, "off": False}[args.batching]
    serve_forever(
        args.host,
        args.port,
        args.device,
        args.address,
        ready,
        batching,
        replicas=args.replicas,
        token=token,
        caps=caps,
    )


def _serve_token(path: Path | None) -> str | None:
    """The service's bearer token: the file's first line (``--token-file``), else
    DREAMLAB_SERVE_TOKEN, else None (open to anyone who reaches the port)."""
    if path is None:
        return os.environ.get("DREAMLAB_SERVE_TOKEN", "").strip() or None
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read the token file ({exc})") from None
    if not lines or not lines[0].strip():
        raise CliError(f"{path}: the token file is empty")
    return lines[0].strip()


def _cmd_benchmark(args: argparse.Namespace) -> None:
    from dreamlab.benchmark import run_benchmark, summary_lines

    if args.json is not None and not args.json.parent.exists():
        raise CliError(f"cannot write {args.json}: the folder {args.json.parent} does not exist")
    result = run_benchmark(
        args.device,
        quick=args.quick,
        progress=lambda msg: print(f"... {msg}", file=sys.stderr),
        only=args.only,
    )
    for line in summary_lines(result):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- parser


def _add_common_model(
    p: argparse.ArgumentParser, *, device: bool = True, positional: bool = False
) -> None:
    """--model (or a positional MODEL), --weights FILE and --device."""
    what = "model name (see `dreamlab models`, saved models included)"
    if positional:
        p.add_argument("model", help=what)
    else:
        p.add_argument("--model", default="efficientnet_lite0", help=what)
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="a state dict for this architecture (e.g. from `dreamlab train -o`), "
        "read with weights_only=True",
    )
    if device:
        p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def _model(args: argparse.Namespace) -> LoadedModel:
    """The model --model names (saved models registered first) with --weights' weights; a
    DreamLab checkpoint's class names replace the architecture's."""
    from dreamlab.models import load_model
    from dreamlab.trained_store import register_saved_models, trained_classes

    register_saved_models()
    model = load_model(args.model, device=getattr(args, "device", "cpu"), weights=args.weights)
    model.categories = (trained_classes(args.weights) if args.weights else None) or model.categories
    return model


_CONFIG_DEFAULT = "default: the config's (see FeatureVisConfig)"


def _add_dream_objective(p: argparse.ArgumentParser) -> None:
    """What the dream makes grow (DreamConfig.objective) and the feature-vis transforms."""
    p.add_argument(
        "--objective",
        choices=("layer", "neuron", "direction", "logit"),
        default=None,
        help="layer (default: the layer's norm, or --channel's), neuron (--channel "
        "at the centre), direction (--direction) or logit (--logit)",
    )
    p.add_argument("--neuron", action="store_true", help="dream the centre neuron of --channel")
    p.add_argument(
        "--logit",
        type=_nonneg_int,
        default=None,
        help="dream class N's logit (e.g. 281, tabby cat, on ImageNet models)",
    )
    p.add_argument(
        "--direction",
        type=_vector,
        default=None,
        help="a JSON list (or .json/.npy file) of one number per channel of --layer",
    )
    p.add_argument(
        "--transforms",
        action="store_true",
        help="also apply feature visualization's transforms (pad, jitter, scale, "
        "rotate) at each step",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command, its options and their help."""
    from dreamlab import __version__

    parser = _Parser(prog="dreamlab", description="See inside convolutional networks.")
    parser.add_argument("--version", action="version", version=f"dreamlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("models", help="list models and whether their weights are here").set_defaults(
        func=_cmd_models
    )
    p = sub.add_parser("layers", help="list a model's layer names")
    _add_common_model(p, device=False, positional=True)
    p.set_defaults(func=_cmd_layers)

    p = sub.add_parser("classify", help="top ImageNet classes of an image")
    p.add_argument("image", type=Path)
    _add_common_model(p)
    p.add_argument("--top", type=_positive_int, default=5)
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("convolve", help="convolve an image with a kernel")
    p.add_argument("image", type=Path)
    p.add_argument("--kernel", required=True, help="a preset name or a JSON list of rows")
    p.add_argument("-o", "--output", required=True, type=Path)
    p.add_argument("--stride", type=_positive_int, default=1)
    p.add_argument("--padding", type=_padding, default=0, help="pixels, same or valid")
    p.add_argument("--dilation", type=_positive_int, default=1)
    p.add_argument("--mode", choices=("correlate", "convolve"), default="correlate")
    p.add_argument(
        "--boundary", choices=("zeros", "reflect", "replicate", "circular"), default="zeros"
    )
    p.add_argument(
        "--view",
        choices=("abs", "signed", "clip"),
        default="abs",
        help="how signed outputs become pixels",
    )
    color = p.add_mutually_exclusive_group()  # grayscale by default, as the Convolution page
    color.add_argument(
        "--gray", dest="gray", action="store_true", default=True, help="grayscale (the default)"
    )
    color.add_argument(
        "--rgb", dest="gray", action="store_false", help="each RGB channel convolved apart"
    )
    p.set_defaults(func=_cmd_convolve)

    p = sub.add_parser("dream", help="DeepDream a photo (or noise), or a video frame by frame")
    p.add_argument("image", help="an image file, `noise`, or a clip (.mp4 .webm .mov .gif)")
    p.add_argument("-o", "--output", required=True, type=Path, help=".png, .gif or .mp4")
    _add_common_model(p)
    p.set_defaults(model=None)  # None: the preset's own network, else efficientnet_lite0
    p.add_argument("--layer", default=None)
    p.add_argument("--channel", type=_nonneg_int, default=None)
    p.add_argument("--preset", default=None, help="seed, google2015 or gordic")
    p.add_argument("--octaves", type=_positive_int, default=None)
    p.add_argument("--octave-scale", type=_finite_float, default=None)
    p.add_argument("--iterations", type=_positive_int, default=None)
    p.add_argument("--lr", type=_finite_float, default=None)
    p.add_argument("--jitter", type=_nonneg_int, default=None)
    p.add_argument(
        "--smoothing", type=_finite_float, default=None, help="gradient smoothing (0 = off)"
    )
    p.add_argument("--max-side", type=_positive_int, default=None)
    p.add_argument("--seed", type=_nonneg_int, default=None)
    p.add_argument("--guide", type=Path, default=None, help="guide image (guided dream)")
    p.add_argument("--zoom-frames", type=_nonneg_int, default=0, help="zoom loop: extra frames")
    p.add_argument("--zoom", type=_finite_float, default=None, help="zoom per loop frame (1.05)")
    p.add_argument("--rotate", type=_finite_float, default=None, help="degrees per loop frame")
    p.add_argument(
        "--fps",
        type=_positive_float,
        default=None,
        help="frames per second of a GIF/MP4 (default 10); of a video dream: at most the clip's "
        "(default: the clip's)",
    )
    p.add_argument("--start", type=_nonneg_float, default=0.0, help="video: start, in seconds")
    p.add_argument("--end", type=_nonneg_float, default=None, help="video: end, in seconds")
    p.add_argument(
        "--coherence",
        choices=("flow", "blend", "none"),
        default="flow",
        help="video: carry the dream along the optical flow (flow), mix in the last dreamed "
        "frame (blend), or dream each frame alone (none)",
    )
    p.add_argument(
        "--blend", type=_finite_float, default=None, help="video: share of the dream carried (0.9)"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default=None,
        help="auto: bf16/fp16 on CUDA, fp32 elsewhere; bf16 speeds up VGG on CPUs "
        "with native bf16 (AVX512-BF16, AMX)",
    )
    _add_dream_objective(p)
    p.set_defaults(func=_cmd_dream)

    p = sub.add_parser("visualize", help="feature visualization from noise")
    p.add_argument("-o", "--output", required=True, type=Path)
    _add_common_model(p)
    p.add_argument("--layer", required=True, help="a layer (see `dreamlab layers`), or logits")
    p.add_argument("--channel", type=_nonneg_int, default=None)
    p.add_argument("--steps", type=_positive_int, default=None, help=_CONFIG_DEFAULT)
    p.add_argument("--size", type=_positive_int, default=None, help="image side in pixels")
    p.add_argument("--param", choices=("fft", "pixel"), default=None, help=_CONFIG_DEFAULT)
    p.add_argument("--no-decorrelate", action="store_true")
    p.add_argument("--no-transforms", action="store_true")
    p.add_argument("--seed", type=_nonneg_int, default=None)
    p.add_argument("--neuron", action="store_true", help="the centre neuron of --channel")
    p.add_argument("--lr", type=_finite_float, default=None, help="Adam learning rate")
    p.add_argument(
        "--octaves",
        type=_positive_int,
        default=None,
        help="render at N growing sizes, smallest first, the steps shared out",
    )
    p.add_argument(
        "--octave-scale", type=_finite_float, default=None, help="size ratio between octaves"
    )
    p.add_argument(
        "--no-upsample",
        action="store_true",
        help="feed the image at --size (faster) instead of the model's input size",
    )
    p.set_defaults(func=_cmd_visualize)

    p = sub.add_parser("train", help="train the seed's small CNN")
    p.add_argument(
        "--dataset", choices=("shapes", "cifar10", "mnist", "fashion_mnist"), default="shapes"
    )
    p.add_argument("--epochs", type=_positive_int, default=None)
    p.add_argument("--lr", type=_finite_float, default=None)
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    p.add_argument("--momentum", type=_finite_float, default=None, help="SGD momentum (0.9)")
    p.add_argument("--train-size", type=_positive_int, default=None, help="training images")
    p.add_argument("--seed", type=_nonneg_int, default=None)
    p.add_argument("--device", default=None, help="auto (the default), cpu, cuda or mps")
    p.add_argument("-o", "--output", type=Path, default=None, help="write the checkpoint here")
    p.add_argument(
        "--save",
        default=None,
        metavar="NAME",
        help="save for everyone as the model NAME (then --model NAME)",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("benchmark", help="measure DreamLab's engine against the seed's loop")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    p.add_argument(
        "--only",
        choices=["engine", "contention", "video"],
        default=None,
        help="run only the engine-vs-seed cases, the contention case, or the video dream's "
        "speed and flicker",
    )
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser(
        "serve", help="run the backend as a Ray Serve service (pip install dreamlab[serve])"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_positive_int, default=8000)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument(
        "--address", default=None, help="a Ray cluster (default: RAY_ADDRESS, else local)"
    )
    p.add_argument(
        "--batching",
        choices=("auto", "on", "off"),
        default="auto",
        help="batch concurrent dreams' steps (auto: on a GPU only)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="a file holding the token clients must send (default: DREAMLAB_SERVE_TOKEN)",
    )
    p.add_argument(
        "--replicas", type=_positive_int, default=1, help="Ray Serve replicas (one GPU each)"
    )
    p.add_argument(
        "--max-batch",
        type=_positive_int,
        default=32,
        help="most dream steps in one batch (lowered by itself if the device runs out of memory)",
    )
    p.add_argument(
        "--queue", type=_positive_int, default=256, help="most jobs waiting for a seat (503 beyond)"
    )
    p.add_argument(
        "--gather",
        type=_nonneg_float,
        default=10.0,
        help="with batching, the most seconds a dream waits to start in step with others "
        "(the dreams pressed with it, or after the ones running now; 0: never)",
    )
    p.set_defaults(func=_cmd_serve)
    for name in ("classify", "dream", "visualize"):  # the heavy commands: --backend URL
        sub.choices[name].add_argument(
            "--backend", default=None, help="a `dreamlab serve` URL (default: DREAMLAB_BACKEND)"
        )
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user."""
    from dreamlab.images import ImageError
    from dreamlab.models import ModelError

    return (CliError, ImageError, ModelError, ValueError, FileNotFoundError, PermissionError)


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on bad input (one line on stderr)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0): a status, as documented
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        from dreamlab.backend import backend_for

        with backend_for(getattr(args, "backend", None)):  # --backend: for this command only
            func(args)
    except KeyboardInterrupt:
        return 130
    except _user_errors() as exc:
        return _fail(str(exc))
    except Exception as exc:  # never a traceback for the user, unless asked
        if os.environ.get("DREAMLAB_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
