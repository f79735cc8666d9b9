"""`python -m asab_sentry`, in-process: help, exit codes and the unknown-command line (the demo itself runs in test_demo.py)."""

import pytest

from asab_sentry import __main__ as cli


class TestCommandLine(object):
	"""The dispatcher prints its help or one line about an unknown command, with the exit code."""

	@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["-h"], 0), ([], 2)])
	def test_help(self, capsys, argv, code):
		assert cli.main(argv) == code
		out = capsys.readouterr().out
		assert out.startswith("Command line of asab-sentry: `python -m asab_sentry COMMAND`.")
		assert "demo\tRun the example ASAB service" in out

	def test_unknown_command_is_one_line_on_stderr(self, capsys):
		assert cli.main(["nope", "x"]) == 2
		captured = capsys.readouterr()
		assert captured.out == ""
		assert captured.err == "asab-sentry: unknown command 'nope'; try 'python -m asab_sentry --help'\n"

	def test_demo_gets_the_rest_of_the_arguments(self, monkeypatch):
		import asab_sentry.demo
		seen = []
		monkeypatch.setattr(asab_sentry.demo, "main", lambda rest: seen.append(rest) or 7)
		assert cli.main(["demo", "--once", "--x"]) == 7
		assert seen == [["--once", "--x"]]

	def test_arguments_default_to_sys_argv(self, monkeypatch, capsys):
		monkeypatch.setattr("sys.argv", ["asab_sentry", "--help"])
		assert cli.main() == 0
