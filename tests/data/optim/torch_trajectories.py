"""Trajectories of torch.optim on a small network, the reference's test oracle.

Writes tests/data/optim/torch_trajectories.json: a 3-4-2 network (tanh hidden layer, sigmoid
outputs, MSE loss, all in float64), one batch of 5 samples, and for each optimizer setting the
loss of each of 6 steps' forward passes and the weights and biases after the last step. The Rust
test `optim::reference_matches_torch_trajectories` runs gpunn's reference optimizer (in f64) on
the same network and batch and compares.

Also writes tests/data/optim/torch_tiny_trajectories.json: the same network on inputs 1e5
times smaller, so that the weights' gradients (1e-7 to 1e-6) are as small as Adam's ε = 1e-6,
and the weights and biases after every step of Adam, Adam with clipping by the global norm and
AdamW. Every value is an f32 (rounded before torch computes in f64), so that an f32 engine
starts from exactly the same numbers; the Rust test `optim_engines::
every_engine_follows_torch_adam_with_tiny_gradients` runs the CPU engines and the GPU on it.

Run: python3 tests/data/optim/torch_trajectories.py  (needs torch; any version with
torch.optim.AdamW and clip_grad_norm_; Debian's python3-torch will do).
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


def make_net(values=lambda rows: rows):
    l1 = torch.nn.Linear(3, 4)
    l2 = torch.nn.Linear(4, 2)
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(values(W1)))
        l1.bias.copy_(torch.tensor(values(B1)))
        l2.weight.copy_(torch.tensor(values(W2)))
        l2.bias.copy_(torch.tensor(values(B2)))
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


def f32(rows):
    """The nearest f32 of every value, as a float64 list."""
    return torch.tensor(rows).float().double().tolist()


def run(cfg, lr, x_rows=X, every_step=False):
    """Steps of `cfg`; with `every_step`, on the f32 values of the network and targets."""
    l1, l2 = make_net(f32 if every_step else (lambda rows: rows))
    weights = [l1.weight, l2.weight]
    biases = [l1.bias, l2.bias]
    opt = optimizer(cfg, weights, biases, lr)
    x, y = torch.tensor(x_rows), torch.tensor(f32(Y) if every_step else Y)
    losses, trajectory = [], []
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
        trajectory.append([{"weights": l.weight.tolist(), "bias": l.bias.tolist()}
                           for l in (l1, l2)])
    if every_step:
        return losses, trajectory
    return losses, [l1, l2]


# Inputs 1e5 times smaller (f32 values), for gradients as small as ε.
X_TINY = f32([[v * 1e-5 for v in row] for row in X])
TINY_CASES = [
    ("adam_eps_1e-6", {"kind": "adam", "eps": 1e-6}, 0.05),
    ("adam_eps_1e-6_clip_norm", {"kind": "adam", "eps": 1e-6, "clip_norm": 0.01}, 0.05),
    ("adamw_eps_1e-6", {"kind": "adamw", "eps": 1e-6, "weight_decay": 0.1}, 0.05),
]


def tiny():
    """The tiny-gradient trajectories, weights after every step."""
    out = {
        "net": {"layers": [
            {"weights": f32(W1), "bias": f32(B1), "activation": "tanh"},
            {"weights": f32(W2), "bias": f32(B2), "activation": "sigmoid"},
        ]},
        "loss": "mse", "x": X_TINY, "y": f32(Y), "steps": STEPS, "torch": torch.__version__,
        "cases": [],
    }
    for name, cfg, lr in TINY_CASES:
        losses, trajectory = run(cfg, lr, X_TINY, every_step=True)
        out["cases"].append({"name": name, "optimizer": cfg, "lr": lr, "losses": losses,
                             "trajectory": trajectory})
    return out


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
    path = os.path.join(os.path.dirname(__file__), "torch_tiny_trajectories.json")
    with open(path, "w") as f:
        json.dump(tiny(), f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
