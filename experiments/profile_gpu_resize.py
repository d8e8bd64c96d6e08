"""GPU: learned_resize on CUDA (1-MP uint8 batches, uint8 out) with the Triton kernels
(downscale.kernels) against the same E through cuDNN's convolutions. Prints one line per case."""

import torch

import downscale.model
from downscale.evaluation.cost import median_time
from downscale.resize import learned_resize

print(torch.__version__, torch.cuda.get_device_name())
for batch in (16, 64):
    u8 = torch.randint(0, 256, (batch, 3, 1024, 1024), dtype=torch.uint8, device="cuda")
    for ratio in (2, 4):
        for dtype in (torch.bfloat16, torch.float16, torch.float32):
            for triton in (True, False):
                downscale.model.TRITON = triton
                t = median_time(lambda: learned_resize(u8, ratio, dtype=dtype), 20, 3, sync=True)
                print(f"batch {batch} ratio {ratio} {str(dtype)[6:]:8} {'Triton' if triton else 'cuDNN '}: "
                      f"{t * 1e3:7.3f} ms, {batch * 2**20 / t / 1e9:5.1f} GP/s", flush=True)
downscale.model.TRITON = True
