"""Random whole networks for the network stage of ``snapcheck calibrate``, as plain data, and their builder.

``random_nets(n, seed)`` draws ``n`` random networks (no TensorFlow) in three families: "mixed" (8/15), a
classifier (strided stages, global pool, dense head) or an encoder-decoder (down-sampling, up-sampling by
nearest or bilinear resize or a transposed conv, skip concatenations or additions, an output head); "deep"
(4/15, ``_deep``: mobile-style stacks, wide bottlenecks); "sep" (3/15, ``_separable``: separable and
inverted-residual classifiers, where pointwise convs take most of the time); 32-256 px. Every block draws
its own recipe from ``BLOCKS`` (plain conv, separable, inverted residual, residual, pool) or ``UP_BLOCKS``,
with its own kernel size, activation and width (log-uniform, a multiple of 4, not a width ladder), so no
network repeats a held-out architecture (``bench/zoo.py``: MobileNet v1/v2, ResNet, U-Net and the generator
each use one fixed recipe per stage and widths that are multiples of 8; ``is_held_out_safe``: every random
net mixes at least two recipes and has a width of 4 mod 8). ``cell_nets(n, seed)`` draws a fourth kind apart
(``_cells``), for ``calibrate --quick``'s cold-input probes: the motifs of real classifiers the others lack,
NASNet-style cells, DenseNet-style concatenation and squeeze-and-excitation. ``net_model`` builds one with Keras
(random weights) and ``build_net_tflite`` converts it.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from snapcheck.gan.layers import nearest_upsample
from snapcheck.tfconvert import import_tensorflow, keras_tflite

ACTS = ("relu", "relu6", "leaky", "hswish", "")
BLOCKS = ("conv", "sep", "inv", "res", "pool")
UP_BLOCKS = ("up_nearest", "up_bilinear", "up_deconv")
MAX_MACS = 3.5e9  # keeps one timing under ~1 s
MIN_MACS = 3e6


@dataclass(frozen=True)
class Layer:
    """One layer: ``op`` on the previous layer's output (``add``/``concat`` also take layer ``src``, a concat
    more with ``srcs``; ``take`` starts a branch from layer ``src``)."""

    op: str  # conv dw pw deconv nearest bilinear maxpool avgpool add concat act gap dense take se
    cout: int = 0  # se: the squeeze's width
    k: int = 1
    stride: int = 1
    act: str = ""  # relu relu6 leaky hswish swish tanh sigmoid, "" for linear
    bn: bool = False
    src: int = -1  # add / concat: index of the other layer; take: the layer whose output it takes (-1: the input)
    srcs: tuple[int, ...] = field(default=(), repr=False)  # concat: more layers joined at once (a cell's output)


@dataclass(frozen=True)
class NetSpec:
    """One random network: its layers in order, on a ``res`` x ``res`` x ``cin`` input."""

    name: str
    res: int
    cin: int
    layers: tuple[Layer, ...]
    recipes: tuple[str, ...]  # one entry per block
    macs: float = 0.0

    def key(self) -> str:
        """Cache key: the name plus a digest of the layers (a changed generator never reuses a stale timing)."""
        joins = [(i, ly.srcs) for i, ly in enumerate(self.layers) if ly.srcs]
        text = repr(self.layers) + (repr(joins) if joins else "")
        return f"{self.name}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"

    def widths(self) -> list[int]:
        return [ly.cout for ly in self.layers if ly.op in ("conv", "pw", "deconv") and ly.cout > 4]


class _Builder:
    """Tracks shapes and MACs while a random network is assembled layer by layer."""

    def __init__(self, res: int, cin: int) -> None:
        self.layers: list[Layer] = []
        self.shapes: list[tuple[int, int]] = []  # (side, channels) after each layer
        self.res, self.cin = res, cin
        self.side, self.c, self.macs = res, cin, 0.0

    def add(self, ly: Layer) -> int:
        s, c = self.side, self.c
        if ly.op in ("conv", "pw", "dw"):
            out = -(-s // ly.stride)
            cout = c if ly.op == "dw" else ly.cout
            self.macs += out * out * cout * ly.k * ly.k * (1 if ly.op == "dw" else c)
            s, c = out, cout
        elif ly.op == "deconv":
            self.macs += s * s * c * ly.cout * ly.k * ly.k
            s, c = 2 * s, ly.cout
        elif ly.op in ("nearest", "bilinear"):
            s *= 2
        elif ly.op in ("maxpool", "avgpool"):
            s = -(-s // ly.stride)
        elif ly.op == "concat":
            c += sum(self.shapes[i][1] for i in (ly.src, *ly.srcs) if i >= 0)
        elif ly.op == "take":
            s, c = self.shapes[ly.src] if ly.src >= 0 else (self.res, self.cin)
        elif ly.op == "se":
            self.macs += 2 * c * ly.cout
        elif ly.op == "gap":
            s = 1
        elif ly.op == "dense":
            self.macs += c * ly.cout
            c = ly.cout
        self.side, self.c = s, c
        self.layers.append(ly)
        self.shapes.append((s, c))
        return len(self.layers) - 1


def _width(rnd: random.Random, base: float, lo: int = 4, hi: int = 640) -> int:
    return int(min(hi, max(lo, 4 * round(base * math.exp(rnd.uniform(-0.45, 0.45)) / 4))))


def _act(rnd: random.Random) -> str:
    return rnd.choice(ACTS)


def _block(b: _Builder, rnd: random.Random, recipe: str, cout: int, stride: int) -> None:
    """Append one encoder/classifier block."""
    k = rnd.choice((3, 3, 4, 5))
    act = _act(rnd)
    if recipe == "conv":
        b.add(Layer("conv", cout, k, stride, act, rnd.random() < 0.7))
    elif recipe == "sep":
        b.add(Layer("dw", 0, k, stride, act if rnd.random() < 0.5 else "", rnd.random() < 0.5))
        b.add(Layer("pw", cout, 1, 1, act, rnd.random() < 0.7))
    elif recipe == "inv":
        start, c = len(b.layers) - 1, b.c
        b.add(Layer("pw", _width(rnd, c * rnd.choice((2, 3, 4, 6)), hi=1536), 1, 1, act, True))
        b.add(Layer("dw", 0, rnd.choice((3, 5)), stride, act, True))
        b.add(Layer("pw", cout, 1, 1, "", True))
        if stride == 1 and cout == c:
            b.add(Layer("add", src=start))
    elif recipe == "res":
        start, c = len(b.layers) - 1, b.c
        b.add(Layer("conv", cout, 3, stride, act, True))
        b.add(Layer("conv", cout, 3, 1, "", True))
        if stride == 1 and cout == c:
            b.add(Layer("add", src=start))
            if act:
                b.add(Layer("act", act=act))
    elif recipe == "pool":
        b.add(Layer(rnd.choice(("maxpool", "avgpool")), 0, rnd.choice((2, 3)), 2))
        if rnd.random() < 0.5:
            b.add(Layer("conv" if rnd.random() < 0.5 else "pw", cout, 3 if rnd.random() < 0.5 else 1, 1, act, True))
    else:
        raise ValueError(recipe)


def _up(b: _Builder, rnd: random.Random, recipe: str, cout: int) -> None:
    act = _act(rnd)
    if recipe == "up_nearest":
        b.add(Layer("nearest"))
        if rnd.random() < 0.5:
            b.add(Layer("conv", cout, rnd.choice((3, 4)), 1, act, True))
        else:
            b.add(Layer("dw", 0, rnd.choice((3, 4, 5)), 1, "", rnd.random() < 0.5))
            b.add(Layer("pw", cout, 1, 1, act, True))
    elif recipe == "up_bilinear":
        b.add(Layer("bilinear"))
        b.add(Layer("conv" if rnd.random() < 0.4 else "pw", cout, 3, 1, act, True))
    elif recipe == "up_deconv":
        b.add(Layer("deconv", cout, rnd.choice((2, 3, 4)), 2, act, rnd.random() < 0.7))
    else:
        raise ValueError(recipe)


def _classifier(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str]]:
    b = _Builder(res, cin)
    w = rnd.uniform(6, 96)
    b.add(Layer("conv", _width(rnd, w), rnd.choice((3, 5, 7)), 2, _act(rnd), True))
    recipes = ["conv"]
    for _ in range(rnd.randint(2, 5)):
        if b.side < 4:
            break
        w *= rnd.uniform(1.2, 2.6)
        for i in range(rnd.randint(1, 3)):
            recipe = rnd.choice(BLOCKS if i == 0 else BLOCKS[:4])
            cout = b.c if (i > 0 and rnd.random() < 0.6) else _width(rnd, w)
            _block(b, rnd, recipe, cout, 2 if i == 0 else 1)
            recipes.append(recipe)
    b.add(Layer("gap"))
    b.add(Layer("dense", rnd.choice((10, 100, 256, 1000))))
    return b, recipes


def _encdec(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str]]:
    b = _Builder(res, cin)
    w = rnd.uniform(4, 64)
    skips: list[int] = []
    recipes: list[str] = []
    depth = rnd.randint(2, min(6, int(math.log2(res)) - 1, (res & -res).bit_length() - 1))  # res % 2^depth == 0
    for _ in range(depth):
        recipe = rnd.choice(BLOCKS)
        _block(b, rnd, recipe, _width(rnd, w), 2)
        recipes.append(recipe)
        if rnd.random() < 0.4:
            recipe = rnd.choice(BLOCKS[:4])
            _block(b, rnd, recipe, b.c, 1)
            recipes.append(recipe)
        skips.append(len(b.layers) - 1)
        w *= rnd.uniform(1.2, 2.4)
    for skip in reversed(skips[:-1]):
        w /= rnd.uniform(1.2, 2.4)
        recipe = rnd.choice(UP_BLOCKS)
        join = rnd.choice(("concat", "concat", "add", "none"))
        _up(b, rnd, recipe, b.shapes[skip][1] if join == "add" else _width(rnd, w))
        recipes.append(recipe)
        if join != "none":
            b.add(Layer(join, src=skip))
    recipes.append(rnd.choice(UP_BLOCKS))
    _up(b, rnd, recipes[-1], _width(rnd, w))
    b.add(Layer("conv" if rnd.random() < 0.5 else "pw", rnd.choice((1, 3, 4)), rnd.choice((1, 3)), 1,
                rnd.choice(("tanh", "sigmoid", ""))))
    return b, recipes


def _deep(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A deep, mobile-style network: mostly separable and inverted-residual blocks, several per stage,
    widths growing to 300-1500 channels at a few pixels; or an encoder-decoder whose bottleneck is that wide
    and whose decoder up-samples by wide transposed convs (weights beyond L2) or nearest resizes."""
    b = _Builder(res, cin)
    recipes = ["conv"]
    mobile = ("sep", "inv", "sep", "inv", "res", "conv")
    if rnd.random() < 0.5:
        w = rnd.uniform(8, 48)
        b.add(Layer("conv", _width(rnd, w), 3, 2, _act(rnd), True))
        _mobile_body(b, rnd, w, recipes, pick=lambda: rnd.choice(mobile), blocks=5, keep=0.6, head=0.6)
        return b, recipes, "deep"
    w = rnd.uniform(8, 64)
    b.add(Layer("conv", _width(rnd, w), rnd.choice((3, 4)), 2, _act(rnd), rnd.random() < 0.5))
    skips = [0]
    depth = rnd.randint(3, min(7, (res & -res).bit_length() - 1))
    for _ in range(depth - 1):
        w = min(w * rnd.uniform(1.5, 2.3), 1024)
        recipe = rnd.choice(("sep", "sep", "conv", "inv"))
        _block(b, rnd, recipe, _width(rnd, w, hi=1024), 2)
        recipes.append(recipe)
        skips.append(len(b.layers) - 1)
    up = rnd.choice(("up_deconv", "up_nearest", "mixed"))
    for skip in reversed(skips[:-1]):
        w = max(w / rnd.uniform(1.4, 2.3), 8)
        recipe = rnd.choice(UP_BLOCKS[:1] + UP_BLOCKS[2:]) if up == "mixed" else up
        if recipe == "up_deconv":
            cout = _width(rnd, w * rnd.uniform(1, 2), hi=1024)
            b.add(Layer("deconv", cout, rnd.choice((3, 4, 4)), 2, _act(rnd), True))
        else:
            b.add(Layer("nearest"))
            sep = rnd.random() < 0.6
            if sep:
                b.add(Layer("dw", 0, rnd.choice((3, 4)), 1, "", rnd.random() < 0.5))
            b.add(Layer("pw" if sep else "conv", _width(rnd, w), 1 if sep else rnd.choice((3, 4)), 1, _act(rnd), True))
        recipes.append(recipe)
        b.add(Layer("concat", src=skip))
    recipes.append(rnd.choice(UP_BLOCKS[:1] + UP_BLOCKS[2:]))
    _up(b, rnd, recipes[-1], rnd.choice((3, 4)))
    b.add(Layer("act", act=rnd.choice(("tanh", "sigmoid"))))
    return b, recipes, "deep"


