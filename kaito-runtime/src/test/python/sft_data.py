"""The oracle for kaito-runtime's tuning data: TRL's SFTTrainer prepares the same rows.

  python sft_data.py --out DIR

For each model family (Llama-3, Qwen2 and Phi-3 style tokenizers with their chat templates, the
templates marking assistant text with {% generation %} as TRL's training templates do) it writes
DIR/<family>/ (tokenizer files), the data files DIR/data/<format>.jsonl (plus .parquet and .csv
copies of some), and DIR/expected.json: for every case the SFTConfig options and the input_ids
and labels of TRL's prepared training dataset (SFTTrainer on a tiny random model, CPU). Nothing
here is shipped.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("KAITO_ORACLE_THREADS", "1")))

CORPUS = (
    "What is Kaito? Kaito is the Kubernetes AI toolchain operator. Hello there! Hi. "
    "Name a prime number. Seven is prime. One two three. You are terse. The answer is 42. "
    "Translate to French: cheese. Fromage. Café crème, naïve façade. "
) * 20

# Each family: bos (None: the tokenizer adds none), eos, extra specials, whether the tokenizer's
# post-processor puts BOS in front of plain text, and a chat template with {% generation %} blocks.
FAMILIES = {
    "llama": {
        "bos": "<|begin_of_text|>",
        "eos": "<|eot_id|>",
        "extra": ["<|start_header_id|>", "<|end_header_id|>"],
        "add_bos": True,
        "template": (
            "{{ bos_token }}{% for message in messages %}"
            "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
            "{% if message['role'] == 'assistant' %}{% generation %}"
            "{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}"
            "{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
            "{% endif %}"
        ),
    },
    "qwen2": {
        "bos": None,
        "eos": "<|im_end|>",
        "extra": ["<|im_start|>", "<|endoftext|>"],
        "add_bos": False,
        "template": (
            "{%- for message in messages %}"
            "{%- if loop.first and messages[0]['role'] != 'system' %}"
            "{{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{%- endif %}"
            "{%- if message['role'] == 'assistant' %}{{- '<|im_start|>assistant\n' }}"
            "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
            "{{- '\n' }}"
            "{%- else %}{{- '<|im_start|>' + message['role'] + '\n' + message['content']"
            " + '<|im_end|>\n' }}{%- endif %}"
            "{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
        ),
    },
    "phi3": {
        "bos": "<s>",
        "eos": "<|endoftext|>",
        "extra": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
        "add_bos": True,
        "template": (
            "{% for message in messages %}{% if message['role'] == 'system' %}"
            "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
            "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
            "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n'}}{% generation %}"
            "{{message['content'] + '<|end|>\n'}}{% endgeneration %}{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
        ),
    },
}

MESSAGES = [
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "  What is Kaito?  "},
        {"role": "assistant", "content": "The Kubernetes AI toolchain operator."},
    ],
    [
        {"role": "user", "content": "Name a prime\nnumber."},
        {"role": "assistant", "content": "Seven."},
        {"role": "user", "content": "Another 🙂, with an emoji?"},
        {"role": "assistant", "content": "Two 🙂 is prime, café."},
    ],
    [
        {"role": "user", "content": "Translate to French: cheese"},
        {"role": "assistant", "content": "Fromage"},
    ],
]

PROMPT_COMPLETION = [
    {"prompt": "What is Kaito?", "completion": " The Kubernetes AI toolchain operator."},
    {"prompt": "Name a prime number:", "completion": " Seven 🙂"},
    {"prompt": "Translate to French: cheese =>", "completion": " Fromage"},
]

TEXT = [
    {"text": "Kaito is the Kubernetes AI toolchain operator."},
    {"text": "Café crème, naïve façade. 🙂\nOne two three."},
    {"text": "Hello there! Hi."},
]


def conversational_pc():
    rows = []
    for conv in MESSAGES:
        rows.append({"prompt": conv[:-1], "completion": conv[-1:]})
    return rows


def make_tokenizer(family, out_dir):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    f = FAMILIES[family]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ([f["bos"]] if f["bos"] else []) + [f["eos"]] + f["extra"]
    trainer = trainers.BpeTrainer(
        vocab_size=420, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([CORPUS], trainer)
    if f["add_bos"]:
        bos_id = tok.token_to_id(f["bos"])
        tok.post_processor = processors.TemplateProcessing(
            single=f"{f['bos']} $A", pair=f"{f['bos']} $A {f['bos']} $B", special_tokens=[(f["bos"], bos_id)]
        )
    kwargs = {"eos_token": f["eos"]}
    if f["bos"]:
        kwargs["bos_token"] = f["bos"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)
    fast.add_special_tokens({"additional_special_tokens": f["extra"]})
    fast.chat_template = f["template"]
    fast.save_pretrained(out_dir)
    return fast


def write_data(out):
    import datasets

    d = os.path.join(out, "data")
    os.makedirs(d, exist_ok=True)
    sets = {
        "text": TEXT,
        "messages": [{"messages": m} for m in MESSAGES],
        "prompt_completion": PROMPT_COMPLETION,
        "conversational_prompt_completion": conversational_pc(),
    }
    for name, rows in sets.items():
        with open(os.path.join(d, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    # The same rows in other containers: read back, they must prepare to the same examples.
    datasets.Dataset.from_list(sets["messages"]).to_parquet(os.path.join(d, "messages.parquet"))
    with open(os.path.join(d, "messages.json"), "w", encoding="utf-8") as f:
        json.dump(sets["messages"], f, ensure_ascii=False)
    datasets.Dataset.from_list(PROMPT_COMPLETION).to_csv(os.path.join(d, "prompt_completion.csv"), index=False)
    return d


# (case name, data file stem, SFTConfig options). max_length 24 truncates most rows but leaves
# every one something to train on.
CASES = [
    ("text", "text", {}),
    ("messages", "messages", {}),
    ("messages_assistant_only", "messages", {"assistant_only_loss": True}),
    ("prompt_completion", "prompt_completion", {}),
    ("prompt_completion_full_loss", "prompt_completion", {"completion_only_loss": False}),
    ("conversational_prompt_completion", "conversational_prompt_completion", {}),
    (
        "conversational_prompt_completion_assistant_only",
        "conversational_prompt_completion",
        {"assistant_only_loss": True, "completion_only_loss": False},
    ),
    ("text_truncated", "text", {"max_length": 8}),
    ("messages_truncated_keep_end", "messages", {"max_length": 24, "truncation_mode": "keep_end"}),
    ("prompt_completion_truncated", "prompt_completion", {"max_length": 9}),
]


def tiny_model(vocab):
    import transformers as tf

    cfg = tf.LlamaConfig(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    return tf.LlamaForCausalLM(cfg)


def prepare(tokenizer, model, data_file, options, work):
    import warnings

    import datasets
    from trl import SFTConfig, SFTTrainer

    ds = datasets.load_dataset("json", data_files=data_file, split="train")
    args = SFTConfig(
        output_dir=os.path.join(work, "trainer"),
        report_to="none",
        bf16=False,
        use_cpu=True,
        dataset_num_proc=None,
        **options,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
    prepared = trainer.train_dataset
    out = {"input_ids": [list(r) for r in prepared["input_ids"]], "labels": [list(r) for r in prepared["labels"]]}
    if "max_length" in options and len(prepared) < len(ds):
        # Which rows TRL dropped as fully masked after truncation: kaito-runtime refuses them by name.
        full = SFTTrainer(
            model=model,
            args=SFTConfig(output_dir=args.output_dir, report_to="none", bf16=False, use_cpu=True,
                           **{**options, "max_length": None}),
            train_dataset=ds,
            processing_class=tokenizer,
        ).train_dataset
        sl = slice(None, options["max_length"]) if options.get("truncation_mode", "keep_start") == "keep_start" \
            else slice(-options["max_length"], None)
        out["dropped_rows"] = [i + 1 for i, labels in enumerate(full["labels"]) if all(x == -100 for x in labels[sl])]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    datasets_dir = write_data(args.out)
    import datasets

    datasets.disable_progress_bars()
    datasets.disable_caching()
    expected = {"cases": {}}
    for family in FAMILIES:
        tok = make_tokenizer(family, os.path.join(args.out, family))
        model = tiny_model(len(tok))
        cases = {}
        for name, stem, options in CASES:
            data_file = os.path.join(datasets_dir, stem + ".jsonl")
            out = prepare(tok, model, data_file, options, args.out)
            out["data"] = stem
            out["options"] = options
            cases[name] = out
        expected["cases"][family] = cases
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    sys.exit(main())
