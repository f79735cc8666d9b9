"""
Scrubbing cost per event: asab-sentry's `Scrubber` against sentry-sdk's own `EventScrubber`, on the
same events.

Two measurements, rounds interleaved, medians kept (these machines are noisy):

- scrub only: microseconds to scrub one event (each scrubber gets its own fresh copy of the same
serialised event; copying is not timed). The SDK's scrubber both as sentry-sdk's default
(`recursive=False`) and as asab-sentry used it before (`recursive=True`).
- whole capture: microseconds per `capture_message` + transaction through the in-process app
(`asab_sentry.testing.sentry_app`, MemoryTransport), with asab-sentry's hooks, with the hooks
replaced by the SDK's `EventScrubber(recursive=True)`, and with no scrubbing at all.

Times are CPU time of this process (`time.process_time`), so other load on the machine counts less.

Each scrubber's result is checked too: how many of the credentials and addresses planted in the
event are still in it afterwards.

The events: an error event with a request (headers, query string, JSON body), `struct_data`, user,
contexts, 100 breadcrumbs with data and a 20-frame stack trace with local variables; and a
transaction with 50 spans with data.

Usage: python benchmarks/scrubbing.py [--quick] [rounds]
"""

import copy
import json
import statistics
import sys
import time

import sentry_sdk
import sentry_sdk.scrubber

from asab_sentry.scrubbing import Scrubber


def error_event() -> dict:
	frames = [{
		"filename": "app/module{}.py".format(i), "function": "handler{}".format(i), "lineno": 10 + i, "in_app": True,
		"pre_context": ["\tx = {}".format(i)] * 5, "context_line": "\treturn work(request)", "post_context": ["\tpass"] * 5,
		"vars": {"self": "<app.Handler object>", "request": "<Request POST /login>", "i": str(i), "password": "'frame-pw-1'", "items": ["1", "2"]},
	} for i in range(20)]
	crumbs = [{
		"type": "default", "category": "app.orders", "level": "info", "timestamp": "2026-12-02T00:00:{:02d}Z".format(i % 60),
		"message": "order {} processed".format(i), "data": {"struct_data": {"order_id": i, "carrier": "owl-post", "token": "crumb-tok-1"}},
	} for i in range(100)]
	return {
		"event_id": "a" * 32, "timestamp": "2026-12-02T00:00:00Z", "level": "error", "platform": "python",
		"logger": "app", "server_name": "host-1", "release": "App@1.0.0", "environment": "production",
		"logentry": {"message": "Exception when handling web request", "params": []},
		"exception": {"values": [{"type": "RuntimeError", "value": "handler failed", "stacktrace": {"frames": frames}}]},
		"tags": {"appclass": "App", "service_id": "svc", "instance_id": "svc-1", "node_id": "n", "site_id": "s"},
		"user": {"id": "42", "email": "u@example.org"},
		"contexts": {
			"trace": {"trace_id": "b" * 32, "span_id": "c" * 16, "op": "http.server"},
			"runtime": {"name": "CPython", "version": "3.11.7"},
			"tenant": {"name": "hogwarts", "plan": "gold"},
		},
		"extra": {"struct_data": {"uuid": "d" * 32, "path": "/login", "status": 500, "X-Api-Key": "sd-key-1", "X-Forwarded-For": "203.0.113.2", "User-Agent": "curl/8"}},
		"request": {
			"method": "POST", "url": "http://svc.example/login", "query_string": "next=%2Fhome&token=q-tok-1&page=2",
			"headers": {
				"Host": "svc.example", "User-Agent": "curl/8", "Accept": "*/*", "Content-Type": "application/json",
				"Content-Length": "64", "Authorization": "Bearer hdr-bearer-1", "Cookie": "session=hdr-cookie-1", "X-Forwarded-For": "203.0.113.1",
				"X-Request-Id": "r-1", "Accept-Encoding": "gzip",
			},
			"data": {"user": "joe", "password": "body-pw-1", "profile": {"name": "Joe", "newPassword": "body-pw-2", "tags": ["a", "b"]}},
			"env": {"REMOTE_ADDR": "203.0.113.1"},
		},
		"breadcrumbs": {"values": crumbs},
		"modules": {"pkg{}".format(i): "1.0" for i in range(50)},
		"sdk": {"name": "sentry.python", "version": "2.75.0"},
	}


def transaction_event() -> dict:
	spans = [{
		"trace_id": "b" * 32, "span_id": "{:016x}".format(i), "parent_span_id": "c" * 16, "op": "db.query",
		"description": "SELECT * FROM orders WHERE id = %s", "start_timestamp": "2026-12-02T00:00:00Z",
		"timestamp": "2026-12-02T00:00:01Z", "status": "ok",
		"data": {"db.system": "postgresql", "thread.id": "1", "thread.name": "MainThread", "url": "https://api.example/v1?api_key=span-key-1&page=2"},
	} for i in range(50)]
	event = error_event()
	for key in ("exception", "logentry", "breadcrumbs", "extra"):
		del event[key]
	event.update(type="transaction", transaction="POST /login", spans=spans, start_timestamp="2026-12-02T00:00:00Z")
	return event


