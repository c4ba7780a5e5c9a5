#!/usr/bin/env python3
"""Draws a synthetic world's scenes with Pillow instead of the project's renderer.

    render_scenes_pil.py SCENES_JSON OUT_FOLDER [--split test]

Writes OUT_FOLDER/<split>/<id>.png for every scene of SCENES_JSON (`llava data synth`'s
scenes_<split>.json), so `llava eval synth --image-folder OUT_FOLDER` asks the same questions
about the same scenes drawn by other code. Only the scene's facts are shared with the project's
renderer: each object's shape, palette colour, centre and circumradius, and the background's
tone. The drawing is Pillow's own: its polygon and ellipse rasteriser at 4x, shrunk with a
Lanczos filter; textbook shapes (regular polygons inscribed in the circumradius, a star whose
inner radius is half its outer, a plus sign with arms 0.6 of the radius wide); a dark outline
1.5 px wide; a background with a straight gradient and Gaussian grain where the project's
renderer draws waves and uniform grain. A development tool (Pillow and NumPy from PyPI).
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

OBJECT_RGB = {
    "red": (220, 30, 30), "green": (30, 170, 50), "blue": (30, 70, 225), "yellow": (245, 220, 30),
    "purple": (140, 40, 175), "orange": (250, 135, 20), "white": (250, 250, 250), "black": (15, 15, 15),
}
BACKGROUND_RGB = {
    "grey": (128, 128, 128), "beige": (200, 188, 160), "sage": (148, 168, 140),
    "slate": (108, 118, 134), "sand": (188, 168, 128), "taupe": (140, 124, 114),
}
SCALE = 4
OUTLINE = (25, 25, 25)


def regular(n, radius, start=-math.pi / 2):
    return [(radius * math.cos(start + 2 * math.pi * k / n), radius * math.sin(start + 2 * math.pi * k / n)) for k in range(n)]


def unit_polygon(shape):
    """Outline around (0, 0) for a circumradius of 1, or None for a circle."""
    if shape == "square":
        return regular(4, 1, start=-math.pi / 4)
    if shape == "triangle":
        return regular(3, 1)
    if shape == "star":
        outer, inner = regular(5, 1), regular(5, 0.5, start=-math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner) for p in pair]
    if shape == "cross":
        w = 0.3
        return [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w)]
    if shape == "circle":
        return None
    raise ValueError(f"unknown shape {shape!r}")


def background(scene, rng):
    n = scene["size"] * SCALE
    tone = np.array(BACKGROUND_RGB[scene["background"]], dtype=np.float64)
    angle = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0, 14)
    ys, xs = np.mgrid[0:n, 0:n] / n - 0.5
    ramp = strength * (np.cos(angle) * xs + np.sin(angle) * ys)
    pixels = tone[None, None, :] + ramp[:, :, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def draw(scene, seed):
    rng = np.random.default_rng(seed)
    image = background(scene, rng)
    pen = ImageDraw.Draw(image)
    width = round(1.5 * SCALE)
    for o in scene["objects"]:
        cx, cy, r = o["centre"]["x"] * SCALE, o["centre"]["y"] * SCALE, o["radius"] * SCALE
        colour = OBJECT_RGB[o["colour"]]
        polygon = unit_polygon(o["shape"])
        if polygon is None:
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=OUTLINE, width=width)
            continue
        # The bounding box's centre at the object's centre, as the scene's boxes are.
        xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
        mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        points = [(cx + (x - mx) * r, cy + (y - my) * r) for x, y in polygon]
        pen.polygon(points, fill=colour, outline=OUTLINE, width=width)
    small = image.resize((scene["size"], scene["size"]), Image.LANCZOS)
    grain = rng.normal(0, 2.5, (scene["size"], scene["size"], 1))
    return Image.fromarray(np.clip(np.asarray(small, dtype=np.float64) + grain, 0, 255).astype(np.uint8), "RGB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenes")
    parser.add_argument("out")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    with open(args.scenes) as f:
        scenes = json.load(f)
    folder = os.path.join(args.out, args.split)
    os.makedirs(folder, exist_ok=True)
    for scene_id, scene in scenes.items():
        draw(scene, int(scene["textureSeed"]) % 2**32).save(os.path.join(folder, f"{scene_id}.png"))
    print(f"drew {len(scenes)} scenes into {folder}")


if __name__ == "__main__":
    main()
