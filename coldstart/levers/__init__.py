"""The four levers as pure manifest builders (weight load, image pull, node warm-up, runtime), the render
that puts them in apply order, and the variants the runbooks' experiments compare."""
