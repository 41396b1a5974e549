"""torch (CPU): the input gradient of a float16 / bfloat16 convolution sums the kernel taps in the 16-bit format.

dx[i] of y = conv1d(x, w) (one channel, padding K - 1, dy = 1) is the sum of the K taps of w. With
w = [1, e x N, -1] (float16: e = 2^-12, N = 1024; bfloat16: e = 2^-9, N = 128; every number exact) the sum is
N e = 0.25. An accumulator of the 16-bit format, adding in order, loses every e (1 + e rounds back to 1) and gives
0; a float32 accumulator rounded once gives 0.25. The controls: the forward conv (a sum over the same K taps,
as input positions) and the input gradient summed over K output channels (1 x 1 kernel) both give 0.25, so
torch accumulates those in float32 and only the backward's tap sum is 16-bit. Needs only torch; exit 0 while
the tap sum gives 0, exit 3 ("FIXED: ...") once it gives 0.25.

This is torch's own CPU kernel. On a CPU with native 16-bit support torch runs the format's convolution through
oneDNN instead (torch.ops.mkldnn._is_mkldnn_fp16_supported() / _is_mkldnn_bf16_supported()): such a format is
printed but not judged, and when both are, the script exits 4 ("NOT HERE: ...").
"""
import sys

import torch

torch.set_num_threads(1)
FORMATS = {"float16": (2.0 ** -12, 1024), "bfloat16": (2.0 ** -9, 128)}
ONEDNN = {"float16": torch.ops.mkldnn._is_mkldnn_fp16_supported(), "bfloat16": torch.ops.mkldnn._is_mkldnn_bf16_supported()}


def sums(name):
    dt = getattr(torch, name)
    e, n = FORMATS[name]
    v = torch.tensor([1.0] + [e] * n + [-1.0], dtype=dt)
    k = v.numel()
    x = torch.zeros(1, 1, k, dtype=dt, requires_grad=True)
    y = torch.nn.functional.conv1d(x, v.view(1, 1, k), padding=k - 1)
    y.backward(torch.ones_like(y))
    taps = x.grad[0, 0, 0].item()
    forward = torch.nn.functional.conv1d(v.view(1, 1, k), torch.ones(1, 1, k, dtype=dt)).item()
    x1 = torch.zeros(1, 1, 1, dtype=dt, requires_grad=True)
    y1 = torch.nn.functional.conv1d(x1, torch.ones(k, 1, 1, dtype=dt))
    y1.backward(v.view(1, k, 1))
    return taps, forward, x1.grad.item(), n * e


rows = {name: sums(name) for name in FORMATS}
print(f"torch {torch.__version__}: " + "; ".join(
    f"{name}{' (oneDNN)' if ONEDNN[name] else ''}: dx summed over {FORMATS[name][1] + 2} kernel taps = {t} "
    f"(exact {ex}), forward over the taps = {f}, dx summed over the output channels = {c}"
    for name, (t, f, c, ex) in rows.items()))
judged = {name: row for name, row in rows.items() if not ONEDNN[name]}
if not judged:
    print("NOT HERE: this CPU runs both 16-bit convolutions through oneDNN, not through torch's own kernel")
    sys.exit(4)
if any(f != ex or c != ex for t, f, c, ex in judged.values()):
    print("the controls (forward, channel sum) do not accumulate in float32 either")
    sys.exit(1)
if all(t == ex for t, f, c, ex in judged.values()):
    print(f"FIXED: torch {torch.__version__} sums a 16-bit conv input gradient's kernel taps in float32")
    sys.exit(3)
sys.exit(0 if all(t == 0.0 for t, f, c, ex in judged.values()) else 1)
