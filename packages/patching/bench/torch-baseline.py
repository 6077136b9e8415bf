#!/usr/bin/env python3
"""A PyTorch baseline for `pnpm bench:patching`: TransformerLens's patching loop (one full forward
pass per patch, the clean activation written in by a forward hook) on a Hugging Face GPT-2
checkpoint, written from scratch against torch alone (TransformerLens itself is not installable
here). It prints JSON with the wall time and the values of each sweep; with --compare FILE it
also reports the largest difference to a `patchlens patch` JSON of the same prompts.

Needs Debian's python3-torch and python3-numpy (/usr/bin/python3). Example:
  /usr/bin/python3 packages/patching/bench/torch-baseline.py --model packages/ioi-model/model \
    --clean-ids 50256,2215,1757,... --corrupted-ids ... --answer 5335 --wrong 1757 --compare r.json
"""
import argparse
import json
import math
import struct
import time

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


def load_safetensors(path):
    with open(path, "rb") as handle:
        data = handle.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = np.frombuffer(data[8 + length + begin : 8 + length + end], dtype=DTYPES[info["dtype"]])
        tensors[name.removeprefix("transformer.")] = torch.from_numpy(raw.astype(np.float32).reshape(info["shape"]))
    return tensors


class GPT2:
    """GPT-2 with named hook points for the activations the sweeps patch."""

    def __init__(self, folder):
        config = json.load(open(f"{folder}/config.json"))
        self.layers, self.heads, self.eps = config["n_layer"], config["n_head"], config["layer_norm_epsilon"]
        self.w = load_safetensors(f"{folder}/model.safetensors")
        self.hooks = {}

    def hook(self, name, value):
        function = self.hooks.get(name)
        return function(value) if function else value

    def layer_norm(self, x, prefix):
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()
        return x * self.w[f"{prefix}.weight"] + self.w[f"{prefix}.bias"]

    @torch.no_grad()
    def forward(self, tokens):
        w, (batch, positions) = self.w, tokens.shape
        x = w["wte.weight"][tokens] + w["wpe.weight"][:positions]
        mask = torch.full((positions, positions), -math.inf).triu(1)
        for layer in range(self.layers):
            p = f"h.{layer}"
            x = self.hook(f"blocks.{layer}.hook_resid_pre", x)
            qkv = self.layer_norm(x, f"{p}.ln_1") @ w[f"{p}.attn.c_attn.weight"] + w[f"{p}.attn.c_attn.bias"]
            q, k, v = (t.reshape(batch, positions, self.heads, -1) for t in qkv.chunk(3, -1))
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1]) + mask
            z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
            z = self.hook(f"blocks.{layer}.attn.hook_z", z)
            x = x + z.reshape(batch, positions, -1) @ w[f"{p}.attn.c_proj.weight"] + w[f"{p}.attn.c_proj.bias"]
            h = self.layer_norm(x, f"{p}.ln_2") @ w[f"{p}.mlp.c_fc.weight"] + w[f"{p}.mlp.c_fc.bias"]
            h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h.pow(3))))
            x = x + h @ w[f"{p}.mlp.c_proj.weight"] + w[f"{p}.mlp.c_proj.bias"]
        return self.layer_norm(x, "ln_f") @ w["wte.weight"].T


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--clean-ids", required=True)
    parser.add_argument("--corrupted-ids", required=True)
    parser.add_argument("--answer", type=int, required=True)
    parser.add_argument("--wrong", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare")
    parser.add_argument("--sweeps", default="resid_pre,attn_head_out_by_pos")
    parser.add_argument("--values", action="store_true", help="print each sweep's values too")
    parser.add_argument(
        "--sample", type=int, default=0,
        help="run only this many evenly spread patches (each costs one full forward pass, so the time scales)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = GPT2(args.model)
    clean = torch.tensor([[int(t) for t in args.clean_ids.split(",")]])
    corrupted = torch.tensor([[int(t) for t in args.corrupted_ids.split(",")]])
    metric = lambda logits: (logits[:, -1, args.answer] - logits[:, -1, args.wrong]).mean().item()

    cache = {}
    names = [f"blocks.{l}.hook_resid_pre" for l in range(model.layers)] + [f"blocks.{l}.attn.hook_z" for l in range(model.layers)]
    for name in names:
        model.hooks[name] = lambda value, name=name: cache.__setitem__(name, value) or value
    clean_value = metric(model.forward(clean))
    model.hooks = {}
    corrupted_value = metric(model.forward(corrupted))

    def sweep(kind, indices):
        total = len(indices)
        if args.sample:
            picks = [int((i + 0.5) * total / min(args.sample, total)) for i in range(min(args.sample, total))]
            indices = [indices[i] for i in picks]
        values, started = [], time.perf_counter()
        for index in indices:
            layer, position, *head = index
            name = f"blocks.{layer}.hook_resid_pre" if kind == "resid_pre" else f"blocks.{layer}.attn.hook_z"

            def patch(value, name=name, position=position, head=head):
                value = value.clone()
                if head:
                    value[:, position, head[0]] = cache[name][:, position, head[0]]
                else:
                    value[:, position] = cache[name][:, position]
                return value

            model.hooks = {name: patch}
            values.append(metric(model.forward(corrupted)))
        model.hooks = {}
        ms = (time.perf_counter() - started) * 1000
        if args.sample:
            return {"ms": ms * total / len(indices), "sampled": len(indices), "at": picks, "values": values}
        return {"ms": ms, "values": values}

    positions = clean.shape[1]
    indices = {
        "resid_pre": lambda: sweep("resid_pre", [(l, p) for l in range(model.layers) for p in range(positions)]),
        "attn_head_out_by_pos": lambda: sweep(
            "z", [(l, p, h) for l in range(model.layers) for p in range(positions) for h in range(model.heads)]
        ),
    }
    results = {name: indices[name]() for name in args.sweeps.split(",")}
    report = {"torch": torch.__version__, "threads": args.threads, "clean": clean_value, "corrupted": corrupted_value}
    if args.compare:
        theirs = json.load(open(args.compare))
        for name, result in results.items():
            if name in theirs["patches"]:
                other = theirs["patches"][name]
                result["patchlensMs"] = other["ms"]
                result["maxDifference"] = max(abs(a - b) for a, b in zip(result["values"], other["values"]))
    report["sweeps"] = {
        name: {k: v for k, v in result.items() if k != "values" or args.values} for name, result in results.items()
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
