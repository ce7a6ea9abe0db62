#!/usr/bin/env python3
"""The library's training step written with PyTorch, for `plif bench` to time side by side.

Reads one JSON object on stdin (see bench/peers/torch.ts) and prints one JSON line on stdout.
Time-major like the library: stateless layers run on [T*N, ...] at once, neuron layers loop over T.
Static images go through the static encoder (the layers before the first neuron layer) once per
sample and its output is fed at every step. With "dump", runs one forward + backward on the given
input, labels and weights (dropout off) and prints the loss and the gradients instead of timing.

Written to be as fast as plain PyTorch (1.13, CPU) allows, each choice measured with torch.profiler:
- the neuron layers run NeuronBPTT: the forward loop writes H and S into preallocated tensors without
  building a graph (Vr = 0 drops the no-op terms; H = lerp(V, X, k)), and the backward runs the
  recurrence with one fused op per step (addcmul_) and the surrogate, dL/dX and dL/dk over all T at
  once. Autograd over the same loop ("neuron_impl": "autograd", iterating with unbind, no per-step
  select) is kept for the tests and was 5-15% slower per step; the first version (xs[t] per step,
  whose backward zero-fills the whole [T, ...] input per step) was 1.6-1.8x slower;
- the static encoder's output goes to the first neuron layer once, not repeated T times;
- torch.set_num_threads and the BLAS/OpenMP pools get the caller's thread count;
- glibc malloc keeps freed blocks (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, set by
  bench/peers/torch.ts where the environment does not): by default every large activation is mapped
  afresh each step and its pages faulted in again; with them the paper network's step took about half
  the time (1 thread). The result's "malloc" gives the settings the process ran with.
Tried and dropped, no gain measured: channels_last convs, Adam(foreach=True), ATEN_CPU_CAPABILITY=avx512,
jemalloc (LD_PRELOAD, Debian's libjemalloc2: no faster than glibc's default).
With "profile", the result also holds torch.profiler's top ops per step (after the timed steps).
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


def surrogate_times(name, alpha, x, g):
    """g * sigma'(x) in as few passes over memory as PyTorch allows (atan: two fused ops)."""
    if name == "atan":  # (alpha / 2) g / (1 + (pi alpha x / 2)^2)
        q = torch.addcmul(ONE, x, x, value=(math.pi / 2 * alpha) ** 2)
        return torch.addcdiv(ZERO, g, q, value=alpha / 2)
    return surrogate_grad(name, alpha, x).mul_(g)


ONE = torch.ones(())
ZERO = torch.zeros(())


