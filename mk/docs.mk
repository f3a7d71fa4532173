# Docs that cannot drift: `make docs` rewrites the generated blocks of README.md and docs/*.md
# (<!-- generated:NAME --> … <!-- /generated -->) from the recorded results under benchmarks/ (latest.json,
# RESULTS.md, themes_latest.json, demo_output.json). Run it after a benchmark; `make test` fails until you do.
# `make docs-demo` re-captures the README's sample of `make demo` (a fresh instance and storage root in /tmp).
.PHONY: docs docs-demo

docs: install
	$(PY) -m benchmarks.docs_numbers

docs-demo: install
	$(PY) -m benchmarks.demo_capture
	$(PY) -m benchmarks.docs_numbers
