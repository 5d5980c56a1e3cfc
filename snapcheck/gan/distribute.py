"""Training on several replicas with ``tf.distribute``: one global batch, split across the replicas.

``--strategy`` picks the strategy: ``default`` (one process, one device: the plain loop), ``mirrored``
(``MirroredStrategy``: the local devices) or ``multiworker`` (``MultiWorkerMirroredStrategy``: one process
per worker, the cluster described by the standard ``TF_CONFIG``). ``--batch-size`` is always the global
batch: every replica trains on its slice of the batch a one-process run would see at that step, so a run
has the same data, learning-rate schedule and step counting however many replicas train it.

What keeps the maths that of the global batch (with one replica all of it is the identity):

- ``replica_share``: each replica's loss is its local mean over its slice divided by the number of
  replicas; the optimiser sums the replicas' gradients, giving the gradient of the global-batch mean.
  Every loss term goes through it (it is applied to the totals ``d_loss`` and ``g_loss``).
- ``GlobalBatchRandom``: random draws with one value per example (label smoothing's real labels, instance
  noise, the WGAN-GP mixing weights) are drawn for the whole global batch from one generator whose state
  every replica holds alike, and each replica keeps its slice.
- ``over_global_batch(model)``: BatchNorm uses the global batch's statistics (Keras's ``synchronized``
  moments) and Dropout draws its mask for the global batch (each replica keeps its slice), instead of
  every replica normalising its own slice and drawing the same mask as the others.

Only the chief writes (run.json, TensorBoard, samples, checkpoints, the export); the other workers take
part in every collective, checkpoint saves included, writing into a scratch folder.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any, Callable

from snapcheck.errors import InputError

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> Any:
    """The ``tf.distribute`` strategy called ``name`` (one of ``STRATEGIES``)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise InputError(None, f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def check_tf_config() -> dict[str, Any]:
    """The parsed ``TF_CONFIG`` of a multi-worker run; ``InputError`` when it is missing or malformed."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise InputError(None, "--strategy multiworker needs TF_CONFIG (the cluster and this worker's task; "
                               "see docs/cluster.md)")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        if task["type"] not in config["cluster"] or not 0 <= int(task["index"]) < len(config["cluster"][task["type"]]):
            raise ValueError(f"task {task} is not in the cluster")
        if not workers:
            raise ValueError("no workers")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(None, f"TF_CONFIG is not a valid cluster description ({exc})") from None
    return config


def localhost_cluster(workers: int) -> dict[str, list[str]]:
    """A ``TF_CONFIG`` cluster of ``workers`` processes on 127.0.0.1, on ports free at the time of asking
    (for trying multi-worker training on one machine, and for the tests)."""
    socks = [socket.socket() for _ in range(workers)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return {"worker": [f"127.0.0.1:{sock.getsockname()[1]}" for sock in socks]}
    finally:
        for sock in socks:
            sock.close()


def tf_config(cluster: dict[str, list[str]], index: int, task_type: str = "worker") -> str:
    """The ``TF_CONFIG`` value of task ``index`` of ``cluster``."""
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the run's files: the ``chief`` task, or worker 0 when there is none."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def multi_worker(strategy: Any) -> bool:
    """Whether several processes train together (their checkpoint saves are collective)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is not None and bool(resolver.task_type) and sum(
        resolver.cluster_spec().num_tasks(job) for job in resolver.cluster_spec().jobs) > 1


def check_batch(strategy: Any, global_batch: int) -> None:
    """The global batch must split evenly across the replicas."""
    n = strategy.num_replicas_in_sync
    if global_batch % n:
        raise InputError(None, f"--batch-size {global_batch} is the global batch: it must be a multiple of the "
                               f"{n} replicas")


def split_batch(strategy: Any, *tensors: Any) -> tuple[Any, ...]:
    """Each replica's slice of the global-batch ``tensors`` (unchanged with one replica)."""
    n = strategy.num_replicas_in_sync
    if n == 1:
        return tensors

    def part(x: Any) -> Callable[[Any], Any]:
        local = x.shape[0] // n
        return lambda ctx: x[ctx.replica_id_in_sync_group * local:(ctx.replica_id_in_sync_group + 1) * local]

    return tuple(strategy.experimental_distribute_values_from_function(part(x)) for x in tensors)


def replica_share(loss: Any) -> Any:
    """This replica's share of a global-batch mean loss: its local mean / replicas (the optimiser sums the
    replicas' gradients). Every replica has an equal slice (``check_batch``)."""
    n = _replicas()
    return loss if n == 1 else loss / n


class GlobalBatchRandom:
    """A ``tf.random.Generator`` whose per-example draws do not depend on how the batch is split: the
    leading (batch) dimension is drawn for the global batch and each replica keeps its slice. ``generator``
    is the checkpointed state; it must be created outside the strategy's scope, so that every replica
    holds the same state (rather than a stream of its own)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def uniform(self, shape: Any, minval: Any = 0, maxval: Any = None) -> Any:
        return _global_then_slice(lambda s: self.generator.uniform(s, minval, maxval), shape)

    def normal(self, shape: Any, mean: float = 0.0, stddev: float = 1.0) -> Any:
        return _global_then_slice(lambda s: self.generator.normal(s, mean, stddev), shape)


def over_global_batch(model: Any) -> None:
    """Make ``model``'s BatchNorm and Dropout layers work on the global batch when there are several replicas
    (call it inside the strategy's scope, before ``fast_kernels.install``): BatchNorm with synchronized
    moments, Dropout with a mask drawn for the global batch of which each replica keeps its slice."""
    import keras

    if _replicas(cross_replica=True) == 1:
        return
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
        elif type(layer) is keras.layers.Dropout and layer.noise_shape is None:
            layer.call = _global_dropout(layer, layer.call)


def _global_dropout(layer: Any, keras_call: Any) -> Any:
    import keras
    import tensorflow as tf

    def call(inputs, training=False):
        if not training or layer.rate == 0 or _replicas() == 1:
            return keras_call(inputs, training=training)
        mask = _global_then_slice(
            lambda s: keras.random.dropout(tf.ones(s, inputs.dtype), layer.rate, seed=layer.seed_generator),
            tf.shape(inputs))
        return inputs * mask

    return call


def _global_then_slice(draw: Callable[[Any], Any], shape: Any) -> Any:
    """``draw(shape)`` for one replica: drawn with the global batch's leading dimension, this replica's slice."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    n = 1 if ctx is None else ctx.num_replicas_in_sync
    if n == 1:
        return draw(shape)
    shape = tf.convert_to_tensor(shape)
    local = shape[0]
    full = draw(tf.concat([[local * n], shape[1:]], axis=0))
    start = tf.cast(ctx.replica_id_in_sync_group, local.dtype) * local
    return full[start:start + local]


def _replicas(cross_replica: bool = False) -> int:
    import tensorflow as tf

    if cross_replica:
        return tf.distribute.get_strategy().num_replicas_in_sync
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync


def _layers(model: Any) -> Any:
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)
