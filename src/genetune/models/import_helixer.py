"""Helixer Keras HybridModel (.h5) -> genetune HybridModel weights, without TensorFlow.

The architecture is read from the file's `model_config` JSON (Conv1D / BatchNormalization /
Reshape / Dropout / Bidirectional(LSTM) / Dense layers in graph order, as
`helixer.prediction.HybridModel.model` builds them) and the weights from `model_weights`, in
each layer's `weight_names` order. Mapping: Conv1D kernel (k, in, out) ->
(out, in, k); BatchNormalization gamma/beta/moving mean/variance (Keras eps 1e-3, as
genetune's); LSTM kernel (in, 4u) and recurrent kernel (u, 4u) transposed, gate order i, f, c, o
is torch's i, f, g, o, Keras's single bias goes to b_ih with b_hh = 0; Dense kernel transposed.
Input columns are C, A, T, G in both. Models fine-tuned with `--fine-tune --input-coverage`
(a nested "excerpt" model whose tap is the second-to-last LSTM) are refused
with a clear message.
"""

import json

import h5py
import numpy as np
import torch

from genetune.core.errors import InputError
from genetune.models.hybrid import HybridArchitecture, HybridModel


def _config(h5, path):
    raw = h5.attrs.get("model_config")
    if raw is None:
        raise InputError(f"{path}: not a Keras model file (no model_config attribute)")
    cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    layers = cfg.get("config", {}).get("layers")
    if layers is None:
        raise InputError(f"{path}: Keras model_config has no layer list")
    return layers


def _weights(h5, name, path):
    try:
        g = h5["model_weights"][name]
        return [np.asarray(g[w.decode() if isinstance(w, bytes) else w]) for w in g.attrs["weight_names"]]
    except KeyError as exc:
        raise InputError(f"{path}: no weights for layer '{name}' ({exc})") from None


def read_architecture(layers, path):
    """Architecture of a Keras HybridModel from its layer configs (in graph order)."""
    kinds = [lay["class_name"] for lay in layers]
    if any(k in ("Functional", "Model") for k in kinds):
        raise InputError(
            f"{path}: a model fine-tuned with Helixer's --fine-tune --input-coverage (a nested "
            "model) cannot be imported; import its base model and fine-tune with genetune"
        )
    convs = [lay["config"] for lay in layers if lay["class_name"] == "Conv1D"]
    lstms = [lay["config"]["layer"]["config"] for lay in layers if lay["class_name"] == "Bidirectional"]
    denses = [lay["config"] for lay in layers if lay["class_name"] == "Dense"]
    if not convs or not lstms or not denses:
        raise InputError(f"{path}: not a Helixer HybridModel (needs Conv1D, Bidirectional LSTM and Dense layers)")
    first_lstm = kinds.index("Bidirectional")
    last_lstm = len(kinds) - 1 - kinds[::-1].index("Bidirectional")
    drop1 = [lay["config"]["rate"] for lay in layers[:first_lstm] if lay["class_name"] == "Dropout"]
    drop2 = [lay["config"]["rate"] for lay in layers[last_lstm:] if lay["class_name"] == "Dropout"]
    filters = convs[0]["filters"]
    reshapes = [lay["config"]["target_shape"] for lay in layers[:first_lstm] if lay["class_name"] == "Reshape"]
    pool = reshapes[0][-1] // filters if reshapes else 1
    inputs = [lay["config"] for lay in layers if lay["class_name"] == "InputLayer"]
    shape = inputs[0].get("batch_input_shape") or inputs[0].get("batch_shape")
    channels = shape[-1]
    out = denses[-1]["units"]
    if out not in (pool * 4, pool * 8):
        raise InputError(
            f"{path}: the last Dense layer has {out} units, not {pool * 4} or {pool * 8} "
            f"(pool size {pool} x 4 classes, with or without phase)"
        )
    n_cov = (channels - 4) // 2
    return HybridArchitecture(
        cnn_layers=len(convs),
        filter_depth=filters,
        kernel_size=convs[0]["kernel_size"][0],
        pool_size=pool,
        lstm_layers=len(lstms),
        units=lstms[0]["units"],
        dropout1=drop1[0] if drop1 else 0.0,
        dropout2=drop2[0] if drop2 else 0.0,
        predict_phase=out == pool * 8,
        input_coverage=n_cov > 0,
        coverage_count=n_cov,
        post_coverage_hidden_layer=len(denses) == 2,
    )


