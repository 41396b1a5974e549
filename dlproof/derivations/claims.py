"""The claims ledger: every claim of the source's RNN/LSTM chapter, with the evidence that decides it.

A claim names its evidence; its verdict is computed by `dlproof.ledger` from running that evidence
(the proof status of derivations, the committed conformance verdicts of properties, the committed
benchmark results), never typed in. The roles:

- ``proves``: derivations whose status establishes the claim (all proved, or definitions for a claim
  that is a definition);
- ``refuted_by``: refutation records that show the claim false as stated (status "refuted");
- ``context``: related derivations shown with the claim (e.g. the corrected statement);
- ``properties``: properties that check implementations against the claim's math;
- ``measure``: a key of ``results`` in reports/performance.json (an empirical claim);
- ``not_math``: why the statement is not a mathematical claim (with ``literature``);
- ``conditions``: hypotheses the source leaves out, under which the claim is proved.

Claim ids are a public API, like derivation ids: a published id never disappears.

One policy for statements that are not precise, applied to every claim:

- a **document title** (the source lists "03-Backpropagation.md ✅") states nothing: its verdict is
  not-a-mathematical-claim (``not_math=DOCUMENT_TITLE``), and what dlproof establishes on the topic is
  listed as ``context``, each record with its own status (the project's theorems never lend a title
  their verdict);
- a **quality or comparison without a stated measure** ("more expressive", "extracts spatial features")
  is not-a-mathematical-claim, with the related records as context and the literature;
- a statement with one natural precise reading (which outputs depend on which inputs, a formula, a
  bound) is a mathematical claim: the reading is stated in the explanation and its hypotheses the source
  leaves out in ``conditions``; its verdict is the weakest status of its evidence (`dlproof.ledger`).
"""
from __future__ import annotations

from dataclasses import dataclass

#: the reason given for a document title (policy: a title names a topic and states nothing to prove)
DOCUMENT_TITLE = "a document title: the source names the document and states nothing about its content"


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    quote: str
    english: str
    explanation: str
    proves: tuple = ()
    refuted_by: tuple = ()
    context: tuple = ()
    properties: tuple = ()
    measure: str = ""
    not_math: str = ""
    conditions: tuple = ()
    literature: tuple = ()


S_RNN = "1. 基础RNN (vanilla RNN)"
S_GRAD = "2. 梯度消失/爆炸问题 (vanishing/exploding gradients)"
S_LSTM = "3. LSTM (长短期记忆网络)"
S_GRU = "4. GRU (门控循环单元)"
S_BI = "5. 双向RNN (bidirectional RNN)"
S_CLIP = "6. 梯度裁剪 (gradient clipping)"
S_CODE = "代码实现 / 应用场景 (code, applications)"
S_VALUE = "独特价值: 梯度问题深入分析 (gradient problems in depth)"
S_SELF = "统计 / 里程碑 / 评分 (statistics, milestones, ratings)"
S_TRAIN = "深度学习数学模块: 训练技术 (the module's training techniques: documents 03-05)"
S_REG = "深度学习数学模块: 正则化 (the module's regularization: document 07)"
S_THEORY = "深度学习数学模块: 理论基础 (the module's theoretical foundations: documents 01-02)"
S_ARCH = "深度学习数学模块: 核心架构 (the module's core architectures: documents 06, 08)"
S_THREE = "三大架构完整覆盖 (CNN + RNN + Transformer)"

PASCANU = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training recurrent neural networks, ICML"
BENGIO94 = "Bengio, Simard & Frasconi (1994), Learning long-term dependencies with gradient descent is difficult, IEEE TNN 5(2)"
HOCHREITER = "Hochreiter & Schmidhuber (1997), Long short-term memory, Neural Computation 9(8)"
GERS = "Gers, Schmidhuber & Cummins (2000), Learning to forget: continual prediction with LSTM, Neural Computation 12(10)"
CHO = "Cho et al. (2014), Learning phrase representations using RNN encoder-decoder for statistical machine translation, EMNLP"
CHUNG = "Chung, Gulcehre, Cho & Bengio (2014), Empirical evaluation of gated recurrent neural networks on sequence modeling, arXiv:1412.3555"
JOZEFOWICZ = "Jozefowicz, Zaremba & Sutskever (2015), An empirical exploration of recurrent network architectures, ICML"
WEISS = "Weiss, Goldberg & Yahav (2018), On the practical computational power of finite precision RNNs for language recognition, ACL"
GREFF = "Greff et al. (2017), LSTM: a search space odyssey, IEEE TNNLS 28(10)"
SCHUSTER = "Schuster & Paliwal (1997), Bidirectional recurrent neural networks, IEEE Trans. Signal Processing 45(11)"
GRAVES05 = "Graves & Schmidhuber (2005), Framewise phoneme classification with bidirectional LSTM and other neural network architectures, Neural Networks 18(5-6)"
HUANG = "Huang, Xu & Yu (2015), Bidirectional LSTM-CRF models for sequence tagging, arXiv:1508.01991"
WERBOS = "Werbos (1990), Backpropagation through time: what it does and how to do it, Proc. IEEE 78(10)"
ELMAN = "Elman (1990), Finding structure in time, Cognitive Science 14(2)"
MIKOLOV = "Mikolov et al. (2010), Recurrent neural network based language model, Interspeech"
SUTSKEVER = "Sutskever, Vinyals & Le (2014), Sequence to sequence learning with neural networks, NeurIPS"
RUMELHART = "Rumelhart, Hinton & Williams (1986), Learning representations by back-propagating errors, Nature 323"
GRIEWANK = "Griewank & Walther (2008), Evaluating derivatives, 2nd ed., SIAM (the cheap-gradient principle)"
HE2016 = "He, Zhang, Ren & Sun (2016), Identity mappings in deep residual networks, ECCV"
VEIT = "Veit, Wilber & Belongie (2016), Residual networks behave like ensembles of relatively shallow networks, NeurIPS"
IOFFE = "Ioffe & Szegedy (2015), Batch normalization: accelerating deep network training by reducing internal covariate shift, ICML"
SRIVASTAVA = "Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), Dropout, JMLR 15"
WAGER = "Wager, Wang & Liang (2013), Dropout training as adaptive regularization, NeurIPS"
VASWANI = "Vaswani et al. (2017), Attention is all you need, NeurIPS, §3.2"
GOODFELLOW = "Goodfellow, Bengio & Courville (2016), Deep Learning, MIT Press, ch. 9"
DUMOULIN = "Dumoulin & Visin (2016), A guide to convolution arithmetic for deep learning, arXiv:1603.07285"
ARAUJO = "Araujo, Norris & Sim (2019), Computing receptive fields of convolutional neural networks, Distill"
CYBENKO = "Cybenko (1989), Approximation by superpositions of a sigmoidal function, Math. Control Signals Systems 2"
LESHNO = "Leshno, Lin, Pinkus & Schocken (1993), Multilayer feedforward networks with a nonpolynomial activation function can approximate any function, Neural Networks 6"
JACOT = "Jacot, Gabriel & Hongler (2018), Neural tangent kernel: convergence and generalization in neural networks, NeurIPS"
CHO_SAUL = "Cho & Saul (2009), Kernel methods for deep learning, NeurIPS (arc-cosine kernels)"

