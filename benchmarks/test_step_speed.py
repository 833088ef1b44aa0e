"""pytest-benchmark tests of Trainer.step() for the five variants: `nox -s benchmark` (never part of `nox -s tests`).

Small (toy MLP) and medium (DCGAN 28x28) models, on the CPU always and on CUDA when present
(the CUDA cases carry the `cuda` marker: `-m cuda` selects them). The nox session saves every
run and shows it beside the previous one of this machine; it judges nothing (the speed gate,
`--compare`, decides).
"""

import pytest
import torch

from wgan_core import VARIANTS, RunConfig, Trainer

SIZES = {
    "small": ("8gaussians", dict(width=128, batch_size=128)),
    "medium": ("fashion-mnist", dict(width=32, batch_size=32, z_dim=64)),
}
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                                  reason="needs a CUDA device")])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step(benchmark, variant, size, device):
    dataset, over = SIZES[size]
    config = RunConfig.preset(variant, dataset, device=device, **over)
    images = None
    if config.kind == "image":  # random images: speed does not depend on content, and no data set is needed
        images = torch.randint(0, 256, (2048, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(config, images=images)
    for _ in range(2):  # warm-up (allocator, cuDNN autotuning)
        trainer.step()
    if device == "cuda":
        def step():
            trainer.step()
            torch.cuda.synchronize()  # time the work, not its queueing
    else:
        step = trainer.step
    benchmark.extra_info.update(variant=variant, size=size, device=device, threads=torch.get_num_threads())
    benchmark.pedantic(step, rounds=10 if size == "medium" else 20, warmup_rounds=1, iterations=1)
