"""The idiomatic-Mesa yardstick: Boltzmann wealth exchange, written the way Mesa 3.3.1's tutorial
writes it, with the one fix every Mesa user learns (a cached partner list, since indexing an
AgentSet rebuilds a list on every call).

Each step every agent with wealth gives one unit to a partner drawn at random; agents act in a
random order (`shuffle_do`). The figure reported is agent-steps per second of the steps alone
(creating the agents is timed separately), as in /work/shared/recipes/mesa-notes.md, both in
wall time and in this process's CPU time (steadier on a shared machine).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mesa


class WealthAgent(mesa.Agent):
    """An agent that gives one unit of wealth to a random partner each step."""

    def __init__(self, model: BoltzmannModel) -> None:
        super().__init__(model)
        self.wealth = 1

    def step(self) -> None:
        if self.wealth > 0:
            partner = self.random.choice(self.model.partners)
            partner.wealth += 1
            self.wealth -= 1


class BoltzmannModel(mesa.Model):
    def __init__(self, n_agents: int, seed: int = 42) -> None:
        super().__init__(seed=seed)
        WealthAgent.create_agents(self, n_agents)
        self.partners = list(self.agents)  # cached: `random.choice(self.agents)` is O(n) per call

    def step(self) -> None:
        self.agents.shuffle_do("step")


@dataclass
class ReferenceFigures:
    agents: int
    steps: int
    create_s: float
    step_s: float
    step_cpu_s: float

    @property
    def agent_steps_per_s(self) -> float:
        return self.agents * self.steps / self.step_s

    @property
    def agent_steps_per_cpu_s(self) -> float:
        return self.agents * self.steps / self.step_cpu_s

    @property
    def create_us_per_agent(self) -> float:
        return 1e6 * self.create_s / self.agents


def measure(agents: int, steps: int, seed: int = 42) -> ReferenceFigures:
    """Build the model (timed) and run it `steps` steps (timed); release Mesa's reference to it."""
    started = time.perf_counter()
    model = BoltzmannModel(agents, seed)
    built, built_cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    done, done_cpu = time.perf_counter(), time.process_time()
    mesa.Agent._ids.pop(model, None)  # Mesa 3.3.1 keeps every model alive otherwise
    return ReferenceFigures(agents, steps, built - started, done - built, done_cpu - built_cpu)
