"""coreship's benchmarks against its peers, measured side by side in one run.

Entry point: examples/bench/bench.py. One module per section of the "Benchmarks"
(loader, events, builder, registry); `procs` owns every process, temp dir and bpffs pin;
`report` turns figures into tables with ratios and targets.
"""
