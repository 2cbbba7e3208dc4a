"""Drives a running kaito-runtime server with the official OpenAI Python client (RealClientsIT).

Usage: openai_client.py BASE_URL (e.g. http://127.0.0.1:PORT/v1). Prints one JSON object with what
each call returned: a chat completion and a text completion, each streamed and not, and the error a
request for an unknown model raises.
"""

import json
import sys

import openai

CHAT = [{"role": "user", "content": "Tell me a joke about GPUs."}]
PROMPT = "The capital of France is"


def main(base_url):
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)
    out = {}

    chat = client.chat.completions.create(model="tiny", messages=CHAT, temperature=0, max_tokens=16)
    out["chat"] = {
        "content": chat.choices[0].message.content,
        "role": chat.choices[0].message.role,
        "finish_reason": chat.choices[0].finish_reason,
        "completion_tokens": chat.usage.completion_tokens,
        "object": chat.object,
    }

    content, finish, usage = [], None, None
    for chunk in client.chat.completions.create(
        model="tiny",
        messages=CHAT,
        temperature=0,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    ):
        for choice in chunk.choices:
            if choice.delta.content:
                content.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
        if chunk.usage:
            usage = chunk.usage.completion_tokens
    out["chat_stream"] = {
        "content": "".join(content),
        "chunks": len(content),
        "finish_reason": finish,
        "completion_tokens": usage,
    }

    text = client.completions.create(model="tiny", prompt=PROMPT, temperature=0, max_tokens=12)
    out["completion"] = {
        "text": text.choices[0].text,
        "finish_reason": text.choices[0].finish_reason,
        "completion_tokens": text.usage.completion_tokens,
    }

    pieces, finish = [], None
    for chunk in client.completions.create(
        model="tiny", prompt=PROMPT, temperature=0, max_tokens=12, stream=True
    ):
        for choice in chunk.choices:
            pieces.append(choice.text)
            if choice.finish_reason:
                finish = choice.finish_reason
    out["completion_stream"] = {"text": "".join(pieces), "finish_reason": finish}

    try:
        client.chat.completions.create(model="gpt-4", messages=CHAT, max_tokens=4)
        out["unknown_model"] = {"raised": None}
    except openai.APIStatusError as e:
        out["unknown_model"] = {
            "raised": type(e).__name__,
            "status": e.status_code,
            "message": e.message,
        }

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
