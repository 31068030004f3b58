"""geneML's Keras 3 model (.keras) -> genetune ResidualCNN, without TensorFlow.

A .keras file is a zip of config.json (the functional graph) and model.weights.h5 (h5py reads
it: layers/<path>/vars/<i>). Keras 3 names a layer's weight group not by the layer's name but
by its class in snake case, numbered in the order of the config's layer list ("conv1d",
"conv1d_1", ...), so the weights of the layer named conv1d_20 may lie under another number.
The graph is traced from the input: the 1x1 stem convolution, then residual units
(BatchNormalization, relu, Conv1D, BatchNormalization, relu, Conv1D, Add with the unit's input),
1x1 skip convolutions of the stem and of the stream after some units (they end the groups),
their sum, Cropping1D and the 1x1 softmax convolution. Anything else is refused with the layer
that does not fit. Weights: Conv1D kernel (k, in, out) -> (out, in, k); the stem's input
columns permuted from geneML's A, C, G, T to data/X's C, A, T, G; BatchNormalization gamma,
beta, moving mean, moving variance (Keras eps 1e-3, as here).
"""

import io
import json
import re
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.models.residual import GENEML_CLASSES, ResidualArchitecture, ResidualCNN

GENEML_BASES = ("A", "C", "G", "T")  # geneML's one-hot columns (its model_loader._one_hot_encode)
STEM_COLUMNS = [GENEML_BASES.index(b) for b in layout.BASES]


