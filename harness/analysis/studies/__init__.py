"""One module per study; each registers `analyse(collection) -> Section` under its study name
(harness/analysis/registry.py) and declares its criteria, primary tests and delta up front."""
