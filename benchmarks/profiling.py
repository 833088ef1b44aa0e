"""torch.profiler over a trainer's steps, for `throughput.py --profile N`: the operator table and each operator group's share."""

from __future__ import annotations

from pathlib import Path

# Operator groups for the profile's summary: what a step spends its time on (by operator name).
OP_GROUPS = {
    "convolution": ("conv", "cudnn", "mkldnn"),
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear", "aten::matmul"),
    "normalisation": ("group_norm", "batch_norm", "layer_norm"),
    "clipping": ("_foreach_clamp",),
    "optimizer": ("adam", "rmsprop", "optimizer"),
}


def profile_name(config, device: str) -> str:
    """profile_<device>_<arch><resolution>_w<width>_b<batch>_<dtype>[_channels_last][_compile]_<variant>.txt"""
    res = "" if config.kind == "toy" else str(config.resolution or 28)
    extra = ("_channels_last" if config.channels_last else "") + ("_compile" if config.compile else "")
    dtype = "bf16" if config.amp == "bf16" else "fp32"
    return f"profile_{device}_{config.arch}{res}_w{config.width}_b{config.batch_size}_{dtype}{extra}_{config.label}.txt"


def profile(trainer, iters: int, path: Path) -> str:
    """torch.profiler over `iters` generator iterations: the operator table (by self time) to `path`.

    Returns a one-line summary: the share of self time per operator group (OP_GROUPS). On the
    CPU, CPU operators' self time; on a GPU, the device time of the kernels each operator
    launched, counted once, under the launching operator's name (not the kernels' own names).
    """
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    cuda = trainer.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with torch_profile(activities=activities) as prof:
        for _ in range(iters):
            trainer.step()
        if cuda:
            torch.cuda.synchronize()
    events = prof.key_averages()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    ops = [e for e in events if e.device_type == DeviceType.CPU]  # kernels are counted through their operators
    total = sum(getattr(e, key) for e in ops) or 1.0
    shares = dict.fromkeys([*OP_GROUPS, "other"], 0.0)
    for e in ops:
        group = next((g for g, words in OP_GROUPS.items() if any(w in e.key.lower() for w in words)), "other")
        shares[group] += getattr(e, key) / total
    summary = ", ".join(f"{g} {100 * v:.1f}%" for g, v in shares.items())
    c = trainer.config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {iters} generator iterations of {c.label}: {c.arch}, resolution {c.resolution or 'native'}, width {c.width}, "
        f"batch {c.batch_size}, amp {c.amp}, channels_last {c.channels_last}, compile {c.compile}, on {trainer.device} "
        f"({torch.get_num_threads()} threads)\n# share of {key}: {summary}\n\n"
        + events.table(sort_by=key, row_limit=40)
    )
    return f"{summary} ({path.name})"
