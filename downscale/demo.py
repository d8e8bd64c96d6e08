"""``downscale demo``: scikit-image's sample photos through the shipped downscaler, beside bicubic."""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageDraw
from skimage import data
from skimage.metrics import peak_signal_noise_ratio

from .images import write_image
from .pretrained import default_weights, list_pretrained
from .resize import learned_resize

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def run_demo(outdir: Path, ratio: int, weights: str | None = None, overwrite: bool = False) -> list[Path]:
    """Write each photo's thumbnails by ``learned_resize`` (label ``downscale``) and Pillow's bicubic, and
    ``comparison.png``; returns the paths.

    ``weights``: a registry name or file; default learned_resize's default for the ratio. Raises
    FileExistsError naming the first file that exists (before writing any) unless ``overwrite``.
    """
    names = [f"{photo}_{label}_r{ratio}.png" for photo in PHOTOS for label in ("downscale", "bicubic")]
    taken = [outdir / n for n in [*names, f"comparison_r{ratio}.png"] if os.path.lexists(outdir / n)]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]} exists ({len(taken)} of the demo's files do); "
                              "use --overwrite to replace them, or another -o")
    outdir.mkdir(parents=True, exist_ok=True)
    name = weights or default_weights(ratio)
    meta = list_pretrained(all=True).get(name, {})
    click.echo(f"downscaler: {name} ({'learned' if meta.get('learned') else 'NOT learned'}: {meta.get('summary', '')})")
    rows, written = [], []
    for photo in PHOTOS:
        original = Image.fromarray(getattr(data, photo)())
        thumb = learned_resize(original, ratio, weights=name)
        bicubic = original.resize(thumb.size, Image.Resampling.BICUBIC)
        for label, img in (("downscale", thumb), ("bicubic", bicubic)):
            path = outdir / f"{photo}_{label}_r{ratio}.png"
            write_image(img, path, fmt="PNG", overwrite=True)
            written.append(path)
        psnr = peak_signal_noise_ratio(np.asarray(bicubic), np.asarray(thumb), data_range=255)
        click.echo(f"{photo:10s} {original.width}x{original.height} -> {thumb.width}x{thumb.height}  "
                   f"PSNR(downscale vs Pillow bicubic) {psnr:.1f} dB")
        rows.append((original, bicubic, thumb))
    path = outdir / f"comparison_r{ratio}.png"
    write_image(_grid(rows, ratio), path, fmt="PNG", overwrite=True)
    written.append(path)
    click.echo(f"wrote {len(written)} files to {outdir}/ (side by side: {path})")
    return written


def _grid(rows, ratio: int) -> Image.Image:
    """original | Pillow bicubic | downscale per row; thumbnails enlarged with nearest-neighbour to be seen."""
    cell = 256
    canvas = Image.new("RGB", (3 * cell, 20 + len(rows) * cell), "white")
    draw = ImageDraw.Draw(canvas)
    for i, title in enumerate(("original", f"Pillow bicubic /{ratio}", f"downscale /{ratio}")):
        draw.text((i * cell + 4, 4), title, fill="black")
    for r, images in enumerate(rows):
        for c, img in enumerate(images):
            scale = cell / max(img.size)
            shown = img.convert("RGB").resize(
                (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                Image.Resampling.LANCZOS if c == 0 else Image.Resampling.NEAREST)
            canvas.paste(shown, (c * cell, 20 + r * cell))
    return canvas
