"""Loads a model written by `llava train finetune` (or `llava export`) with HF transformers and
compares it with `llava`: the prompt's last-position logits and the greedy tokens.

Development check (torch + transformers, see requirements-fixtures.txt):
    python scripts/check_hf_load.py MODEL_DIR IMAGE "What is shown?"
It runs `.build/debug/llava generate … --json --logits-out` itself, builds the same prompt
(the model's conversation template) and pixels (padded to a square if the model was trained
so), and prints the max-abs logit difference and whether the greedy tokens agree.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoTokenizer, CLIPImageProcessor, LlavaForConditionalGeneration

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
          "helpful, detailed, and polite answers to the user's questions.")


def run_llava(model_dir, prompt, new_tokens, image_path=None, extra=()):
    """`llava generate --json --logits-out`: its report and the prompt's last logits."""
    logits_file = Path(tempfile.mkdtemp()) / "logits.safetensors"
    image = ["--image", image_path] if image_path else []
    out = subprocess.run([str(ROOT / ".build/debug/llava"), "generate", "--model", model_dir, *image, "--prompt", prompt,
                          "--max-new-tokens", str(new_tokens), "--json", "--logits-out", str(logits_file), *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout), load_file(logits_file)["logits"]


def pixel_values(model_dir, config, image_path):
    """CLIP's preprocessing, after padding to a square with the mean colour if the model was trained so."""
    processor = CLIPImageProcessor.from_pretrained(model_dir)
    image = Image.open(image_path).convert("RGB")
    if config.get("image_aspect_ratio") == "pad":
        w, h = image.size
        side = max(w, h)
        square = Image.new("RGB", (side, side), tuple(int(x * 255) for x in processor.image_mean))
        square.paste(image, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
        image = square
    return processor(images=image, return_tensors="pt")["pixel_values"]


def expand_image_token(ids, config):
    """The processor's expansion: the one `<image>` id becomes image_seq_length of them."""
    image_token = config["image_token_index"]
    pos = ids.index(image_token)
    return ids[:pos] + [image_token] * config["image_seq_length"] + ids[pos + 1:]


def greedy(model, ids, new_tokens, eos, **inputs):
    """The prompt's last logits and the greedy continuation (without a final EOS, as llava prints)."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), **inputs).logits[0, -1]
        generated = model.generate(input_ids=torch.tensor([ids]), do_sample=False, max_new_tokens=new_tokens,
                                   **inputs)[0, len(ids):].tolist()
    if generated and generated[-1] == eos:
        generated = generated[:-1]
    return logits, generated


def report(logits, generated, ours, ours_logits, tokenizer):
    diff = float((logits - ours_logits).abs().max())
    print(f"max |logits(transformers) - logits(llava)| = {diff:.2e}")
    print(f"greedy tokens agree: {generated == ours['token_ids']} ({len(generated)} tokens)")
    print("transformers:", generated, repr(tokenizer.decode(generated, skip_special_tokens=True)))
    print("llava:       ", ours["token_ids"], repr(ours["text"]))
    return diff < 1e-3 and generated == ours["token_ids"]


def main(model_dir, image_path, question, new_tokens=16):
    config = json.loads((Path(model_dir) / "config.json").read_text())
    ours, ours_logits = run_llava(model_dir, question, new_tokens, image_path)
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pixels = pixel_values(model_dir, config, image_path)
    assert config.get("conversation_template", "vicuna_v1") == "vicuna_v1", "only vicuna_v1 prompts are built here"
    ids = expand_image_token(tokenizer(f"{SYSTEM} USER: <image>\n{question} ASSISTANT:").input_ids, config)
    logits, generated = greedy(model, ids, new_tokens, config["text_config"]["eos_token_id"], pixel_values=pixels)
    return report(logits, generated, ours, ours_logits, tokenizer)


if __name__ == "__main__":
    sys.exit(0 if main(*sys.argv[1:4]) else 1)
