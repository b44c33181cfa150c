"""Reel's simulated physics world: simulator, renderer, audio, captions, dataset writer and evaluator.

Everything is deterministic given a seed. See README.md in this directory.
"""
