"""PyTorch's training throughput on the same job as `llava train lm`, for comparison.

Development tool (torch + transformers): same LLaMA config, same documents (one per line,
tokenised by the same tokenizer.json with BOS and EOS), same batch size, AdamW, fp32, and the
same thread count, documents packed into sequences of --pack tokens as `llava train lm` packs
them. Prints tokens per second over the steps after the first.
    python scripts/bench_train_torch.py CORPUS.txt TOKENIZER_DIR --hidden 256 --layers 4 --steps 20 --threads 2
"""
import argparse
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


if __name__ == "__main__":
    main()
