"""The numerical oracle for kaito-runtime's engine: HF transformers (+ peft) on the same weights.

Each sub-command makes what a Java IT needs in one Python start (importing torch is the slow part)
and writes `expected.json` next to the model it saved. Tests run it; nothing here is shipped.

  python oracle.py cases --out DIR --spec llama:fp32 --spec phi3:longrope --spec qwen2:fp32:lora ...
      (variants: fp32, bf16, fp16, sharded, window, longrope, llama3rope, linearrope, bias; one
      directory per spec; every weight is random, norm weights and biases included)
  python oracle.py chat   --out DIR            (chat templates rendered by apply_chat_template)
  python oracle.py smollm2 --gguf FILE --out DIR (real SmolLM2-135M-Instruct: HF dir + expected, cached)
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("KAITO_ORACLE_THREADS", "1")))

VOCAB = 512
PAD, BOS, EOS = 0, 1, 2


def tiny_config(arch, variant):
    import transformers as tf

    common = dict(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        initializer_range=0.2,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    if arch == "llama":
        if variant == "linearrope":
            common["rope_scaling"] = {"rope_type": "linear", "factor": 2.5}
        if variant == "bias":
            common["attention_bias"] = True
            common["mlp_bias"] = True
        if variant == "llama3rope":
            common["rope_scaling"] = {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 32,
            }
            common["rope_theta"] = 500000.0
        return tf.LlamaConfig(**common)
    if arch == "mistral":
        if variant == "window":
            common["sliding_window"] = 8
        else:
            common["sliding_window"] = None
        return tf.MistralConfig(**common)
    if arch == "qwen2":
        common["tie_word_embeddings"] = True
        return tf.Qwen2Config(**common)
    if arch == "phi3":
        if variant == "longrope":
            half = 16 // 2  # head_dim 16
            g = torch.Generator().manual_seed(7)
            common["rope_scaling"] = {
                "type": "longrope",
                "short_factor": [1.0 + 0.1 * i for i in range(half)],
                "long_factor": (1.0 + 4.0 * torch.rand(half, generator=g)).tolist(),
            }
            common["original_max_position_embeddings"] = 32
            common["max_position_embeddings"] = 256
        if variant == "window":
            common["sliding_window"] = 8
        return tf.Phi3Config(**common)
    raise SystemExit(f"unknown arch {arch}")


def build_model(arch, variant, seed=0):
    import transformers as tf

    torch.manual_seed(seed)
    cfg = tiny_config(arch, variant)
    model = tf.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    # from_config leaves norm weights at 1 and biases at 0, which would hide a norm or a bias
    # applied wrongly (or not at all): every weight gets a random value.
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return model.eval()


def save(model, model_dir, variant):
    kwargs = {"safe_serialization": True}
    if variant == "sharded":
        kwargs["max_shard_size"] = "100KB"
    if variant == "bf16":
        model = model.to(torch.bfloat16)
    if variant == "fp16":
        model = model.to(torch.float16)
    model.save_pretrained(model_dir, **kwargs)


def reload(model_dir):
    import transformers as tf

    return tf.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager"
    ).eval()


def add_adapter(model, adapter_dir, arch, seed=1):
    import peft

    targets = (
        ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
        if arch == "phi3"
        else ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    cfg = peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets, lora_dropout=0.0)
    pm = peft.get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                # B starts at zero in peft; random B makes the adapter change the output.
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    pm.save_pretrained(adapter_dir, safe_serialization=True)
    return pm.eval()


def cases(args):
    for spec in args.spec:
        parts = spec.split(":")
        ns = argparse.Namespace(
            arch=parts[0],
            variant=parts[1] if len(parts) > 1 else "fp32",
            adapter=len(parts) > 2 and parts[2] == "lora",
            new_tokens=args.new_tokens,
            out=os.path.join(args.out, spec.replace(":", "-")),
        )
        case(ns)


def case(args):
    out = args.out
    model_dir = os.path.join(out, "model")
    model = build_model(args.arch, args.variant)
    save(model, model_dir, args.variant)
    model = reload(model_dir)  # the reference runs on exactly the saved weights, widened to fp32
    g = torch.Generator().manual_seed(42)
    prompt_len = 48 if args.variant in ("longrope", "llama3rope", "linearrope") else 12
    ids = torch.randint(3, VOCAB, (1, prompt_len), generator=g)
    gen_prompt = ids[:, : (20 if args.variant == "longrope" else 12)]
    expected = {"arch": args.arch, "variant": args.variant, "ids": ids[0].tolist()}
    if args.adapter:
        adapter_dir = os.path.join(out, "adapter")
        model = add_adapter(model, adapter_dir, args.arch)
    with torch.no_grad():
        logits = model(ids).logits[0].float()
        expected["logits"] = logits.flatten().tolist()
        expected["vocab"] = logits.shape[-1]
        gen = model.generate(
            gen_prompt,
            attention_mask=torch.ones_like(gen_prompt),
            do_sample=False,
            max_new_tokens=args.new_tokens,
            pad_token_id=PAD,
            # LongRoPE: the prompt (20) crosses original_max_position_embeddings (32) while
            # generating. With its KV cache, HF's Phi-3 re-runs the sequence at the crossing with a
            # mask built for one query (not causal), so that one step differs from a full forward.
            # Without the cache every step is a plain full forward: the reference semantics, which
            # our engine reproduces with its cache (it re-runs the sequence, causally, at the crossing).
            use_cache=args.variant != "longrope",
        )
    expected["gen_prompt"] = gen_prompt[0].tolist()
    expected["generated"] = gen[0, gen_prompt.shape[1] :].tolist()
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


TEMPLATES = {
    "phi3": (
        "{% for message in messages %}{% if message['role'] == 'system' %}"
        "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
        "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
        "{% elif message['role'] == 'assistant' %}"
        "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
    ),
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
        "{% endif %}{% endfor %}"
    ),
    "qwen2": (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
}

SPECIALS = {
    "phi3": ("<s>", "<|endoftext|>", ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]),
    "llama3": (
        "<|begin_of_text|>",
        "<|eot_id|>",
        ["<|start_header_id|>", "<|end_header_id|>"],
    ),
    "mistral": ("<s>", "</s>", ["[INST]", "[/INST]"]),
    "qwen2": ("<|endoftext|>", "<|im_end|>", ["<|im_start|>"]),
}

CONVERSATIONS = [
    [{"role": "user", "content": "What is Kaito?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "  Hello there!  "},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "Name a prime\nnumber."},
    ],
    [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Two"},
        {"role": "user", "content": "Three"},
    ],
]

CORPUS = (
    "What is Kaito? Kaito is the Kubernetes AI toolchain operator. Hello there! Hi. "
    "Name a prime number. One two three. You are terse. You are a helpful assistant. "
) * 20


def make_tokenizer(family, out_dir):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import PreTrainedTokenizerFast

    bos, eos, extra = SPECIALS[family]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [bos, eos] + extra
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([CORPUS], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos)
    fast.add_special_tokens({"additional_special_tokens": extra})
    fast.chat_template = TEMPLATES[family]
    fast.save_pretrained(out_dir)
    return fast


def chat(args):
    results = {}
    for family in TEMPLATES:
        d = os.path.join(args.out, family)
        fast = make_tokenizer(family, d)
        rendered = []
        for conv in CONVERSATIONS:
            for gen_prompt in (True, False):
                try:
                    text = fast.apply_chat_template(
                        conv, tokenize=False, add_generation_prompt=gen_prompt
                    )
                    ids = fast.apply_chat_template(conv, tokenize=True, add_generation_prompt=gen_prompt)
                    rendered.append(
                        {"messages": conv, "add_generation_prompt": gen_prompt, "text": text, "ids": ids}
                    )
                except Exception as e:  # the template itself refused (raise_exception)
                    rendered.append(
                        {"messages": conv, "add_generation_prompt": gen_prompt, "error": str(e)}
                    )
        results[family] = rendered
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(results, f)


SMOLLM2_MESSAGES = [
    {"role": "user", "content": "Write a short story about a robot who learns to paint."}
]


def smollm2(args):
    """Converts the GGUF (dequantized to fp32 by transformers) to a HF directory, once, and records
    HF's prompt ids, prompt logits and 64 greedy tokens. The result is cached in --out."""
    done = os.path.join(args.out, "expected.json")
    if os.path.exists(done):
        return
    import transformers as tf

    src, name = os.path.split(args.gguf)
    tok = tf.AutoTokenizer.from_pretrained(src, gguf_file=name)
    model = tf.AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32).eval()
    model_dir = os.path.join(args.out, "model")
    model.save_pretrained(model_dir, safe_serialization=True)
    tok.save_pretrained(model_dir)
    ids = tok.apply_chat_template(SMOLLM2_MESSAGES, add_generation_prompt=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(ids).logits[0, -1].float()
        gen = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
        )
    new = gen[0, ids.shape[1]:]
    expected = {
        "messages": SMOLLM2_MESSAGES,
        "prompt_ids": ids[0].tolist(),
        "last_logits": logits.tolist(),
        "generated": new.tolist(),
        "text": tok.decode(new, skip_special_tokens=True),
    }
    with open(done + ".tmp", "w") as f:
        json.dump(expected, f)
    os.replace(done + ".tmp", done)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cases")
    c.add_argument("--spec", action="append", required=True, help="arch[:variant[:lora]]")
    c.add_argument("--new-tokens", type=int, default=32)
    c.add_argument("--out", required=True)
    ch = sub.add_parser("chat")
    ch.add_argument("--out", required=True)
    sm = sub.add_parser("smollm2")
    sm.add_argument("--gguf", required=True)
    sm.add_argument("--out", required=True)
    sm.add_argument("--new-tokens", type=int, default=64)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    {"cases": cases, "chat": chat, "smollm2": smollm2}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
