"""Reference implementations under test (``dlproof.impl``).

``numpy_ref`` holds hand-written NumPy forward/backward passes, ``torch_ref`` the same math with torch
ops and torch.autograd; ``targets`` wraps them as conformance-protocol `dlproof.target.Target` objects.
Conventions: column-vector math, numerator layout, batch rows (a cell computes
``x @ W_x.T + h @ W_h.T + b``), sequences time-major ``(T, B, features)``.
"""