def _separable(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A separable classifier: after a dense stem, only separable and inverted-residual blocks, one to six per
    stage, widths growing to 300-1280 channels at a few pixels; each network draws its own mix of the two
    (from nearly all separable to nearly all inverted residual). Pointwise convs take most of its time, as in
    the mobile backbones a Lens runs; the other generators seldom give them more than 40%."""
    b = _Builder(res, cin)
    w = rnd.uniform(8, 48)
    b.add(Layer("conv", _width(rnd, w), 3, 2, _act(rnd), True))
    recipes = ["conv"]
    p_sep = rnd.random()
    _mobile_body(b, rnd, w, recipes, pick=lambda: "sep" if rnd.random() < p_sep else "inv", blocks=6, keep=0.7,
                 head=0.5)
    return b, recipes, "sep"


def _mobile_body(b: _Builder, rnd: random.Random, w: float, recipes: list[str], *, pick: Callable[[], str],
                 blocks: int, keep: float, head: float) -> None:
    """A mobile classifier after its stem: 3-5 stages (until a few pixels) of 1 to ``blocks`` blocks of the
    recipe ``pick()`` draws, the first strided, the others keeping the width with probability ``keep``;
    widths grow 1.4-2.3x a stage (up to 1280 channels); then, with probability ``head``, a wide 1x1 conv;
    a global pool and a dense layer."""
    for _ in range(rnd.randint(3, 5)):
        if b.side < 2:
            break
        w = min(w * rnd.uniform(1.4, 2.3), 1024)
        for i in range(rnd.randint(1, blocks)):
            recipe = pick()
            cout = b.c if (i > 0 and rnd.random() < keep) else _width(rnd, w, hi=1280)
            _block(b, rnd, recipe, cout, 2 if i == 0 and b.side > 2 else 1)
            recipes.append(recipe)
    if rnd.random() < head:
        b.add(Layer("pw", _width(rnd, rnd.uniform(400, 1500), hi=1536), 1, 1, _act(rnd), True))
    b.add(Layer("gap"))
    b.add(Layer("dense", rnd.choice((10, 100, 256, 1000))))


def _sep_branch(b: _Builder, src: int, c: int, k: int, stride: int) -> int:
    """A cell branch's separable conv, NASNet's way: relu, depthwise k x k (strided in a reduction cell),
    pointwise, twice; on layer ``src``'s output. Returns the branch's last layer."""
    b.add(Layer("take", src=src))
    b.add(Layer("act", act="relu"))
    b.add(Layer("dw", 0, k, stride, "", True))
    b.add(Layer("pw", c, 1, 1, "relu", True))
    b.add(Layer("dw", 0, k, 1, "", True))
    return b.add(Layer("pw", c, 1, 1, "", True))


def _cell_op(b: _Builder, rnd: random.Random, src: int, c: int, stride: int) -> int:
    """One of a cell branch's two operations on layer ``src``, as NASNet-A draws them: a separable conv (3x3 or
    5x5; 7x7 in reduction cells only), a 3x3 pool at the cell's stride, or the input itself (normal cells)."""
    op = rnd.choice(("sep", "sep", "sep", "avg", "max") + (("id",) if stride == 1 else ()))
    if op == "sep":
        return _sep_branch(b, src, c, rnd.choice((3, 5) if stride == 1 else (3, 5, 7)), stride)
    if op == "id":
        return src
    b.add(Layer("take", src=src))
    return b.add(Layer("avgpool" if op == "avg" else "maxpool", 0, 3, stride))


