import sys

from bot.cli import main

# Guarded: the chart worker's process start-up imports the main module again.
if __name__ == "__main__":
    sys.exit(main())
