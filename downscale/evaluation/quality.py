"""Thumbnail quality against a reference thumbnail: PSNR and SSIM (scikit-image), colour statistics shift."""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def thumbnail_quality(thumbs: torch.Tensor, reference: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image quality of float ``[N, 3, h, w]`` thumbnails in [0, 1] against a reference batch.

    Returns arrays of length N: ``psnr`` (dB, ``inf`` where identical), ``ssim`` (SSIM over RGB,
    7x7 window, or the largest odd window a tiny thumbnail allows), and ``[N, 3]`` arrays
    ``mean_shift`` / ``std_shift``: per-channel mean and standard deviation of the thumbnail minus
    those of the reference (in [0, 1] units; a colour cast shows as a non-zero mean shift).
    """
    if thumbs.shape != reference.shape:
        raise ValueError(f"thumbnail {tuple(thumbs.shape)} and reference {tuple(reference.shape)} differ in shape")
    a = thumbs.detach().cpu().float().permute(0, 2, 3, 1).numpy()
    b = reference.detach().cpu().float().permute(0, 2, 3, 1).numpy()
    # float32 halves SSIM's time; statistics accumulate in float64
    win = min(7, *(s if s % 2 else s - 1 for s in a.shape[1:3]))
    psnr, ssim = [], []
    for x, ref in zip(a, b):
        with np.errstate(divide="ignore"):  # identical images: PSNR is inf
            psnr.append(peak_signal_noise_ratio(ref, x, data_range=1.0))
        ssim.append(structural_similarity(ref, x, data_range=1.0, channel_axis=-1, win_size=win))
    return {
        "psnr": np.array(psnr),
        "ssim": np.array(ssim),
        "mean_shift": a.mean(axis=(1, 2), dtype=np.float64) - b.mean(axis=(1, 2), dtype=np.float64),
        "std_shift": a.std(axis=(1, 2), dtype=np.float64) - b.std(axis=(1, 2), dtype=np.float64),
    }
