#!/usr/bin/env python3
"""How much shape and colour a CLIP vision tower keeps at each layer (development tool).

For every object of a `llava data synth` world, takes the hidden state of the patch under the
object's centre at each layer, fits a small MLP to predict the object's shape and its colour on
training scenes, and reports accuracy on held-out test scenes.

    /opt/fixvenv/bin/python scripts/probe_clip_patches.py CLIP_DIR WORLD_DIR [--train-scenes 3000]
"""
import argparse
import json

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionModel

SHAPES = ["circle", "square", "triangle", "star", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]


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
    rows, shapes, colours = [], [], []
    for i, k in enumerate(keys):
        for o in scenes[k]["objects"]:
            index = 1 + int(o["centre"]["y"] // patch) * side + int(o["centre"]["x"] // patch)
            rows.append((i, index))
            shapes.append(SHAPES.index(o["shape"]))
            colours.append(COLOURS.index(o["colour"]))
    states = [torch.stack([h[i, p] for i, p in rows]) for h in hidden]
    return states, torch.tensor(shapes), torch.tensor(colours)


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
    train, shapes, colours = patch_states(model, processor, args.world, "train", args.train_scenes)
    test, shapes_t, colours_t = patch_states(model, processor, args.world, "test", None)
    print("layer  shape  colour")
    for layer, (x, x_t) in enumerate(zip(train, test)):
        print(f"{layer:5d}  {probe(x, shapes, x_t, shapes_t, 5):.3f}  {probe(x, colours, x_t, colours_t, 8):.3f}")


if __name__ == "__main__":
    main()
