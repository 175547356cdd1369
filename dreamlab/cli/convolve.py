"""``dreamlab convolve IMAGE --kernel NAME|JSON -o OUT.png``: one convolution, as a picture whose
PNG metadata holds every parameter. Choices and defaults are the convolution's own."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamlab.cli.args import CliError, padding, positive_int

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    from dreamlab.convolution import BOUNDARIES, DEFAULT_VIEW, MODES, VIEWS, ConvConfig

    conv = ConvConfig()
    p = sub.add_parser("convolve", help="convolve an image with a kernel")
    p.add_argument("image", type=Path)
    p.add_argument("--kernel", required=True, help="a preset name or a JSON list of rows")
    p.add_argument("-o", "--output", required=True, type=Path)
    p.add_argument("--stride", type=positive_int, default=conv.stride)
    p.add_argument("--padding", type=padding, default=conv.padding, help="pixels, same or valid")
    p.add_argument("--dilation", type=positive_int, default=conv.dilation)
    p.add_argument("--mode", choices=MODES, default=conv.mode)
    p.add_argument("--boundary", choices=BOUNDARIES, default=conv.boundary)
    views = (DEFAULT_VIEW, *(v for v in VIEWS if v != DEFAULT_VIEW))  # the default first
    p.add_argument(
        "--view", choices=views, default=DEFAULT_VIEW, help="how signed outputs become pixels"
    )
    color = p.add_mutually_exclusive_group()  # grayscale by default, as the Convolution page
    color.add_argument(
        "--gray", dest="gray", action="store_true", default=True, help="grayscale (the default)"
    )
    color.add_argument(
        "--rgb", dest="gray", action="store_false", help="each RGB channel convolved apart"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
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
