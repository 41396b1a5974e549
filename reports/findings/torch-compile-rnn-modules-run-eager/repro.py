"""torch.compile(nn.LSTM) compiles nothing by default: dynamo skips nn.RNN / nn.LSTM / nn.GRU and runs them eagerly.

A counting backend (Inductor's compile_fx behind a counter) sees how many graphs dynamo hands over and how
many calls run compiled code. By default both are 0 and the call succeeds (silently eager); with
torch._dynamo.config.allow_rnn=True (experimental, what dlproof's torch.nn.compile target sets) they are > 0.
Prints one line; exit 0 while the default compiles nothing, 3 ("FIXED: ...") once it compiles the module.
"""
import sys

import numpy as np
import torch
import torch._dynamo
from torch._inductor.compile_fx import compile_fx


def run(allow_rnn: bool):
    seen = {"graphs": 0, "calls": 0}

    def backend(gm, example_inputs):
        seen["graphs"] += 1
        fn = compile_fx(gm, example_inputs)

        def call(*args):
            seen["calls"] += 1
            return fn(*args)

        return call

    torch._dynamo.reset()
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4)
    x = torch.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), dtype=torch.float32)
    with torch._dynamo.config.patch(allow_rnn=allow_rnn), torch.no_grad():
        y, _ = torch.compile(lstm, backend=backend)(x)
        eager, _ = lstm(x)
    return seen, float((y - eager).abs().max())


default, diff_default = run(False)
opted, diff_opted = run(True)
if default["graphs"] > 0:
    print(f"FIXED: torch {torch.__version__}: torch.compile(nn.LSTM) compiled {default['graphs']} graph(s) by default")
    sys.exit(3)
print(f"torch.compile(nn.LSTM) by default: {default['graphs']} graphs compiled, {default['calls']} compiled calls "
      f"(ran eagerly, |y - eager| = {diff_default:.1e}); with allow_rnn=True: {opted['graphs']} graphs, "
      f"{opted['calls']} compiled calls, |y - eager| = {diff_opted:.1e} (torch {torch.__version__})")
