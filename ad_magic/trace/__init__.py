"""Tracing: running a cell on traced values and keeping what it did.

`tracer` runs the cell; `recorder` notes where each node was made; `inputs`
makes the leaves; `records` turns the run into a `graph` of plain `Node`
records with gradients; `forward` adds forward-mode tangents; `steps` lists
the chain-rule steps of each pass; `result` is what a trace hands upward.
Imports only the engine.
"""
