"""The Triton form of the "area" E (CUDA), checked on the CPU through Triton's interpreter."""

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton", reason="Triton is not installed (PyTorch's CUDA wheels bring it)")

CHECK = r"""
import torch
from downscale.model import Downscaler
from downscale.kernels import fused_area

torch.manual_seed(0)
for ratio in (2, 4):
    model = Downscaler(ratio, width=8, arch="area").eval()
    torch.nn.init.normal_(model.correction.weight, std=0.3)
    torch.nn.init.normal_(model.features[0][1].weight, std=0.3)
    u8 = torch.randint(0, 256, (2, 3, 37, 53), dtype=torch.uint8)
    for x in (u8, u8.float() / 255, u8.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)):  # NCHW, float, NHWC
        w = model.fuse().kernel_weights(x.dtype)
        want = model(x)  # the CPU path: strips of torch convolutions
        got = fused_area(x, *w, ratio, torch.float32)
        assert got.shape == want.shape == (2, 3, 37 // ratio, 53 // ratio), got.shape
        assert got.is_contiguous(memory_format=torch.channels_last)
        assert (got - want).abs().max() < 1e-5, (ratio, x.dtype, (got - want).abs().max())
        half = fused_area(x, *w, ratio, torch.bfloat16)
        assert half.dtype == torch.bfloat16 and (half.float() - want).abs().max() > 0
print("ok")
"""


def test_triton_kernels_equal_the_convolutions():
    env = {**os.environ, "TRITON_INTERPRET": "1"}  # read when the kernels are defined: a fresh process
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_matches_cpu_within_a_level():
    from downscale import learned_resize

    x = torch.randint(0, 256, (4, 3, 256, 320), dtype=torch.uint8)
    for ratio in (2, 4):
        cpu = learned_resize(x, ratio)
        for dtype, levels in ((torch.float32, 1), (torch.bfloat16, 2), (torch.float16, 1)):
            gpu = learned_resize(x.cuda(), ratio, dtype=dtype).cpu()
            assert (gpu.int() - cpu.int()).abs().max() <= levels


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gradients_still_flow_in_eval_mode_on_cuda():
    from downscale.model import Downscaler

    model = Downscaler(2, width=8, arch="area").eval().cuda()
    x = torch.rand(1, 3, 32, 32, device="cuda", requires_grad=True)
    model(x).sum().backward()  # autograd takes the convolutions, not the kernels
    assert x.grad is not None and model.correction.weight.grad is not None
