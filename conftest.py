"""Repository-wide pytest configuration.

The diffmem pytest plugin (``diffmem.harness.pytest_plugin``) is registered through the
``pytest11`` entry point once the package is installed, so nothing is loaded here.
"""
