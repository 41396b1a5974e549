"""Argument validation of the NumPy references, shared by the torch reference and the torch.nn adapters, so
that all of them refuse the same input with the same message. One module per concern:

- `common`: the failure shape, floating arrays, shapes, finiteness, numbers, flags and choices;
- `recurrent`: the rnn, lstm, gru and bidirectional calls (parameter names: `dlproof.parameters`);
- `clipping`, `backprop` (the MLP), `residual`, `batchnorm`, `dropout`, `attention`, `convolution`, `ntk`:
  the calls of the chapter of that name.

Every failure raises ``ValueError`` (``TypeError`` for a wrong type where a chapter says so) with the message
``"{function}: argument {name!r} should be ..., got ..."``: it names the function, the argument, what it should
be and what it is.
"""
