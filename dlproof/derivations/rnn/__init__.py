"""Chapter "rnn": the vanilla RNN cell (`cell`: h' = phi(W_x x + W_h h + b), its Jacobians, the parameter
count) and backpropagation through time (`bptt`: unrolling, the Jacobian product, the gradients, the norm
bounds). Importing the chapter registers the cell's records, then BPTT's (book order)."""
from . import cell  # noqa: F401  (first: its records come first)
from . import bptt  # noqa: F401
