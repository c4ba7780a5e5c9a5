"""Loads a directory written by `llava convert` (from GGUF) with HF transformers and compares it
with `llava`: tokenizer ids of a few texts, the prompt's last-position logits and the greedy tokens.

Development check (torch + transformers, see requirements-fixtures.txt):
    python scripts/check_convert_transformers.py CONVERTED_DIR [IMAGE] [--prompt TEXT] [--gguf MODEL.gguf]
A `LlavaForConditionalGeneration` directory needs IMAGE; a `LlamaForCausalLM` one runs text only.
The prompt is given raw (`--conv-mode raw`: "<image>\\n" + PROMPT), so no template is rebuilt
here. With --gguf, the tokenizer ids are also compared with the GGUF file's own tokenizer.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaForCausalLM, LlavaForConditionalGeneration

from check_hf_load import ROOT, expand_image_token, greedy, pixel_values, report, run_llava

TEXTS = ["Hello world", "What is shown here?", "  two  spaces, naïve café 42", "A red star.\nA blue circle!"]


def llava_ids(model, text):
    out = subprocess.run([str(ROOT / ".build/debug/llava"), "tokenize", "--model", model, "--text", text, "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["ids"]


def check_tokenizer(model_dir, tokenizer, gguf):
    ok = True
    for text in TEXTS:
        theirs, ours = tokenizer(text).input_ids, llava_ids(model_dir, text)
        same = theirs == ours and (gguf is None or llava_ids(gguf, text) == ours)
        ok &= same
        print(f"tokenizer ids {'agree' if same else 'DIFFER'}: {text!r} {theirs}" + ("" if same else f" llava {ours}"))
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("image", nargs="?")
    parser.add_argument("--prompt", default="What is shown here?")
    parser.add_argument("--gguf", help="the GGUF language model the directory was converted from")
    parser.add_argument("--tokens", type=int, default=12)
    args = parser.parse_args()
    config = json.loads((Path(args.model_dir) / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    ok = check_tokenizer(args.model_dir, tokenizer, args.gguf)
    if config["architectures"] == ["LlavaForConditionalGeneration"]:
        assert args.image, "a LLaVA directory needs an IMAGE"
        model = LlavaForConditionalGeneration.from_pretrained(args.model_dir, dtype=torch.float32).eval()
        prompt = f"<image>\n{args.prompt}"
        ours, ours_logits = run_llava(args.model_dir, prompt, args.tokens, args.image, ["--conv-mode", "raw"])
        ids = expand_image_token(tokenizer(prompt).input_ids, config)
        inputs = {"pixel_values": pixel_values(args.model_dir, config, args.image)}
        eos = config["text_config"]["eos_token_id"]
    else:
        model = LlamaForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
        ours, ours_logits = run_llava(args.model_dir, args.prompt, args.tokens)
        ids, inputs, eos = tokenizer(args.prompt).input_ids, {}, config["eos_token_id"]
    print(f"prompt: {len(ids)} ids (llava: {ours['prompt_tokens']} positions)")
    logits, generated = greedy(model, ids, args.tokens, eos, **inputs)
    ok &= report(logits, generated, ours, ours_logits, tokenizer)
    print("OK" if ok else "MISMATCH")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