class NeuronBPTT(torch.autograd.Function):
    """The neuron over T steps with its backward written out (Eqs. 8-15), as the library computes it.

    Forward loops over t into preallocated H and S without building a graph; backward runs the
    recurrence of dL/dH_t backwards with one fused op per step, and everything that does not depend
    on the recurrence (surrogate, dV/dH, dL/dX, dL/dk) over all T at once. x is [T, N, ...], or [N, ...]
    for a static input fed at every step (its gradient is then summed over T).
    """

    @staticmethod
    def forward(ctx, x, a, n, T, static):
        k = n.k_value(a)
        xs = x if static else x.view(T, -1, *x.shape[1:])
        shape = (T,) + tuple(xs.shape if static else xs.shape[1:])
        H = x.new_empty(shape)  # every step's H and S, written in place
        S = x.new_empty(shape)
        v = x.new_empty(shape[1:])
        vr, vth = n.vr_value, n.vth
        decay = n.kind != "if" and n.decay_input
        for t in range(T):
            xt = xs if static else xs[t]
            h = H[t]
            if t == 0:  # V_{-1} = Vr: H = Vr + k X with decay_input, else Vr + X
                if decay:
                    torch.mul(xt, k, out=h)
                else:
                    h.copy_(xt)
                if vr != 0:
                    h.add_(vr)
            elif n.kind == "if":
                torch.add(v, xt, out=h)  # H = V + X
            elif n.decay_input and vr == 0:
                torch.lerp(v, xt, k, out=h)  # H = V + k (X - V) (Eq. 6, Vr = 0)
            elif n.decay_input:
                # H = V + k (X - (V - Vr)) (Eq. 6)
                torch.sub(xt, v, out=h)
                h.add_(vr).mul_(k).add_(v)
            else:
                # H = V - k (V - Vr) + X
                torch.add(xt, v, alpha=1 - k, out=h)
                if vr != 0:
                    h.add_(k * vr)
            s = S[t]
            torch.ge(h, vth, out=s)  # Eq. 3, Theta(0) = 1
            if t + 1 < T:
                if n.hard:  # V = H (1 - S) + Vr S = H - S (H - Vr) (Eq. 4)
                    if vr == 0:
                        torch.addcmul(h, h, s, value=-1, out=v)
                    else:
                        torch.addcmul(h, h - vr, s, value=-1, out=v)
                else:  # V = H - S Vth
                    torch.add(h, s, alpha=-vth, out=v)
        ctx.n, ctx.T, ctx.k, ctx.static = n, T, k, static
        ctx.save_for_backward(xs, H, S)
        return S.view((T * shape[1],) + shape[2:])

    @staticmethod
    def backward(ctx, gs):
        x, H, S = ctx.saved_tensors
        n, T, k, static = ctx.n, ctx.T, ctx.k, ctx.static
        vr, vth = n.vr_value, n.vth
        gS = gs.reshape(H.shape)
        d = H - vth
        # dV_t/dH_t (Eq. 12)
        if n.detach_reset:
            R = 1 - S if n.hard else None
        else:
            sg = surrogate_grad(n.sg_name, n.sg_alpha, d)  # dS/dH (Eq. 13)
            R = (1 - S).addcmul_(vr - H, sg) if n.hard else 1 - vth * sg
        GH = surrogate_times(n.sg_name, n.sg_alpha, d, gS)  # dL/dS dS/dH; the recurrence adds dL/dV dV/dH (Eqs. 8-10)
        dhdv = 1.0 if n.kind == "if" else 1 - k  # Eq. 11
        for t in range(T - 2, -1, -1):
            if R is None:
                GH[t].add_(GH[t + 1], alpha=dhdv)
            else:
                GH[t].addcmul_(GH[t + 1], R[t], value=dhdv)
        dhdx = k if n.kind != "if" and n.decay_input else 1.0  # Eq. 14
        gsum = GH.sum(0) if static else None
        gx = None
        if ctx.needs_input_grad[0]:
            gx = gsum if static else GH.view(T * H.shape[1], *H.shape[2:])
            if dhdx != 1.0:
                gx = gx * dhdx
        ga = None
        if ctx.needs_input_grad[1]:
            # dL/dk = sum_t dL/dH_t dH_t/dk (Eq. 15): dH_t/dk = X_t - (V_{t-1} - Vr) with decay_input, else Vr - V_{t-1}
            if T > 1:
                hp, sp = H[:-1], S[:-1]
                if n.hard:  # V = H - S (H - Vr); with Vr = 0 no H - Vr tensor is made
                    vprev = torch.addcmul(hp, hp if vr == 0 else hp - vr, sp, value=-1)
                else:
                    vprev = torch.add(hp, sp, alpha=-vth)
                if vr != 0:
                    vprev.sub_(vr)
                gk = -torch.dot(GH[1:].reshape(-1), vprev.reshape(-1))
            else:
                gk = GH.new_zeros(())
            if n.decay_input:
                gk = gk + torch.dot((gsum if static else GH).reshape(-1), x.reshape(-1))
            ga = (gk * (k * (1 - k))).reshape(1)  # dk/da = k (1 - k)
        return gx, ga, None, None, None


class Neuron(nn.Module):
    """IF / LIF / PLIF over T steps on x [T*N, ...] (or [N, ...] static); PLIF has one learnable a, k = sigmoid(a).

    impl "bptt": NeuronBPTT (default); "autograd": the same equations as PyTorch ops differentiated by autograd.
    """

    def __init__(self, kind, cfg, impl="bptt"):
        super().__init__()
        self.kind = kind
        self.impl = impl
        self.tau0 = cfg["tau0"]
        self.vth = cfg["vThreshold"]
        self.vr = cfg["vReset"]  # None: soft reset
        self.hard = self.vr is not None
        self.vr_value = 0.0 if self.vr is None else float(self.vr)
        self.decay_input = cfg["decayInput"]
        self.detach_reset = cfg["detachReset"]
        self.sg_name = cfg.get("surrogate", "atan")
        self.sg_alpha = cfg["surrogate_alpha"]
        self.spike = make_spike(self.sg_name, self.sg_alpha)
        if kind == "plif":
            self.a = nn.Parameter(torch.tensor([-math.log(self.tau0 - 1)]))  # k(a0) = 1/tau0

    def k_value(self, a):
        if self.kind == "plif":
            return torch.sigmoid(a).item()
        return 1 / self.tau0 if self.kind == "lif" else None

    def forward(self, x, T, static=False):
        if self.impl == "bptt":
            return NeuronBPTT.apply(x, self.a if self.kind == "plif" else None, self, T, static)
        return self.forward_autograd(x, T, static)

    def forward_autograd(self, x, T, static):
        steps = [x] * T if static else x.view(T, -1, *x.shape[1:]).unbind(0)
        vr = self.vr_value
        k = torch.sigmoid(self.a) if self.kind == "plif" else 1 / self.tau0
        v = None  # V_{-1} = Vr
        out = []
        for xt in steps:
            if self.kind == "if":
                h = xt + vr if v is None else v + xt
            elif self.decay_input:
                h = k * (xt + vr) if v is None else (v + k * (xt - v) if vr == 0 else v + k * (xt - (v - vr)))
            else:
                h = xt + vr if v is None else (v - k * v + xt if vr == 0 else v - k * (v - vr) + xt)
            s = self.spike(h - self.vth)
            sr = s.detach() if self.detach_reset else s
            if self.hard:
                v = h * (1 - sr) if vr == 0 else h * (1 - sr) + vr * sr
            else:
                v = h - sr * self.vth
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


