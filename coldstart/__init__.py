"""coldstart: cut the cold start of vLLM on Kubernetes from minutes to seconds, and prove it.

Layers, each importing only those below it: `cli` -> `runbooks` -> `live` -> {`levers`, `verify`, `timeline`,
`embedded`} -> `profiles` -> `vllm` -> {`kube`, `inputs`} -> `errors` (see the README's layout section).
"""

import importlib
import importlib.util
import sys
import types

__version__ = "0.1.0"


def _defer_iri_grammar() -> None:
    """jsonschema (imported by the kubernetes client) imports rfc3987_syntax, when installed (jupyter brings
    it), only to check the `iri` format, and that import compiles a Lark grammar: about a second in every
    process, a quarter of a runbook's run. A stand-in loads the real module on first use, so nothing changes
    for anyone who does check an IRI."""
    name = "rfc3987_syntax"
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    stand_in = types.ModuleType(name, "stand-in: the real module is imported on first use")

    def real() -> types.ModuleType:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)

    stand_in.is_valid_syntax = lambda rule, value: real().is_valid_syntax(rule, value)  # type: ignore[attr-defined]
    def attribute(attr: str) -> object:
        if attr.startswith("__"):  # the import system probes __path__ and friends: not a use
            raise AttributeError(attr)
        return getattr(real(), attr)

    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[name] = stand_in


_defer_iri_grammar()
