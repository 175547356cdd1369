"""Image convolution as a CNN layer computes it, in three parts:

- :mod:`~dreamlab.convolution.ops`: ``convolve`` with stride, padding, dilation and boundaries,
  output sizes, the pixel inspector's window, ``to_gray``;
- :mod:`~dreamlab.convolution.kernels`: the preset kernels, the kernel parser and its checks;
- :mod:`~dreamlab.convolution.display`: views of an output through one colour map, colour bars.

``from dreamlab.convolution import convolve, preset_kernel, to_display`` names the public API.
"""

from dreamlab.convolution.display import DEFAULT_VIEW, VIEWS, colorbar, display_limits, to_display
from dreamlab.convolution.kernels import (
    MAX_KERNEL_SIDE,
    PRESETS,
    KernelError,
    Preset,
    default_sigma,
    kernel_sum,
    normalize_sum,
    parse_kernel,
    preset_kernel,
)
from dreamlab.convolution.ops import (
    BOUNDARIES,
    MODES,
    ConvConfig,
    Window,
    convolve,
    output_shape,
    output_size,
    pad_amounts,
    sample_padded,
    to_gray,
    window,
)

__all__ = [
    "BOUNDARIES",
    "DEFAULT_VIEW",
    "MAX_KERNEL_SIDE",
    "MODES",
    "PRESETS",
    "VIEWS",
    "ConvConfig",
    "KernelError",
    "Preset",
    "Window",
    "colorbar",
    "convolve",
    "default_sigma",
    "display_limits",
    "kernel_sum",
    "normalize_sum",
    "output_shape",
    "output_size",
    "pad_amounts",
    "parse_kernel",
    "preset_kernel",
    "sample_padded",
    "to_display",
    "to_gray",
    "window",
]
