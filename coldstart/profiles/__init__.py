"""Profiles: one YAML file that describes a deployment, its levers, its budgets and its cluster's kinetics.

`model` (the validated shape) <- `loading` (shipped names and files, `extends:` chains, one-line errors);
`phases` names the cold-start phases budgets key on; `physics` turns kinetics into seconds for every layer.
The shipped profiles live in `params/` inside this package.
"""

from coldstart.profiles.loading import PARAMS_DIR, load_profile, profile_with, resolve_profile_path, shipped_profiles
from coldstart.profiles.model import Kinetics, Profile

__all__ = ["PARAMS_DIR", "Kinetics", "Profile", "load_profile", "profile_with", "resolve_profile_path",
           "shipped_profiles"]
