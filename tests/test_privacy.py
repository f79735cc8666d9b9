"""
Privacy, in-process: every rule of the one scrubbing policy, checked on what the MemoryTransport
received (the wire form of the envelopes, after sentry-sdk's serialisation and asab-sentry's hooks).
"""

import json
import logging

import pytest
import sentry_sdk

L = logging.getLogger("privacy.test")

FILTERED = "[Filtered]"


def _with_request(request: dict):
	"""Put `request` on every event of the current isolation scope, as a web instrumentation does."""
	def processor(event, hint):
		event["request"] = json.loads(json.dumps(request))
		return event
	sentry_sdk.get_isolation_scope().add_event_processor(processor)


def _sent(s) -> str:
	return json.dumps(s.items())


class TestKeys(object):
	"""Keys are matched case-insensitively and by parts; the key stays, its value becomes [Filtered]."""

	@pytest.mark.parametrize("key", [
		"password", "PASSWORD", "newPassword", "new_password", "X-Access-Token", "client_secret", "db_passwd",
		"access_token", "api_key", "apiKey", "APIKey", "x-api-key", "X-Auth-Token", "auth", "Authorization",
		"Proxy-Authorization", "credentials", "session", "sessionId", "PHPSESSID", "cookie", "Set-Cookie",
		"csrftoken", "private_key", "mysql_pwd", "db.pass", "jwt",
	])
	def test_secret_key_is_filtered_at_any_depth(self, sentry_app, key):
		s = sentry_app()
		s.Service.capture_message("m", extras={"top": {key: "v1"}, "deep": {"a": [{"b": {key: {"nested": "v2"}}}]}})
		event, = s.events()
		assert event["extra"]["top"] == {key: FILTERED}
		assert event["extra"]["deep"] == {"a": [{"b": {key: FILTERED}}]}

	@pytest.mark.parametrize("key", ["author", "authority", "passed", "user", "name", "url", "description", "X-Forwarded-Proto", "sessions_total_x"])
	def test_other_keys_are_kept(self, sentry_app, key):
		s = sentry_app()
		s.Service.capture_message("m", extras={"top": {key: "kept value"}})
		if key == "sessions_total_x":  # a whole part `sessions`: the plural of a part word matches too
			assert s.events()[0]["extra"]["top"] == {key: FILTERED}
		else:
			assert s.events()[0]["extra"]["top"] == {key: "kept value"}

	def test_scrub_fields_adds_keys_by_parts(self, sentry_app):
		s = sentry_app({"sentry": {"scrub_fields": "internal_id, pin"}})
		s.Service.capture_message("m", extras={"d": {"X-Internal-Id": "1", "internalId": "2", "pin": "3", "spinner": "4"}})
		assert s.events()[0]["extra"]["d"] == {"X-Internal-Id": FILTERED, "internalId": FILTERED, "pin": FILTERED, "spinner": "4"}

	def test_scrub_allow_exempts_whole_names(self, sentry_app):
		s = sentry_app(environ={"SENTRY_SCRUB_ALLOW": "token_count"})
		s.Service.capture_message("m", extras={"d": {"token_count": 5, "tokenCount": 6, "token": "x", "token_count_secret": "y"}})
		assert s.events()[0]["extra"]["d"] == {"token_count": 5, "tokenCount": 6, "token": FILTERED, "token_count_secret": FILTERED}

	@pytest.mark.parametrize("key, value", [("scrub_fields", "pass word!"), ("scrub_allow", "***"), ("max_request_body_size", "huge")])
	def test_bad_value_is_one_line(self, sentry_app, key, value):
		with pytest.raises(SystemExit) as e:
			sentry_app({"sentry": {key: value}})
		message = str(e.value)
		assert "\n" not in message and message.startswith("asab-sentry: [sentry] {} = '{}' is invalid; expected".format(key, value))


