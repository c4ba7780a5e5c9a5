"""PyTorch's training throughput on the same jobs as `llava train lm` and `llava train clip`,
for comparison.

Development tool (torch + transformers). The language-model job: same LLaMA config, same
documents (one per line, tokenised by the same tokenizer.json with BOS and EOS), same batch
size, AdamW, fp32, and the same thread count, documents packed into sequences of --pack tokens
as `llava train lm` packs them. Prints tokens per second over the steps after the first.
    python scripts/bench_train_torch.py CORPUS.txt TOKENIZER_DIR --hidden 256 --layers 4 --steps 20 --threads 2

The CLIP job (`clip` first): a transformers CLIPModel with the config of a CLIPModel directory
that `llava train clip` wrote (so the same towers; fresh random weights), the same COCO captions
and images (the directory's preprocessor and tokenizer; captions as [BOS] ids EOS, cut to
max_position_embeddings), the same batch, symmetric contrastive loss, AdamW with
`llava train clip`'s defaults (weight decay 0.1, none on biases, norms and logit_scale; clip
norm 1; logit_scale clamped to ln 100). Prints image–caption pairs per second over the steps
after the first.
    python scripts/bench_train_torch.py clip annotations_train.json images/train CLIP_DIR --batch 64 --steps 20 --threads 2
"""
import argparse
import json
import math
import os
import sys
import time

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("corpus"); p.add_argument("tokenizer")
    p.add_argument("--hidden", type=int, default=256); p.add_argument("--intermediate", type=int, default=704)
    p.add_argument("--layers", type=int, default=4); p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=16); p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pack", type=int, default=256, help="concatenate documents and cut sequences of this length, as llava train lm does (0: one document per sequence)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(a.tokenizer)
    docs = [tok(line.strip()).input_ids + [tok.eos_token_id] for line in open(a.corpus) if line.strip()]
    if a.pack:
        stream = [t for d in docs for t in d]
        docs = [stream[i:i + a.pack] for i in range(0, len(stream) - 1, a.pack)]
    config = LlamaConfig(vocab_size=len(tok), hidden_size=a.hidden, intermediate_size=a.intermediate,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads, max_position_embeddings=512)
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens, start = 0, None
    for step in range(a.steps):
        batch = [docs[(step * a.batch + i) % len(docs)] for i in range(a.batch)]
        n = max(map(len, batch))
        ids = torch.tensor([d + [0] * (n - len(d)) for d in batch])
        mask = torch.tensor([[1] * len(d) + [0] * (n - len(d)) for d in batch])
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad()
        if step == 0:
            start = time.perf_counter()
        else:
            tokens += sum(map(len, batch))
    elapsed = time.perf_counter() - start
    print(f"torch {torch.__version__}, {a.threads} threads: {tokens / elapsed:.0f} tokens/s "
          f"({a.steps - 1} steps of batch {a.batch}, final loss {float(loss):.3f})")


def clip_main(argv):
    from PIL import Image
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel
    p = argparse.ArgumentParser(prog="bench_train_torch.py clip")
    p.add_argument("captions", help="COCO captions JSON (images + annotations), as `llava train clip --data` takes")
    p.add_argument("image_folder")
    p.add_argument("clip_dir", help="a CLIPModel directory written by `llava train clip` (config, tokenizer, preprocessor)")
    p.add_argument("--batch", type=int, default=64); p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2); p.add_argument("--lr", type=float, default=1e-3)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    config = CLIPConfig.from_pretrained(a.clip_dir)
    model = CLIPModel(config)
    tok = AutoTokenizer.from_pretrained(a.clip_dir)
    processor = CLIPImageProcessor.from_pretrained(a.clip_dir)
    text = config.text_config
    coco = json.load(open(a.captions))
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    pairs, seen = [], set()
    # Captions under 'captions' in a combined file (`llava data synth`), else COCO's 'annotations'.
    for c in coco["captions" if "captions" in coco else "annotations"]:   # one per image, as an epoch of `llava train clip`
        if c["image_id"] not in seen:
            seen.add(c["image_id"]); pairs.append((names[c["image_id"]], c["caption"].strip()))
    head = [text.bos_token_id] if text.bos_token_id is not None else []
    def encode(caption):
        ids = head + tok(caption, add_special_tokens=False).input_ids
        return ids[:text.max_position_embeddings - 1] + [text.eos_token_id]
    images = {name: processor(Image.open(os.path.join(a.image_folder, name)).convert("RGB"),
                              return_tensors="pt").pixel_values[0] for name, _ in pairs}
    captions = [encode(c) for _, c in pairs]
    no_decay = [p_ for n, p_ in model.named_parameters() if n.endswith("bias") or "norm" in n or n == "logit_scale"]
    decay = [p_ for n, p_ in model.named_parameters() if not (n.endswith("bias") or "norm" in n or n == "logit_scale")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    seen_pairs, start = 0, None
    for step in range(a.steps):
        batch = [(step * a.batch + i) % len(pairs) for i in range(a.batch)]
        pixels = torch.stack([images[pairs[i][0]] for i in batch])
        n = max(len(captions[i]) for i in batch)
        ids = torch.tensor([captions[i] + [text.pad_token_id] * (n - len(captions[i])) for i in batch])
        mask = torch.tensor([[1] * len(captions[i]) + [0] * (n - len(captions[i])) for i in batch])
        loss = model(input_ids=ids, attention_mask=mask, pixel_values=pixels, return_loss=True).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step == 0:
            start = time.perf_counter()
        else:
            seen_pairs += len(batch)
    elapsed = time.perf_counter() - start
    print(f"torch {torch.__version__}, {a.threads} threads: {seen_pairs / elapsed:.1f} pairs/s "
          f"({a.steps - 1} steps of batch {a.batch}, final loss {loss.item():.3f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "clip":
        clip_main(sys.argv[2:])
    else:
        main()
