"""ThumbNet's losses: MM (moment matching), KD (distillation), CL (classification), FM (feature mapping)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def moment_matching(thumb: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """MM: squared gaps of per-channel mean and variance between ``[N, C, h, w]`` and ``[N, C, H, W]``.

    Averaged over images and channels; 0 when each channel has the same mean and variance.
    """
    t, x = thumb.float().flatten(2), image.float().flatten(2)
    mean_gap = t.mean(-1) - x.mean(-1)
    var_gap = t.var(-1, unbiased=False) - x.var(-1, unbiased=False)
    return (mean_gap.square() + var_gap.square()).mean()


def colour_shift(thumb: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Mean absolute gap of per-channel means between ``[N, C, h, w]`` and ``[N, C, H, W]`` (a colour
    cast); unlike MM's squared gap it keeps pulling when the gap is already small."""
    return (thumb.float().mean((-2, -1)) - image.float().mean((-2, -1))).abs().mean()


def distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float) -> torch.Tensor:
    """KD: ``tau**2 * KL(softmax(teacher / tau) || softmax(student / tau))``, mean over the batch."""
    log_p_student = F.log_softmax(student_logits.float() / tau, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / tau, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True) * tau**2


def classification(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CL: cross-entropy of ``[N, K]`` logits against logit indices ``[N]``."""
    return F.cross_entropy(logits.float(), target)


def feature_mapping(decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """FM: mean squared error between the decoded student features and the teacher's."""
    return F.mse_loss(decoded.float(), target.float())


class FMDecoder(nn.Module):
    """Maps S's features at a layer (thumbnail scale) to T's at the same layer (full scale).

    ``log2(ratio)`` stride-2 transposed convolutions (kernel 4, padding 1: each exactly doubles the
    side), BN + ReLU between them. ``[N, C, h, w] -> [N, C, h * ratio, w * ratio]``.
    """

    def __init__(self, channels: int, ratio: int):
        super().__init__()
        steps = int(math.log2(ratio))
        if 2**steps != ratio:
            raise ValueError(f"FMDecoder needs a power-of-two ratio, got {ratio!r}")
        layers: list[nn.Module] = []
        for i in range(steps):
            layers.append(nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1))
            if i < steps - 1:
                layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