def build(cfg, impl="bptt"):
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
            n = Neuron(s["neuron"], cfg["neuron"], impl)
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
        # static: the encoder's output [N, ...] goes to the first neuron layer as it is, fed at every step
        if static and i == first:
            h = layer(h, T, static=True)
        else:
            h = layer(h, 1 if static and i < first else T)
        if isinstance(layer, Neuron):
            spikes.append(h)
    if static and first == len(layers):
        h = h.unsqueeze(0).expand(T, *h.shape).reshape(T * N, -1)
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


def load_state(st, layers, params, opt):
    """The library's state from st["file"], float32 values one tensor after the other (bench/checkpoint-start.ts
    writeHostState): parameters, BN running mean and variance per BN layer, Adam's m and v (st["adam_step"] updates
    done); without an optimizer, the Adam part is checked but not used."""
    bns = [l.inner[0] for l in layers if isinstance(l, Stateless) and len(l.inner) and isinstance(l.inner[0], nn.modules.batchnorm._BatchNorm)]
    buffers = [t for bn in bns for t in (bn.running_mean, bn.running_var)]
    want = 3 * sum(p.numel() for p in params) + sum(b.numel() for b in buffers)
    path = st["file"]
    size = os.path.getsize(path)
    if size != 4 * want:
        raise ValueError(f"{path}: {size} bytes, expected {4 * want} (float32 parameters, BN statistics, Adam m and v of this network)")
    data = torch.from_file(path, shared=False, size=want, dtype=torch.float32)
    at = 0

    def take(t):
        nonlocal at
        v = data[at : at + t.numel()].view(t.shape)
        at += t.numel()
        return v

    with torch.no_grad():
        for t in list(params) + buffers:
            t.copy_(take(t))
        ms = [take(p).clone() for p in params]
        vs = [take(p).clone() for p in params]
    if opt is not None:
        for p, m, v in zip(params, ms, vs):
            opt.state[p] = {"step": torch.tensor(float(st["adam_step"])), "exp_avg": m, "exp_avg_sq": v}


def dump(cfg, layers, first, params):
    d = cfg["dump"]
    for l in layers:
        if isinstance(l, Dropout):
            l.p = 0.0
    if cfg.get("state"):
        load_state(cfg["state"], layers, params, None)
    with torch.no_grad():
        for p, w in zip(params, d.get("params") or [], strict=not cfg.get("state")):
            p.copy_(torch.tensor(w, dtype=torch.float32).view(p.shape))
    bns = [l.inner[0] for l in layers if isinstance(l, Stateless) and len(l.inner) and isinstance(l.inner[0], nn.modules.batchnorm._BatchNorm)]
    buffers = [t.flatten().tolist() for bn in bns for t in (bn.running_mean, bn.running_var)]  # before the forward updates them
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
        "buffers": buffers,
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
    if cfg.get("state"):
        load_state(cfg["state"], layers, params, opt)

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
    result = {
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
        "malloc": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "firing_rates": [(v / steps).item() for v in rates] if rates else [],
        "neuron_impl": cfg.get("neuron_impl", "bptt"),
    }
    if cfg.get("profile"):
        result["profile"] = profile(step, int(cfg.get("profile_steps", 3)), int(cfg.get("profile_top", 15)))
    return result


def profile(step, steps, top):
    """torch.profiler over `steps` more steps: the ops with the most self CPU time, per step."""
    from torch.profiler import ProfilerActivity, profile as torch_profile, schedule

    wall = 0.0
    # one step to warm the profiler up, then `steps` recorded ones
    with torch_profile(activities=[ProfilerActivity.CPU], schedule=schedule(wait=0, warmup=1, active=steps, repeat=1)) as prof:
        for i in range(steps + 1):
            t0 = time.perf_counter()
            step()
            if i > 0:
                wall += (time.perf_counter() - t0) * 1000 / steps
            prof.step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0 and not e.key.startswith("ProfilerStep")]
    total = sum(e.self_cpu_time_total for e in events) or 1
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    ops = [
        {
            "op": e.key,
            "calls_per_step": e.count / steps,
            "self_ms_per_step": e.self_cpu_time_total / 1000 / steps,
            "total_ms_per_step": e.cpu_time_total / 1000 / steps,
            "percent": 100 * e.self_cpu_time_total / total,
        }
        for e in events[:top]
    ]
    return {"steps": steps, "ms_per_step": wall, "self_ms_per_step": total / 1000 / steps, "ops": ops}


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
    layers, first, params = build(cfg, cfg.get("neuron_impl", "bptt"))
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
