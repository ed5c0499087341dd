"""The classroom: a live SolaraViz page (`sim app`) where a teacher picks a preset scenario, moves a
few levers named in plain words, and plays the story quarter by quarter.

Modules, top-down: `presets` (which scenarios to offer and the question each asks), `levers` (lever
positions -> `--set` overrides of the chosen scenario), `classroom` (the Mesa model the page drives,
one per browser session), `views` (curves, world view, event feed), `page` (the SolaraViz page),
`serve` (starting the server with the browser files installed locally).
"""