def _check_layer(cfg, path):
    name, kind, c = cfg["name"], cfg["class_name"], cfg["config"]
    if kind == "Conv1D" and (
        c.get("padding") != "same"
        or c.get("activation") != "relu"
        or tuple(c.get("dilation_rate", (1,))) != (1,)
        or tuple(c.get("strides", (1,))) != (1,)
    ):
        raise InputError(f"{path}: layer {name}: only Conv1D with padding 'same', relu, stride and dilation 1")
    if kind == "Bidirectional":
        lc = c["layer"]["config"]
        if (
            c.get("merge_mode", "concat") != "concat"
            or lc.get("activation") != "tanh"
            or lc.get("recurrent_activation") != "sigmoid"
            or not lc.get("use_bias", True)
        ):
            raise InputError(f"{path}: layer {name}: only concat-merged LSTMs with tanh/sigmoid and a bias")
    if kind == "Dense" and c.get("activation", "linear") != "linear":
        raise InputError(f"{path}: layer {name}: Dense with activation {c.get('activation')} is not HybridModel's")


def import_keras_model(path, coverage_norm="none"):
    """(HybridModel with the Keras weights, Architecture). `coverage_norm` is how the model's
    coverage input was normalised in training (Helixer's --coverage-norm; its default is none)."""
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not an HDF5 Keras model ({exc})") from None
    with h5:
        layers = _config(h5, path)
        arch = read_architecture(layers, path)
        arch.coverage_norm = coverage_norm
        state, lstm_k, conv_k, bn_k = {}, 0, 0, 0
        denses = []
        for lay in layers:
            kind, name = lay["class_name"], lay["config"]["name"] if "name" in lay["config"] else lay["name"]
            _check_layer(lay, path)
            if kind == "Conv1D":
                kernel, bias = _weights(h5, name, path)
                state[f"convs.{conv_k}.weight"] = kernel.transpose(2, 1, 0)
                state[f"convs.{conv_k}.bias"] = bias
                conv_k += 1
            elif kind == "BatchNormalization":
                w = dict(zip(("gamma", "beta", "moving_mean", "moving_variance"), _bn_weights(h5, name, lay, path)))
                state[f"norms.{bn_k}.weight"] = w["gamma"]
                state[f"norms.{bn_k}.bias"] = w["beta"]
                state[f"norms.{bn_k}.running_mean"] = w["moving_mean"]
                state[f"norms.{bn_k}.running_var"] = w["moving_variance"]
                state[f"norms.{bn_k}.num_batches_tracked"] = np.array(0)
                bn_k += 1
            elif kind == "Bidirectional":
                w = _weights(h5, name, path)
                if len(w) != 6:
                    raise InputError(f"{path}: layer {name}: expected 6 LSTM weight arrays, found {len(w)}")
                for suffix, (kernel, recurrent, bias) in (("", w[:3]), ("_reverse", w[3:])):
                    state[f"lstm.weight_ih_l{lstm_k}{suffix}"] = kernel.T
                    state[f"lstm.weight_hh_l{lstm_k}{suffix}"] = recurrent.T
                    state[f"lstm.bias_ih_l{lstm_k}{suffix}"] = bias
                    state[f"lstm.bias_hh_l{lstm_k}{suffix}"] = np.zeros_like(bias)
                lstm_k += 1
            elif kind == "Dense":
                denses.append(_weights(h5, name, path))
    for prefix, (kernel, bias) in zip(("hidden", "head") if len(denses) == 2 else ("head",), denses):
        state[f"{prefix}.weight"] = kernel.T
        state[f"{prefix}.bias"] = bias
    model = HybridModel(arch)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise InputError(f"{path}: Keras weights do not fit the architecture read from it ({exc})") from None
    return model.eval(), arch


def _bn_weights(h5, name, lay, path):
    """gamma, beta, mean, variance; a BN without scale or center gets ones / zeros."""
    w = _weights(h5, name, path)
    c = lay["config"]
    n = w[-1].shape[0]
    gamma = w.pop(0) if c.get("scale", True) else np.ones(n, np.float32)
    beta = w.pop(0) if c.get("center", True) else np.zeros(n, np.float32)
    return gamma, beta, w[0], w[1]
