#!/usr/bin/env python3
"""How much of what LLaVA's projector reads is the patch's place in the image?

A research probe for docs/built-in-model.md (a development tool: torch, transformers, Pillow).
It runs a CLIP vision tower over a folder of images and takes the tokens the built-in model's
projector reads (layer 0, the patch tokens without the class token). Over all images and
patches it splits their variance into the part that the patch's index explains (the variance of
the per-index means) and the rest (what the patch shows), and prints the first as a share of the
whole. A model reads "Where is the star?" from that part, so a small share makes position a
small direction for stage 2 to find.

    scripts/probe_position_share.py MODEL IMAGES [--limit N] [--noise SIGMA]

MODEL is a CLIP directory (`llava train clip`'s output) or a llava-hf model directory (its
vision tower is used). IMAGES is a folder of .png files; the first N (default 200), sorted by
name, are read. --noise adds seeded N(0, SIGMA^2) to the position embedding first, to try what a
larger `llava train clip --final-position-noise` would give without training again (noise
already added adds up: for a total deviation T over an existing S, pass sqrt(T^2 - S^2)).
"""
import argparse
import glob
import json
import os

import numpy as np
import torch
from PIL import Image


def vision_tower(model_dir):
    """The CLIP vision model and its image processor, from a CLIP or a llava-hf directory."""
    from transformers import CLIPImageProcessor, CLIPVisionModel, LlavaForConditionalGeneration, logging

    logging.set_verbosity_error()  # a CLIP directory holds the text tower too, which is not loaded

    config = json.load(open(os.path.join(model_dir, "config.json")))
    if config.get("model_type") == "llava":
        model = LlavaForConditionalGeneration.from_pretrained(model_dir)
        tower = getattr(model, "vision_tower", None) or model.model.vision_tower
    else:
        tower = CLIPVisionModel.from_pretrained(model_dir)
    return tower.eval(), CLIPImageProcessor.from_pretrained(model_dir)


def position_share(tokens):
    """tokens: images x patches x width. The share of the total variance that the patch index
    explains (between-index variance over total variance, summed over the width)."""
    total = tokens.var(axis=(0, 1)).sum()
    by_index = tokens.mean(axis=0).var(axis=0).sum()
    return float(by_index / total)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("images")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.0)
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.images, "*.png")))[: args.limit]
    if not files:
        raise SystemExit(f"error: no .png files in {args.images}")
    torch.set_num_threads(1)
    tower, processor = vision_tower(args.model)
    if args.noise > 0:
        embedding = next(m for name, m in tower.named_modules() if name.endswith("embeddings.position_embedding")).weight
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            embedding += args.noise * torch.randn(embedding.shape, generator=generator)
    tokens = []
    for path in files:
        pixels = processor(images=Image.open(path).convert("RGB"), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            hidden = tower(pixel_values=pixels, output_hidden_states=True).hidden_states[0]
        tokens.append(hidden[0, 1:].numpy())
    share = position_share(np.stack(tokens))
    print(f"{args.model}: {len(files)} images, position explains {100 * share:.1f}% of the layer-0 patch tokens' variance")


if __name__ == "__main__":
    main()
