"""Keras import without TensorFlow: files laid out as Keras 2 saves a Helixer HybridModel (the
compat suite checks against real Keras models built by Helixer's code)."""

import json

import h5py
import pytest
import torch

from genetune.core.errors import InputError
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.models.import_helixer import import_keras_model


def _layer(kind, name, **config):
    return {"class_name": kind, "name": name, "config": {"name": name, **config}}


def write_keras_like(model, path, nested=False):
    """model_config + model_weights as Keras writes them, from a genetune model's weights."""
    a, sd = model.arch, {k: v.numpy() for k, v in model.state_dict().items()}
    layers = [_layer("InputLayer", "main_input", batch_input_shape=[None, None, model.input_channels])]
    weights = {}
    for i in range(a.cnn_layers):
        if i:
            layers.append(_layer("BatchNormalization", f"batch_normalization_{i}", center=True, scale=True))
            weights[layers[-1]["name"]] = [
                sd[f"norms.{i - 1}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")
            ]
        layers.append(
            _layer(
                "Conv1D",
                f"conv1d_{i}",
                filters=a.filter_depth,
                kernel_size=[a.kernel_size],
                padding="same",
                activation="relu",
                strides=[1],
                dilation_rate=[1],
            )
        )
        weights[layers[-1]["name"]] = [sd[f"convs.{i}.weight"].transpose(2, 1, 0), sd[f"convs.{i}.bias"]]
    layers.append(_layer("Reshape", "reshape", target_shape=[-1, a.pool_size * a.filter_depth]))
    for k in range(a.lstm_layers):
        cell = {"units": a.units, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True}
        layers.append(
            _layer(
                "Bidirectional", f"bidirectional_{k}", merge_mode="concat", layer={"class_name": "LSTM", "config": cell}
            )
        )
        w = []
        for suffix in ("", "_reverse"):
            w += [
                sd[f"lstm.weight_ih_l{k}{suffix}"].T,
                sd[f"lstm.weight_hh_l{k}{suffix}"].T,
                sd[f"lstm.bias_ih_l{k}{suffix}"] + sd[f"lstm.bias_hh_l{k}{suffix}"],
            ]
        weights[layers[-1]["name"]] = w
    if nested:
        layers.append({"class_name": "Functional", "name": "model", "config": {"name": "model", "layers": []}})
    layers.append(_layer("Dense", "dense", units=a.pool_size * 4 * (2 if a.predict_phase else 1), activation="linear"))
    weights["dense"] = [sd["head.weight"].T, sd["head.bias"]]
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps({"class_name": "Functional", "config": {"layers": layers}})
        g = h5.create_group("model_weights")
        g.attrs["layer_names"] = [lay["name"].encode() for lay in layers]
        for name, arrays in weights.items():
            lg = g.create_group(name)
            names = [f"{name}/w{j}:0" for j in range(len(arrays))]
            lg.attrs["weight_names"] = [n.encode() for n in names]
            for n, arr in zip(names, arrays):
                lg.create_dataset(n, data=arr)


@pytest.mark.parametrize(
    "arch",
    [
        HybridArchitecture(cnn_layers=3, filter_depth=8, kernel_size=5, lstm_layers=2, units=6),
        HybridArchitecture(cnn_layers=1, filter_depth=4, kernel_size=4, lstm_layers=1, units=5, predict_phase=False),
    ],
)
def test_keras_layout_round_trips_to_the_same_outputs(tmp_path, arch):
    torch.manual_seed(0)
    model = HybridModel(arch).eval()
    for norm in model.norms:  # non-trivial running statistics
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 1.5)
    write_keras_like(model, tmp_path / "m.h5")
    imported, got = import_keras_model(tmp_path / "m.h5", coverage_norm=arch.coverage_norm)
    assert got == arch
    x = torch.rand(2, 90, 4)
    with torch.no_grad():
        a, b = model(x), imported(x)
    (g1, p1), (g2, p2) = (a["genic"], a.get("phase")), (b["genic"], b.get("phase"))
    assert torch.allclose(g1, g2, atol=1e-5)
    assert (p1 is None and p2 is None) or torch.allclose(p1, p2, atol=1e-5)


def test_fine_tuned_coverage_model_and_non_keras_files_are_refused(tmp_path):
    model = HybridModel(HybridArchitecture(filter_depth=4, units=4)).eval()
    write_keras_like(model, tmp_path / "nested.h5", nested=True)
    with pytest.raises(InputError, match=r"nested\.h5: a model fine-tuned with Helixer's --fine-tune --input-coverage"):
        import_keras_model(tmp_path / "nested.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["x"] = 1
    with pytest.raises(InputError, match=r"plain\.h5: not a Keras model file"):
        import_keras_model(tmp_path / "plain.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(InputError, match=r"text\.h5: not an HDF5 Keras model"):
        import_keras_model(tmp_path / "text.h5")
