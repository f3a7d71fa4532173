"""A quarter's summary without Dagster: what became of each firm and batch (``quarter``), and its picture
(``chart``). The ``quarter_topic_summary`` asset (``assets/summary.py``) shows both."""