def _snake_case(name):
    """Keras 3's naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def weight_paths(layers):
    """Layer name -> its group in model.weights.h5 (Keras 3 saving_lib: class-based names made
    unique by a counter, in layer-list order)."""
    counts, paths = {}, {}
    for lay in layers:
        key = _snake_case(lay["class_name"])
        n = counts.get(key, 0)
        paths[lay["name"]] = key if n == 0 else f"{key}_{n}"
        counts[key] = n + 1
    return paths


class _Graph:
    """Layers of a Keras functional config by name, with their inputs and consumers."""

    def __init__(self, config, path):
        self.path = path
        try:
            layers = config["config"]["layers"]
        except (KeyError, TypeError):
            raise InputError(f"{path}: config.json has no functional layer list") from None
        self.layers = {lay["name"]: lay for lay in layers}
        self.weight_paths = weight_paths(layers)
        self.inputs = {name: self._inbound(lay) for name, lay in self.layers.items()}
        self.consumers = {name: [] for name in self.layers}
        for name, ins in self.inputs.items():
            for i in ins:
                self.consumers[i].append(name)
        outs = config["config"].get("output_layers") or []
        self.output = outs[0][0] if outs else None

    @staticmethod
    def _inbound(lay):
        names = []
        for node in lay.get("inbound_nodes", []):
            args = node.get("args", []) if isinstance(node, dict) else []
            for a in args:
                for t in a if isinstance(a, list) else [a]:
                    if isinstance(t, dict) and "keras_history" in t.get("config", {}):
                        names.append(t["config"]["keras_history"][0])
        return names

    def kind(self, name):
        return self.layers[name]["class_name"]

    def cfg(self, name):
        return self.layers[name]["config"]

    def only(self, name, kinds):
        """The single consumer of `name` of one of `kinds`."""
        found = [c for c in self.consumers[name] if self.kind(c) in kinds]
        if len(found) != 1:
            raise InputError(
                f"{self.path}: layer {name} should feed one {'/'.join(kinds)} layer, "
                f"feeds {self.consumers[name] or 'nothing'}"
            )
        return found[0]

    def fail(self, name, why):
        raise InputError(f"{self.path}: layer {name} ({self.kind(name)}) {why}; not a SpliceAI/geneML residual CNN")


def _conv(graph, name, kernel=None, activation="linear"):
    c = graph.cfg(name)
    if graph.kind(name) != "Conv1D":
        graph.fail(name, "is not a Conv1D")
    k, d, s = c["kernel_size"][0], c.get("dilation_rate", [1])[0], c.get("strides", [1])[0]
    if s != 1 or c.get("activation", "linear") != activation or not c.get("use_bias", True):
        graph.fail(name, f"needs stride 1, activation {activation} and a bias")
    if kernel is not None and k != kernel:
        graph.fail(name, f"has kernel {k}, expected {kernel}")
    if k > 1 and c.get("padding") != "same":
        graph.fail(name, "needs padding 'same'")
    return k, d


def _relu(graph, name):
    if graph.kind(name) != "Activation" or graph.cfg(name).get("activation") != "relu":
        graph.fail(name, "should be a relu Activation")


def _bn(graph, name):
    c = graph.cfg(name)
    if graph.kind(name) != "BatchNormalization" or c.get("axis", -1) not in (-1, 2, [-1], [2]):
        graph.fail(name, "should be a BatchNormalization over channels")
    if abs(c.get("epsilon", 1e-3) - 1e-3) > 1e-9:
        graph.fail(name, f"has epsilon {c.get('epsilon')}, expected Keras's 1e-3")


def trace(config, path):
    """(ResidualArchitecture, {role: layer name}) from a Keras functional config."""
    g = _Graph(config, path)
    inputs = [n for n, lay in g.layers.items() if lay["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise InputError(f"{path}: expected one input layer, found {len(inputs)}")
    shape = g.cfg(inputs[0]).get("batch_shape") or g.cfg(inputs[0]).get("batch_input_shape")
    if not shape or shape[-1] != 4:
        raise InputError(f"{path}: input shape {shape} is not (batch, length, 4) one-hot DNA")
    stem = g.only(inputs[0], ("Conv1D",))
    _conv(g, stem, kernel=1)
    names = {"stem": stem, "units": [], "skips": []}
    groups, stream, skip_inputs = [], stem, {}
    while True:
        skip = [c for c in g.consumers[stream] if g.kind(c) == "Conv1D"]
        if len(skip) > 1:
            g.fail(stream, "feeds more than one skip convolution")
        if skip:
            _conv(g, skip[0], kernel=1)
            skip_inputs[stream] = skip[0]
        bns = [c for c in g.consumers[stream] if g.kind(c) == "BatchNormalization"]
        if not bns:
            break
        if len(bns) > 1:
            g.fail(stream, "feeds two residual units")
        bn1 = bns[0]
        _bn(g, bn1)
        act1 = g.only(bn1, ("Activation",))
        _relu(g, act1)
        conv1 = g.only(act1, ("Conv1D",))
        k, d = _conv(g, conv1)
        bn2 = g.only(conv1, ("BatchNormalization",))
        _bn(g, bn2)
        act2 = g.only(bn2, ("Activation",))
        _relu(g, act2)
        conv2 = g.only(act2, ("Conv1D",))
        if _conv(g, conv2) != (k, d):
            g.fail(conv2, f"differs from {conv1} in kernel or dilation")
        add = g.only(conv2, ("Add",))
        if sorted(g.inputs[add]) != sorted([conv2, stream]):
            g.fail(add, f"should add {conv2} to the unit's input {stream}")
        if groups and not skip and groups[-1][1:] == [k, d]:
            groups[-1][0] += 1
        else:
            if groups and not skip:
                g.fail(add, "changes kernel or dilation without a skip convolution before it")
            groups.append([1, k, d])
        names["units"].append({"norm1": bn1, "conv1": conv1, "norm2": bn2, "conv2": conv2})
        stream = add
    if stream not in skip_inputs:
        g.fail(stream, "(the last unit's output) has no skip convolution")
    names["skips"] = [skip_inputs[s] for s in [stem] + [u for u in _unit_outputs(g, names)] if s in skip_inputs]
    if len(names["skips"]) != len(groups) + 1:
        raise InputError(f"{path}: {len(names['skips'])} skip convolutions for {len(groups)} groups of units")
    # the skips are summed, cropped, and classified by a 1x1 softmax convolution
    crop = g.only(_skip_sum(g, names["skips"]), ("Cropping1D",))
    head = g.only(crop, ("Conv1D",))
    _conv(g, head, kernel=1, activation="softmax")
    n_classes = g.cfg(head)["filters"]
    if n_classes != len(GENEML_CLASSES):
        raise InputError(
            f"{path}: the output has {n_classes} classes; geneML's models have "
            f"{len(GENEML_CLASSES)} ({', '.join(GENEML_CLASSES)})"
        )
    arch = ResidualArchitecture(channels=g.cfg(stem)["filters"], groups=groups)
    cropping = g.cfg(crop)["cropping"]
    if list(cropping) != [arch.context, arch.context]:
        raise InputError(f"{path}: crops {cropping} bases, but the receptive field is {arch.context} either side")
    names["head"] = head
    return arch, names, g.weight_paths


def _unit_outputs(graph, names):
    """The stream tensor after each unit (the Add layers), in order."""
    return [graph.only(u["conv2"], ("Add",)) for u in names["units"]]


def _skip_sum(graph, skips):
    """The Add layer that completes the sum of all skip convolutions."""
    seen, frontier = set(skips), list(skips)
    last = None
    while frontier:
        nxt = []
        for name in frontier:
            for c in graph.consumers[name]:
                if graph.kind(c) == "Add" and set(graph.inputs[c]) <= seen and c not in seen:
                    seen.add(c)
                    nxt.append(c)
                    last = c
        frontier = nxt
    if last is None:
        raise InputError(f"{graph.path}: the skip convolutions are not summed")
    return last


class _Weights:
    """model.weights.h5 read by layer name (through Keras 3's weight paths)."""

    def __init__(self, h5, paths, path):
        self.h5, self.paths, self.path = h5, paths, path

    def vars(self, name):
        try:
            group = self.h5["layers"][self.paths[name]]["vars"]
            return [np.asarray(group[str(i)]) for i in range(len(group))]
        except KeyError:
            raise InputError(f"{self.path}: model.weights.h5 has no weights for layer {name}") from None

    def conv(self, name, shape):
        """torch (out, in, k) kernel and bias of a Conv1D whose Keras kernel is `shape`."""
        w = self.vars(name)
        if len(w) != 2 or w[0].shape != shape:
            raise InputError(f"{self.path}: layer {name}: weights {[a.shape for a in w]} do not fit kernel {shape}")
        return w[0].transpose(2, 1, 0), w[1]

    def batch_norm(self, name):
        w = self.vars(name)
        if len(w) != 4:
            raise InputError(
                f"{self.path}: layer {name}: expected gamma, beta, moving mean and variance, found "
                f"{len(w)} arrays (a BatchNormalization without scale or center is not geneML's)"
            )
        return w


def read_keras3(path):
    """(config, metadata, open h5py weights file) of a .keras zip; the caller closes the file."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"{path}: not a Keras 3 .keras file (a zip of config.json and model.weights.h5): {exc}"
        ) from None
    with zf:
        names = set(zf.namelist())
        if not {"config.json", "model.weights.h5"} <= names:
            raise InputError(f"{path}: a .keras file needs config.json and model.weights.h5, has {sorted(names)}")
        try:
            config = json.loads(zf.read("config.json"))
            meta = json.loads(zf.read("metadata.json")) if "metadata.json" in names else {}
            weights = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path}: unreadable .keras contents ({exc})") from None
    return config, meta, weights


def import_geneml_model(path):
    """(ResidualCNN with the weights, Keras metadata) from a geneML .keras file."""
    config, meta, h5 = read_keras3(path)
    with h5:
        arch, names, paths = trace(config, path)
        weights = _Weights(h5, paths, path)
        c = arch.channels
        state = {}
        w, b = weights.conv(names["stem"], (1, 4, c))
        state["stem.weight"], state["stem.bias"] = w[:, STEM_COLUMNS], b
        kernels = [k for n, k, _ in arch.groups for _ in range(n)]
        for i, (unit, k) in enumerate(zip(names["units"], kernels)):
            for j in (1, 2):
                state[f"units.{i}.conv{j}.weight"], state[f"units.{i}.conv{j}.bias"] = weights.conv(
                    unit[f"conv{j}"], (k, c, c)
                )
                gamma, beta, mean, var = weights.batch_norm(unit[f"norm{j}"])
                for key, v in (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var)):
                    state[f"units.{i}.norm{j}.{key}"] = v
        for i, name in enumerate(names["skips"]):
            state[f"skips.{i}.weight"], state[f"skips.{i}.bias"] = weights.conv(name, (1, c, c))
        state["head.weight"], state["head.bias"] = weights.conv(names["head"], (1, c, len(arch.classes)))
    model = ResidualCNN(arch)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise InputError(
            f"{path}: weights do not fit the traced architecture (missing {missing}, unexpected {unexpected})"
        )
    return model.eval(), meta