def _cell(b: _Builder, rnd: random.Random, h: int, p: int, c: int, stride: int) -> int:
    """A NASNet-style cell on the last two cells' outputs ``h`` and ``p``: each squeezed to ``c`` channels by a
    1x1 conv (``p`` pooled first when larger), then 4-5 branches, each the sum of two ops (``_cell_op``) on
    either input, joined by one concat: up to five tensors wait for it, and the branches' inputs are read
    long after they were written."""
    b.add(Layer("take", src=p))
    if b.side > b.shapes[h][0]:
        b.add(Layer("avgpool", 0, 1, 2))
    pp = b.add(Layer("pw", c, 1, 1, "relu", True))
    b.add(Layer("take", src=h))
    hh = b.add(Layer("pw", c, 1, 1, "relu", True))
    outs = []
    for _ in range(rnd.randint(4, 5)):
        first = _cell_op(b, rnd, rnd.choice((hh, hh, pp)), c, stride)
        second = _cell_op(b, rnd, rnd.choice((hh, pp)), c, stride)
        if b.shapes[first][0] != b.shapes[second][0] or first == second:
            outs.append(first)
            continue
        b.add(Layer("take", src=first))
        outs.append(b.add(Layer("add", src=second)))
    outs = [o for o in outs if b.shapes[o][0] == b.shapes[outs[0]][0]]
    b.add(Layer("take", src=outs[0]))
    return b.add(Layer("concat", src=outs[1], srcs=tuple(outs[2:]))) if len(outs) > 1 else len(b.layers) - 1


