"""Outlier routing: the rewritten graph computes the same function, on a tiny BERT-shaped FFN and the real model."""

from __future__ import annotations

import numpy as np
import pytest

from ftm_assets.worker.model import onnx_embed, outlier_routing

pytestmark = pytest.mark.skipif(not onnx_embed.available(), reason="onnxruntime/onnx not installed")

HIDDEN, INNER = 4, 6


def _tiny_ffn(seed: int = 0, layer: str = "/enc/layer.0/"):
    """x -> MatMul -> Add(bias) -> erf GELU -> MatMul, named the way torch's BERT export names them."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w_in = rng.normal(size=(HIDDEN, INNER)).astype(np.float32)
    b_in = rng.normal(size=INNER).astype(np.float32)
    w_out = rng.normal(size=(INNER, HIDDEN)).astype(np.float32)
    g = layer + "intermediate/act/"
    nodes = [
        helper.make_node("Identity", ["attention_mask"], ["mask_echo"], name="echo"),  # the feed, as BERT's
        helper.make_node("MatMul", ["x", "w_in"], ["h0"], name=layer + "intermediate/dense/MatMul"),
        helper.make_node("Add", ["b_in", "h0"], ["h"], name=layer + "intermediate/dense/Add"),
        helper.make_node("Div", ["h", "sqrt2"], ["d"], name=g + "Div"),
        helper.make_node("Erf", ["d"], ["e"], name=g + "Erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name=g + "Add"),
        helper.make_node("Mul", ["h", "e1"], ["m"], name=g + "Mul"),
        helper.make_node("Mul", ["m", "half"], ["gelu"], name=g + "Mul_1"),
        helper.make_node("MatMul", ["gelu", "w_out"], ["y"], name=layer + "output/dense/MatMul"),
    ]
    inits = [
        numpy_helper.from_array(w_in, "w_in"), numpy_helper.from_array(b_in, "b_in"),
        numpy_helper.from_array(w_out, "w_out"),
        numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"), numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes, "tiny_ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", HIDDEN]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", HIDDEN]),
         helper.make_tensor_value_info("mask_echo", TensorProto.INT64, ["b", "t"])], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model, feed):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)[0]


def _feed(seed: int = 1):
    rng = np.random.default_rng(seed)
    mask = np.ones((2, 5), np.int64)
    mask[1, 3:] = 0  # padding: its activations must not count as peaks
    return {"x": rng.normal(size=(2, 5, HIDDEN)).astype(np.float32) * 2, "attention_mask": mask}


def test_routing_keeps_the_function_and_moves_the_highest_peaks_to_the_branch():
    from onnx import numpy_helper

    model, feed = _tiny_ffn(), _feed()
    before = _run(model, feed)
    peaks = outlier_routing.activation_peaks(model, [feed])
    (name,) = peaks
    assert name.endswith("output/dense/MatMul") and peaks[name].shape == (INNER,)
    assert peaks[name].min() >= 0
    unsplit = outlier_routing.route_outliers(model, peaks, k=2)
    assert unsplit == []
    np.testing.assert_allclose(_run(model, feed), before, rtol=1e-5, atol=1e-5)
    top2 = sorted(np.argsort(peaks[name])[::-1][:2])
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert np.all(inits["w_in"][:, top2] == 0) and np.all(inits["b_in"][top2] == 0)  # gone from the main path
    branch = inits["/enc/layer.0/outlier_branch/w_in"]
    assert branch.shape == (HIDDEN, 2) and np.all(branch != 0)
    suffixed = [n.name for n in model.graph.node if n.name.endswith(outlier_routing.BRANCH_SUFFIX)]
    assert len(suffixed) == 2  # the branch's two MatMuls, which the quantizer is told to leave alone


def test_padding_does_not_count_as_a_peak():
    model = _tiny_ffn()
    feed = _feed()
    feed["x"][1, 3:] = 1e3  # huge values where the mask says padding (BERT's padded rows are not zero)
    (peak,) = outlier_routing.activation_peaks(model, [feed]).values()
    assert peak.max() < 100


def test_a_layer_not_laid_out_like_bert_is_left_whole_and_reported():
    model, feed = _tiny_ffn(), _feed()
    for node in model.graph.node:
        if node.name.endswith("intermediate/dense/Add"):
            node.name = "renamed_bias"
    before = _run(model, feed)
    peaks = outlier_routing.activation_peaks(model, [feed])
    assert outlier_routing.route_outliers(model, peaks, k=2) == ["/enc/layer.0/output/dense/MatMul"]
    np.testing.assert_array_equal(_run(model, feed), before)


@pytest.mark.slow
def test_real_model_routed_in_fp32_gives_the_same_hidden_states(tmp_path):
    import onnx
    from sentence_transformers import SentenceTransformer

    from ftm_assets.worker.model.embed import resolve_model_path

    path = resolve_model_path(None)
    st = SentenceTransformer(path, device="cpu")
    encoder = onnx_embed.OnnxEncoder.__new__(onnx_embed.OnnxEncoder)
    encoder.tokenizer, encoder.max_length = st.tokenizer, st.max_seq_length
    model = onnx.load(str(onnx_embed.export(st, path, folder=tmp_path)))
    feeds = outlier_routing.calibration_feeds(encoder.feeds, onnx_embed.calibration_sentences(64))
    check = encoder.feeds(["Revenue grew eleven percent, led by cloud.", "We expect margins to widen next year."])
    before = _run(model, check)
    assert outlier_routing.route_outliers(model, outlier_routing.activation_peaks(model, feeds), k=8) == []
    after = _run(model, check)
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)
