"""The performance benchmark's modules (benchmarks/performance.py is the command that runs them):

- `timing`: sizes, `Settings`, `bench` (interleaved timing), `stats`, `ratio`;
- `threads`: thread pinning for the whole run (`pin_threads`) or one measurement (`pinned`), `all_cores`;
- `sections`: the section registry (`section`, `SECTIONS`) and Markdown helpers;
- one module per section: `gemm`, `recurrent` ("gru_vs_lstm"), `reference`, `folded` (the suite, the
  conformance run times and the symbolic cost, measured by the sibling scripts);
- `report`: machine, versions, the Markdown report, merging ``--only`` runs.

The benchmarks are scripts, not an installed package: benchmarks/ is put on ``sys.path`` by the scripts.
"""
