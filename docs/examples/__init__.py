"""The spec's examples, importable as `examples.*` from the folder that holds `examples/`."""
