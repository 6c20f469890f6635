"""Should my K tasks share one network, or get K separate ones? A comparative experiment harness."""
