"""``python -m moodline.cli``: what the server uses to start ``moodline retrain`` in its own process."""

from moodline.cli import main

main()
