"""The embedded cluster's object store: objects by kind, namespace and name, one resourceVersion counter and
the change log watches resume from; `resources` is the table of kinds it serves."""
