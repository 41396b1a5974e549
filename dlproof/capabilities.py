"""Every chapter and every capability of the protocol, declared once.

Everything else that lists chapters or capabilities is derived from `CHAPTERS` and `CAPABILITY_LIST`:

- `dlproof.target`: the `Target` dataclass fields, ``CAPABILITIES`` (name -> signature) and the docstring;
- the registries: ``dlproof.derivations.<chapter>`` and ``dlproof.properties.<chapter>`` are loaded for every
  chapter that has one (`chapter_modules`), in book order;
- the built-in targets: a capability named ``c`` of chapter ``k`` is the function ``c`` of the reference module
  ``dlproof.impl.numpy_ref.<k>`` (``dlproof.impl.torch_ref.<k>``), found by lookup (`reference_functions`);
- the Markdown and HTML books (chapter order and titles), the README capability table (a test compares it)
  and ``dlproof capabilities``.

A chapter's ``name`` is its one name in every layer (module ``<name>`` under derivations/, properties/,
impl/numpy_ref/, impl/torch_ref/, tests/); its ``prefix`` is the prefix of its published derivation and
property ids, kept as published (ids are a public API: "bn.vjp" stays "bn.vjp" in chapter ``batchnorm``).

This module is a leaf: it imports nothing of dlproof.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    """A chapter of the source document: one name in every layer, the prefix of its ids, its title."""

    name: str
    prefix: str
    title: str


@dataclass(frozen=True)
class Capability:
    """A callable a target may provide: its name (the Target field), chapter, signature and meaning.

    ``doc`` states the formula and the layout convention in a sentence or two; it is rendered into the
    `Target` docstring and the README table.
    """

    name: str
    chapter: str
    signature: str
    doc: str


#: the chapters, in book order (the order of the source document)
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("activations", "act", "Activations"),
    Chapter("rnn", "rnn", "Vanilla RNN and BPTT"),
    Chapter("clipping", "clip", "Gradient clipping"),
    Chapter("lstm", "lstm", "LSTM"),
    Chapter("peephole", "peephole", "Peephole LSTM (ONNX)"),
    Chapter("projection", "proj", "Projected LSTM (proj_size)"),
    Chapter("gru", "gru", "GRU"),
    Chapter("bidirectional", "bi", "Bidirectional RNNs"),
    Chapter("stacked", "stack", "Stacked and variable-length recurrent networks"),
    Chapter("backprop", "mlp", "Backpropagation (MLP)"),
    Chapter("residual", "resnet", "Residual networks"),
    Chapter("batchnorm", "bn", "Batch normalization"),
    Chapter("layernorm", "ln", "Layer normalization"),
    Chapter("dropout", "dropout", "Dropout"),
    Chapter("attention", "attn", "Attention"),
    Chapter("convolution", "conv", "Convolution"),
    Chapter("uat", "uat", "Universal approximation"),
    Chapter("ntk", "ntk", "Neural tangent kernel"),
)

_VJP = "the gradients of L = <dy, y> (a vector-Jacobian product)"

#: every capability, in protocol order (the order of the Target fields and of the README table)
CAPABILITY_LIST: tuple[Capability, ...] = (
    Capability("rnn_cell", "rnn", "(x, h, p) -> h'",
               "h' = phi(x W_x^T + h W_h^T + b) on batch rows x (B, m), h (B, n); phi = tanh (or relu, declared)"),
    Capability("lstm_cell", "lstm", "(x, h, c, p) -> (h', c')",
               "gates i, f, g, o from x W_x*^T + h W_h*^T + b_*; c' = f c + i g, h' = o tanh(c')"),
    Capability("gru_cell", "gru", "(x, h, p) -> h'",
               "r, z gates; candidate n (reset-after by default, declared `gru`); h' = (1 - z) n + z h"),
    Capability("rnn", "rnn", "(xs, h0, p) -> (hs, h_T)", "the cell over a time-major sequence xs (T, B, m)"),
    Capability("lstm", "lstm", "(xs, h0, c0, p) -> (hs, (h_T, c_T))", "the LSTM cell over xs (T, B, m)"),
    Capability("gru", "gru", "(xs, h0, p) -> (hs, h_T)", "the GRU cell over xs (T, B, m)"),
    Capability("rnn_vjp", "rnn", "(xs, h0, p, d_hs, d_hT) -> {'xs', 'h0', 'params': {name: grad}}",
               "BPTT: the gradients of L = <d_hs, hs> + <d_hT, h_T>"),
    Capability("lstm_vjp", "lstm", "(xs, h0, c0, p, d_hs, d_hT, d_cT) -> {'xs', 'h0', 'c0', 'params'}",
               "the gradients of L = <d_hs, hs> + <d_hT, h_T> + <d_cT, c_T>"),
    Capability("gru_vjp", "gru", "(xs, h0, p, d_hs, d_hT) -> {'xs', 'h0', 'params'}",
               "the gradients of L = <d_hs, hs> + <d_hT, h_T>"),
    Capability("rnn_bi", "bidirectional", "(xs, h0_f, h0_b, p_f, p_b) -> (ys, h_f, h_b)",
               "ys (T, B, 2n) = [forward ; backward] time-aligned; h_b is the backward state after reading x_0"),
    Capability("lstm_bi", "bidirectional",
               "(xs, (h0_f, c0_f), (h0_b, c0_b), p_f, p_b) -> (ys, (h_f, c_f), (h_b, c_b))",
               "the bidirectional LSTM, as rnn_bi"),
    Capability("gru_bi", "bidirectional", "(xs, h0_f, h0_b, p_f, p_b) -> (ys, h_f, h_b)",
               "the bidirectional GRU, as rnn_bi"),
    Capability("clip_grad_norm", "clipping", "(grads: list, max_norm) -> (clipped list, pre-clip global norm or None)",
               "g * min(1, c / N) with N the global L2 norm (eps and per-tensor scope declared)"),
    Capability("clip_grad_value", "clipping", "(grads: list, clip_value) -> clipped list",
               "every entry clamped to [-v, v]"),
    Capability("param_count", "rnn", "(kind, n, m) -> int",
               "the parameters of one layer of kind 'rnn' | 'lstm' | 'gru' (hidden n, input m; bias declared)"),
    Capability("mlp", "backprop", "(x, layers, activation) -> y",
               "layers [(W_l (n_l, n_{l-1}), b_l (n_l,))], a_0 = x (B, n), a_l = phi(a_{l-1} W_l^T + b_l) for l < L, "
               "the last layer linear; activation 'tanh' | 'sigmoid' | 'relu' (relu'(0) = 0)"),
    Capability("mlp_vjp", "backprop", "(x, layers, activation, dy) -> {'x', 'layers': [(dW, db), ...]}", _VJP),
    Capability("residual", "residual", "(x, blocks, activation) -> y",
               "blocks [(W1 (k, n), b1, W2 (n, k), b2)], each x -> x + phi(x W1^T + b1) W2^T + b2"),
    Capability("residual_vjp", "residual",
               "(x, blocks, activation, dy) -> {'x', 'blocks': [(dW1, db1, dW2, db2), ...]}", _VJP),
    Capability("batchnorm", "batchnorm",
               "(x, gamma, beta, running_mean, running_var, training, momentum, eps) -> (y, running_mean', running_var')",
               "per feature over the batch axis; training: y = gamma (x - mean) / sqrt(var + eps) + beta with the biased "
               "batch variance, running' = (1 - momentum) running + momentum stat (torch's momentum; the variance "
               "folded in is declared by bn_running_var); inference: the running statistics, returned unchanged"),
    Capability("batchnorm_vjp", "batchnorm", "(x, gamma, beta, eps, dy) -> {'x', 'gamma', 'beta'}",
               _VJP + ", in training mode"),
    Capability("dropout", "dropout", "(x, p, training, seed) -> y",
               "p the drop probability (torch's p, Keras' rate); training: y = m x / (1 - p), m_i ~ Bernoulli(1 - p) "
               "i.i.d. from seed (same seed, same mask); inference: y = x"),
    Capability("dropout_vjp", "dropout", "(x, p, seed, dy) -> dx", "m dy / (1 - p) with the mask of that seed"),
    Capability("softmax", "attention", "(x) -> s", "exp(x - max) / sum exp(x - max) over the last axis"),
    Capability("softmax_vjp", "attention", "(x, ds) -> dx", "(diag(s) - s s^T) ds per row"),
    Capability("attention", "attention", "(q, k, v, causal) -> y",
               "softmax(q k^T / sqrt(d) + M) v, batch first; M the top-left causal mask when causal"),
    Capability("attention_vjp", "attention", "(q, k, v, causal, dy) -> {'q', 'k', 'v'}", _VJP),
    Capability("mha", "attention", "(query, key, value, params, num_heads, causal) -> y",
               "inputs (B, T, E); params W_q, W_k, W_v, W_o (E, E), b_q, b_k, b_v, b_o (E,); head h takes rows "
               "[h E/H, (h+1) E/H) of W_q, W_k, W_v, scale 1/sqrt(E/H); y = concat_h(heads) W_o^T + b_o"),
    Capability("mha_vjp", "attention",
               "(query, key, value, params, num_heads, causal, dy) -> {'query', 'key', 'value', 'params'}", _VJP),
    Capability("conv1d", "convolution", "(x, w, b, stride, padding, dilation, groups) -> y",
               "y[n, o, i] = b[o] + sum_{c, k} w[o, c, k] x_pad[n, g(o) C_in/groups + c, i s + k d]: cross-correlation, "
               "x (B, C_in, L), w (C_out, C_in/groups, K), b (C_out,) or None, zero padding p on both sides"),
    Capability("conv1d_vjp", "convolution", "(x, w, b, stride, padding, dilation, groups, dy) -> {'x', 'w', 'b'}", _VJP),
    Capability("conv2d", "convolution", "(x, w, b, stride, padding, dilation, groups) -> y",
               "conv1d over (H, W); stride, padding and dilation each an int (both axes) or an (H, W) pair, as torch's Conv2d takes them"),
    Capability("conv2d_vjp", "convolution", "(x, w, b, stride, padding, dilation, groups, dy) -> {'x', 'w', 'b'}", _VJP),
    Capability("empirical_ntk", "ntk", "(X1, X2, W, a) -> K",
               "f(x) = a^T relu(W x) / sqrt(m), W (m, d), a (m,), X (n, d); K[i, j] = <grad f(X1[i]), grad f(X2[j])> "
               "over theta = (W, a), relu'(0) = 0"),
    Capability("lstm_peephole_cell", "peephole", "(x, h, c, p) -> (h', c')",
               "ONNX's LSTM cell with its P input: the lstm_cell parameters plus peepholes p_i, p_f, p_o (n,); "
               "i = sig(. + p_i c), f = sig(. + p_f c), c' = f c + i g, o = sig(. + p_o c') (the new cell), "
               "h' = o tanh(c')"),
    Capability("rnn_bi_vjp", "bidirectional",
               "(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb) -> {'xs', 'h0_f', 'h0_b', 'params_f', 'params_b'}",
               "the gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of rnn_bi"),
    Capability("lstm_bi_vjp", "bidirectional",
               "(xs, (h0_f, c0_f), (h0_b, c0_b), p_f, p_b, d_ys, (d_hf, d_cf), (d_hb, d_cb)) -> "
               "{'xs', 'h0_f', 'c0_f', 'h0_b', 'c0_b', 'params_f', 'params_b'}",
               "the gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_cf, c_f> + <d_hb, h_b> + <d_cb, c_b> of lstm_bi"),
    Capability("gru_bi_vjp", "bidirectional",
               "(xs, h0_f, h0_b, p_f, p_b, d_ys, d_hf, d_hb) -> {'xs', 'h0_f', 'h0_b', 'params_f', 'params_b'}",
               "the gradients of L = <d_ys, ys> + <d_hf, h_f> + <d_hb, h_b> of gru_bi"),
    Capability("lstm_proj_cell", "projection", "(x, h, c, p) -> (h', c')",
               "torch's proj_size: the lstm_cell parameters with W_h* (n, P), plus W_proj (P, n); h (B, P), c (B, n); "
               "c' = f c + i g, h' = (o tanh(c')) W_proj^T on batch rows (W_proj (o tanh c') in column form); h' "
               "feeds the recurrence"),
    Capability("rnn_stack", "stacked", "(xs, h0, layers, lengths, dropout, training, seed) -> (ys, h_T)",
               "L layers of D directions: layers[l][d] the params of layer l, direction d (D = 1, or 2 = [forward, "
               "backward]); layer l+1 reads layer l's outputs (T, B, D n), ys those of the last; h0, h_T (L, D, B, n); "
               "lengths (B,) ints in [1, T] or None: step t of sequence b is real when t < lengths[b], h_T the state "
               "after its last real step (backward: reversed within its own length, after reading x_0), ys at padded "
               "steps declared (padded_output); training: dropout p (mask from seed) on the inputs of layers 2..L only"),
    Capability("lstm_stack", "stacked", "(xs, h0, c0, layers, lengths, dropout, training, seed) -> (ys, (h_T, c_T))",
               "rnn_stack over LSTM layers; a layer's params may hold W_proj (P, n) (projection): then h is (L, D, B, P) "
               "and c (L, D, B, n)"),
    Capability("gru_stack", "stacked", "(xs, h0, layers, lengths, dropout, training, seed) -> (ys, h_T)",
               "rnn_stack over GRU layers"),
    Capability("rnn_stack_vjp", "stacked", "(xs, h0, layers, lengths, d_ys, d_hT) -> {'xs', 'h0', 'layers'}",
               "the gradients of L = <d_ys, ys> + <d_hT, h_T> of rnn_stack (inference, no dropout); 'layers' "
               "[[{name: grad}]] as layers"),
    Capability("lstm_stack_vjp", "stacked",
               "(xs, h0, c0, layers, lengths, d_ys, d_hT, d_cT) -> {'xs', 'h0', 'c0', 'layers'}",
               "the gradients of L = <d_ys, ys> + <d_hT, h_T> + <d_cT, c_T> of lstm_stack (inference, no dropout)"),
    Capability("gru_stack_vjp", "stacked", "(xs, h0, layers, lengths, d_ys, d_hT) -> {'xs', 'h0', 'layers'}",
               "the gradients of L = <d_ys, ys> + <d_hT, h_T> of gru_stack (inference, no dropout)"),
    Capability("layernorm", "layernorm", "(x, gamma, beta, eps) -> y",
               "over the last axis (F features): y = gamma (x - mean) / sqrt(var + eps) + beta with the biased "
               "variance; gamma, beta (F,), or both None (no affine part)"),
    Capability("layernorm_vjp", "layernorm", "(x, gamma, beta, eps, dy) -> {'x', 'gamma', 'beta'}",
               _VJP + "; 'gamma' and 'beta' None without the affine part"),
)

CHAPTER_BY_NAME: dict[str, Chapter] = {c.name: c for c in CHAPTERS}
CAPABILITY_BY_NAME: dict[str, Capability] = {c.name: c for c in CAPABILITY_LIST}


def chapter_of_prefix(prefix: str) -> Chapter | None:
    """The chapter whose ids start with ``prefix`` ("bn" -> batchnorm), or None."""
    return next((c for c in CHAPTERS if c.prefix == prefix), None)


def capabilities_of(chapter: str) -> tuple[Capability, ...]:
    """The capabilities of chapter ``chapter``, in protocol order."""
    return tuple(c for c in CAPABILITY_LIST if c.chapter == chapter)


def chapter_modules(layer: str) -> tuple[str, ...]:
    """``dlproof.<layer>.<chapter>`` for every chapter that has a module (or package) in that layer, in
    book order; ``layer`` is e.g. "derivations", "properties", "impl.numpy_ref"."""
    names = (f"dlproof.{layer}.{c.name}" for c in CHAPTERS)
    return tuple(n for n in names if importlib.util.find_spec(n) is not None)


def reference_functions(layer: str) -> dict:
    """{capability: function} of a reference implementation (``layer`` "impl.numpy_ref" or "impl.torch_ref"):
    the function named after each capability in the module of its chapter, in protocol order. A capability
    whose chapter module lacks it is left out."""
    import importlib

    out = {}
    for chapter in CHAPTERS:
        caps = capabilities_of(chapter.name)
        if not caps or importlib.util.find_spec(f"dlproof.{layer}.{chapter.name}") is None:
            continue
        module = importlib.import_module(f"dlproof.{layer}.{chapter.name}")
        out.update({c.name: getattr(module, c.name) for c in caps if hasattr(module, c.name)})
    return {c.name: out[c.name] for c in CAPABILITY_LIST if c.name in out}  # protocol order


assert len(CHAPTER_BY_NAME) == len(CHAPTERS) and len({c.prefix for c in CHAPTERS}) == len(CHAPTERS)
assert len(CAPABILITY_BY_NAME) == len(CAPABILITY_LIST)
assert all(c.chapter in CHAPTER_BY_NAME for c in CAPABILITY_LIST)


def markdown_table() -> str:
    """The README's capability table: one row per capability, grouped by chapter in book order."""
    def row(*cells: str) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    rows = [row("capability", "chapter", "signature", "what it computes"), "|---|---|---|---|"]
    for chapter in CHAPTERS:
        rows += [row(f"`{c.name}`", chapter.title, f"`{c.signature}`", c.doc) for c in capabilities_of(chapter.name)]
    return "\n".join(rows)
