"""The reference for `kaito-runtime tune`: TRL's SFTTrainer + PEFT on the same weights and batches.

  python tune_oracle.py parity --out DIR --arch llama|qwen2|phi3|llama-qlora [--arch ...]
      One directory per arch (llama-qlora: QLoRA, the llama model loaded in NF4 with double
      quantization by transformers + bitsandbytes, LoRA on top): model/ (a tiny model with every weight random, norms and biases
      included; a tokenizer), data.json (pre-tokenized examples: input_ids + labels), plan.json
      (the training settings), init/ (PEFT's initial adapter), then TRL trains it and writes
      expected.json (the loss of every optimizer step) and trl/ (the final adapter).
  python tune_oracle.py peft-logits --ids 1,2,3 --case MODEL_DIR:ADAPTER_DIR:OUT_JSON[:nf4] ...
      Logits of PeftModel.from_pretrained(model, adapter) on the ids, per case (nf4: the base
      loaded in 4 bits as the QLoRA run loads it).
  python tune_oracle.py bench ...   (bench/tuning: see run.sh)
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("KAITO_ORACLE_THREADS", "1")))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

TARGETS = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
}
FAMILY = {"llama": "llama3", "qwen2": "qwen2", "phi3": "phi3"}


QLORA = oracle.QLORA
load_4bit = oracle.load_4bit


def random_model(arch, model_dir, seed=0):
    if arch == "llama-qlora":
        # Rows of whole 64-value blocks (intermediate 128): bitsandbytes' AVX-512 dequantize
        # mis-indexes the scales of rows that are not (see docs/quantization.md).
        torch.manual_seed(seed)
        cfg = oracle.tiny_config("llama", "fp32")
        cfg.intermediate_size = 128
        model = __import__("transformers").AutoModelForCausalLM.from_config(
            cfg, attn_implementation="eager"
        )
        arch = "llama"
    else:
        model = oracle.build_model(arch, "fp32", seed)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    model.save_pretrained(model_dir, safe_serialization=True)
    oracle.make_tokenizer(FAMILY[arch], model_dir)
    return oracle.reload(model_dir)


def base_arch(arch):
    return arch.split("-")[0]


def examples(n, seed):
    """Random token sequences of 6..28 tokens; every third is all-label (a text row), the others
    have an unlabelled prompt (a prompt/completion row)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        length = int(torch.randint(6, 29, (1,), generator=g))
        ids = torch.randint(3, oracle.VOCAB, (length,), generator=g).tolist()
        prompt = 0 if i % 3 == 0 else int(torch.randint(1, length - 2, (1,), generator=g))
        labels = [-100] * prompt + ids[prompt:]
        out.append({"input_ids": ids, "labels": labels})
    return out


def parity(args):
    import datasets
    import peft
    from torch.utils.data import SequentialSampler
    from trl import SFTConfig, SFTTrainer

    for arch in args.arch:
        out = os.path.join(args.out, arch)
        model_dir = os.path.join(out, "model")
        model = random_model(arch, model_dir)
        qlora = arch.endswith("-qlora")
        if qlora:
            model = load_4bit(model_dir)
        rows = examples(22, seed=5)  # 11 batches of 2: the last step of each epoch has one batch
        plan = {
            "r": 4,
            "lora_alpha": 8,
            "target_modules": TARGETS[base_arch(arch)],
            "use_rslora": arch == "qwen2",
            "learning_rate": 1e-2,
            "weight_decay": 0.01 if arch == "llama" else 0.0,
            "lr_scheduler_type": "cosine" if arch == "phi3" else "linear",
            "warmup_steps": 3,
            "max_grad_norm": 1.0,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 2,
            "max_steps": args.steps,
        }
        if qlora:
            plan["quantization"] = QLORA
        with open(os.path.join(out, "data.json"), "w") as f:
            json.dump(rows, f)
        with open(os.path.join(out, "plan.json"), "w") as f:
            json.dump(plan, f)
        cfg = peft.LoraConfig(
            r=plan["r"],
            lora_alpha=plan["lora_alpha"],
            target_modules=plan["target_modules"],
            lora_dropout=0.0,
            use_rslora=plan["use_rslora"],
            task_type="CAUSAL_LM",
        )
        torch.manual_seed(1)
        pm = peft.get_peft_model(model, cfg)
        pm.save_pretrained(os.path.join(out, "init"), safe_serialization=True)

        step_losses = {}

        class Reference(SFTTrainer):
            def _get_train_sampler(self, *a, **k):  # the same batches as ours, in data order
                return SequentialSampler(self.train_dataset)

            def training_step(self, model, inputs, num_items_in_batch=None):
                loss = super().training_step(model, inputs, num_items_in_batch)
                s = self.state.global_step
                step_losses[s] = step_losses.get(s, 0.0) + float(loss)
                return loss

        sft = SFTConfig(
            output_dir=os.path.join(out, "trl-run"),
            per_device_train_batch_size=plan["per_device_train_batch_size"],
            gradient_accumulation_steps=plan["gradient_accumulation_steps"],
            max_steps=plan["max_steps"],
            learning_rate=plan["learning_rate"],
            weight_decay=plan["weight_decay"],
            lr_scheduler_type=plan["lr_scheduler_type"],
            warmup_steps=plan["warmup_steps"],
            max_grad_norm=plan["max_grad_norm"],
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=42,
            use_cpu=True,
            bf16=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        initial = {n: p.detach().clone() for n, p in pm.named_parameters() if p.requires_grad}
        tok = __import__("transformers").AutoTokenizer.from_pretrained(model_dir)
        trainer = Reference(
            model=pm,
            args=sft,
            train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tok,
        )
        if qlora:
            # TRL 1.16 turns the LoRA weights of a quantized model into bfloat16 (the QLoRA paper's
            # recommendation); the reference here is PEFT + bitsandbytes with float32 adapters,
            # what our CPU run computes in, from the initial adapter saved above.
            for name, p in pm.named_parameters():
                if p.requires_grad:
                    p.data = initial[name]
        trainer.train()
        pm.save_pretrained(os.path.join(out, "trl"), safe_serialization=True)
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump({"losses": [step_losses[s] for s in sorted(step_losses)]}, f)


def peft_logits(args):
    import peft

    ids = torch.tensor([[int(t) for t in args.ids.split(",")]])
    for case in args.case:
        model_dir, adapter_dir, out, *quant = case.split(":")
        model = load_4bit(model_dir) if quant == ["nf4"] else oracle.reload(model_dir)
        pm = peft.PeftModel.from_pretrained(model, adapter_dir).eval()
        with torch.no_grad():
            logits = pm(ids).logits[0].float()
        with open(out, "w") as f:
            json.dump({"logits": logits.tolist()}, f)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("parity")
    c.add_argument("--arch", action="append", required=True)
    c.add_argument("--steps", type=int, default=20)
    c.add_argument("--out", required=True)
    l = sub.add_parser("peft-logits")
    l.add_argument("--case", action="append", required=True, help="MODEL_DIR:ADAPTER_DIR:OUT")
    l.add_argument("--ids", required=True)
    args = p.parse_args()
    {"parity": parity, "peft-logits": peft_logits}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
