"""Where the minutes went: parsers of events, pod status and vLLM logs (`sources/`), the input edge that sniffs
files (`inputs`), the per-pod timeline (`build`), statistics, budgets and the floor (`stats`), `timings.json`
(`timings` + its schema) and the terminal waterfall (`text`).
"""
