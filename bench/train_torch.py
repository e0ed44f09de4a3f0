"""PyTorch peer of bench/train.ts: the reference network, Adam, masked MSE, batches gathered
from a uint8 tensor held in memory. Prints one JSON line with the measured images per second.

Run with Debian's /usr/bin/python3 (python3-torch 1.13)."""
import argparse
import json
import resource
import time

import torch
from torch import nn


def reference_net() -> nn.Module:
    layers = []
    channels = 1
    for filters in (32, 64, 128, 256):
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    layers += [nn.Flatten(), nn.Linear(256 * 6 * 6, 512), nn.ReLU(), nn.Linear(512, 30)]
    return nn.Sequential(*layers)


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mask = (~target.isnan()).to(pred.dtype)
    diff = (pred - target.nan_to_num(0.0)) * mask
    return diff.pow(2).sum() / mask.sum().clamp_min(1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (args.images, 1, 96, 96), dtype=torch.uint8, generator=generator)
    targets = (torch.rand(args.images, 30, generator=generator) * 96 - 47.5) / 48
    model = reference_net()
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch() -> int:
        order = torch.randperm(args.images)
        done = 0
        for start in range(0, args.images, args.batch):
            index = order[start : start + args.batch]
            x = (images[index].float() / 255.0).contiguous(memory_format=fmt)
            y = targets[index]
            optimizer.zero_grad()
            loss = masked_mse(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
            done += len(index)
        return done

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    epoch()  # warm-up: allocator, oneDNN primitives
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    total = sum(epoch() for _ in range(args.epochs))
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"img_s": total / seconds, "img_per_cpu_s": total / cpu, "seconds": seconds, "images": total, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
