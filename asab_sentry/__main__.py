"""
Command line of asab-sentry: `python -m asab_sentry COMMAND`.

Commands:
	demo	Run the example ASAB service against a real Sentry-compatible server and show what it stored.
	check	Verify a service's Sentry set-up: `check -c CONFIG` prints the settings and problems,
		sends one test event and shows the server's answer (exit 0 only when it was accepted).
"""

import sys


def main(argv=None) -> int:
	"""Dispatch to a command; returns the exit code."""
	argv = list(sys.argv[1:] if argv is None else argv)
	if not argv or argv[0] in ("-h", "--help"):
		print(__doc__.strip())
		return 0 if argv else 2
	command, rest = argv[0], argv[1:]
	if command == "demo":
		from .demo import main as demo
		return demo(rest)
	if command == "check":
		from .check import main as check
		return check(rest)
	print("asab-sentry: unknown command {!r}; try 'python -m asab_sentry --help'".format(command), file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main())