class TestStrings(object):
	"""Inside strings: URL userinfo, `key=value` and `"key": value` pairs with a secret key."""

	def test_message_exception_and_url_values(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("login failed password=hunter2 user=joe")
		try:
			raise ValueError("GET https://bob:pw-in-url@api.example/x?api_key=k-in-query&page=2 failed")
		except ValueError as e:
			s.Service.capture_exception(e)
		message, exception = s.events()
		assert message["message"] == "login failed password=[Filtered] user=joe"
		assert exception["exception"]["values"][-1]["value"] == "GET https://[Filtered]@api.example/x?api_key=[Filtered]&page=2 failed"

	def test_json_text_and_dict_repr(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("m", extras={"raw": '{"client_secret": "cs-1", "n": 1}', "repr": "{'token': 'tk-1', 'n': 2}"})
		extra = s.events()[0]["extra"]
		assert extra["raw"] == '{"client_secret": "[Filtered]", "n": 1}'
		assert extra["repr"] == "{'token': '[Filtered]', 'n': 2}"

	def test_pair_inside_a_kept_value_is_seen(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("m", extras={"next": "next=https://h/cb?token=tk-2&z=1"})
		assert s.events()[0]["extra"]["next"] == "next=https://h/cb?token=[Filtered]&z=1"


class TestEverywhere(object):
	"""The same policy on every part of what is sent."""

	def test_scope_data_and_struct_data(self, sentry_app):
		s = sentry_app()
		s.Service.set_context("db", {"host": "h", "db_password": "c-pw"})
		s.Service.set_tag("auth_method", "t-secret")
		s.Service.set_tag("region", "eu")
		s.Service.set_user({"id": "42", "email": "u@example.org", "ip_address": "10.1.2.3", "password": "u-pw"})
		s.Service.add_breadcrumb(category="c", message="crumb token=b-msg", data={"api_key": "b-data", "n": 1})
		L.error("failed", struct_data={"X-Api-Key": "sd-key", "X-Forwarded-For": "203.0.113.7", "order": 42})
		event, = s.events()
		assert event["contexts"]["db"] == {"host": "h", "db_password": FILTERED}
		assert event["tags"]["auth_method"] == FILTERED and event["tags"]["region"] == "eu"
		# set_user data is sent as given, its address included; a secret in it is still filtered
		assert event["user"] == {"id": "42", "email": "u@example.org", "ip_address": "10.1.2.3", "password": FILTERED}
		crumb = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "c"][0]
		assert crumb["message"] == "crumb token=[Filtered]" and crumb["data"] == {"api_key": FILTERED, "n": 1}
		assert event["extra"]["struct_data"] == {"X-Api-Key": FILTERED, "X-Forwarded-For": FILTERED, "order": 42}
		for secret in ("c-pw", "t-secret", "u-pw", "b-msg", "b-data", "sd-key", "203.0.113.7"):
			assert secret not in _sent(s)

	def test_frame_variables(self, sentry_app):
		s = sentry_app()

		def fail(password, amount):
			raise RuntimeError("no")

		try:
			fail("fv-pw", 3)
		except RuntimeError as e:
			s.Service.capture_exception(e)
		frames = s.events()[0]["exception"]["values"][-1]["stacktrace"]["frames"]
		assert frames[-1]["vars"] == {"password": FILTERED, "amount": "3"}

	def test_transactions_and_spans(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1"}})
		_with_request({
			"url": "http://svc/login", "query_string": "password=q-pw&a=1", "method": "POST",
			"headers": {"X-Auth-Token": "hdr-tok-1"}, "data": {"password": "body-pw"},
		})
		with s.Service.transaction("http.server", "POST /login") as t:
			t.set_data("token", "t-data")
			with s.Service.span("http.client", "GET https://api.example/v1?api_key=span-key") as span:
				span.set_data("url", "https://user:span-pw@api.example/v1")
				span.set_data("http.query", "api_key=span-key2&page=1")
		transaction, = s.transactions()
		request = transaction["request"]
		assert request["query_string"] == "password=[Filtered]&a=1"
		assert request["headers"] == {"X-Auth-Token": FILTERED}
		assert "data" not in request  # no body on transactions unless transaction_request_bodies
		span, = transaction["spans"]
		assert span["description"] == "GET https://api.example/v1?api_key=[Filtered]"
		assert span["data"]["url"] == "https://[Filtered]@api.example/v1"
		assert span["data"]["http.query"] == "api_key=[Filtered]&page=1"
		assert transaction["contexts"]["trace"]["data"]["token"] == FILTERED
		for secret in ("q-pw", "hdr-tok-1", "body-pw", "t-data", "span-key", "span-pw"):
			assert secret not in _sent(s)

	def test_transaction_request_bodies_on(self, sentry_app):
		s = sentry_app({"sentry": {"traces_sample_rate": "1", "transaction_request_bodies": "true"}})
		_with_request({
			"url": "http://svc/login", "method": "POST", "headers": {"Content-Type": "application/json"},
			"data": '{"password": "body-pw", "user": "joe"}',
		})
		with s.Service.transaction("http.server", "POST /login"):
			pass
		assert s.transactions()[0]["request"]["data"] == {"password": FILTERED, "user": "joe"}

	def test_outgoing_http_breadcrumb(self, sentry_app):
		s = sentry_app()
		s.Service.add_breadcrumb(type="http", category="httplib", data={
			"url": "https://api.example/v1/items", "http.method": "GET", "http.query": "api_key=bq-key&page=1",
			"http.fragment": "", "status_code": 200,
		})
		s.Service.add_breadcrumb(type="http", category="httplib", data={"url": "https://api.example/v1?access_token=bu-tok"})
		s.Service.capture_message("after")
		crumbs = [c["data"] for c in s.events()[0]["breadcrumbs"]["values"] if c.get("type") == "http"]
		assert crumbs[0]["http.query"] == "api_key=[Filtered]&page=1" and crumbs[0]["url"] == "https://api.example/v1/items"
		assert crumbs[1]["url"] == "https://api.example/v1?access_token=[Filtered]"


class TestRequest(object):
	"""The `request` interface: query string, URL, headers, cookies, address, body."""

	REQUEST = {
		"method": "POST",
		"url": "http://svc.example/login",
		"query_string": "next=%2Fhome&token=q-tok&api_key=q-key&page=2",
		"headers": {
			"Host": "svc.example", "x-auth-token": "hdr-tok-1", "X-Api-Key": "h-key", "Authorization": "Bearer h-bearer",
			"Cookie": "session=h-cookie", "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.10",
			"Forwarded": "for=203.0.113.11", "X-Forwarded-Proto": "https", "Referer": "https://svc.example/?password=h-ref",
			"Content-Type": "application/x-www-form-urlencoded",
		},
		"cookies": {"sid": "c-sid", "theme": "dark"},
		"data": "user=joe&password=b-pw",
		"env": {"REMOTE_ADDR": "203.0.113.12"},
	}

	def _capture(self, sentry_app, config=None, request=None):
		s = sentry_app({"sentry": config or {}})
		_with_request(request or self.REQUEST)
		s.Service.capture_message("m")
		return s, s.events()[0]["request"]

	def test_without_pii(self, sentry_app):
		s, request = self._capture(sentry_app)
		assert request["query_string"] == "next=%2Fhome&token=[Filtered]&api_key=[Filtered]&page=2"
		headers = request["headers"]
		for name in ("x-auth-token", "X-Api-Key", "Authorization", "Cookie", "X-Forwarded-For", "X-Real-IP", "Forwarded"):
			assert headers[name] == FILTERED, name
		assert headers["X-Forwarded-Proto"] == "https" and headers["Host"] == "svc.example"
		assert headers["Referer"] == "https://svc.example/?password=[Filtered]"
		assert request["cookies"] == FILTERED
		assert request["data"] == {"user": "joe", "password": FILTERED}
		assert request["env"] == {"REMOTE_ADDR": FILTERED}
		for secret in ("q-tok", "q-key", "hdr-tok-1", "h-key", "h-bearer", "h-cookie", "h-ref", "c-sid", "b-pw", "203.0.113."):
			assert secret not in _sent(s)

	def test_with_pii_the_address_is_kept_credentials_are_not(self, sentry_app):
		s, request = self._capture(sentry_app, {"send_default_pii": "true"})
		headers = request["headers"]
		assert headers["X-Forwarded-For"] == "203.0.113.9" and headers["X-Real-IP"] == "203.0.113.10"
		assert headers["Forwarded"] == "for=203.0.113.11"
		assert request["env"] == {"REMOTE_ADDR": "203.0.113.12"}
		for name in ("x-auth-token", "X-Api-Key", "Authorization", "Cookie"):
			assert headers[name] == FILTERED, name
		assert request["cookies"] == FILTERED  # cookies never

	def test_url_with_userinfo_and_query(self, sentry_app):
		s, request = self._capture(sentry_app, request={"url": "https://joe:u-pw@svc.example/x?secret=u-sec", "method": "GET"})
		assert request["url"] == "https://[Filtered]@svc.example/x?secret=[Filtered]"

	@pytest.mark.parametrize("size, body, kept", [
		("small", "a" * 900, True), ("small", "a" * 1100, False), ("medium", "a" * 8000, True),
		("medium", "a" * 11000, False), ("always", "a" * 8000, True), ("never", "a", False),
	])
	def test_body_size_limit(self, sentry_app, size, body, kept):
		s, request = self._capture(sentry_app, {"max_request_body_size": size}, request={
			"method": "POST", "url": "http://svc/x", "headers": {"Content-Type": "text/plain"}, "data": body})
		assert ("data" in request) == kept
		if kept:
			assert request["data"] == body

	@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "application/octet-stream", "image/png"])
	def test_binary_and_multipart_bodies_are_left_out(self, sentry_app, content_type):
		s, request = self._capture(sentry_app, {"max_request_body_size": "always"}, request={
			"method": "POST", "url": "http://svc/x", "headers": {"Content-Type": content_type}, "data": "file-content"})
		assert "data" not in request and "file-content" not in _sent(s)

	def test_json_body_text_is_parsed_and_scrubbed(self, sentry_app):
		s, request = self._capture(sentry_app, request={
			"method": "POST", "url": "http://svc/x", "headers": {"Content-Type": "application/json"},
			"data": '{"user": "joe", "newPassword": "j-pw", "profile": {"client_secret": "j-sec", "tags": ["a"]}}'})
		assert request["data"] == {"user": "joe", "newPassword": FILTERED, "profile": {"client_secret": FILTERED, "tags": ["a"]}}

	def test_unparseable_body_mentioning_a_secret_is_withheld(self, sentry_app):
		s, request = self._capture(sentry_app, request={
			"method": "POST", "url": "http://svc/x", "headers": {"Content-Type": "text/plain"}, "data": "my password is x-pw"})
		assert request["data"] == FILTERED


class TestRequestBodyAllowed(object):
	"""`request_body_allowed()`: what a web instrumentation may read."""

	@pytest.mark.parametrize("limit, size, content_type, transaction, allowed", [
		("medium", 500, "application/json", False, True),
		("medium", 500, "application/json; charset=utf-8", False, True),
		("medium", 500, "application/x-www-form-urlencoded", False, True),
		("medium", 500, "text/plain", False, True),
		("medium", 500, "application/vnd.api+json", False, True),
		("medium", 10000, "application/json", False, True),
		("medium", 10001, "application/json", False, False),
		("medium", -1, "application/json", False, False),
		("medium", 500, "multipart/form-data; boundary=x", False, False),
		("medium", 500, "application/octet-stream", False, False),
		("medium", 500, "", False, False),
		("medium", 500, "application/json", True, False),
		("small", 1000, "application/json", False, True),
		("small", 1001, "application/json", False, False),
		("never", 1, "application/json", False, False),
		("always", 10 ** 9, "application/json", False, True),
		("always", -1, "application/json", False, True),
		("always", 10 ** 9, "multipart/form-data", False, False),
	])
	def test_rules(self, limit, size, content_type, transaction, allowed):
		from asab_sentry.config import SentryConfig
		from asab_sentry.scrubbing import request_body_allowed
		config = SentryConfig(max_request_body_size=limit)
		assert request_body_allowed(size, content_type, config, transaction=transaction) is allowed

	def test_transactions_when_turned_on(self):
		from asab_sentry.config import SentryConfig
		from asab_sentry.scrubbing import request_body_allowed
		config = SentryConfig(transaction_request_bodies=True)
		assert request_body_allowed(100, "application/json", config, transaction=True) is True


class TestDsnMasked(object):
	"""The DSN key is never printed, whatever the DSN's form."""

	@pytest.mark.parametrize("dsn, masked", [
		("https://k3y@o1.ingest.sentry.io/42", "https://***@o1.ingest.sentry.io/42"),
		("https//k3y@host.example/42", "https//***@host.example/42"),
		("k3y@host.example/42", "***@host.example/42"),
		("https:/k3y@host.example/42", "***@host.example/42"),
		("https://k3y:pa55@host.example/42", "https://***@host.example/42"),
		("http://k3y@[::1]:9000/42", "http://***@[::1]:9000/42"),
		("https://k3y@host.example/42?timeout=5&email=a@b", "https://***@host.example/42?timeout=5&email=a@b"),
		("https://host.example/42?sentry_key=k3y&x=1", "https://host.example/42?sentry_key=***&x=1"),
		("https://host.example/42", "https://host.example/42"),
	])
	def test_mask_dsn(self, dsn, masked):
		from asab_sentry import mask_dsn
		assert mask_dsn(dsn) == masked

	@pytest.mark.parametrize("dsn", [
		"https//k3y@host.example/42", "k3y@host.example/42", "https://k3y:pa55@host.example:99999/42",
		"https://k3y@host.example/notaproject", "ftp://k3y@host.example/42", "https://k3y@[::1/42",
	])
	def test_config_error_has_no_key(self, sentry_app, dsn):
		with pytest.raises(SystemExit) as e:
			sentry_app({"sentry": {"data_source_name": dsn}})
		message = str(e.value)
		assert "data_source_name" in message and "is not a valid DSN" in message and "\n" not in message
		assert "k3y" not in message and "pa55" not in message

	def test_repr_log_lines_and_delivery_summary(self, sentry_app, caplog, capfd):
		"""With sentry-sdk's debug output on: the log records, the console, repr() and what is sent."""
		caplog.set_level(logging.DEBUG)
		# the service's own delivery transport: its summary is logged when it closes
		s = sentry_app({"sentry": {"data_source_name": "http://k3y0123456789:pa55@127.0.0.1:9/42", "debug": "true", "shutdown_timeout": "0"}}, transport=False)
		assert "k3y0123456789" not in repr(s.Service.Config) and "***" in repr(s.Service.Config)

		async def main(app):
			app.SentryService.capture_message("m")

		s.run(main)
		import sentry_sdk
		sentry_sdk.get_client().close(timeout=0)
		assert "Sentry delivery:" in caplog.text and "Sentry reports to http://***@127.0.0.1:9/42" in caplog.text
		assert "k3y0123456789" not in caplog.text and "pa55" not in caplog.text
		assert any(r.name == "sentry_sdk.errors" and r.levelno == logging.DEBUG for r in caplog.records)  # debug output was on
		out, err = capfd.readouterr()
		assert "k3y0123456789" not in out + err and "pa55" not in out + err

	def test_dsn_in_a_message_is_masked(self, sentry_app):
		s = sentry_app()
		s.Service.capture_message("cannot reach https://k3y0123@sentry.example/42")
		assert s.events()[0]["message"] == "cannot reach https://[Filtered]@sentry.example/42"


@pytest.mark.parametrize("dsn", ["https//s3cr3tk3y@host.example/42", "s3cr3tk3y@host.example/42", "https://s3cr3tk3y:pa55w0rd@[::1:99999/42"])
def test_malformed_dsn_at_start_is_one_line_without_the_key(run_app, dsn):
	"""The real start-up path: exit code 1, one line on stderr, the key shown as ***."""
	run = run_app("message", config="[sentry]\ndata_source_name={}\n".format(dsn))
	assert run.returncode == 1
	lines = [line for line in run.stderr.splitlines() if line.strip()]
	assert len(lines) == 1 and "data_source_name" in lines[0] and "***" in lines[0], run.stderr
	assert "s3cr3tk3y" not in run.stderr + run.stdout and "pa55w0rd" not in run.stderr + run.stdout