def _mbconv(b: _Builder, rnd: random.Random, cout: int, stride: int, act: str) -> None:
    """EfficientNet's block: expand 1x1, depthwise 3x3 or 5x5, squeeze-and-excitation (a global pool, two 1x1
    convs, a multiply), project 1x1, and the residual add when the shape holds."""
    start, c = len(b.layers) - 1, b.c
    mid = _width(rnd, c * rnd.choice((1, 4, 6, 6)), hi=1536)
    if mid != c:
        b.add(Layer("pw", mid, 1, 1, act, True))
    b.add(Layer("dw", 0, rnd.choice((3, 5)), stride, act, True))
    b.add(Layer("se", max(4, _width(rnd, c / 4, lo=4))))
    b.add(Layer("pw", cout, 1, 1, "", True))
    if stride == 1 and cout == c:
        b.add(Layer("add", src=start))


def _cells(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A network of the motifs real classifiers have and the other generators lack: NASNet-style cells (many
    small separable convs whose branches wait for one concat, tag ``nas``), EfficientNet-style blocks with
    squeeze-and-excitation and swish (``mbse``), or DenseNet-style blocks where every layer concatenates onto
    all before it (``dense``). Widths are drawn as elsewhere; no network repeats a real architecture."""
    b = _Builder(res, cin)
    style = rnd.choice(("nas", "mbse", "dense"))
    w = rnd.uniform(12, 48)
    b.add(Layer("conv", _width(rnd, w), 3, 2, "swish" if style == "mbse" else "relu", True))
    recipes = ["conv"]
    if style == "nas":
        p = h = 0
        for stage in range(rnd.randint(3, 4)):
            if b.side < 4:
                break
            c = _width(rnd, w * 2 ** stage / 2)
            for i in range(rnd.randint(1, 3) + (stage > 0)):
                p, h = h, _cell(b, rnd, h, p, c, 2 if i == 0 and stage > 0 else 1)
                recipes.append("cell-r" if i == 0 and stage > 0 else "cell")
        b.add(Layer("act", act="relu"))
    elif style == "mbse":
        act = rnd.choice(("swish", "swish", "hswish"))
        for _ in range(rnd.randint(4, 6)):
            if b.side < 4:
                break
            w = min(w * rnd.uniform(1.3, 2.0), 640)
            for i in range(rnd.randint(1, 4)):
                cout = b.c if i > 0 else _width(rnd, w)
                _mbconv(b, rnd, cout, 2 if i == 0 else 1, act)
                recipes.append("mbse")
        b.add(Layer("pw", _width(rnd, rnd.uniform(400, 1300), hi=1536), 1, 1, act, True))
    else:
        b.add(Layer("maxpool", 0, 3, 2))
        growth = _width(rnd, rnd.uniform(8, 40))
        for stage in range(rnd.randint(2, 4)):
            if b.side < 4:
                break
            if stage:
                b.add(Layer("pw", _width(rnd, b.c / 2), 1, 1, "relu", True))
                b.add(Layer("avgpool", 0, 2, 2))
                recipes.append("transition")
            for _ in range(rnd.randint(3, 8)):
                start = len(b.layers) - 1
                b.add(Layer("act", act="relu"))
                b.add(Layer("pw", 4 * growth, 1, 1, "relu", True))
                b.add(Layer("conv", growth, 3, 1, "", True))
                b.add(Layer("concat", src=start))
                recipes.append("dense")
        b.add(Layer("act", act="relu"))
    b.add(Layer("gap"))
    b.add(Layer("dense", rnd.choice((10, 100, 256, 1000))))
    return b, recipes, style


def cell_nets(n: int, seed: int = 0) -> list[NetSpec]:
    """``n`` random networks of ``_cells`` (deterministic in ``seed``), within ``MIN_MACS``-``MAX_MACS``."""
    return _family_nets(_cells, n, seed + 3_000_017, f"rnd{seed}-cell-{{tag}}-{{i:03d}}-{{res}}")


def is_held_out_safe(spec: NetSpec) -> bool:
    """At least two block recipes and one hidden width of 4 mod 8: the held-out architectures of
    ``bench/zoo.py`` use one recipe per stage and multiples of 8 only."""
    return len(set(spec.recipes)) >= 2 and any(w % 8 == 4 for w in spec.widths())


def random_nets(n: int = 600, seed: int = 0) -> list[NetSpec]:
    """``n`` random networks (deterministic in ``seed``), each within ``MIN_MACS``-``MAX_MACS``: one in five
    from ``_separable``, of the rest one in three from ``_deep`` and two in three from the mixed generator
    (classifier / encoder-decoder). Each generator has its own random stream, so a family's first networks do
    not depend on ``n``."""
    n_sep = n // 5
    n_deep = (n - n_sep) // 3
    return (_family_nets(_mixed, n - n_sep - n_deep, seed, f"rnd{seed}-{{i:03d}}-{{tag}}-{{res}}")
            + _family_nets(_deep, n_deep, seed + 1_000_003, f"rnd{seed}-{{tag}}-{{i:03d}}-{{res}}")
            + _family_nets(_separable, n_sep, seed + 2_000_003, f"rnd{seed}-{{tag}}-{{i:03d}}-{{res}}"))


def _mixed(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A classifier (tag ``cla``) or, twice as often, an encoder-decoder (``enc``)."""
    topo = rnd.choice(("classifier", "encdec", "encdec"))
    b, recipes = (_classifier if topo == "classifier" else _encdec)(rnd, res, cin)
    return b, recipes, topo[:3]


def _family_nets(make: Callable, n: int, stream: int, name: str) -> list[NetSpec]:
    """The first ``n`` networks of the generator ``make`` (``(builder, recipes, tag)`` from ``(rnd, res,
    cin)``) on the random stream ``stream`` that lie within ``MIN_MACS``-``MAX_MACS`` and are held-out safe;
    ``name`` is formatted with the network's index ``i``, ``tag`` and ``res``."""
    rnd = random.Random(stream)
    nets: list[NetSpec] = []
    while len(nets) < n:
        res, cin = 16 * rnd.randint(2, 16), rnd.choice((1, 3, 3, 4))
        b, recipes, tag = make(rnd, res, cin)
        spec = NetSpec(name.format(i=len(nets), tag=tag, res=res), res, cin, tuple(b.layers), tuple(recipes), b.macs)
        if MIN_MACS <= b.macs <= MAX_MACS and is_held_out_safe(spec):
            nets.append(spec)
    return nets


def build_net_tflite(spec: NetSpec) -> bytes:
    """The .tflite bytes of ``spec``'s network."""
    return keras_tflite(net_model(spec))


def net_model(spec: NetSpec) -> Any:
    """``spec``'s network as a Keras model (random weights, fixed seed)."""
    import_tensorflow()  # the generator's extra; calibration builds its models with Keras
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)

    def act(x, name: str):
        if name in ("relu", "relu6"):
            return layers.ReLU(6.0 if name == "relu6" else None)(x)
        if name == "leaky":
            return layers.LeakyReLU(0.2)(x)
        if name == "hswish":
            return layers.Activation("hard_swish")(x)
        if name == "swish":
            return layers.Activation("swish")(x)
        return layers.Activation(name)(x) if name else x

    inp = keras.Input((spec.res, spec.res, spec.cin), batch_size=1)
    outs: list = []
    x = inp
    for ly in spec.layers:
        if ly.op in ("conv", "pw"):
            x = layers.Conv2D(ly.cout, ly.k, ly.stride, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "dw":
            x = layers.DepthwiseConv2D(ly.k, ly.stride, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "deconv":
            x = layers.Conv2DTranspose(ly.cout, ly.k, 2, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "nearest":
            x = nearest_upsample(2)(x)
        elif ly.op == "bilinear":
            x = layers.Resizing(2 * x.shape[1], 2 * x.shape[2], interpolation="bilinear")(x)
        elif ly.op in ("maxpool", "avgpool"):
            x = (layers.MaxPooling2D if ly.op == "maxpool" else layers.AveragePooling2D)(ly.k, ly.stride,
                                                                                         padding="same")(x)
        elif ly.op in ("add", "concat"):
            others = [outs[i] if i >= 0 else inp for i in (ly.src, *ly.srcs)]
            x = (layers.Add() if ly.op == "add" else layers.Concatenate())([x, *others])
        elif ly.op == "take":
            x = outs[ly.src] if ly.src >= 0 else inp
        elif ly.op == "se":
            s = layers.GlobalAveragePooling2D(keepdims=True)(x)
            s = layers.Conv2D(ly.cout, 1, activation="relu")(s)
            x = layers.Multiply()([x, layers.Conv2D(x.shape[-1], 1, activation="sigmoid")(s)])
        elif ly.op == "gap":
            x = layers.GlobalAveragePooling2D()(x)
        elif ly.op == "dense":
            x = layers.Dense(ly.cout)(x)
        if ly.bn:
            x = layers.BatchNormalization()(x)
        if ly.op not in ("add", "concat", "take", "se") or ly.act:
            x = act(x, ly.act)
        outs.append(x)
    return keras.Model(inp, x)


def weight_bytes(spec: NetSpec) -> float:
    """fp32 bytes of a network's convolution, transposed-convolution and dense weights."""
    b, total = _Builder(spec.res, spec.cin), 0
    for ly in spec.layers:
        c = b.c
        if ly.op in ("conv", "pw", "deconv"):
            total += c * ly.cout * ly.k * ly.k
        elif ly.op == "dw":
            total += c * ly.k * ly.k
        elif ly.op == "dense":
            total += c * ly.cout
        elif ly.op == "se":
            total += 2 * c * ly.cout
        b.add(ly)
    return 4.0 * total


FAMILIES = ("mixed", "deep", "sep")


def net_family(name: str) -> str:
    """The family of a random network, from its name: ``deep``, ``sep`` or ``mixed``."""
    return next((f for f in ("deep", "sep") if f"-{f}-" in name), "mixed")


def net_style(name: str) -> str:
    """The style of a ``cell_nets`` network, from its name (``nas``, ``mbse`` or ``dense``); "" for the others."""
    _, _, rest = name.partition("-cell-")
    return rest.split("-")[0] if rest else ""


def first_per_family(specs: list[NetSpec], per_family: int, keep: Callable[[NetSpec], bool]) -> list[NetSpec]:
    """The first ``per_family`` networks of each family in ``specs`` that ``keep`` accepts, family by family."""
    picked: dict[str, list[NetSpec]] = {f: [] for f in FAMILIES}
    for spec in specs:
        fam = picked[net_family(spec.name)]
        if len(fam) < per_family and keep(spec):
            fam.append(spec)
    return [s for f in FAMILIES for s in picked[f]]


def probe_nets(per_family: int = 4, large_per_family: int = 3, seed: int = 0) -> list[NetSpec]:
    """The network probes of ``calibrate --quick``, from ``random_nets(600, seed)``, per family (first come):

    - small: ``per_family`` networks with 20-250 M multiply-adds and at most 1.5 MB of weights;
    - large: ``large_per_family`` with 0.4-2.5 G multiply-adds, at least 160 px and at most 6 MB of weights.
      They move 40-135 MB per inference, as real models at 224 px do: only they feel a host's caches and
      memory bandwidth (with one memory-streaming process beside them they ran 4-12 % slower, the small ones
      1-6 %).
    """
    specs = random_nets(600, seed)
    return (first_per_family(specs, per_family, lambda s: 2e7 <= s.macs <= 2.5e8 and weight_bytes(s) <= 1.5e6)
            + first_per_family(specs, large_per_family,
                               lambda s: 4e8 <= s.macs <= 2.5e9 and s.res >= 160 and weight_bytes(s) <= 6e6))
