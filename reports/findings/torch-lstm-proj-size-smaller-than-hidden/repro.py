"""torch.nn.LSTM refuses proj_size >= hidden_size.

Math: the projected LSTM (Sak et al. 2014, arXiv:1402.1128) h_t = W_hr (o_t * tanh(c_t)) is defined for any
projection size P >= 1; torch accepts only P < n. Needs torch and NumPy. Exit 0 while refused, 3 with
"FIXED: ..." once nn.LSTM(2, 3, proj_size=3) builds.
"""
import sys

import torch

try:
    torch.nn.LSTM(2, 3, proj_size=3)
except ValueError as exc:
    print(f"torch {torch.__version__} nn.LSTM(2, hidden_size=3, proj_size=3) raises ValueError: {exc}")
    sys.exit(0)
print(f"FIXED: torch {torch.__version__} nn.LSTM accepts proj_size = hidden_size")
sys.exit(3)
