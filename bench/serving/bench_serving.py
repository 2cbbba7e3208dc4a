"""Python side of bench/serving: the benchmark model, the HF peers, and the load client.

  python bench_serving.py make   --out DIR --size 100m|tiny
  python bench_serving.py hf     --model DIR --mode pipeline|batch --threads N [load options]
  python bench_serving.py client --url http://127.0.0.1:PORT [load options]

Load options: --levels 1,8,32 --waves 2 --prompt 64 --new 32 --seed 1. At each concurrency level C
the same WAVES x C requests arrive in waves of C at once; each prompt is C-independent random
token ids (length PROMPT/2..PROMPT, the same ids on every side) and every request generates exactly
NEW tokens (EOS ignored). Each side prints, per level, one line
`side=... concurrency=C requests=R out_tok_s=X ttft_p50_s=Y ttft_p99_s=Z seconds=T`.

The peers: `pipeline` is classic Kaito's serving model, an HF text-generation pipeline answering one
request at a time (the next request of a wave waits for the previous one); `batch` runs each wave
as one statically padded (left) batch through HF generate(). TTFT is from the wave's start to the
request's first generated token (HF: a streamer's first put after the prompt; the server: the
first SSE chunk with text).
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from bench_hf import SIZES  # noqa: E402 - the sizes of bench/runtime (100m, tiny)

SPECIAL = ["<pad>", "<s>", "</s>"]


def make(args):
    """A random Llama and a word-level tokenizer over its whole vocabulary ("w3" ... "wN").

    Every id decodes to a plain ASCII word, so streamed text is never held back for an incomplete
    UTF-8 character and the first SSE chunk marks the first token.
    """
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    if os.path.exists(os.path.join(args.out, "tokenizer.json")):
        return
    torch.manual_seed(0)
    size = SIZES[args.size]
    cfg = tf.LlamaConfig(max_position_embeddings=2048, rms_norm_eps=1e-5, bos_token_id=1,
                         eos_token_id=2, pad_token_id=0, **size)
    model = tf.AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(args.out, safe_serialization=True)
    vocab = {t: i for i, t in enumerate(SPECIAL)}
    vocab.update({f"w{i}": i for i in range(len(SPECIAL), size["vocab_size"])})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    tok.add_special_tokens(SPECIAL)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>",
                   "bos_token": "<s>", "eos_token": "</s>", "padding_side": "left"}, f)
    n = sum(p.numel() for p in model.parameters())
    print(f"bench model size={args.size} parameters={n / 1e6:.1f}M")


def prompts(args, vocab, count, level):
    rng = random.Random(args.seed * 1000 + level)
    return [[rng.randrange(len(SPECIAL), vocab)
             for _ in range(rng.randint(args.prompt // 2, args.prompt))] for _ in range(count)]


def percentile(values, p):
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


def report(side, level, ttfts, tokens, seconds):
    print(f"side={side} concurrency={level} requests={len(ttfts)} "
          f"out_tok_s={tokens / seconds:.1f} ttft_p50_s={percentile(ttfts, 50):.3f} "
          f"ttft_p99_s={percentile(ttfts, 99):.3f} seconds={seconds:.2f}", flush=True)


def levels(args):
    return [int(x) for x in args.levels.split(",")]


def hf(args):
    import torch
    import transformers as tf

    torch.set_num_threads(args.threads)
    tokenizer = tf.AutoTokenizer.from_pretrained(args.model)
    model = tf.AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    gen = dict(max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False,
               pad_token_id=0)

    class FirstToken:
        """A streamer that notes when the first generated token comes out."""

        def __init__(self):
            self.puts, self.at = 0, None

        def put(self, value):
            self.puts += 1
            if self.puts == 2 and self.at is None:  # the first put is the prompt
                self.at = time.perf_counter()

        def end(self):
            pass

    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    pipe = tf.pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    warm = prompts(args, vocab, 1, 0)[0]
    with torch.inference_mode():
        pipe(tokenizer.decode(warm), return_full_text=False, **gen)  # warm-up
        for level in levels(args):
            waves = [prompts(args, vocab, level, level * 100 + w) for w in range(args.waves)]
            ttfts, tokens, start = [], 0, time.perf_counter()
            for wave in waves:
                wave_start = time.perf_counter()
                texts = [tokenizer.decode(p) for p in wave]
                if args.mode == "pipeline":
                    for text in texts:
                        s = FirstToken()
                        out = pipe(text, return_full_text=False, streamer=s, **gen)
                        ttfts.append(s.at - wave_start)
                        tokens += args.new
                        assert out[0]["generated_text"], out
                else:
                    s = FirstToken()
                    batch = tokenizer(texts, return_tensors="pt", padding=True, return_token_type_ids=False)
                    out = model.generate(**batch, streamer=s, **gen)
                    assert out.shape[1] - batch["input_ids"].shape[1] == args.new, out.shape
                    ttfts += [s.at - wave_start] * level
                    tokens += args.new * level
            report("hf_" + args.mode, level, ttfts, tokens, time.perf_counter() - start)


def stream_one(url, ids, new, model):
    """One streamed completion; returns (seconds to the first text chunk, chunks with text)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"model": model, "prompt": ids, "max_tokens": new, "temperature": 0,
                       "ignore_eos": True, "stream": True,
                       "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"status {r.status}: {r.read()[:300]}")
    first, usage = None, None
    for line in r:
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            raise RuntimeError(event)
        if first is None and any(c.get("text") for c in event.get("choices", [])):
            first = time.perf_counter() - start
        if event.get("usage"):
            usage = event["usage"]["completion_tokens"]
    conn.close()
    if usage != new:
        raise RuntimeError(f"generated {usage} tokens, asked for {new}")
    return first


def client(args):
    u = urllib.parse.urlparse(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", "/v1/models")
    card = json.loads(conn.getresponse().read())["data"][0]
    conn.close()
    vocab = args.vocab
    stream_one(args.url, prompts(args, vocab, 1, 0)[0], args.new, card["id"])  # warm-up
    for level in levels(args):
        waves = [prompts(args, vocab, level, level * 100 + w) for w in range(args.waves)]
        ttfts, start = [], time.perf_counter()
        for wave in waves:
            wave_start = time.perf_counter()
            results = [None] * len(wave)

            def run(i, ids, wave_start=wave_start):
                try:
                    started = time.perf_counter() - wave_start
                    results[i] = started + stream_one(args.url, ids, args.new, card["id"])
                except Exception as e:  # noqa: BLE001 - raised below, after the wave
                    results[i] = e

            threads = [threading.Thread(target=run, args=(i, ids)) for i, ids in enumerate(wave)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for res in results:
                if isinstance(res, Exception):
                    raise res
            ttfts += results
        report("kaito", level, ttfts, args.new * level * args.waves,
               time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--size", default="100m", choices=sorted(SIZES))
    for name in ("hf", "client"):
        s = sub.add_parser(name)
        s.add_argument("--levels", default="1,8,32")
        s.add_argument("--waves", type=int, default=2)
        s.add_argument("--prompt", type=int, default=64)
        s.add_argument("--new", type=int, default=32)
        s.add_argument("--seed", type=int, default=1)
        if name == "hf":
            s.add_argument("--model", required=True)
            s.add_argument("--mode", choices=["pipeline", "batch"], required=True)
            s.add_argument("--threads", type=int, default=2)
        else:
            s.add_argument("--url", required=True)
            s.add_argument("--vocab", type=int, required=True)
    args = p.parse_args()
    {"make": make, "hf": hf, "client": client}[args.cmd](args)


if __name__ == "__main__":
    main()
