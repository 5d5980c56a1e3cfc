"""Training throughput: snapcheck's train step against the TF pix2pix tutorial's loop, same generator, same run.

Baseline (``tutorial``): the loop of ``tensorflow/docs/.../generative/pix2pix.ipynb``: its ``tf.data``
pipeline (decode, resize to 286/256 of the size with nearest, random crop, random flip, normalise;
``map(num_parallel_calls=AUTOTUNE).shuffle(400).batch(1)``, no prefetch), its ``@tf.function train_step``
(two tapes, BCE + 100·L1, a ``tf.summary.scalar`` per loss per step) and its
``for step, (x, y) in ds.repeat().take(n).enumerate()`` loop, at its batch size of 1.

Ours (``snapcheck``): ``snapcheck.gan.train.Pix2Pix.train_step`` (label smoothing on, the fast training
kernels of ``snapcheck.gan.fast_kernels`` on, as ``snapcheck train`` runs it) fed by
``snapcheck.data.loader.make_dataset`` (parallel decode + paired augmentation, prefetch), at batch 1 and at
the training default of 8; ``snapcheck-keras`` is the same at batch 8 with Keras's own kernels
(``--no-fast-kernels``), to show what the kernels add.

Both train the same generator and discriminator (``--config``, default catface-s) on the same prepared
pairs. Variants alternate over ``--rounds`` rounds and the best round of each is kept, so load from other
processes hits both alike. "data wait" is the share of the loop spent waiting for the next batch.

    bench/quiet.sh .venv/bin/python bench/train_throughput.py work/data/afhq_canny_128 --sizes 128 --seconds 20

``--options`` times instead the step with each loss and data option of ``snapcheck train`` (freehand outlines,
feature matching, multi-scale and spectral-norm discriminators, the perceptual loss) against the plain step
on the same config and batch, and the perceptual loss's VGG in float32 against bfloat16:

    bench/quiet.sh .venv/bin/python bench/train_throughput.py work/data/afhq_canny_128 --options --config catface-m \
        --sizes 128 --seconds 15 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WARMUP_STEPS = 5


def tutorial_dataset(data_dir: str, size: int):
    """The tutorial's input pipeline on our pairs (outline PNG, RGBA PNG), batch 1, no prefetch."""
    import tensorflow as tf

    from snapcheck.data.loader import load_pairs

    pairs = load_pairs(data_dir, "train")
    outlines = [str(p[0]) for p in pairs]
    targets = [str(p[1]) for p in pairs]
    jitter = round(size * 286 / 256)

    def load(outline_path, target_path):
        outline = tf.cast(tf.io.decode_png(tf.io.read_file(outline_path), channels=1), tf.float32)
        target = tf.cast(tf.io.decode_png(tf.io.read_file(target_path), channels=4), tf.float32)
        return outline, target

    def random_jitter(outline, target):
        stacked = tf.image.resize(tf.concat([outline, target], -1), [jitter, jitter],
                                  method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
        stacked = tf.image.random_crop(stacked, size=[size, size, 5])
        if tf.random.uniform(()) > 0.5:
            stacked = tf.image.flip_left_right(stacked)
        return stacked[..., :1], stacked[..., 1:]

    def load_image_train(outline_path, target_path):
        outline, target = random_jitter(*load(outline_path, target_path))
        return outline / 127.5 - 1, target / 127.5 - 1

    ds = tf.data.Dataset.from_tensor_slices((outlines, targets))
    ds = ds.map(load_image_train, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.shuffle(400).batch(1)


def tutorial_step(generator, discriminator, log_dir: str):
    """The tutorial's ``train_step`` (verbatim in structure), for our 1 → 4 channel generator."""
    import keras
    import tensorflow as tf

    loss_object = keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    discriminator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    summary_writer = tf.summary.create_file_writer(log_dir)
    LAMBDA = 100

    def generator_loss(disc_generated_output, gen_output, target):
        gan_loss = loss_object(tf.ones_like(disc_generated_output), disc_generated_output)
        l1_loss = tf.reduce_mean(tf.abs(target - gen_output))
        return gan_loss + (LAMBDA * l1_loss), gan_loss, l1_loss

    def discriminator_loss(disc_real_output, disc_generated_output):
        real_loss = loss_object(tf.ones_like(disc_real_output), disc_real_output)
        generated_loss = loss_object(tf.zeros_like(disc_generated_output), disc_generated_output)
        return real_loss + generated_loss

    @tf.function
    def train_step(input_image, target, step):
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            gen_output = generator(input_image, training=True)
            disc_real_output = discriminator([input_image, target], training=True)
            disc_generated_output = discriminator([input_image, gen_output], training=True)
            gen_total_loss, gen_gan_loss, gen_l1_loss = generator_loss(disc_generated_output, gen_output, target)
            disc_loss = discriminator_loss(disc_real_output, disc_generated_output)
        generator_gradients = gen_tape.gradient(gen_total_loss, generator.trainable_variables)
        discriminator_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(generator_gradients, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(discriminator_gradients, discriminator.trainable_variables))
        with summary_writer.as_default():
            tf.summary.scalar("gen_total_loss", gen_total_loss, step=step // 1000)
            tf.summary.scalar("gen_gan_loss", gen_gan_loss, step=step // 1000)
            tf.summary.scalar("gen_l1_loss", gen_l1_loss, step=step // 1000)
            tf.summary.scalar("disc_loss", disc_loss, step=step // 1000)

    return train_step


def timed(iterator, step_fn, seconds: float) -> dict[str, float]:
    """Run WARMUP_STEPS untimed, then steps for ``seconds``; steps/s and the share spent waiting for data."""
    for _ in range(WARMUP_STEPS):
        step_fn(*next(iterator))
    steps, wait = 0, 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        batch = next(iterator)
        wait += time.perf_counter() - t
        out = step_fn(*batch)
        steps += 1
    if isinstance(out, dict):  # make sure the last step has finished
        next(iter(out.values())).numpy()
    total = time.perf_counter() - start
    return {"steps": steps, "steps_per_s": steps / total, "data_wait": wait / total}


# ``--options``: the training step with each loss / data option of ``snapcheck train`` against the plain step,
# same config, batch and run (TrainConfig fields).
OPTION_SETS = {
    "plain": {},
    "freehand 0.5": {"freehand": 0.5},
    "FM 10": {"feature_matching": 10.0},
    "2-scale D": {"discriminator_scales": 2},
    "SN-D": {"spectral_norm": True},
    "VGG 10 (blocks 1-3)": {"perceptual": 10.0, "perceptual_blocks": 3},
    "VGG 10 (blocks 1-2)": {"perceptual": 10.0, "perceptual_blocks": 2},
}


def run_variant(variant: str, data_dir: str, config: str, size: int, batch: int, seconds: float,
                options: dict | None = None) -> dict:
    import tensorflow as tf

    from snapcheck.data.freehand import FreehandConfig
    from snapcheck.data.loader import make_dataset
    from snapcheck.gan.pix2pix import Pix2Pix, build_models
    from snapcheck.gan.train_config import TrainConfig

    options = options or {}
    cfg = TrainConfig(data_dir=data_dir, config=config, size=size, batch_size=batch, steps=1,
                      fast_kernels=variant != "snapcheck-keras", **options)
    tf.keras.utils.set_random_seed(0)
    _, generator, discriminators = build_models(cfg)
    if variant == "tutorial":
        with tempfile.TemporaryDirectory() as logs:
            train_step = tutorial_step(generator, discriminators[0], logs)
            ds = tutorial_dataset(data_dir, size).repeat().enumerate()
            it = ((x, y, tf.cast(step, tf.int64)) for step, (x, y) in ds)
            result = timed(it, train_step, seconds)
    else:
        model = Pix2Pix(generator, discriminators, cfg)
        ds = make_dataset(data_dir, split="train", size=size, batch_size=batch, augment=True, shuffle=True,
                          repeat=True, seed=0, freehand=FreehandConfig(share=cfg.freehand) if cfg.freehand else None)
        sigma = tf.constant(0.0)
        result = timed(((x, y, sigma) for x, y in ds), model.train_step, seconds)
    return {"variant": variant, "size": size, "batch": batch, **result, "images_per_s": result["steps_per_s"] * batch}


def vgg_timing(size: int, batch: int, rounds: int) -> dict[str, float]:
    """Seconds for the perceptual loss's VGG blocks 1-3, forward and input gradient, on 2·batch images (the
    generated and target halves), float32 against bfloat16; best of ``rounds``."""
    import tensorflow as tf

    from snapcheck.gan.vgg import vgg_blocks

    x = tf.random.stateless_uniform([2 * batch, size, size, 3], seed=[0, 1])
    out = {}
    for dtype in ("float32", "bfloat16"):
        @tf.function
        def step(x, dtype=dtype):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.add_n([tf.reduce_mean(tf.cast(f, tf.float32)) for f in vgg_blocks(x, 3, dtype)])
            return tape.gradient(loss, x)

        step(x).numpy()
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            step(x).numpy()
            times.append(time.perf_counter() - t)
        out[dtype] = min(times)
    return out


def options_main(args) -> int:
    """``--options``: the step with each option set against the plain step, alternating, best of the rounds."""
    import tensorflow as tf

    load_before = os.getloadavg()
    best: dict[str, dict] = {}
    chosen = {name: OPTION_SETS[name] for name in (args.option_sets or OPTION_SETS)}
    for rnd in range(args.rounds):
        for name, opts in chosen.items():
            r = run_variant("snapcheck", args.data, args.config, args.sizes[0], args.batch, args.seconds, opts)
            if name not in best or r["steps_per_s"] > best[name]["steps_per_s"]:
                best[name] = {**r, "options": opts}
            print(f"round {rnd + 1} {name:22s}: {r['steps_per_s']:.2f} steps/s, data wait {r['data_wait']:.1%}",
                  file=sys.stderr, flush=True)
    vgg = None if args.no_vgg else vgg_timing(args.sizes[0], args.batch, max(3, args.rounds))
    load_after = os.getloadavg()
    print(f"\nTF {tf.__version__}, {os.cpu_count()} CPU cores, config {args.config} at {args.sizes[0]}, batch "
          f"{args.batch}, best of {args.rounds} rounds of {args.seconds:g} s; load average (1/5/15 min) before "
          f"{_load(load_before)}, after {_load(load_after)}\n")
    print("| step | ms per step | steps/s | data wait | time vs plain (same run) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = best["plain"]["steps_per_s"] if "plain" in best else next(iter(best.values()))["steps_per_s"]
    for name, r in best.items():
        r["time_vs_plain"] = base / r["steps_per_s"]
        print(f"| {name} | {1000 / r['steps_per_s']:.0f} | {r['steps_per_s']:.2f} | {r['data_wait']:.1%} | "
              f"{r['time_vs_plain']:.2f}× |")
    if vgg:
        print(f"\nVGG blocks 1-3, forward + input gradient, {2 * args.batch} images at {args.sizes[0]}: float32 "
              f"{1000 * vgg['float32']:.0f} ms, bfloat16 {1000 * vgg['bfloat16']:.0f} ms "
              f"({vgg['float32'] / vgg['bfloat16']:.2f}× faster)")
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after, "rows": best,
                                         "vgg_seconds": vgg}, indent=2) + "\n", encoding="utf-8")
    return 0


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="prepared pairs folder")
    parser.add_argument("--config", default="catface-s")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=8, help="our training batch size (the tutorial's is 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed seconds per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--options", action="store_true",
                        help="time the step with each loss/data option against the plain step instead")
    parser.add_argument("--option-sets", nargs="+", choices=list(OPTION_SETS), help="only these option sets")
    parser.add_argument("--no-vgg", action="store_true", help="with --options: skip the VGG float32/bfloat16 timing")
    args = parser.parse_args()
    if args.options:
        return options_main(args)

    import tensorflow as tf

    variants = [("tutorial", 1), ("snapcheck", 1), ("snapcheck-keras", args.batch), ("snapcheck", args.batch)]
    load_before = os.getloadavg()
    best: dict[tuple, dict] = {}
    for size in args.sizes:
        for rnd in range(args.rounds):
            for variant, batch in variants:
                r = run_variant(variant, args.data, args.config, size, batch, args.seconds)
                key = (size, variant, batch)
                if key not in best or r["images_per_s"] > best[key]["images_per_s"]:
                    best[key] = r
                print(f"round {rnd + 1} size {size} {variant:15s} batch {batch}: {r['steps_per_s']:.2f} steps/s, "
                      f"{r['images_per_s']:.1f} img/s, data wait {r['data_wait']:.1%}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    print(f"\nTF {tf.__version__}, {os.cpu_count()} CPU cores, config {args.config}, best of {args.rounds} rounds "
          f"of {args.seconds:g} s; load average (1/5/15 min) before {_load(load_before)}, after {_load(load_after)}\n")
    print("| size | loop | batch | steps/s | images/s | data wait | images/s vs tutorial |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for size in args.sizes:
        base = best[(size, "tutorial", 1)]["images_per_s"]
        for variant, batch in variants:
            r = best[(size, variant, batch)]
            r["vs_tutorial"] = r["images_per_s"] / base
            rows.append(r)
            print(f"| {size} | {variant} | {batch} | {r['steps_per_s']:.2f} | {r['images_per_s']:.1f} | "
                  f"{r['data_wait']:.1%} | {r['vs_tutorial']:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after, "rows": rows},
                                        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
