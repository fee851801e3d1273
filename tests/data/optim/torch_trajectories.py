"""Trajectories of torch.optim on a small network, the reference's test oracle.

Writes tests/data/optim/torch_trajectories.json: a 3-4-2 network (tanh hidden layer, sigmoid
outputs, MSE loss, all in float64), one batch of 5 samples, and for each optimizer setting the
loss of each of 6 steps' forward passes and the weights and biases after the last step. The Rust
test `optim::reference_matches_torch_trajectories` runs gpunn's reference optimizer (in f64) on
the same network and batch and compares.

Run: python3 tests/data/optim/torch_trajectories.py  (needs torch; any version with
torch.optim.AdamW and clip_grad_norm_).
"""

import json
import os

import torch

torch.set_default_dtype(torch.float64)
STEPS = 6

W1 = [[0.5, -0.3, 0.8], [-0.6, 0.2, 0.4], [0.1, 0.9, -0.7], [0.3, -0.5, 0.6]]
B1 = [0.1, -0.2, 0.05, 0.0]
W2 = [[0.7, -0.4, 0.2, 0.5], [-0.3, 0.6, -0.8, 0.1]]
B2 = [0.05, -0.1]
X = [[1.0, 0.5, -1.0], [0.2, -0.3, 0.8], [-0.7, 0.9, 0.1], [0.4, 0.4, 0.4], [-1.0, -0.2, 0.6]]
Y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.5, 0.2]]

# (name, run-description [optimizer] keys, lr)
CASES = [
    ("sgd", {"kind": "sgd"}, 0.5),
    ("sgd_momentum", {"kind": "sgd", "momentum": 0.9}, 0.5),
    ("sgd_nesterov", {"kind": "sgd", "momentum": 0.9, "nesterov": True}, 0.5),
    ("sgd_weight_decay", {"kind": "sgd", "momentum": 0.5, "weight_decay": 0.1}, 0.5),
    ("sgd_clip_value", {"kind": "sgd", "clip_value": 0.02}, 0.5),
    ("adam", {"kind": "adam"}, 0.05),
    ("adam_betas_eps", {"kind": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-3}, 0.05),
    ("adam_weight_decay", {"kind": "adam", "weight_decay": 0.1}, 0.05),
    ("adamw", {"kind": "adamw", "weight_decay": 0.1}, 0.05),
    ("adam_clip_norm", {"kind": "adam", "clip_norm": 0.05}, 0.05),
    ("sgd_clip_norm_weight_decay", {"kind": "sgd", "clip_norm": 0.1, "weight_decay": 0.01}, 0.5),
]


def make_net():
    l1 = torch.nn.Linear(3, 4)
    l2 = torch.nn.Linear(4, 2)
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(W1))
        l1.bias.copy_(torch.tensor(B1))
        l2.weight.copy_(torch.tensor(W2))
        l2.bias.copy_(torch.tensor(B2))
    return l1, l2


def optimizer(cfg, weights, biases, lr):
    """torch.optim with weight decay on the weights only (a parameter group each), as gpunn."""
    kind = cfg["kind"]
    wd = cfg.get("weight_decay", 0.01 if kind == "adamw" else 0.0)
    groups = [{"params": weights, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.get("momentum", 0.0),
                               nesterov=cfg.get("nesterov", False))
    betas = (cfg.get("beta1", 0.9), cfg.get("beta2", 0.999))
    eps = cfg.get("eps", 1e-8)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def run(cfg, lr):
    l1, l2 = make_net()
    weights = [l1.weight, l2.weight]
    biases = [l1.bias, l2.bias]
    opt = optimizer(cfg, weights, biases, lr)
    x, y = torch.tensor(X), torch.tensor(Y)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        out = torch.sigmoid(l2(torch.tanh(l1(x))))
        loss = torch.nn.functional.mse_loss(out, y)
        losses.append(loss.item())
        loss.backward()
        # Clipping acts on the loss gradients, before the optimizer adds any weight decay.
        if "clip_norm" in cfg:
            torch.nn.utils.clip_grad_norm_(weights + biases, cfg["clip_norm"])
        if "clip_value" in cfg:
            torch.nn.utils.clip_grad_value_(weights + biases, cfg["clip_value"])
        opt.step()
    return losses, [l1, l2]


def main():
    out = {
        "net": {"layers": [
            {"weights": W1, "bias": B1, "activation": "tanh"},
            {"weights": W2, "bias": B2, "activation": "sigmoid"},
        ]},
        "loss": "mse", "x": X, "y": Y, "steps": STEPS, "torch": torch.__version__,
        "cases": [],
    }
    for name, cfg, lr in CASES:
        losses, layers = run(cfg, lr)
        out["cases"].append({
            "name": name, "optimizer": cfg, "lr": lr, "losses": losses,
            "layers": [{"weights": l.weight.tolist(), "bias": l.bias.tolist()} for l in layers],
        })
    path = os.path.join(os.path.dirname(__file__), "torch_trajectories.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
