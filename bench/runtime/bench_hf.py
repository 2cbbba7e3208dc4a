"""HF transformers side of bench/runtime: make the benchmark model, and time prefill and decode.

  python bench_hf.py make  --out DIR --size 100m|tiny
  python bench_hf.py time  --model DIR --threads N --prompt 128 --new 64 --repeats 3
"""

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

SIZES = {
    # ~100M parameters: 12 x (attention 1.57M + MLP 4.72M) + 2 x 12.6M embeddings.
    "100m": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                 num_attention_heads=12, num_key_value_heads=4, vocab_size=16384),
    "tiny": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, vocab_size=512),
}


def make(args):
    import transformers as tf

    if os.path.exists(os.path.join(args.out, "config.json")):
        return
    torch.manual_seed(0)
    cfg = tf.LlamaConfig(max_position_embeddings=2048, rms_norm_eps=1e-5, bos_token_id=1,
                         eos_token_id=2, pad_token_id=0, **SIZES[args.size])
    model = tf.AutoModelForCausalLM.from_config(cfg)
    n = sum(p.numel() for p in model.parameters())
    print(f"bench model size={args.size} parameters={n / 1e6:.1f}M")
    model.save_pretrained(args.out, safe_serialization=True)


def timed(args):
    import transformers as tf

    torch.set_num_threads(args.threads)
    model = tf.AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    attention = model.config._attn_implementation  # HF's default here: sdpa
    vocab = model.config.vocab_size
    ids = torch.randint(3, vocab, (1, args.prompt), generator=torch.Generator().manual_seed(1))
    best_prefill, best_decode = float("inf"), float("inf")
    cpu_prefill, cpu_decode = float("inf"), float("inf")
    with torch.inference_mode():
        for r in range(args.repeats + 1):  # the first round warms up
            c0, t0 = time.process_time(), time.perf_counter()
            # Only the last position's logits, as HF's generate() asks for (logits_to_keep=1) and
            # as our engine computes them.
            out = model(ids, use_cache=True, logits_to_keep=1)
            c1, t1 = time.process_time(), time.perf_counter()
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            c_first, t_first = time.process_time(), time.perf_counter()
            for _ in range(args.new - 1):
                out = model(nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            c_last, t_last = time.process_time(), time.perf_counter()
            if r > 0:
                best_prefill = min(best_prefill, t1 - t0)
                best_decode = min(best_decode, t_last - t_first)
                cpu_prefill = min(cpu_prefill, c1 - c0)
                cpu_decode = min(cpu_decode, c_last - c_first)
    print(f"hf prefill_tok_s={args.prompt / best_prefill:.1f} "
          f"decode_tok_s={(args.new - 1) / best_decode:.1f} "
          f"prefill_cpu_tok_s={args.prompt / cpu_prefill:.1f} "
          f"decode_cpu_tok_s={(args.new - 1) / cpu_decode:.1f} threads={args.threads} "
          f"torch_threads={torch.get_num_threads()} attention={attention}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--size", default="100m", choices=sorted(SIZES))
    t = sub.add_parser("time")
    t.add_argument("--model", required=True)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--prompt", type=int, default=128)
    t.add_argument("--new", type=int, default=64)
    t.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    {"make": make, "time": timed}[args.cmd](args)


if __name__ == "__main__":
    main()
