"""Route each feed-forward layer's few outlier channels around int8 quantization, so the rest can be quantized.

Dynamic int8 quantizes a MatMul's activations with one scale per batch. The input of a BERT layer's
feed-forward output projection (the GELU of the intermediate layer) has a handful of channels that peak at
15-25 while the rest stay under ~5: one scale for all of them leaves the rest a quarter of int8's range,
and embeddings drift (cosine mean 0.990, topics below the seed floor). Leaving the projection in fp32
costs a third of the model's weight FLOPs at fp32 speed.

This rewrite splits the layer instead. The ``k`` channels with the highest peaks on calibration sentences
get a small fp32 branch of their own (intermediate columns, bias, GELU, projection rows); in the main path
their intermediate weights and bias are zeroed, so GELU(0) = 0 removes them before the big projection,
which is then quantized like every other MatMul. In fp32 the rewritten graph computes the same function
(tested to cosine 1.0000). Since GELU(0) is exactly 0, no extra operation touches the big activation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

FFN_OUTPUT = re.compile(r"^(?P<layer>.*/layer\.\d+/)output/dense/MatMul$")
BRANCH_SUFFIX = "_outliers"  # the fp32 branch's MatMuls end with this; the quantizer leaves them alone


def ffn_outputs(model) -> list:
    """The weight MatMul of each layer's feed-forward output projection, in graph order."""
    weights = {init.name for init in model.graph.initializer}
    return [
        n for n in model.graph.node if n.op_type == "MatMul" and FFN_OUTPUT.match(n.name) and n.input[1] in weights
    ]  # fmt: skip


def activation_peaks(model, feeds: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per layer (keyed by the projection's node name): each input channel's peak |value| over real tokens."""
    import copy

    import onnx
    import onnxruntime as ort

    targets = ffn_outputs(model)
    probe = copy.deepcopy(model)
    for node in targets:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [node.input[0] for node in targets]
    peaks: dict[str, np.ndarray] = {}
    for feed in feeds:
        real = feed["attention_mask"].astype(bool)
        for node, value in zip(targets, session.run(names, feed)):
            peak = np.abs(value[real]).max(axis=0)
            peaks[node.name] = peak if node.name not in peaks else np.maximum(peaks[node.name], peak)
    return peaks


def route_outliers(model, peaks: dict[str, np.ndarray], k: int) -> list[str]:
    """Rewrite ``model`` in place (see the module docstring); returns the projections it could not split.

    A layer whose intermediate MatMul, bias and GELU are not where a BERT export puts them is left as it
    was, and its projection is returned so the caller can keep it in fp32.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    nodes = {node.name: node for node in graph.node}
    unsplit = []
    for out_mm in ffn_outputs(model):
        layer = FFN_OUTPUT.match(out_mm.name)["layer"]
        in_mm, in_bias = nodes.get(layer + "intermediate/dense/MatMul"), nodes.get(layer + "intermediate/dense/Add")
        bias_names = [name for name in (in_bias.input if in_bias else []) if name in inits]
        if in_mm is None or in_mm.input[1] not in inits or len(bias_names) != 1 or out_mm.name not in peaks:
            unsplit.append(out_mm.name)
            continue
        w_in = numpy_helper.to_array(inits[in_mm.input[1]]).copy()
        b_in = numpy_helper.to_array(inits[bias_names[0]]).copy()
        w_out = numpy_helper.to_array(inits[out_mm.input[1]])
        channels = np.sort(np.argsort(peaks[out_mm.name])[::-1][:k])
        p = layer + "outlier_branch/"
        graph.initializer.extend([
            numpy_helper.from_array(np.ascontiguousarray(w_in[:, channels]), p + "w_in"),
            numpy_helper.from_array(b_in[channels].copy(), p + "b_in"),
            numpy_helper.from_array(np.ascontiguousarray(w_out[channels]), p + "w_out"),
            numpy_helper.from_array(np.array(np.sqrt(2.0), dtype=np.float32), p + "sqrt2"),
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), p + "one"),
            numpy_helper.from_array(np.array(0.5, dtype=np.float32), p + "half"),
        ])  # fmt: skip
        w_in[:, channels] = 0.0
        b_in[channels] = 0.0  # GELU(0) == 0: these channels leave the main path before the projection
        inits[in_mm.input[1]].CopyFrom(numpy_helper.from_array(w_in, in_mm.input[1]))
        inits[bias_names[0]].CopyFrom(numpy_helper.from_array(b_in, bias_names[0]))
        summed = out_mm.output[0]
        out_mm.output[0] = summed + "_main"
        node = helper.make_node
        branch = [
            node("MatMul", [in_mm.input[0], p + "w_in"], [p + "h0"], name=p + "in" + BRANCH_SUFFIX),
            node("Add", [p + "h0", p + "b_in"], [p + "h"], name=p + "bias"),
            node("Div", [p + "h", p + "sqrt2"], [p + "scaled"], name=p + "div"),
            node("Erf", [p + "scaled"], [p + "erf"], name=p + "erf"),
            node("Add", [p + "erf", p + "one"], [p + "erf1"], name=p + "add_one"),
            node("Mul", [p + "h", p + "erf1"], [p + "gelu2"], name=p + "mul"),
            node("Mul", [p + "gelu2", p + "half"], [p + "gelu"], name=p + "half_mul"),
            node("MatMul", [p + "gelu", p + "w_out"], [p + "y"], name=p + "out" + BRANCH_SUFFIX),
            node("Add", [summed + "_main", p + "y"], [summed], name=p + "sum"),
        ]
        at = list(graph.node).index(out_mm) + 1
        for offset, new in enumerate(branch):
            graph.node.insert(at + offset, new)
    return unsplit


def calibration_feeds(tokenize: Callable[[list[str]], dict[str, np.ndarray]], sentences: Sequence[str], batch: int = 32):
    """Tokenised batches of the calibration sentences, as the encoder feeds them."""
    return [tokenize(list(sentences[i : i + batch])) for i in range(0, len(sentences), batch)]
