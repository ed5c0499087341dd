"""The classroom: a live page (`sim app`, solara) where a teacher picks a preset scenario, moves a few
levers named in plain words, and plays the story quarter by quarter.

Modules, top-down: `presets` (which scenarios to offer and the question each asks), `levers` (lever
positions -> `--set` overrides of the chosen scenario), `stories` (a story computed whole and shared
by every session through a bounded cache; bands over many stories), `views` (what the page shows, as
data: chart options, map colours, feed, CSV, playback), `page` (the solara page), `charts`, `worldmap`
and `figure` (ECharts options and widget), `lessons` (the Info tab), `classroom` (a Mesa model of a
preset with levers, for stepping in Python), `serve`, `server` and `guard` (starting the server offline
and guarding it).
"""
