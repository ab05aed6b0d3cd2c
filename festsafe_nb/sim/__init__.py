"""The demo environment: a deterministic simulated FestSafe platform driven by scenario files.

Scenarios (``scenarios/*.yaml``) describe a fault, where, when and how strong. The same model
answers the demo's source protocols in-process (``sources``) and is exported to real services
for the integration tests.
"""

from festsafe_nb.sim.scenario import Fault, Scenario, load_scenario, scenario_names
from festsafe_nb.sim.sources import simulated_sources

__all__ = ["Fault", "Scenario", "load_scenario", "scenario_names", "simulated_sources"]
