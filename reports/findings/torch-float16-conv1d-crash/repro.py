"""torch (CPU, oneDNN): a float16 grouped, dilated, strided conv1d whose windows read only padding crashes.

x (1, 2, 1), w (2, 1, 1), stride 3, padding 2, dilation 2, groups 2: the output (1, 2, 2) is all zeros (every
window reads padding; the math is well defined and float32 / bfloat16 compute it). In float16 the process dies
with SIGSEGV. The conv runs in a child interpreter so that this script survives to report it. Needs only torch
(and NumPy); exit 0 while the crash is present, exit 3 ("FIXED: ...") once float16 gives the zeros.

The crash is in oneDNN's float16 convolution, which torch runs only on CPUs that have it natively (AVX512-FP16
or AVX-NE-CONVERT: torch.ops.mkldnn._is_mkldnn_fp16_supported()); elsewhere torch's own kernel runs and gives the
zeros, and the script says so and exits 4 ("NOT HERE: ...").
"""
import subprocess
import sys

import torch  # noqa: F401 - the library under test (the crashing call itself runs in a child interpreter)

CHILD = """
import sys, torch
dt = getattr(torch, sys.argv[1])
x = torch.full((1, 2, 1), 0.5, dtype=dt)
w = torch.full((2, 1, 1), 0.25, dtype=dt)
y = torch.nn.functional.conv1d(x, w, None, stride=3, padding=2, dilation=2, groups=2)
print(torch.__version__, tuple(y.shape), float(y.abs().max()))
"""


def run(dtype):
    return subprocess.run([sys.executable, "-c", CHILD, dtype], capture_output=True, text=True, timeout=120)


ref = run("float32")
if ref.returncode != 0 or not ref.stdout.strip().endswith("(1, 2, 2) 0.0"):
    print(f"float32 itself does not give the (1, 2, 2) zeros: {ref.stdout.strip()} {ref.stderr[-300:]}")
    sys.exit(1)
version = ref.stdout.split()[0]
half = run("float16")
if not torch.ops.mkldnn._is_mkldnn_fp16_supported():
    print(f"NOT HERE: torch {version} runs a float16 CPU convolution through oneDNN only on CPUs with AVX512-FP16 "
          f"or AVX-NE-CONVERT, and this one has neither (torch's own kernel: exit {half.returncode}, "
          f"{half.stdout.strip()!r})")
    sys.exit(4)
if half.returncode == 0 and half.stdout.strip().endswith("(1, 2, 2) 0.0"):
    print(f"FIXED: torch {version} float16 conv1d (stride 3, padding 2, dilation 2, groups 2) gives the zeros")
    sys.exit(3)
if half.returncode < 0:
    print(f"torch {version} float16 conv1d (stride 3, padding 2, dilation 2, groups 2) crashed: killed by signal "
          f"{-half.returncode}; float32 gives (1, 2, 2) zeros")
    sys.exit(0)
print(f"torch {version} float16 conv1d: exit {half.returncode}, output {half.stdout.strip()!r} {half.stderr[-300:]}")
sys.exit(1)
