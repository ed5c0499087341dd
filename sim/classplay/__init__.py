"""Class play: students govern countries (or run AI labs) in one shared world, round by round.

The engine, without any page: `ClassRoom` (`room.py`) is the one object a classroom page talks to.
Its parts, one concept per module:

- `actors.py`: who can be played in a preset (countries by GDP, then labs);
- `decisions.py`: what each actor may decide, in plain words with the claims it encodes, and how a
  decision becomes a scenario rule acting from the quarter it was made;
- `worlds.py`: a world is the preset plus the decisions so far, re-simulated from the start with
  the class's seed (common random numbers make that exact), and the series the page draws;
- `roster.py`: students, their tokens, who plays whom;
- `feed.py`: the narrated feed (who did what, and what the model did);
- `debrief.py`: the CSV of every decision and the end-of-class comparison with the replay.

See docs/classplay.md.
"""

from sim.classplay.actors import Actor, playable_actors
from sim.classplay.decisions import Decision, Option
from sim.classplay.feed import FeedEntry
from sim.classplay.room import ClassError, ClassRoom, Outcome, RoundInfo, StudentView
from sim.classplay.roster import Student

__all__ = [
    "Actor",
    "ClassError",
    "ClassRoom",
    "Decision",
    "FeedEntry",
    "Option",
    "Outcome",
    "RoundInfo",
    "Student",
    "StudentView",
    "playable_actors",
]
