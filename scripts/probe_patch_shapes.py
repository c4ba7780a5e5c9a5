#!/usr/bin/env python3
"""How well can one image patch tell the shape of the object in it, on a drawing never trained on?

A research probe for docs/built-in-model.md (a development tool: torch, transformers, Pillow).
For every object of the training worlds given, it takes what the LLaVA projector reads at the
object's cell (the CLIP tower's layer-0 patch embedding) or the cell's raw pixels, trains a small
MLP to name the shape (or colour), and scores it on the held-out scenes of the plain world and of the unseen
drawing. The scores bound what the projector and LLM can read from that one patch.

    scripts/probe_patch_shapes.py --run OUT --worlds varied4,wide4,varied5,wide5 [--features pixels]

OUT is a `scripts/make_default_model.sh` output folder (OUT/clip, OUT/world, OUT/world-NAME).
"""
import argparse
import json

import numpy as np
import torch
from PIL import Image

SHAPES = ["circle", "square", "triangle", "star", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white"]


def objects(world, split, limit, cell, target):
    """(image path, cell index, label, is small) of each object of the first `limit` scenes; the
    label is the index of its shape or colour (`target`)."""
    scenes = json.load(open(f"{world}/scenes_{split}.json"))
    for key in list(scenes)[:limit]:
        for o in scenes[key]["objects"]:
            row, column = int(o["centre"]["y"] // cell), int(o["centre"]["x"] // cell)
            label = SHAPES.index(o["shape"]) if target == "shape" else COLOURS.index(o["colour"])
            yield f"{world}/images/{split}/{key}.png", row * 4 + column, label, o["size"] == "small"


class PatchFeatures:
    def __init__(self, kind, clip_dir, layer, target):
        self.kind, self.layer, self.target = kind, layer, target
        if kind == "clip":
            from transformers import CLIPImageProcessor, CLIPVisionModel
            self.model = CLIPVisionModel.from_pretrained(clip_dir).eval()
            self.processor = CLIPImageProcessor.from_pretrained(clip_dir)

    def __call__(self, world, split, limit):
        first = next(iter(json.load(open(f"{world}/scenes_{split}.json"))))
        cell = Image.open(f"{world}/images/{split}/{first}.png").width // 4  # the scene's 4x4 grid
        rows = list(objects(world, split, limit, cell, self.target))
        images = sorted({r[0] for r in rows})
        table = {}
        for start in range(0, len(images), 256):
            paths = images[start:start + 256]
            pictures = [Image.open(p).convert("RGB") for p in paths]
            if self.kind == "clip":
                with torch.no_grad():
                    out = self.model(**self.processor(images=pictures, return_tensors="pt"), output_hidden_states=True)
                patches = out.hidden_states[self.layer][:, 1:]  # CLS dropped; layer 0 is what the projector reads
            else:
                pixels = torch.tensor(np.stack([np.asarray(p, dtype=np.float32) / 255 for p in pictures]))
                n = pixels.shape[0]
                patches = pixels.reshape(n, 4, cell, 4, cell, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, 16, -1)
                patches = patches - patches.mean(-1, keepdim=True)
            for path, p in zip(paths, patches):
                table[path] = p
        x = torch.stack([table[path][index] for path, index, _, _ in rows])
        return x, torch.tensor([r[2] for r in rows]), torch.tensor([r[3] for r in rows])


def train_probe(x, y, hidden, classes, epochs=60):
    torch.manual_seed(0)
    probe = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, classes))
    optimizer = torch.optim.AdamW(probe.parameters(), 3e-3, weight_decay=1e-2)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 256):
            batch = order[start:start + 256]
            loss = torch.nn.functional.cross_entropy(probe(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return probe


def score(probe, x, y, small):
    with torch.no_grad():
        right = (probe(x).argmax(1) == y).float()
    return f"{100 * right.mean():.1f}% (small {100 * right[small].mean():.1f}, large {100 * right[~small].mean():.1f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="make_default_model.sh output folder")
    parser.add_argument("--worlds", required=True, help="comma-separated training worlds (OUT/world-NAME)")
    parser.add_argument("--features", choices=["clip", "pixels"], default="clip")
    parser.add_argument("--clip", help="CLIP directory (default: OUT/clip)")
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layer", type=int, default=0, help="CLIP hidden state to read (0: the embeddings)")
    parser.add_argument("--target", choices=["shape", "colour"], default="shape")
    args = parser.parse_args()
    features = PatchFeatures(args.features, args.clip or f"{args.run}/clip", args.layer, args.target)
    parts = [features(f"{args.run}/world-{name}", "train", 2500) for name in args.worlds.split(",")]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    probe = train_probe(x, y, args.hidden, len(SHAPES if args.target == "shape" else COLOURS))
    plain = features(f"{args.run}/world", "test", 200)
    unseen = features(f"{args.run}/world-unseen", "test", 200)
    what = f"layer {args.layer}" if args.features == "clip" else "pixels"
    print(f"{args.target} from {what}, probe on {len(x)} objects of {args.worlds}: plain test {score(probe, *plain)}, "
          f"unseen drawing {score(probe, *unseen)}")


if __name__ == "__main__":
    main()
