#!/usr/bin/env python3
"""The library's training step written with PyTorch, for `plif bench` to time side by side.

Reads one JSON object on stdin (see bench/peers/torch.ts) and prints one JSON line on stdout.
Time-major like the library: stateless layers run on [T*N, ...] at once, neuron layers loop over T.
Static images go through the static encoder (the layers before the first neuron layer) once per
sample and its output is fed at every step. With "dump", runs one forward + backward on the given
input, labels and weights (dropout off) and prints the loss and the gradients instead of timing.
"""
import json
import os
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # exit code 3: the caller explains how to install PyTorch
    print(f"PyTorch not found for {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)


def surrogate_grad(name, alpha, x):
    """sigma'(x) of the library's surrogates (core/scalar.ts surrogateGrad)."""
    if name == "atan":
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)
    if name == "sigmoid":
        sg = torch.sigmoid(alpha * x)
        return alpha * sg * (1 - sg)
    if name == "piecewiseQuadratic":
        return torch.clamp(alpha - alpha * alpha * x.abs(), min=0)
    if name == "piecewiseExp":
        return (alpha / 2) * torch.exp(-alpha * x.abs())
    if name == "softSign":
        return alpha / (2 * (1 + (alpha * x).abs()) ** 2)
    if name == "erf":
        return alpha / math.sqrt(math.pi) * torch.exp(-((alpha * x) ** 2))
    raise ValueError(f"unknown surrogate '{name}'")


def make_spike(name, alpha):
    surrogate_grad(name, alpha, torch.zeros(1))  # fail early on an unknown name

    class Spike(torch.autograd.Function):
        """Heaviside forward (Theta(0) = 1), surrogate gradient backward."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x >= 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * surrogate_grad(name, alpha, x)

    return Spike.apply


class Neuron(nn.Module):
    """IF / LIF / PLIF over T steps on x [T*N, ...]; PLIF has one learnable a, k = sigmoid(a)."""

    def __init__(self, kind, cfg):
        super().__init__()
        self.kind = kind
        self.tau0 = cfg["tau0"]
        self.vth = cfg["vThreshold"]
        self.vr = cfg["vReset"]  # None: soft reset
        self.decay_input = cfg["decayInput"]
        self.detach_reset = cfg["detachReset"]
        self.spike = make_spike(cfg.get("surrogate", "atan"), cfg["surrogate_alpha"])
        if kind == "plif":
            self.a = nn.Parameter(torch.tensor([-math.log(self.tau0 - 1)]))  # k(a0) = 1/tau0

    def forward(self, x, T):
        xs = x.view(T, -1, *x.shape[1:])
        vr = 0.0 if self.vr is None else self.vr
        k = torch.sigmoid(self.a) if self.kind == "plif" else 1 / self.tau0
        v = torch.full_like(xs[0], vr)
        out = []
        for t in range(T):
            if self.kind == "if":
                h = v + xs[t]
            elif self.decay_input:
                h = v + k * (xs[t] - (v - vr))
            else:
                h = v - k * (v - vr) + xs[t]
            s = self.spike(h - self.vth)
            sr = s.detach() if self.detach_reset else s
            v = h * (1 - sr) + vr * sr if self.vr is not None else h - sr * self.vth
            out.append(s)
        return torch.cat(out, 0)


class Dropout(nn.Module):
    """One mask per sample shared by every step, scaled by 1/(1-p)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x, T):
        if not self.training or self.p == 0:
            return x
        xs = x.view(T, -1, *x.shape[1:])
        mask = (torch.rand(xs.shape[1:]) >= self.p).to(x.dtype) / (1 - self.p)
        return (xs * mask).view(x.shape)


class Stateless(nn.Module):
    """A layer applied to [T'*N, ...] at once."""

    def __init__(self, fn, *params):
        super().__init__()
        self.fn = fn
        self.inner = nn.ModuleList(params)

    def forward(self, x, T):
        return self.fn(x)


