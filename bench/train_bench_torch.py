#!/usr/bin/env python3
"""The PyTorch side of bench/train_bench.sh: the same LoRA training step as
bench/train_bench.c (Llama forward with LoRA r=8, alpha 16 on q_proj and v_proj, mean
cross-entropy, backward into the LoRA matrices only, AdamW) on the same random
model.safetensors, with the same batch, sequence length and thread count. Prints one JSON
line with tokens/s and the peak resident set size."""
import json
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{name}: expected F32, got {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=np.float32, count=(end - start) // 4,
                              offset=base + start)
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors


class LoRALinear(torch.nn.Module):
    def __init__(self, weight, rank, alpha):
        super().__init__()
        self.weight = weight
        out_features, in_features = weight.shape
        self.lora_A = torch.nn.Parameter(torch.empty(rank, in_features))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = torch.nn.Parameter(torch.zeros(out_features, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight) + self.scale * F.linear(F.linear(x, self.lora_A),
                                                                 self.lora_B)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Model(torch.nn.Module):
    def __init__(self, cfg, w, rank=8, alpha=16):
        super().__init__()
        self.cfg = cfg
        self.w = w
        self.q = torch.nn.ModuleList()
        self.v = torch.nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}.self_attn."
            self.q.append(LoRALinear(w[p + "q_proj.weight"], rank, alpha))
            self.v.append(LoRALinear(w[p + "v_proj.weight"], rank, alpha))

    def forward(self, ids, targets):
        cfg, w = self.cfg, self.w
        B, T = ids.shape
        nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
        theta = cfg.get("rope_theta") or cfg.get("rope_parameters", {}).get("rope_theta", 1e4)
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        cos = torch.cat((ang, ang), -1).cos()
        sin = torch.cat((ang, ang), -1).sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        eps = cfg["rms_norm_eps"]
        x = F.embedding(ids, w["model.embed_tokens.weight"])
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
            q = self.q[i](h).view(B, T, nh, hd).transpose(1, 2)
            k = F.linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, nkv, hd).transpose(1, 2)
            v = self.v[i](h).view(B, T, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
            o = (att @ v).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + F.linear(o, w[p + "self_attn.o_proj.weight"])
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
            g = F.linear(h, w[p + "mlp.gate_proj.weight"])
            u = F.linear(h, w[p + "mlp.up_proj.weight"])
            x = x + F.linear(F.silu(g) * u, w[p + "mlp.down_proj.weight"])
        x = rms_norm(x, w["model.norm.weight"], eps)
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        logits = F.linear(x, head)
        return F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-100)


def main():
    model_dir, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    weights = load_safetensors(f"{model_dir}/model.safetensors")
    model = Model(cfg, weights)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    B, T = 4, 256
    ids = torch.randint(0, cfg["vocab_size"], (B, T))
    targets = torch.cat((ids[:, 1:], torch.full((B, 1), -100)), dim=1)
    start = 0.0
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(ids, targets)
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"impl": "pytorch", "version": torch.__version__, "threads": threads,
                      "steps": steps, "tokens_per_s": round(B * T * steps / elapsed, 1),
                      "peak_rss_mb": round(peak_mb, 1), "final_loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
