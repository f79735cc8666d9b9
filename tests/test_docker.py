"""
Dockerfile and docker-compose.yaml, checked as far as a machine without a Docker engine allows:
the compose file parses and says what it must, every file they name exists, and the Dockerfile's
steps, run as a shell script in a scratch venv, build a service that reports to Sentry with the
release from the manifest they write.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from asab_sentry.demo.bugsink import PROJECT_KEY, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dockerfile():
	"""(instruction, argument) pairs of the Dockerfile, continuation lines joined."""
	with open(os.path.join(ROOT, "Dockerfile")) as f:
		text = re.sub(r"\\\n", " ", f.read())
	result = []
	for line in text.splitlines():
		line = line.strip()
		if line and not line.startswith("#"):
			instruction, _, argument = line.partition(" ")
			result.append((instruction.upper(), argument.strip()))
	return result


class TestComposeFile(object):
	"""docker-compose.yaml runs the example service next to the official Bugsink image."""

	def test_compose(self):
		with open(os.path.join(ROOT, "docker-compose.yaml")) as f:
			compose = yaml.safe_load(f)
		services = compose["services"]
		bugsink = services["bugsink"]
		assert bugsink["image"].startswith("bugsink/bugsink")
		env = bugsink["environment"]
		assert env["PHONEHOME"] == "false"
		assert re.fullmatch(r"\$\{BUGSINK_SUPERUSER:-\w+:\w+\}", env["CREATE_SUPERUSER"])
		assert len(env["SECRET_KEY"].split(":-", 1)[1].rstrip("}")) >= 50
		assert "bugsink-data:/data" in bugsink["volumes"] and "bugsink-data" in compose["volumes"]
		project = services["bugsink-project"]
		assert PROJECT_KEY in project["command"][-1]
		app = services["app"]
		assert os.path.isfile(os.path.join(ROOT, app["build"]["context"], app["build"]["dockerfile"]))
		assert app["environment"]["SENTRY_DSN"] == "${{SENTRY_DSN:-http://{}@bugsink:8000/1}}".format(PROJECT_KEY)
		for service in services.values():
			for port in service.get("ports", []):
				assert port.startswith("127.0.0.1:"), "published only on the host's loopback"


class TestDockerfile(object):
	"""The Dockerfile's files exist, and its steps build a working service."""

	def test_copied_files_exist(self):
		copies = [arg.split()[:-1] for instruction, arg in _dockerfile() if instruction == "COPY"]
		assert copies
		for sources in copies:
			for source in sources:
				assert os.path.exists(os.path.join(ROOT, source)), source

	def test_slim_base_and_non_root(self):
		steps = _dockerfile()
		assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
		users = [arg for instruction, arg in steps if instruction == "USER"]
		assert users and users[-1] not in ("root", "0")

	def test_steps_build_a_service_that_reports(self, recorder, tmp_path):
		"""RUN steps as a shell script in a scratch venv (user creation, which needs root, left out)."""
		workdir = str(tmp_path / "app")
		os.makedirs(workdir)
		venv = str(tmp_path / "venv")
		subprocess.run([sys.executable, "-m", "venv", venv], check=True)
		env = {"PATH": os.path.join(venv, "bin") + os.pathsep + os.environ["PATH"], "HOME": str(tmp_path)}
		cmd = None
		for instruction, arg in _dockerfile():
			if instruction == "ARG":
				name, _, default = arg.partition("=")
				env[name] = default
			elif instruction == "ENV":
				for pair in shlex.split(arg):
					name, _, value = pair.partition("=")
					env[name] = value
			elif instruction == "COPY":
				*sources, dest = arg.split()
				for source in sources:
					target = os.path.join(workdir, dest, os.path.basename(source)) if dest.endswith("/") else os.path.join(workdir, dest)
					if os.path.isdir(os.path.join(ROOT, source)):
						shutil.copytree(os.path.join(ROOT, source), target, ignore=shutil.ignore_patterns("__pycache__"))
					else:
						shutil.copy(os.path.join(ROOT, source), target)
			elif instruction == "RUN" and not arg.startswith("useradd"):
				run = subprocess.run(["sh", "-c", arg], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
				assert run.returncode == 0, (arg, run.stdout[-2000:], run.stderr[-2000:])
			elif instruction == "CMD":
				cmd = [c.replace("/app/", workdir + "/") for c in yaml.safe_load(arg)]

		# the container listens on 0.0.0.0:8080; here the service is kept on 127.0.0.1
		port = free_port()
		conf = os.path.join(workdir, "demo.conf")
		with open(conf) as f:
			text = f.read()
		with open(conf, "w") as f:
			f.write(text.replace("listen=0.0.0.0 8080", "listen=127.0.0.1 {}".format(port)))

		proc = subprocess.Popen(cmd, cwd=workdir, env=dict(env, SENTRY_DSN=recorder.dsn), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
		try:
			deadline = time.monotonic() + 30
			status = None
			while time.monotonic() < deadline and status is None:
				try:
					urllib.request.urlopen("http://127.0.0.1:{}/fail".format(port), timeout=5)
				except urllib.error.HTTPError as e:
					status = e.code
				except OSError:
					time.sleep(0.1)
			assert status == 500
			event = recorder.wait_for(1)[0]
			assert event["exception"]["values"][-1]["value"] == "Demo failure in /fail"
			assert event["release"] == "DemoApplication@0.1.0"
			assert event["environment"] == "docker"
		finally:
			proc.terminate()
			proc.communicate(timeout=30)
