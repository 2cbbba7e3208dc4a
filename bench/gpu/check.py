"""HF transformers' half of bench/gpu/check.sh, run with the target machine's own python3 and torch.

  python check.py make    --out DIR --device cpu|cuda      tiny models + HF logits/greedy tokens
  python check.py compare --out DIR --device cpu|cuda      java.json against hf.json, one line a case
  python check.py bench   --model DIR --device cpu|cuda --new N --repeats R   HF decode tokens/s

The models come from kaito-runtime's oracle (tiny_config/build_model/save, carried in the pack), so
they are the same shapes ModelParityIT checks on CPU. On cuda HF runs them in fp16, as our engine
does on a GPU; on cpu both sides are fp32.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

ARCHES = ["llama", "mistral", "qwen2", "phi3"]
NEW_TOKENS = 16


def dtype_for(device):
    return torch.float16 if device.startswith("cuda") else torch.float32


def make(args):
    import transformers as tf

    gen = torch.Generator().manual_seed(7)
    for arch in ARCHES:
        out = os.path.join(args.out, arch)
        os.makedirs(out, exist_ok=True)
        model = oracle.build_model(arch, "fp32")
        oracle.save(model, os.path.join(out, "model"), "fp32")
        ids = torch.randint(3, oracle.VOCAB, (12,), generator=gen).tolist()
        prompt = torch.randint(3, oracle.VOCAB, (5,), generator=gen).tolist()
        hf = tf.AutoModelForCausalLM.from_pretrained(
            os.path.join(out, "model"), dtype=dtype_for(args.device), attn_implementation="eager"
        ).to(args.device).eval()
        with torch.inference_mode():
            logits = hf(torch.tensor([ids], device=args.device)).logits[0].float().cpu()
            generated = hf.generate(
                torch.tensor([prompt], device=args.device),
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=oracle.PAD,
            )[0, len(prompt):].cpu().tolist()
        with open(os.path.join(out, "case.json"), "w") as f:
            json.dump({"ids": ids, "gen_prompt": prompt, "new_tokens": NEW_TOKENS}, f)
        with open(os.path.join(out, "hf.json"), "w") as f:
            json.dump({"logits": logits.flatten().tolist(), "generated": generated,
                       "vocab": oracle.VOCAB}, f)
    print(f"made cases={len(ARCHES)} device={args.device} torch={torch.__version__}")


def compare(args):
    # fp32 on both sides: only op order differs (ModelParityIT's bound). fp16 on a GPU: both round
    # every op to 11 bits on logits of size ~10, so a few 1e-2; greedy tokens may then part where
    # two logits are within that, and the count of equal leading tokens is reported, not required.
    tolerance = 1e-4 if args.device == "cpu" else 5e-2
    failed = 0
    for arch in ARCHES:
        d = os.path.join(args.out, arch)
        if not os.path.exists(os.path.join(d, "java.json")):
            print(f"parity case={arch} result=FAIL reason=no-java-output")
            failed += 1
            continue
        hf = json.load(open(os.path.join(d, "hf.json")))
        java = json.load(open(os.path.join(d, "java.json")))
        diff = max(abs(a - b) for a, b in zip(hf["logits"], java["logits"]))
        same = 0
        for a, b in zip(hf["generated"], java["generated"]):
            if a != b:
                break
            same += 1
        ok = diff <= tolerance and (args.device != "cpu" or same == NEW_TOKENS)
        failed += 0 if ok else 1
        print(f"parity case={arch} max_abs_logit_diff={diff:.3g} tolerance={tolerance:g} "
              f"greedy_equal={same}/{NEW_TOKENS} java_dtype={java.get('dtype')} "
              f"result={'ok' if ok else 'FAIL'}")
    return failed


def bench(args):
    import transformers as tf

    model = tf.AutoModelForCausalLM.from_pretrained(
        args.model, dtype=dtype_for(args.device)).to(args.device).eval()
    ids = torch.randint(3, model.config.vocab_size, (1, 16),
                        generator=torch.Generator().manual_seed(1)).to(args.device)
    best = 0.0
    with torch.inference_mode():
        for r in range(args.repeats + 1):
            out = model(ids, use_cache=True, logits_to_keep=1)
            past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.new - 1):
                out = model(nxt, past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            nxt.cpu()
            if r > 0:
                best = max(best, (args.new - 1) / (time.perf_counter() - t0))
    print(f"bench side=hf device={args.device} dtype={str(dtype_for(args.device))[6:]} "
          f"decode_tok_s={best:.1f}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("make", "compare"):
        s = sub.add_parser(name)
        s.add_argument("--out", required=True)
        s.add_argument("--device", default="cpu")
    b = sub.add_parser("bench")
    b.add_argument("--model", required=True)
    b.add_argument("--device", default="cpu")
    b.add_argument("--new", type=int, default=64)
    b.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.cmd == "make":
        make(args)
    elif args.cmd == "compare":
        sys.exit(1 if compare(args) else 0)
    else:
        bench(args)


if __name__ == "__main__":
    main()
