"""TRL SFTTrainer + PEFT LoRA training throughput, the peer of kaito-runtime's TuneBench.

  python bench_trl.py --model DIR --threads N --seq 256 --batch 4 --steps 3 --rank 8

Trains on random token sequences (all tokens in the loss) with upstream's default LoRA (r 8,
alpha 8, dropout 0, PEFT's default targets q_proj/v_proj), batch 4, no gradient accumulation,
fp32 on CPU, gradient checkpointing off (SFTConfig turns it on by default: slower, less memory).
The first step is a warm-up; prints one line: trl tokens_s=... cpu_tokens_s=... peak_rss_mib=...
"""

import argparse
import os
import resource
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rank", type=int, default=8)
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import datasets
    import peft
    import transformers as tf
    from tokenizers import Tokenizer, models
    from trl import SFTConfig, SFTTrainer

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
        f"trl tokens_s={tokens / wall:.1f} cpu_tokens_s={tokens / cpu:.1f} peak_rss_mib={peak:.0f}"
        f" steps={timed} threads={args.threads}"
    )


if __name__ == "__main__":
    main()
