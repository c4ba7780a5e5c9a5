#!/usr/bin/env python3
"""How much shape, colour and place a CLIP vision tower keeps at each layer (development tool).

For every object of a `llava data synth` world, takes the hidden state of the patch under the
object's centre at each layer, fits a small MLP to predict the object's shape, its colour and its
region (left/right/top/bottom/center, as the evaluation words it) on training scenes, and reports
accuracy on held-out test scenes. `place` is the share of the variance of those object patches
that their grid cell explains (between-cell variance over total): how loud the patch's position
is next to its content.

    scripts/.venv/bin/python scripts/probe_clip_patches.py CLIP_DIR WORLD_DIR [--train-scenes 3000]
"""
import argparse
import json

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionModel

SHAPES = ["circle", "square", "triangle", "star", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
REGIONS = ["left", "right", "top", "bottom", "center"]


def region(x, y, side):
    """The evaluation's region of a point in pixels (`Region(normalised:)` in SpatialRules.swift)."""
    dx, dy = x / side - 0.5, y / side - 0.5
    if abs(dx) < 0.17 and abs(dy) < 0.17:
        return REGIONS.index("center")
    if abs(dx) >= abs(dy):
        return REGIONS.index("left" if dx < 0 else "right")
    return REGIONS.index("top" if dy < 0 else "bottom")


def patch_states(model, processor, world, split, limit):
    scenes = json.load(open(f"{world}/scenes_{split}.json"))
    keys = list(scenes)[:limit]
    mean = torch.tensor(processor["image_mean"]).view(3, 1, 1)
    std = torch.tensor(processor["image_std"]).view(3, 1, 1)
    pixels = torch.stack([
        (torch.tensor(np.asarray(Image.open(f"{world}/images/{split}/{k}.png").convert("RGB")), dtype=torch.float32)
         .permute(2, 0, 1) / 255 - mean) / std for k in keys])
    patch = model.config.patch_size
    side = model.config.image_size // patch
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states
    rows, labels = [], {"shape": [], "colour": [], "region": []}
    for i, k in enumerate(keys):
        for o in scenes[k]["objects"]:
            index = 1 + int(o["centre"]["y"] // patch) * side + int(o["centre"]["x"] // patch)
            rows.append((i, index))
            labels["shape"].append(SHAPES.index(o["shape"]))
            labels["colour"].append(COLOURS.index(o["colour"]))
            labels["region"].append(region(o["centre"]["x"], o["centre"]["y"], model.config.image_size))
    states = [torch.stack([h[i, p] for i, p in rows]) for h in hidden]
    cells = torch.tensor([p for _, p in rows])
    return states, {k: torch.tensor(v) for k, v in labels.items()}, cells


def place_share(x, cells):
    """Between-cell variance of the rows over their total variance."""
    mean = x.mean(0)
    between = sum(((x[cells == c].mean(0) - mean) ** 2).sum() * (cells == c).sum() for c in cells.unique())
    return (between / len(x) / x.var(0, unbiased=False).sum()).item()


def probe(x, y, x_test, y_test, classes):
    torch.manual_seed(0)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.GELU(), torch.nn.Linear(256, classes))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(400):
        loss = torch.nn.functional.cross_entropy(net((x - mu) / sd), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (net((x_test - mu) / sd).argmax(1) == y_test).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("world")
    parser.add_argument("--train-scenes", type=int, default=3000)
    args = parser.parse_args()
    model = CLIPVisionModel.from_pretrained(args.clip).eval()
    processor = json.load(open(f"{args.clip}/preprocessor_config.json"))
    train, labels, cells = patch_states(model, processor, args.world, "train", args.train_scenes)
    test, labels_t, _ = patch_states(model, processor, args.world, "test", None)
    classes = {"shape": len(SHAPES), "colour": len(COLOURS), "region": len(REGIONS)}
    print("layer  shape  colour  region  place")
    for layer, (x, x_t) in enumerate(zip(train, test)):
        scores = [probe(x, labels[k], x_t, labels_t[k], n) for k, n in classes.items()]
        print(f"{layer:5d}  " + "  ".join(f"{v:.3f}" for v in scores) + f"  {place_share(x, cells):.3f}")


if __name__ == "__main__":
    main()
