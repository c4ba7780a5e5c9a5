"""Perfect vision for a grid-layout synth world: is the LLM side able to ground?

Development tool (torch, transformers, tokenizers, safetensors from PyPI); nothing at run time
uses it. Two steps:

  oracle_features.py write WORLD OUT.safetensors [LAYER]
      A feature cache in `llava train cache-features`'s format, 16 rows of width 128 per image
      (64-px images, 16-px patches), built from the scene files instead of a vision tower: every
      row is one-hot of its cell, and the row of the cell holding an object's centre is also
      one-hot of the object's shape, colour and size. Pass it to `llava train pretrain` and
      `llava train finetune` with --feature-cache and the layer the run selects (default -5, the
      chain's layer 0 of a 4-layer tower).

  oracle_features.py eval MODEL FEATURES WORLD ANSWERS
      Greedy answers of a trained llava-hf MODEL to WORLD/eval_test.jsonl with the image
      features taken from FEATURES (projected by the model's projector), scored by the rules of
      `llava eval synth`. ANSWERS is a `llava eval synth` answers file, used for its prompts.

Measured on the shipped chain's data (10,000 records, stage 1 3 epochs at 2e-3, stage 2 3
epochs at 1e-3): with oracle features the model scores shape 20.4%, colour 71.3%, count
63.5%, position 37.6%, all 48.6%, against 21.4 / 66.0 / 55.0 / 29.9 / 45.9% from the CLIP
features. Perfect features barely help: the language model does not learn to look objects up
by content from this much data.
"""
import collections
import json
import re
import sys

import torch
from safetensors.torch import load_file, save_file

SHAPES = ["circle", "square", "triangle", "star", "cross"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
GRID, CELL, WIDTH, ON = 4, 16, 128, 3.0


def write(world, out, layer="-5"):
    tensors = {}
    for split in ("train", "val", "test"):
        with open(f"{world}/scenes_{split}.json") as f:
            scenes = json.load(f)
        for name, scene in scenes.items():
            rows = torch.zeros(GRID * GRID, WIDTH)
            rows[:, :GRID * GRID] = torch.eye(GRID * GRID) * ON
            for o in scene["objects"]:
                col = min(GRID - 1, int(o["centre"]["x"] // CELL))
                row = min(GRID - 1, int(o["centre"]["y"] // CELL))
                r = rows[row * GRID + col]
                base = GRID * GRID
                r[base + SHAPES.index(o["shape"])] = ON
                r[base + len(SHAPES) + COLOURS.index(o["colour"])] = ON
                r[base + len(SHAPES) + len(COLOURS) + (o["size"] == "large")] = ON
            tensors[f"{split}/{name}.png"] = rows
    metadata = {"rows": str(GRID * GRID), "width": str(WIDTH), "pad_to_square": "false",
                "selection": "default", "feature_layer": layer}
    save_file(tensors, out, metadata=metadata)
    print(f"wrote {len(tensors)} images to {out}")


NUMBERS = dict(zero="0", none="0", one="1", two="2", three="3", four="4", five="5", six="6",
               seven="7", eight="8", nine="9", ten="10")
SHAPE_WORDS = {**{s: s for s in SHAPES}, **{s + "s": s for s in SHAPES}, "crosses": "cross",
               "disc": "circle", "discs": "circle", "plus": "cross", "pluses": "cross"}
REGIONS = {"left", "right", "top", "bottom", "center"}
NEGATIONS = {"not", "none", "0", "isnt", "arent", "doesnt", "dont", "cannot", "cant", "nothing"}


def normalised(text):
    words = re.sub(r"[^a-z0-9]", " ", text.lower()).split()
    return [NUMBERS.get(w) or SHAPE_WORDS.get(w) or ("center" if w in ("middle", "centre") else w) for w in words]


def is_correct(prediction, answer, kind):
    """The scoring rules of `llava eval synth` (EvalQuestions.isCorrect)."""
    words, expected = normalised(prediction), (normalised(answer) or [""])[0]
    if kind in ("existence", "relation"):
        decided = next((w for w in words if w in ("yes", "no")), None)
        if decided is None:
            decided = "no" if any(w in NEGATIONS for w in words) else ("yes" if words else "")
        return decided == expected
    if kind == "count":
        return next((w for w in words if w.isdigit()), None) == expected
    vocabulary = {"colour": set(COLOURS), "shape": set(SHAPES), "position": REGIONS}[kind]
    return {w for w in words if w in vocabulary} == {expected}


def evaluate(model_dir, features_path, world, answers_path):
    from tokenizers import Tokenizer
    from transformers import LlavaForConditionalGeneration
    model = LlavaForConditionalGeneration.from_pretrained(model_dir).eval()
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    features = load_file(features_path)
    with open(f"{world}/eval_test.jsonl") as f:
        questions = {str(q["question_id"]): q for q in map(json.loads, f)}
    image_token, rows = model.config.image_token_index, model.config.image_seq_length
    eos = model.config.text_config.eos_token_id
    embed = model.get_input_embeddings()
    asked, right = collections.Counter(), collections.Counter()
    with torch.no_grad(), open(answers_path) as f:
        for line in f:
            record = json.loads(line)
            q = questions[str(record["question_id"])]
            before, after = record["prompt"].split("<image>")
            ids = tokenizer.encode(before).ids + [image_token] * rows + tokenizer.encode(after, add_special_tokens=False).ids
            ids = torch.tensor([ids])
            x = embed(ids)
            x[ids == image_token] = model.model.multi_modal_projector(features[q["image"]].unsqueeze(0))[0]
            answer = []
            for _ in range(24):
                token = model.lm_head(model.model.language_model(inputs_embeds=x).last_hidden_state[:, -1]).argmax(-1).item()
                if token == eos:
                    break
                answer.append(token)
                x = torch.cat([x, embed(torch.tensor([[token]]))], 1)
            asked[q["type"]] += 1
            right[q["type"]] += is_correct(tokenizer.decode(answer), q["answer"], q["type"])
    for kind in asked:
        print(f"{kind:10s} {100 * right[kind] / asked[kind]:5.1f}%  ({asked[kind]})")
    print(f"{'all':10s} {100 * sum(right.values()) / sum(asked.values()):5.1f}%")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "write":
        write(*sys.argv[2:5])
    elif len(sys.argv) == 6 and sys.argv[1] == "eval":
        torch.set_num_threads(2)
        evaluate(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
