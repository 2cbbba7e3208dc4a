"""TRL SFTTrainer + PEFT LoRA training throughput, the peer of kaito-runtime's TuneBench.

  python bench_trl.py --model DIR --threads N --seq 256 --batch 4 --steps 3 --rank 8 [--qlora]
  python bench_trl.py --make DIR      (the ~0.46B random Llama of the QLoRA rows, once)

Trains on random token sequences (all tokens in the loss) with upstream's default LoRA (r 8,
alpha 8, dropout 0, PEFT's default targets q_proj/v_proj), batch 4, no gradient accumulation,
fp32 on CPU, gradient checkpointing off (SFTConfig turns it on by default: slower, less memory).
The first step is a warm-up; prints one line: trl tokens_s=... cpu_tokens_s=... peak_rss_mib=...
--qlora: the model loaded with bitsandbytes' load_in_4bit (NF4, double quantization, float32
compute), LoRA on top as TRL sets it up for a quantized model (its LoRA weights in bfloat16).
"""

import argparse
import os
import resource
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")


# ~0.46B parameters: 28 layers of 15.2M (hidden 1024, GQA 16/4 heads, MLP 4096) + 33.6M embeddings.
HALF_B = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=28,
              num_attention_heads=16, num_key_value_heads=4, vocab_size=16384)


def make(out):
    import torch
    import transformers as tf

    if os.path.exists(os.path.join(out, "config.json")):
        return
    torch.manual_seed(0)
    cfg = tf.LlamaConfig(max_position_embeddings=2048, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, tie_word_embeddings=False, **HALF_B)
    model = tf.AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(out, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    print(f"bench model parameters={n / 1e6:.1f}M")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--make")
    p.add_argument("--qlora", action="store_true")
    p.add_argument("--model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rank", type=int, default=8)
    args = p.parse_args()
    if args.make:
        make(args.make)
        return

    import torch

    torch.set_num_threads(args.threads)
    import datasets
    import peft
    import transformers as tf
    from tokenizers import Tokenizer, models
    from trl import SFTConfig, SFTTrainer

    if args.qlora:
        import sys

        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../kaito-runtime/src/test/python"))
        import oracle

        model = oracle.load_4bit(args.model)
    else:
        model = tf.AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    vocab = model.config.vocab_size
    tok = tf.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<pad>": 0, "<s>": 1, "</s>": 2}, "<pad>")),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    g = torch.Generator().manual_seed(1)
    rows = []
    for _ in range(args.batch * (args.steps + 1)):
        ids = torch.randint(3, vocab, (args.seq,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": ids})
    pm = peft.get_peft_model(
        model, peft.LoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0, task_type="CAUSAL_LM")
    )
    stamps = []

    class Clock(tf.TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            stamps.append((time.perf_counter(), time.process_time()))

    sft = SFTConfig(
        output_dir="/tmp/bench-trl-out",
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=2e-5,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        max_length=None,
    )
    trainer = SFTTrainer(
        model=pm,
        args=sft,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tok,
        callbacks=[Clock()],
    )
    trainer.train()
    timed = len(stamps) - 1
    wall = stamps[-1][0] - stamps[0][0]
    cpu = stamps[-1][1] - stamps[0][1]
    tokens = timed * args.batch * args.seq
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"trl{'-qlora' if args.qlora else ''} tokens_s={tokens / wall:.1f} cpu_tokens_s={tokens / cpu:.1f} peak_rss_mib={peak:.0f}"
        f" steps={timed} threads={args.threads}"
    )


if __name__ == "__main__":
    main()
