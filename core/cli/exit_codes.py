"""The exit codes of every ``kenning`` command (documented in docs/cli.md)."""

OK = 0
#: Something in the environment or a file stopped the command; the message says what.
ERROR = 1
#: The command line itself was wrong (an unknown folder, a bad option, no display for a window).
USAGE = 2
#: ``kenning service status``: the background service is not running.
NOT_RUNNING = 3
#: Stopped by Ctrl+C (128 + SIGINT, as shells report it); work done so far is kept.
INTERRUPTED = 130
