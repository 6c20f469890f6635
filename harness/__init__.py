"""Should my K tasks share one network, or get K separate ones? A comparative experiment harness."""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