def build(cfg):
    """Layers from the parsed specs, the index of the first neuron layer, and the parameters in the
    library's order (conv/linear weight, BN gamma then beta, PLIF a)."""
    shape = list(cfg["input"])
    layers, params = [], []
    for s in cfg["layers"]:
        kind = s["kind"]
        if kind == "conv":
            conv = nn.Conv2d(shape[0], s["channels"], s["kernel"], s["stride"], s["padding"], bias=False)
            layers.append(Stateless(conv, conv))
            params.append(conv.weight)
            shape = [s["channels"]] + [(d + 2 * s["padding"] - s["kernel"]) // s["stride"] + 1 for d in shape[1:]]
        elif kind == "bn":
            bn = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0], eps=cfg.get("bn_eps", 1e-5), momentum=cfg.get("bn_momentum", 0.1))
            layers.append(Stateless(bn, bn))
            params += [bn.weight, bn.bias]
        elif kind == "neuron":
            n = Neuron(s["neuron"], cfg["neuron"])
            layers.append(n)
            params += list(n.parameters())
        elif kind in ("maxpool", "avgpool"):
            kk, st = s["kernel"], s["stride"]
            if len(shape) == 1:  # voting: average of M outputs per class
                if kind != "avgpool" or kk != st or shape[0] % kk:
                    raise ValueError(f"voting layer needs APkMsM with M dividing {shape[0]}")
                f = shape[0] // kk
                layers.append(Stateless(lambda x, f=f, kk=kk: x.view(-1, f, kk).mean(2)))
                shape = [f]
            else:
                pool = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
                layers.append(Stateless(lambda x, pool=pool, kk=kk, st=st: pool(x, kk, st)))
                shape = [shape[0]] + [(d - kk) // st + 1 for d in shape[1:]]
        elif kind == "dropout":
            layers.append(Dropout(s["p"]))
        elif kind == "fc":
            fin = math.prod(shape)
            fc = nn.Linear(fin, s["features"], bias=False)
            layers.append(Stateless(lambda x, fc=fc: fc(x.flatten(1)), fc))
            params.append(fc.weight)
            shape = [s["features"]]
        else:
            raise ValueError(f"unknown layer kind '{kind}'")
    if shape != [cfg["classes"]]:
        raise ValueError(f"network output is {shape} per step, expected [{cfg['classes']}]")
    first = next((i for i, l in enumerate(layers) if isinstance(l, Neuron)), len(layers))
    return layers, first, params


def forward(cfg, layers, first, x, N):
    """Output [T, N, classes] and the spikes of every neuron layer."""
    T = cfg["T"]
    static = cfg["static"]
    h = x if static else x.view(T * N, *x.shape[2:])
    spikes = []
    for i, layer in enumerate(layers):
        if static and i == first:
            h = h.repeat(T, *([1] * (h.dim() - 1)))  # the encoder's output fed at every step
        h = layer(h, 1 if static and i < first else T)
        if isinstance(layer, Neuron):
            spikes.append(h)
    if static and first == len(layers):
        h = h.repeat(T, 1)
    return h.view(T, N, -1), spikes


def loss_of(cfg, out, labels):
    y = F.one_hot(labels, cfg["classes"]).to(out.dtype)
    if cfg.get("loss", "rate") == "rate":
        return ((out.mean(0) - y) ** 2).mean()
    return ((out - y) ** 2).mean()


def synthetic_batch(cfg, N, g):
    """Like bench/train-step.ts syntheticBatch: half background, rest uniform; events 10% ones."""
    C, H, W = cfg["input"]
    shape = [N, C, H, W] if cfg["static"] else [cfg["T"], N, C, H, W]
    if cfg["static"]:
        bg, hi = -0.286 / 0.353, (1 - 0.286) / 0.353
        u = torch.rand(shape, generator=g)
        x = torch.where(torch.rand(shape, generator=g) < 0.5, torch.full(shape, bg), bg + (hi - bg) * u)
    else:
        x = (torch.rand(shape, generator=g) < 0.1).float()
    return x, torch.randint(cfg["classes"], (N,), generator=g)


def dump(cfg, layers, first, params):
    d = cfg["dump"]
    for l in layers:
        if isinstance(l, Dropout):
            l.p = 0.0
    with torch.no_grad():
        for p, w in zip(params, d["params"], strict=True):
            p.copy_(torch.tensor(w, dtype=torch.float32).view(p.shape))
    labels = torch.tensor(d["labels"], dtype=torch.long)
    N = len(labels)
    C, H, W = cfg["input"]
    x = torch.tensor(d["x"], dtype=torch.float32).view(*([N] if cfg["static"] else [cfg["T"], N]), C, H, W)
    out, spikes = forward(cfg, layers, first, x, N)
    loss = loss_of(cfg, out, labels)
    loss.backward()
    return {
        "loss": loss.item(),
        "grads": [p.grad.flatten().tolist() for p in params],
        "firing_rates": [s.mean().item() for s in spikes],
    }


def bench(cfg, layers, first, params):
    N, steps, warmup = cfg["batch"], cfg["steps"], cfg["warmup"]
    g = torch.Generator().manual_seed(cfg["seed"])
    x, labels = synthetic_batch(cfg, N, g)
    if cfg.get("data"):
        C, H, W = cfg["input"]
        labels = torch.tensor(cfg["data"]["labels"], dtype=torch.long)
        x = torch.tensor(cfg["data"]["x"], dtype=torch.float32).view(*([N] if cfg["static"] else [cfg["T"], N]), C, H, W)
    opt = torch.optim.Adam(params, lr=cfg.get("lr", 1e-3), betas=(0.9, 0.999), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        out, spikes = forward(cfg, layers, first, x, N)
        loss_of(cfg, out, labels).backward()
        opt.step()
        return [s.detach().mean() for s in spikes]

    for _ in range(warmup):
        step()
    # at least `steps` steps; with min_seconds, on until that much time has passed (at most max_steps)
    min_seconds = float(cfg.get("min_seconds", 0) or 0)
    max_steps = max(steps, int(cfg.get("max_steps", 1000) or 1000))
    rates = None
    step_ms = []
    c0, t0 = time.process_time(), time.perf_counter()
    while len(step_ms) < steps or (sum(step_ms) < 1000 * min_seconds and len(step_ms) < max_steps):
        s0 = time.perf_counter()
        r = step()
        step_ms.append((time.perf_counter() - s0) * 1000)
        rates = r if rates is None else [a + b for a, b in zip(rates, r)]
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    steps = len(step_ms)
    ordered = sorted(step_ms)
    mid = steps // 2
    median = ordered[mid] if steps % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {
        "steps": steps,
        "step_ms": {"min": ordered[0], "median": median, "max": ordered[-1]},
        "samples_per_s": steps * N / seconds,
        "ms_per_step": seconds * 1000 / steps,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "samples_per_cpu_s": steps * N / max(cpu, 1e-9),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
        "firing_rates": [(v / steps).item() for v in rates] if rates else [],
    }


def loaded_blas():
    """The BLAS library this process really loaded (Debian's torch uses whichever libblas.so.3 the
    alternatives system points to: the slow reference BLAS unless libopenblas0 is installed)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        names = sorted(os.path.realpath(p) for p in libs)
        for key in ("openblas", "mkl", "blis", "atlas"):
            if any(key in n for n in names):
                return key
        return "reference (install libopenblas0 for an optimised BLAS)" if names else "unknown"
    except OSError:
        return "unknown"


def main():
    cfg = json.load(sys.stdin)
    torch.set_num_threads(int(cfg.get("threads", 1)))
    torch.manual_seed(cfg.get("seed", 0))
    layers, first, params = build(cfg)
    for l in layers:
        l.train()
    if cfg.get("dump"):
        result = dump(cfg, layers, first, params)
    else:
        if cfg["steps"] < 1:
            raise ValueError("steps must be >= 1")
        result = bench(cfg, layers, first, params)
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line on stderr, nonzero exit
        print(f"torch_step.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
