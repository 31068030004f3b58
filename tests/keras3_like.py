"""Write a genetune ResidualCNN as Keras 3 saves a functional SpliceAI-style model (.keras zip):
config.json in geneML's layer order (units first, skip convolutions near the end) and
model.weights.h5 with Keras 3's class-counter weight paths, which differ from the layer names.
The compat suite checks the importer against geneML's real model and TensorFlow."""

import json
import zipfile

import h5py
import numpy as np

from genetune.models.import_geneml import STEM_COLUMNS


def _tensor(name, channels):
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, None, channels], "dtype": "float32", "keras_history": [name, 0, 0]},
    }


def _layer(kind, name, inputs, channels=32, **config):
    args = [[_tensor(i, channels) for i in inputs]] if kind == "Add" else [_tensor(i, channels) for i in inputs]
    return {
        "module": "keras.layers",
        "class_name": kind,
        "name": name,
        "config": {"name": name, **config},
        "inbound_nodes": [{"args": args, "kwargs": {}}] if inputs else [],
    }


def _conv(name, inp, filters, k, d=1, activation="linear", channels=32):
    return _layer(
        "Conv1D",
        name,
        [inp],
        channels,
        filters=filters,
        kernel_size=[k],
        strides=[1],
        padding="same" if k > 1 else "valid",
        dilation_rate=[d],
        activation=activation,
        use_bias=True,
    )


def write_keras3_like(model, path, rename=None):
    """`model`'s weights as a .keras file; `rename` maps a layer role to another class (refusal tests)."""
    a, sd = model.arch, {k: v.detach().numpy() for k, v in model.state_dict().items()}
    c = a.channels
    layers = [_layer("InputLayer", "input_layer", [], 4, batch_shape=[None, None, 4])]
    weights = {}  # layer name -> arrays
    n = {"conv": 0, "bn": 0, "act": 0, "add": 0}

    def name(kind):
        base = {"conv": "conv1d", "bn": "batch_normalization", "act": "activation", "add": "add"}[kind]
        i = n[kind]
        n[kind] += 1
        return base if i == 0 else f"{base}_{i}"

    def kernel(w):  # torch (out, in, k) -> Keras (k, in, out)
        return w.transpose(2, 1, 0)

    stem = name("conv")
    layers.append(_conv(stem, "input_layer", c, 1, channels=4))
    w = np.zeros_like(sd["stem.weight"])
    w[:, STEM_COLUMNS] = sd["stem.weight"]  # back to geneML's A, C, G, T input columns
    weights[stem] = [kernel(w), sd["stem.bias"]]
    # skip convolutions are named when their input exists (geneML builds them there) but listed at
    # the end, so their names are out of step with Keras's weight paths, as in geneML's file
    stream, taps = stem, [(stem, name("conv"))]
    kernels = [(k, d) for cnt, k, d in a.groups for _ in range(cnt)]
    for i, (k, d) in enumerate(kernels):
        x = stream
        for j in (1, 2):
            bn, act, conv = name("bn"), name("act"), name("conv")
            layers.append(
                _layer("BatchNormalization", bn, [x], axis=-1, epsilon=0.001, momentum=0.99, center=True, scale=True)
            )
            weights[bn] = [sd[f"units.{i}.norm{j}.{v}"] for v in ("weight", "bias", "running_mean", "running_var")]
            layers.append(_layer("Activation", act, [bn], activation="relu"))
            layers.append(_conv(conv, act, c, k, d))
            weights[conv] = [kernel(sd[f"units.{i}.conv{j}.weight"]), sd[f"units.{i}.conv{j}.bias"]]
            x = conv
        add = name("add")
        layers.append(_layer("Add", add, [x, stream]))
        stream = add
        if i in model.group_ends:
            taps.append((stream, name("conv")))
    skip_sum = None
    for g, (tap, conv) in enumerate(taps):
        layers.append(_conv(conv, tap, c, 1))
        weights[conv] = [kernel(sd[f"skips.{g}.weight"]), sd[f"skips.{g}.bias"]]
        if skip_sum is None:
            skip_sum = conv
        else:
            add = name("add")
            layers.append(_layer("Add", add, [skip_sum, conv]))
            skip_sum = add
    layers.append(_layer("Cropping1D", "cropping1d", [skip_sum], cropping=[a.context, a.context]))
    head = name("conv")
    layers.append(_conv(head, "cropping1d", len(a.classes), 1, activation="softmax"))
    weights[head] = [kernel(sd["head.weight"]), sd["head.bias"]]
    for role, kind in (rename or {}).items():
        for lay in layers:
            if lay["name"] == role:
                lay["class_name"] = kind
    config = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": "functional",
            "layers": layers,
            "input_layers": [["input_layer", 0, 0]],
            "output_layers": [[head, 0, 0]],
        },
    }
    # Keras 3 saving_lib: weight groups named by class in snake case, counted in layer-list order
    counts, paths = {}, {}
    for lay in layers:
        key = {"Conv1D": "conv1d", "BatchNormalization": "batch_normalization"}.get(lay["class_name"])
        if key:
            k = counts.get(key, 0)
            paths[lay["name"]] = key if k == 0 else f"{key}_{k}"
            counts[key] = k + 1
    h5_path = path.with_suffix(".weights.h5")
    with h5py.File(h5_path, "w") as h5:
        for layer_name, arrays in weights.items():
            g = h5.create_group(f"layers/{paths[layer_name]}/vars")
            for i, arr in enumerate(arrays):
                g.create_dataset(str(i), data=np.asarray(arr, np.float32))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.12.0", "date_saved": "test"}))
        zf.write(h5_path, "model.weights.h5")
    h5_path.unlink()
    return path
