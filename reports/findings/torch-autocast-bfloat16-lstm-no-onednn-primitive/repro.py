"""torch (CPU, oneDNN): nn.LSTM under torch.autocast("cpu", dtype=torch.bfloat16) raises where oneDNN has no
bfloat16 LSTM primitive for the CPU's instruction set (x86-64 without AVX-512).

A 1 -> 1 nn.LSTM on a (1, 1, 1) input inside the autocast region: torch hands the whole sequence to oneDNN's
bfloat16 LSTM, and on an AVX2 CPU primitive creation fails ("could not create a primitive descriptor for the LSTM
forward propagation primitive"), although the math is well defined and the same module converted to bfloat16
(no autocast) and nn.LSTMCell under autocast both compute it. On an AVX-512 CPU the call runs; this script also
caps oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, oneDNN's documented run-time switch) so that the failure shows on
any x86-64 CPU. Each call runs in a child interpreter. Needs only torch; exit 0 while the capped call raises,
exit 3 ("FIXED: ...") once it returns.
"""
import os
import subprocess
import sys

import torch  # noqa: F401 - the library under test (the calls themselves run in child interpreters)

CHILD = """
import sys, torch
what = sys.argv[1]
torch.manual_seed(0)
x = torch.full((1, 1, 1), 0.5)
try:
    if what == "autocast nn.LSTM":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.LSTM(1, 1)(x)[0]
    elif what == "autocast nn.LSTMCell":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.LSTMCell(1, 1)(x[0])[0]
    else:
        y = torch.nn.LSTM(1, 1).bfloat16()(x.bfloat16())[0]
    print("returned", str(y.dtype).replace("torch.", ""), tuple(y.shape))
except RuntimeError as e:
    print("raised", str(e).split(".")[0])
"""


def run(what, **env):
    done = subprocess.run([sys.executable, "-c", CHILD, what], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    return (done.stdout.strip() or f"exit {done.returncode}: {done.stderr.strip()[-200:]}")


capability = torch.backends.cpu.get_cpu_capability()
native = run("autocast nn.LSTM")
capped = run("autocast nn.LSTM", ONEDNN_MAX_CPU_ISA="AVX2")
cell = run("autocast nn.LSTMCell", ONEDNN_MAX_CPU_ISA="AVX2")
converted = run("bfloat16 nn.LSTM", ONEDNN_MAX_CPU_ISA="AVX2")
print(f"torch {torch.__version__}, CPU capability {capability}: autocast nn.LSTM here: {native}; "
      f"with oneDNN capped at AVX2: {capped}; nn.LSTMCell under autocast: {cell}; "
      f"nn.LSTM converted to bfloat16: {converted}")
if not (cell.startswith("returned") and converted.startswith("returned")):
    print("the controls (nn.LSTMCell under autocast, nn.LSTM in bfloat16) do not run either")
    sys.exit(1)
if capped.startswith("returned"):
    print(f"FIXED: torch {torch.__version__} runs nn.LSTM under CPU bfloat16 autocast with oneDNN capped at AVX2")
    sys.exit(3)
sys.exit(0 if capped.startswith("raised could not create a primitive descriptor") else 1)
