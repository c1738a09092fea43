"""The processing engine: bytes in, bytes out, around the pure core. No Faust here, so the worker and
`corridor replay` run exactly the same code."""
