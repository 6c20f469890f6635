"""The sweep wing: one run -> result.json (its schema), preflight, resume, locks, summary, launchers, tracking."""