#: The credentials and addresses planted in the events above.
SECRETS = (
	"frame-pw-1", "crumb-tok-1", "sd-key-1", "203.0.113.", "q-tok-1", "hdr-bearer-1", "hdr-cookie-1", "body-pw-1",
	"body-pw-2", "span-key-1",
)


def left_in_clear(scrub, event) -> int:
	"""How many of the planted secrets are still in the event after `scrub`."""
	event = json.loads(json.dumps(event))
	scrub(event)
	text = json.dumps(event, default=repr)
	return sum(text.count(secret) for secret in SECRETS)


def _median_us(fn, events, rounds):
	results = []
	for _ in range(rounds):
		copies = [copy.deepcopy(e) for e in events]
		started = time.process_time()
		for e in copies:
			fn(e)
		results.append((time.process_time() - started) / len(copies) * 1e6)
	return statistics.median(results)


def scrub_only(rounds: int, per_round: int) -> dict:
	ours = Scrubber()
	sdk = sentry_sdk.scrubber.EventScrubber(recursive=False)
	sdk_recursive = sentry_sdk.scrubber.EventScrubber(recursive=True)
	table = {}
	for name, event in (("error event", error_event()), ("transaction, 50 spans", transaction_event())):
		events = [json.loads(json.dumps(event)) for _ in range(per_round)]
		columns = {"asab-sentry Scrubber": [], "SDK EventScrubber": [], "SDK EventScrubber(recursive=True)": []}
		for _ in range(rounds):  # interleaved
			columns["asab-sentry Scrubber"].append(_median_us(ours.scrub_event, events, 1))
			columns["SDK EventScrubber"].append(_median_us(sdk.scrub_event, events, 1))
			columns["SDK EventScrubber(recursive=True)"].append(_median_us(sdk_recursive.scrub_event, events, 1))
		table[name] = {k: statistics.median(v) for k, v in columns.items()}
		table[name + ": secrets left in clear"] = {
			"asab-sentry Scrubber": left_in_clear(ours.scrub_event, event),
			"SDK EventScrubber": left_in_clear(sdk.scrub_event, event),
			"SDK EventScrubber(recursive=True)": left_in_clear(sdk_recursive.scrub_event, event),
		}
	return table


def whole_capture(rounds: int, per_round: int) -> dict:
	from asab_sentry.testing import sentry_app
	from asab_sentry import uncaught
	from asab_sentry.scrubbing import DisabledEventScrubber

	event = error_event()
	with sentry_app({"sentry": {"traces_sample_rate": "1"}}) as s:
		options = sentry_sdk.get_client().options
		ours = (options["before_send"], options["before_send_transaction"], options["event_scrubber"])
		sdk = (lambda e, h: uncaught.dedupe(e, h), None, sentry_sdk.scrubber.EventScrubber(recursive=True))
		nothing = (lambda e, h: uncaught.dedupe(e, h), None, DisabledEventScrubber())

		def capture():
			with sentry_sdk.isolation_scope() as scope:
				for crumb in event["breadcrumbs"]["values"]:
					scope.add_breadcrumb(crumb)
				scope.set_context("tenant", event["contexts"]["tenant"])
				scope.set_user(event["user"])
				scope.add_event_processor(lambda e, h: dict(e, request=copy.deepcopy(event["request"])))
				s.Service.capture_message("failed", extras=event["extra"])
				with s.Service.transaction("http.server", "POST /login"):
					for _ in range(20):
						with s.Service.span("db.query", "SELECT 1") as span:
							span.set_data("url", "https://api.example/v1?page=2")
			s.Transport.Envelopes.clear()

		setups = [("asab-sentry hooks", ours), ("SDK EventScrubber(recursive=True)", sdk), ("no scrubbing", nothing)]
		columns: dict = {name: [] for name, _ in setups}
		capture()  # warm up
		for i in range(rounds):
			for name, hooks in (setups if i % 2 == 0 else setups[::-1]):  # interleaved, alternating order
				options["before_send"], options["before_send_transaction"], options["event_scrubber"] = hooks
				started = time.process_time()
				for _ in range(per_round):
					capture()
				columns[name].append((time.process_time() - started) / per_round * 1e6)
		options["before_send"], options["before_send_transaction"], options["event_scrubber"] = ours
	return {"capture_message (100 breadcrumbs) + transaction (20 spans)": {k: statistics.median(v) for k, v in columns.items()}}


def _print(title: str, table: dict) -> None:
	columns = list(next(iter(table.values())))
	print("\n{} (us, median)\n".format(title))
	print("| | " + " | ".join(columns) + " |")
	print("|---" * (len(columns) + 1) + "|")
	for row, values in table.items():
		print("| {} | {} |".format(row, " | ".join(("{:,.1f}" if isinstance(values[c], float) else "{}").format(values[c]) for c in columns)))


def main(argv) -> dict:
	quick = "--quick" in argv
	numbers = [int(a) for a in argv if a.isdigit()]
	rounds = numbers[0] if numbers else (3 if quick else 9)
	scrub = scrub_only(rounds, 20 if quick else 200)
	_print("Scrubbing one event", scrub)
	capture = whole_capture(rounds, 5 if quick else 30)
	_print("Capturing (scrubbing included)", capture)
	return {"scrub": scrub, "capture": capture}


if __name__ == "__main__":
	main(sys.argv[1:])
