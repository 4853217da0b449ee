"""The example plugins of docs/plugins.md: a reader, a target and a gate.

tests/docs/test_plugin_examples.py installs them as a real distribution (a ``.dist-info`` with
``entry_points.txt``) and exercises each through data-mash's own loaders.
"""
