"""bitsandbytes' 4-bit quantization on CPU, the reference for sh.kaito.runtime.quant.

Usage: bnb_oracle.py OUT_DIR
Writes, per case, the input values and what bitsandbytes makes of them as little-endian raw files
(NAME.f32 / NAME.u8) plus cases.json, and the dynamic 8-bit code as dynamic_code.f32.
"""
import json
import os
import sys

import torch
import bitsandbytes.functional as F


def save(out, name, t):
    t = t.detach().contiguous().cpu()
    suffix = {torch.float32: "f32", torch.uint8: "u8"}[t.dtype]
    with open(os.path.join(out, f"{name}.{suffix}"), "wb") as f:
        f.write(t.numpy().tobytes())


def main(out):
    os.makedirs(out, exist_ok=True)
    save(out, "dynamic_code", F.create_dynamic_map())
    g = torch.Generator().manual_seed(1234)
    inputs = {
        # A weight matrix: full blocks only. Rows hold whole blocks (as Linear layers' rows do):
        # bitsandbytes' AVX-512 dequantize mis-indexes the scales of a row shorter than a block
        # (its ARM path guards against that; its scalar path and ours use flat blocks).
        "weights": torch.randn(48, 128, generator=g) * 0.02,
        # A short last block (1000 = 15 * 64 + 40) and heavy tails.
        "tail": torch.randn(1000, generator=g) ** 3,
        # An odd count: the packed tail byte holds one padded value.
        "odd": torch.randn(777, generator=g),
        # Over 256 blocks, so double quantization has several second-level blocks and a tail.
        "many_blocks": torch.randn(300, 257, generator=g) * 0.05,
        # A block of zeros between ordinary ones.
        "zero_block": torch.cat([torch.randn(64, generator=g), torch.zeros(64), torch.rand(64, generator=g)]),
    }
    cases = []
    for name, x in inputs.items():
        x = x.float()
        save(out, f"{name}.input", x)
        for quant_type in ("nf4", "fp4"):
            for blocksize in (64, 128):
                for double in (False, True):
                    case = f"{name}.{quant_type}.{blocksize}.{'dq' if double else 'plain'}"
                    packed, state = F.quantize_4bit(
                        x, blocksize=blocksize, compress_statistics=double, quant_type=quant_type
                    )
                    save(out, f"{case}.packed", packed)
                    save(out, f"{case}.dequant", F.dequantize_4bit(packed, state))
                    entry = {"case": case, "input": name, "numel": x.numel(), "quant_type": quant_type,
                             "blocksize": blocksize, "double": double}
                    if double:
                        save(out, f"{case}.qabsmax", state.absmax)
                        save(out, f"{case}.absmax2", state.state2.absmax)
                        entry["offset"] = float(state.offset.item())
                        # The first-level absmax, for comparing before double quantization.
                        _, plain = F.quantize_4bit(x, blocksize=blocksize, quant_type=quant_type)
                        save(out, f"{case}.absmax", plain.absmax)
                    else:
                        save(out, f"{case}.absmax", state.absmax)
                    cases.append(entry)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