CLAIMS: tuple[Claim, ...] = (
    # ---------------------------------------------------------------- 1. vanilla RNN
    Claim("claim.rnn.update_equation", S_RNN,
          "数学定义: 隐状态更新方程 $h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b_h)$",
          "Definition: the hidden-state update $h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b_h)$.",
          "A definition, not a theorem: nothing to prove, but every implementation must compute it. dlproof "
          "writes $W_h = W_{hh}$, $W_x = W_{xh}$, $b = b_h$ and checks each target's cell and sequence against "
          "the element-wise form. torch.nn.RNN adds a second bias $b_{hh}$, which only changes the parameter count.",
          proves=("rnn.cell.forward",), context=("rnn.param_count",),
          properties=("rnn.cell.forward", "rnn.forward"), literature=(ELMAN,)),
    Claim("claim.rnn.unrolling", S_RNN,
          "时间展开: 循环网络变为深度前馈网络",
          "Unrolling in time turns the recurrent network into a deep feed-forward network.",
          "True with two qualifications the source leaves out: the T layers share one set of weights, and "
          "every layer takes its own input $x_t$. Weight sharing is why the gradient of a weight is the sum "
          "of its per-step gradients.",
          proves=("rnn.bptt.unroll", "rnn.bptt.shared_weight_gradient"),
          conditions=("the T layers share one parameter set theta (tied weights)",
                      "layer t also reads the input x_t"),
          properties=("rnn.forward", "rnn.vjp"), literature=(WERBOS,)),
    Claim("claim.rnn.bptt", S_RNN,
          "BPTT: 时间反向传播算法",
          "BPTT: backpropagation through time.",
          "BPTT is reverse-mode differentiation of the unrolled network: the backward recursion "
          "$\\delta_{t-1} = J_t^\\top \\delta_t + \\partial L/\\partial h_{t-1}$ and the shared-weight sum are "
          "derived for every length $T$ and every size (an induction on $T$, each step entry-wise at symbolic "
          "sizes), and every target's hand-written or autodiff backward is checked against them and against "
          "finite differences.",
          proves=("rnn.bptt.gradient", "rnn.bptt.shared_weight_gradient"),
          properties=("rnn.vjp", "rnn.vjp.oracle_fd", "rnn.vjp.fd_own_dtype"), literature=(WERBOS,)),

    # ---------------------------------------------------------------- 2. vanishing / exploding
    Claim("claim.rnn.jacobian_product", S_GRAD,
          "数学分析: 梯度通过时间的传播 $\\frac{\\partial h_t}{\\partial h_k} = \\prod_{i=k+1}^{t} W_{hh}^T "
          "\\text{diag}(\\tanh'(\\cdot))$",
          "Gradients propagate through time as $\\frac{\\partial h_t}{\\partial h_k} = \\prod_{i=k+1}^{t} "
          "W_{hh}^T \\operatorname{diag}(\\tanh'(\\cdot))$.",
          "Right only in the transposed (denominator, backprop) layout, with the factors ordered "
          "$i = k+1$ on the left to $i = t$ on the right and $\\tanh'$ taken at step $i$'s pre-activation. "
          "The source names no layout. Read as the usual numerator-layout Jacobian, the formula is wrong "
          "(refuted with an exact counterexample): that Jacobian is $J_t \\cdots J_{k+1}$ with "
          "$J_i = \\operatorname{diag}(\\tanh'(a_i)) W_{hh}$.",
          proves=("rnn.bptt.source_form_denominator", "rnn.bptt.jacobian_product"),
          context=("rnn.bptt.source_form_numerator_reading", "rnn.cell.jacobian_h"),
          conditions=("denominator layout: the product is (dh_t/dh_k)^T = J_{k+1}^T ... J_t^T",
                      "factor i is W_hh^T diag(tanh'(a_i)), a_i the step-i pre-activation, i increasing left to right"),
          properties=("rnn.bptt.jacobian_product",), literature=(PASCANU, BENGIO94)),
    Claim("claim.rnn.vanishing_norm_lt_1", S_GRAD,
          "后果: $\\|W_{hh}\\| < 1$ → 梯度消失",
          "Consequence: $\\|W_{hh}\\| < 1$ → vanishing gradients.",
          "Proved from submultiplicativity of the induced norm (a cited lemma) for the spectral norm and an activation with "
          "$\\sup|\\varphi'| = \\gamma \\le 1$ (tanh, relu): $\\|\\partial h_t/\\partial h_k\\| \\le "
          "(\\gamma\\|W_{hh}\\|)^{t-k} \\to 0$. The sharp sufficient condition is $\\|W_{hh}\\|_2 < 1/\\gamma$ "
          "(Pascanu et al.).",
          proves=("rnn.bptt.vanishing_sufficient", "rnn.bptt.norm_bound", "act.tanh.gamma"),
          conditions=("||.|| is the spectral norm (or another submultiplicative induced norm)",
                      "the activation has sup|phi'| <= 1, as tanh and relu do"),
          properties=("rnn.bptt.norm_bound",), literature=(PASCANU, BENGIO94)),
    Claim("claim.rnn.exploding_norm_gt_1", S_GRAD,
          "后果: $\\|W_{hh}\\| > 1$ → 梯度爆炸",
          "Consequence: $\\|W_{hh}\\| > 1$ → exploding gradients.",
          "False. $\\|W_{hh}\\|_2 > 1/\\gamma$ is only necessary for exploding gradients, not sufficient: "
          "saturated tanh units ($W_h = 2$, $b = 3$) and dead relu units make the Jacobian vanish although "
          "$\\|W_h\\| = 2$.",
          refuted_by=("rnn.claim.exploding_norm_gt_1",), context=("rnn.bptt.exploding_necessary",),
          properties=("rnn.bptt.norm_bound",), literature=(PASCANU,)),

    # ---------------------------------------------------------------- 3. LSTM
    Claim("claim.lstm.forget_gate", S_LSTM,
          "遗忘门 $f_t$：决定丢弃多少旧信息",
          "The forget gate $f_t$ decides how much old information to discard.",
          "Exact on the direct path: with $h_{t-1}$ and $x_t$ held fixed, "
          "$\\partial c_t/\\partial c_{t-1} = \\operatorname{diag}(f_t)$, so $f_t$ is the fraction of each cell "
          "entry kept. The total derivative has extra terms through $h_{t-1}$.",
          proves=("lstm.cell.dc_dc_prev", "lstm.gate.partials"), context=("lstm.state.c_to_c_full",),
          conditions=("on the direct path c_{t-1} -> c_t, with h_{t-1} and x_t held fixed",),
          properties=("lstm.cell.forward", "lstm.vjp"), literature=(GERS,)),
    Claim("claim.lstm.input_gate", S_LSTM,
          "输入门 $i_t$：决定添加多少新信息",
          "The input gate $i_t$ decides how much new information to add.",
          "Exact: $\\partial c_t/\\partial \\tilde c_t = \\operatorname{diag}(i_t)$, the candidate enters the "
          "cell scaled entry-wise by $i_t$.",
          proves=("lstm.gate.partials",), properties=("lstm.cell.forward", "lstm.vjp"),
          literature=(HOCHREITER,)),
    Claim("claim.lstm.output_gate", S_LSTM,
          "输出门 $o_t$：决定输出多少信息",
          "The output gate $o_t$ decides how much information to output.",
          "Exact: $h_t = o_t \\odot \\tanh(c_t)$, so $\\partial h_t/\\partial \\tanh(c_t) = "
          "\\operatorname{diag}(o_t)$.",
          proves=("lstm.gate.partials",), properties=("lstm.cell.forward", "lstm.vjp"),
          literature=(HOCHREITER,)),
    Claim("claim.lstm.cell_update", S_LSTM,
          "细胞状态: $c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde{c}_t$",
          "Cell state: $c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde{c}_t$.",
          "A definition (with $\\tilde c_t = g$ in gate order i, f, g, o). Every target's cell and sequence "
          "are checked against it; frameworks differ in gate order and bias layout, which the adapters map.",
          proves=("lstm.cell.forward",), context=("lstm.param_count",),
          properties=("lstm.cell.forward", "lstm.forward"), literature=(HOCHREITER, GERS)),
    Claim("claim.lstm.cell_long_term_memory", S_LSTM,
          "细胞状态: 长期记忆的载体",
          "The cell state is the carrier of long-term memory.",
          "Not a mathematical claim as stated (policy: a quality without a stated measure): 'carrier of "
          "long-term memory' is not defined. What holds: along the cell path alone, with $h$ held fixed, the "
          "gradient is the constant error carousel $\\prod_i \\operatorname{diag}(f_i)$ (proved), so small forget "
          "gates erase it geometrically. What does not: forget gates near 1 do not keep the *total* gradient "
          "$dc_T/dc_0$ from vanishing, because the path through $h$ can cancel the carousel exactly "
          "(refuted: $f_t = \\sigma(10)$ at every step, yet $dc_T/dc_0 = 0$ for $T \\ge 2$). The total gradient "
          "is governed by the whole state Jacobian (lstm.state.jacobian), not by the forget gate alone.",
          context=("lstm.cec.product", "lstm.claim.forget_near_one_preserves_gradient", "lstm.state.jacobian",
                   "lstm.state.chain_not_blockwise"),
          properties=("lstm.cec.product",), not_math="no measure of 'carrier of long-term memory' is stated",
          literature=(HOCHREITER, GERS)),
    Claim("claim.lstm.gates_in_unit_interval", S_LSTM,
          "关键优势: 门控值在 $(0, 1)$ 之间",
          "Key advantage: the gate values lie in $(0, 1)$.",
          "True over the reals (sigmoid gates; the candidate $g$ lies in $(-1, 1)$). In float32 it fails: "
          "$\\sigma(x)$ rounds to exactly 1 for $x \\ge \\ln(2^{25}-1) \\approx 17.33$, and underflows to 0 "
          "for very negative $x$ (see the sigmoid saturation figure).",
          proves=("lstm.gates.range", "act.sigmoid.range"),
          conditions=("exact real arithmetic; binary32 rounds sigma(x) to 1.0 for x >= 17.33",),
          properties=("lstm.cell.forward",), literature=(GERS,)),
    Claim("claim.lstm.gates_no_vanishing", S_LSTM,
          "关键优势: 门控值在 $(0, 1)$ 之间，梯度不会消失",
          "Key advantage: since the gate values lie in $(0, 1)$, the gradient does not vanish.",
          "False. A product of factors in $(0, 1)$ vanishes geometrically: with a forget gate near 0 "
          "($b_f = -10$) the gradient along $c$ and the full state chain both vanish like $\\sigma(-10)^{t-k}$. "
          "Forget gates near 1 keep the carousel (the path along $c$ with $h$ held fixed) from vanishing, which "
          "is why a positive forget bias is used (Gers et al. 2000; Jozefowicz et al. 2015 recommend "
          "$b_f = 1$), but they do not control the total gradient: the path through $h$ can cancel the "
          "carousel exactly (lstm.claim.forget_near_one_preserves_gradient).",
          refuted_by=("lstm.claim.gates_no_vanishing",),
          context=("lstm.cec.product", "lstm.state.chain", "lstm.claim.forget_near_one_preserves_gradient"),
          properties=("lstm.state.jacobian_product",), literature=(GERS, JOZEFOWICZ)),

    # ---------------------------------------------------------------- 4. GRU
    Claim("claim.gru.two_gates", S_GRU,
          "更简洁的设计: 2个门 vs LSTM的3个门 (更新门 $z_t$, 重置门 $r_t$)",
          "A simpler design: 2 gates (update gate $z_t$, reset gate $r_t$) vs the LSTM's 3 gates.",
          "True by the definitions: the GRU has gates r and z and a candidate n; the LSTM has gates i, f, o "
          "and a candidate g. The source omits that the GRU comes in two variants (reset applied after or "
          "before the recurrent matmul), which are different functions, and that z multiplies the previous "
          "state in every major framework.",
          proves=("gru.cell.forward.reset_after", "gru.cell.forward.reset_before", "lstm.cell.forward"),
          context=("gru.variants_differ",),
          properties=("gru.cell.forward", "gru.forward"), literature=(CHO, CHUNG)),
    Claim("claim.gru.fewer_parameters", S_GRU,
          "GRU：参数更少",
          "GRU: fewer parameters.",
          "Proved: 3 weight blocks against 4, a ratio of exactly 3/4 when both use the same bias layout. "
          "Across layouts (Keras' default GRU with two bias rows vs its one-bias LSTM) the ratio is "
          "$3(n+m+2)/(4(n+m+1))$, still below 1 except at $n = m = 1$, where it is 1.",
          proves=("gru.lstm_param_ratio", "gru.param_count", "lstm.param_count"),
          conditions=("the same hidden size n and input size m",
                      "the same bias layout for exactly 3/4; at n = m = 1 with Keras' defaults the counts are equal"),
          properties=("gru.param_count", "lstm.param_count"), literature=(CHO, CHUNG)),
    Claim("claim.gru.trains_faster", S_GRU,
          "GRU：训练更快",
          "GRU: trains faster.",
          "An empirical claim. Per training step it is measured here: forward + full backward time of GRU "
          "against LSTM at equal sizes, side by side in one run (reports/performance.json). Whether a GRU "
          "also needs fewer steps to converge depends on the task (Chung et al. 2014 and Jozefowicz et al. "
          "2015 found no consistent winner); that part is not measured. A kernel-level difference can reverse "
          "the per-step ratio (a framework with a fused LSTM kernel and none for the GRU), so every "
          "configuration is shown.",
          measure="gru_vs_lstm", literature=(CHUNG, JOZEFOWICZ)),
    Claim("claim.gru.lstm_more_expressive", S_GRU,
          "LSTM：表达能力更强",
          "LSTM: more expressive.",
          "Not a mathematical claim as stated: no measure of expressiveness is given. Both are universal "
          "with unbounded precision and size. One formal sense in which it holds: with finite precision, "
          "an LSTM can implement unbounded counting and a GRU cannot (Weiss et al. 2018). Empirically "
          "neither dominates (Chung et al. 2014; Jozefowicz et al. 2015; Greff et al. 2017).",
          not_math="no measure of expressiveness is stated", context=("gru.convexity", "gru.bounded_state"),
          literature=(WEISS, CHUNG, JOZEFOWICZ, GREFF)),

    # ---------------------------------------------------------------- 5. bidirectional
    Claim("claim.bi.concatenation", S_BI,
          "前向 + 后向: $h_t = [\\overrightarrow{h}_t; \\overleftarrow{h}_t]$",
          "Forward + backward: $h_t = [\\overrightarrow{h}_t; \\overleftarrow{h}_t]$.",
          "A definition. The source does not say that the two halves are aligned in time (the backward "
          "state at position t has read $x_T, \\dots, x_t$), that the order is [forward; backward], or which "
          "final states are returned; implementations differ on exactly these points, so each is checked.",
          proves=("bi.output_layout",), context=("bi.backward_is_reversed_forward", "bi.final_states"),
          properties=("bi.rnn.forward", "bi.lstm.forward", "bi.gru.forward"), literature=(SCHUSTER,)),
    Claim("claim.bi.past_and_future", S_BI,
          "同时看到过去和未来",
          "It sees the past and the future at once.",
          "Read precisely: $y_t$ depends on every input $x_s$; the past reaches it only through the forward half "
          "and the future only through the backward half.",
          proves=("bi.full_dependence",), conditions=("generic parameters (the dependence is non-zero on an open dense set)",),
          properties=("bi.rnn.forward",), literature=(SCHUSTER,)),
    Claim("claim.bi.applications", S_BI,
          "应用: 命名实体识别、词性标注",
          "Applications: named-entity recognition, part-of-speech tagging.",
          "A statement about practice, not mathematics. Bidirectional LSTMs are indeed standard for "
          "sequence tagging.",
          not_math="a statement about applications", literature=(GRAVES05, HUANG)),

    # ---------------------------------------------------------------- 6. clipping
    Claim("claim.clip.formula", S_CLIP,
          "按范数裁剪: $g = \\frac{\\text{threshold}}{\\|g\\|} g \\quad \\text{if } \\|g\\| > \\text{threshold}$",
          "Clipping by norm: $g \\leftarrow \\frac{\\text{threshold}}{\\|g\\|} g$ if $\\|g\\| > \\text{threshold}$.",
          "A definition (Pascanu et al. 2013), equivalent to $g' = g \\min(1, c/\\|g\\|)$. Its consequences "
          "are proved: the clipped norm is $\\min(\\|g\\|, c)$, gradients below $c$ are unchanged, and it is "
          "idempotent. torch's rule adds $\\epsilon = 10^{-6}$ to the norm, which breaks idempotence; Keras' "
          "clipnorm clips each tensor on its own. Both are declared conventions.",
          proves=("clip.norm.rule",),
          context=("clip.norm.norm", "clip.norm.identity_below", "clip.norm.idempotent", "clip.norm.eps.rule",
                   "clip.norm.eps.not_idempotent", "clip.global_norm.concatenation"),
          properties=("clip.norm.rule", "clip.norm.norm", "clip.norm.identity_below", "clip.norm.idempotent"),
          literature=(PASCANU,)),
    Claim("claim.clip.keeps_direction", S_CLIP,
          "按范数裁剪: 保持梯度方向",
          "Clipping by norm keeps the gradient's direction.",
          "Proved for the global norm: the clipped gradient is a positive multiple of the original. It fails "
          "for per-tensor clipping (Keras clipnorm) taken over the whole gradient, and for clipping by value.",
          proves=("clip.norm.direction", "clip.norm.eps.direction"),
          context=("clip.per_tensor.not_global_direction", "clip.value.not_direction"),
          conditions=("one global L2 norm over all tensors (not per tensor)",),
          properties=("clip.norm.direction",), literature=(PASCANU,)),
    Claim("claim.value.gradient_problems", S_VALUE,
          "梯度问题深入分析: 梯度消失/爆炸的数学分析; LSTM如何解决梯度消失; 梯度裁剪技术",
          "Gradient problems in depth: the mathematical analysis of vanishing/exploding gradients, how the "
          "LSTM solves vanishing gradients, gradient clipping.",
          "Refuted as stated: 'the LSTM solves vanishing gradients' is false in general. With small forget "
          "gates the gradient vanishes geometrically (lstm.claim.gates_no_vanishing), and even with every forget "
          "gate near 1 the total gradient can vanish: the path through $h$ cancels the carousel exactly "
          "($f_t = \\sigma(10)$, yet $dc_T/dc_0 = 0$ for $T \\ge 2$; "
          "lstm.claim.forget_near_one_preserves_gradient). What holds is the carousel along $c$ with $h$ held "
          "fixed (lstm.cec.product). Clipping bounds the update norm (exploding gradients, clip.norm.norm); it "
          "does nothing for vanishing gradients.",
          refuted_by=("lstm.claim.forget_near_one_preserves_gradient", "lstm.claim.gates_no_vanishing"),
          context=("lstm.cec.product", "lstm.state.jacobian", "clip.norm.norm"),
          properties=("lstm.cec.product",), literature=(HOCHREITER, GERS, PASCANU)),

    # ---------------------------------------------------------------- the module's other documents (issue 8)
    Claim("claim.value.residual_gradient_flow", S_VALUE,
          "梯度问题深入分析: 残差网络的梯度流",
          "Gradient problems in depth: the gradient flow of residual networks (skip connections keep the gradient "
          "from vanishing).",
          "The flow is exact: a block $x + F(x)$ has Jacobian $I + J_F$, the gradient through $L$ blocks is "
          "$\\prod_l (I + J_l)$, and its expansion into $2^L$ paths contains the identity path $I$. That the "
          "identity path keeps the gradient from vanishing needs a condition the source leaves out: with "
          "$\\|J_l\\|_2 \\le \\delta_l < 1$, $\\sigma_{\\min}(\\prod_l (I + J_l)) \\ge \\prod_l (1 - \\delta_l)"
          " \\ge 1 - \\sum_l \\delta_l$. Without it the claim fails: a tanh block with $W_2 = -W_1^{-1}$ has "
          "$I + J_F = 0$ at $x = 0$ when $b_1 = 0$, and the gradient is exactly 0 after one block (the exact counterexample).",
          proves=("resnet.block.jacobian", "resnet.chain.product", "resnet.chain.expansion",
                  "resnet.no_vanishing.condition"),
          context=("resnet.no_vanishing.counterexample",),
          conditions=("every block's Jacobian is small: ||J_l||_2 <= delta_l < 1",
                      "prod_l (1 - delta_l) stays bounded away from 0 (e.g. sum_l delta_l < 1)"),
          properties=("resnet.vjp", "resnet.identity_path", "resnet.jacobian"), literature=(HE2016, VEIT)),
    Claim("claim.module.backpropagation", S_TRAIN,
          "训练技术 (3篇): 03-Backpropagation.md (反向传播) ✅",
          "Backpropagation is one of the module's training techniques (document 03).",
          "The source names the document only; the ledger records the statements of its topic that dlproof "
          "proves. The backward recursion $\\delta^l = \\operatorname{diag}(\\varphi'(z^l)) (W^{l+1})^\\top "
          "\\delta^{l+1}$ and $\\partial L/\\partial W^l = \\delta^l (a^{l-1})^\\top$ are proved against the "
          "element-wise chain rule. Its cost: for an $L$-layer dense network with widths $n_0, \\ldots, n_L$ the "
          "gradient takes $n_L$ backward passes in reverse mode against $n_0$ forward (tangent) passes in forward "
          "mode, each of the same multiply count, so reverse mode wins by $n_0/n_L$ (for a scalar loss, $n_0$).",
          context=("mlp.backprop.delta", "mlp.backprop.weight_grad", "mlp.backprop.input_grad",
                   "mlp.cost.reverse_vs_forward", "mlp.forward"),
          properties=("mlp.forward", "mlp.vjp", "mlp.vjp.fd"), not_math=DOCUMENT_TITLE, literature=(RUMELHART, GRIEWANK)),
    Claim("claim.module.residual", S_TRAIN,
          "训练技术 (3篇): 04-Residual-Networks.md (残差网络) ✅",
          "Residual networks are one of the module's training techniques (document 04).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. The block $y = x + F(x)$ has the Jacobian $I + J_F$, "
          "and with $F = 0$ the block is exactly the identity: the property `resnet.identity_path` catches a "
          "block that drops its identity term. The gradient-flow claim is the entry above.",
          context=("resnet.block.jacobian", "resnet.chain.expansion"),
          properties=("resnet.forward", "resnet.vjp", "resnet.identity_path"), not_math=DOCUMENT_TITLE, literature=(HE2016,)),
    Claim("claim.module.batch_normalization", S_TRAIN,
          "训练技术 (3篇): 05-Batch-Normalization.md (批归一化) ✅",
          "Batch normalization is one of the module's training techniques (document 05).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. The three-term backward $dx = \\frac{\\gamma}{N"
          "\\sqrt{\\sigma^2+\\epsilon}}(N\\,dy - \\sum dy - \\hat x \\sum dy\\,\\hat x)$; the input gradient "
          "sums to 0 exactly. Two textbook statements hold only as $\\epsilon \\to 0$: the gradient is "
          "orthogonal to $\\hat x$ only up to an exact residual proportional to $\\epsilon/(\\sigma^2+\\epsilon)$ "
          "(the exact orthogonality is refuted for $\\epsilon > 0$), and the scale invariance "
          "$\\mathrm{BN}(aWx) = \\mathrm{BN}(Wx)$, $a > 0$, holds exactly with $\\epsilon$ replaced by "
          "$\\epsilon/a^2$, with the error bounded in terms of $\\epsilon/\\sigma^2$.",
          context=("bn.forward.train", "bn.backward.three_term", "bn.backward.gamma_beta", "bn.grad.orthogonal_ones",
                   "bn.grad.xhat_residual", "bn.scale_invariance", "bn.grad.orthogonal_xhat.refuted",
                   "bn.forward.eval", "bn.running_stats"),
          properties=("bn.forward.train", "bn.vjp", "bn.grad.sum_zero", "bn.grad.xhat_residual",
                      "bn.scale_invariance"), not_math=DOCUMENT_TITLE, literature=(IOFFE,)),
    Claim("claim.module.dropout", S_REG,
          "正则化 (1篇): 07-Dropout-Theory.md (Dropout) ✅",
          "Dropout is the module's regularization technique (document 07).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. For inverted dropout with keep probability $q$: "
          "$E[m x/q] = x$, $\\operatorname{Var}[m x/q] = x^2 (1-q)/q$, the identity at inference. Dropout is a "
          "regularizer in an exact sense for linear regression: the expected dropout loss is the plain squared "
          "loss plus the adaptive L2 penalty $\\frac{1-q}{q} w^\\top \\operatorname{diag}(X^\\top X) w$ "
          "(Wager et al. 2013), checked symbolically at fixed sizes; for other models that equivalence is only a second-order "
          "approximation.",
          context=("dropout.inverted.mean", "dropout.inverted.variance", "dropout.inference.identity",
                   "dropout.wager.linear_regression", "dropout.inverted.rule"),
          properties=("dropout.values", "dropout.mean", "dropout.variance", "dropout.inference.identity"),
          not_math=DOCUMENT_TITLE, literature=(SRIVASTAVA, WAGER)),

    Claim("claim.module.attention", S_ARCH,
          "核心架构 (3篇): 06-Attention-Mechanism.md ✅ (Transformer)",
          "Attention (the Transformer) is one of the module's core architectures (document 06).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. The softmax Jacobian is $\\operatorname{diag}(s) - s s^\\top$, "
          "symmetric, with rows summing to 0, and positive semidefinite with kernel exactly $\\operatorname{span}(1)$ "
          "(so it is never invertible: refuted as stated for $\\mathbb{R}^n$); softmax is shift invariant, so the "
          "max-shifted form never overflows; the gradients of $\\operatorname{softmax}(QK^\\top/\\sqrt d)V$ with "
          "respect to $Q$, $K$ and $V$; $\\operatorname{Var}(q\\cdot k) = d$ for independent zero-mean unit-variance "
          "entries (why $1/\\sqrt d$); the causal mask makes $y_i$ independent of later keys and values; multi-head "
          "attention is the concatenation of heads times $W_o$.",
          context=("attn.softmax.jacobian", "attn.softmax.jacobian.rows_sum_zero", "attn.softmax.jacobian.symmetric",
                   "attn.softmax.jacobian.psd", "attn.softmax.shift_invariance", "attn.softmax.stable",
                   "attn.sdpa.grad_q", "attn.sdpa.grad_k", "attn.sdpa.grad_v", "attn.scale.variance",
                   "attn.causal.mask", "attn.mha.concat", "attn.softmax.jacobian.invertible.refuted",
                   "attn.sdpa.forward", "attn.softmax.definition"),
          properties=("attn.softmax.forward", "attn.softmax.vjp", "attn.forward", "attn.vjp", "attn.causal",
                      "attn.scale.variance", "attn.mha.forward", "attn.mha.heads"), not_math=DOCUMENT_TITLE, literature=(VASWANI,)),
    Claim("claim.module.convolution", S_ARCH,
          "核心架构 (3篇): 08-Convolutional-Networks.md ✅ (CNN)",
          "Convolutional networks are one of the module's core architectures (document 08).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. A 'convolution' layer computes a cross-correlation (the textbook "
          "convolution is refuted with an exact counterexample; the layer is a true convolution with the flipped "
          "kernel). The output size $\\lfloor (n + 2p - d(k-1) - 1)/s\\rfloor + 1$; the parameter count "
          "$C_{out}(C_{in}/g)\\prod k + C_{out}$; the input gradient is the full cross-correlation of $dy$ with the "
          "flipped kernel, with $dy$ dilated by the stride when $s > 1$ (both omissions refuted); the kernel gradient "
          "is the cross-correlation of the padded input with $dy$.",
          context=("conv.true_convolution_flip", "conv.output_size", "conv.param_count", "conv.grad_input",
                   "conv.grad_input.strided", "conv.grad_weight", "conv.grad_bias", "conv.groups.block_diagonal",
                   "conv.cross_correlation", "conv.true_convolution.refuted", "conv.grad_input.unflipped.refuted",
                   "conv.grad_input.undilated.refuted"),
          properties=("conv1d.forward", "conv2d.forward", "conv1d.vjp", "conv2d.vjp", "conv.output_size"),
          not_math=DOCUMENT_TITLE, literature=(GOODFELLOW, DUMOULIN)),
    Claim("claim.arch.cnn_spatial_features", S_THREE,
          "CNN：空间特征提取",
          "CNNs extract spatial features.",
          "Not a mathematical claim as stated (policy: a quality word without a stated measure): no definition of a spatial feature is given. What dlproof establishes on the topic is locality and weight sharing: an output depends only on its receptive field, "
          "which grows over a stack as $r_L = 1 + \\sum_l (k_l - 1) d_l \\prod_{i<l} s_i$, and the same kernel at "
          "every position makes the layer translation equivariant. Equivariance is exact for shifts by multiples of "
          "the stride only: with stride 2 a shift by one position is not a shift of the output (refuted).",
          context=("conv.receptive_field", "conv.equivariance", "conv.equivariance.stride.refuted"),
          properties=("conv.receptive_field", "conv.equivariance"), not_math="no measure of a spatial feature is stated", literature=(GOODFELLOW, ARAUJO)),
    Claim("claim.arch.transformer_global_dependencies", S_THREE,
          "Transformer：全局依赖捕获",
          "Transformers capture global dependencies.",
          "In one attention layer every output position depends on every key and value position: "
          "$\\partial y_i/\\partial v_j = P_{ij} I$ with $P_{ij} > 0$ (softmax weights are positive), unlike a "
          "convolution's bounded receptive field or a recurrence's path through $t - k$ steps. With a causal mask "
          "the dependence is on the prefix $j \\le i$ only (the derivatives with respect to later "
          "positions are exactly 0).",
          proves=("attn.sdpa.grad_v", "attn.causal.mask"), context=("attn.sdpa.forward",),
          conditions=("without a mask; with a causal mask only positions j <= i",),
          properties=("attn.vjp", "attn.causal"), literature=(VASWANI,)),
    Claim("claim.module.universal_approximation", S_THEORY,
          "理论基础 (2篇): 01-Universal-Approximation-Theorem.md (通用逼近定理) ✅",
          "The universal approximation theorem is one of the module's theoretical foundations (document 01).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. A constructive, quantitative form: a one-hidden-layer "
          "ReLU network with $N$ units equals the piecewise-linear interpolant on a uniform grid, so for $f \\in "
          "C^2[a,b]$ its sup error is at most $(b-a)^2 \\max|f''|/(8N^2)$ (attained for quadratics); and steep "
          "sigmoids approach the step function, $|\\sigma(kx) - H(x)| \\le e^{-k|x|}$. The existence theorem for "
          "every continuous $f$ (Cybenko, Leshno et al.) is cited, not proved; tests/uat/test_uat.py checks the bound "
          "over drawn smooth functions with Hypothesis. With the kinks fixed at the grid points, $N - 1$ units "
          "cannot fit generic data on $N + 1$ points; with free kinks they can (refuted as a general statement).",
          context=("uat.relu.interpolant", "uat.relu.units", "uat.relu.units.free_kinks.refuted",
                   "uat.relu.error_bound", "uat.sigmoid.step", "uat.sigmoid.step_network"),
          not_math=DOCUMENT_TITLE, literature=(CYBENKO, LESHNO)),
    Claim("claim.module.neural_tangent_kernel", S_THEORY,
          "理论基础 (2篇): 02-Neural-Tangent-Kernel.md (NTK理论) ✅",
          "The neural tangent kernel is one of the module's theoretical foundations (document 02).",
          "The source names the document only, so it states nothing to prove (policy: a document title is not a "
          "claim). What dlproof establishes on the topic is listed below, each record with its own status. For $f(x) = a^\\top \\mathrm{relu}(Wx)/\\sqrt m$ with "
          "$N(0,1)$ initialization: the arc-cosine expectations (from Cho & Saul's integrals, cited), so the infinite-width NTK is "
          "$\\Theta(x,x') = \\frac{|x||x'|}{2\\pi}(\\sin\\theta + (\\pi-\\theta)\\cos\\theta) + "
          "x\\cdot x'\\,\\frac{\\pi-\\theta}{2\\pi}$; the finite-width kernel is unbiased with variance "
          "$v/m$ (error of order $1/\\sqrt m$); the kernel is positive semidefinite. The training-dynamics "
          "statements (the kernel stays constant during training as $m \\to \\infty$) are cited, not proved.",
          context=("ntk.arccos.kappa0", "ntk.arccos.kappa1", "ntk.analytic", "ntk.empirical.mean",
                   "ntk.empirical.variance", "ntk.psd", "ntk.empirical.definition"),
          properties=("ntk.empirical.definition", "ntk.psd", "ntk.convergence"), not_math=DOCUMENT_TITLE, literature=(JACOT, CHO_SAUL)),

    # ---------------------------------------------------------------- code, applications, self-assessment
    Claim("claim.code.implementations", S_CODE,
          "代码实现: ✅ 从零实现Vanilla RNN ✅ PyTorch LSTM完整实现 ✅ GRU实现 ✅ 双向LSTM ✅ 梯度裁剪工具",
          "Code: a vanilla RNN from scratch, a complete PyTorch LSTM, a GRU, a bidirectional LSTM and "
          "gradient-clipping tools are implemented.",
          "A statement about code that the source does not include, so it cannot be checked. dlproof's "
          "counterpart is checkable: NumPy and torch references with hand-written BPTT, and adapters for "
          "torch.nn, Keras and Flax/optax, each with a conformance summary in reports/conformance/.",
          not_math="a statement about software not included in the source", literature=(ELMAN, HOCHREITER)),
    Claim("claim.code.applications", S_CODE,
          "应用场景: 语言模型; 机器翻译 (Seq2Seq); 时间序列预测",
          "Applications: language models, machine translation (Seq2Seq), time-series forecasting.",
          "Statements about practice. RNN language models (Mikolov et al. 2010) and LSTM sequence-to-sequence "
          "translation (Sutskever et al. 2014) are well established.",
          not_math="a statement about applications", literature=(MIKOLOV, SUTSKEVER)),
    Claim("claim.meta.sequence_modelling_path", S_CODE,
          "循环网络 (RNN/LSTM) └─ 序列建模; 时间序列 → RNN/LSTM; 从基础到前沿: 基础RNN ↓ 梯度消失/爆炸问题 ↓ "
          "LSTM/GRU (门控机制) ↓ 双向RNN ↓ Transformer (注意力机制)",
          "Recurrent networks (RNN/LSTM) are for sequence modelling and time series; the path from basics to "
          "the frontier runs vanilla RNN, vanishing/exploding gradients, LSTM/GRU (gating), bidirectional "
          "RNN, Transformer (attention).",
          "A teaching order and a map of uses, not mathematics. As history the order is loose: bidirectional "
          "RNNs (Schuster & Paliwal 1997) are as old as the LSTM (1997) and older than the GRU (2014). The "
          "Transformer's and the CNN's claims have their own entries (claim.module.attention, "
          "claim.arch.transformer_global_dependencies, claim.arch.cnn_spatial_features).",
          not_math="a map of applications and a teaching order", literature=(ELMAN, HOCHREITER, SCHUSTER, CHO)),
    Claim("claim.meta.self_assessment", S_SELF,
          "状态: ✅ RNN/LSTM数学原理完成！ 深度学习数学模块: 100% 完成; 完整性: ⭐⭐⭐⭐⭐; 总体评分: 100/100 🏆; "
          "世界一流标准; 34个核心文档, ~526 KB, 170+ 代码示例, 1700+ 数学公式; 代码质量: 可运行、教学价值高; "
          "CS224N: RNN/LSTM/Transformer ✅",
          "Status: the RNN/LSTM mathematics is complete; the deep-learning math module is 100% complete; "
          "five-star ratings; overall score 100/100; world-class standard; 34 documents, ~526 KB, 170+ code "
          "examples, 1700+ formulas; the code runs and teaches well; covers Stanford CS224N (RNN/LSTM/Transformer).",
          "Self-assessments and document statistics, listed once. They say nothing about whether the "
          "mathematics is right; this ledger finds two claims of the chapter false and several true only "
          "under conditions the chapter does not state.",
          not_math="self-assessment and document statistics"),
)


def claims() -> tuple[Claim, ...]:
    return CLAIMS
