"""The S3 key rule of a Batch attempt's Pipes messages, shared by the worker and the launcher."""

from ftm_assets.pipes_keys import attempt_key_prefix, parse_attempt_segment


def test_attempt_prefix_round_trips():
    prefix = attempt_key_prefix("pipes/messages/x/", 2)
    assert prefix == "pipes/messages/x/attempt-2"
    assert parse_attempt_segment(prefix.rsplit("/", 1)[1]) == 2
    assert parse_attempt_segment("attempt-12") == 12


def test_other_segments_are_not_attempts():
    assert [parse_attempt_segment(s) for s in ("context", "attempt-", "attempt-x", "attempts-1")] == [None] * 4
