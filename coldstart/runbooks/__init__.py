"""The runbooks: scenarios and experiments on a cluster (`runbook`, `experiments`), what the notebooks display
(`report`, `figures`, `explore`) and how `coldstart run` executes a notebook and renders its report (`execute`).
The notebooks themselves ship in `notebooks/`.

Notebooks import `from coldstart.runbooks import experiments, explore, report, runbook`.
"""
