"""What mmsquad's tools share and its tests use: config set-up for the
training and test tools, experiment grids, benchmark timing, single-task
references, the trivial baseline, the demo-data renderers and the plain
per-expert SquadNet. Not part of the installed package: the tools put
``tools/`` on ``sys.path`` to import it (``from toolkit import ...``)."""
