"""Themes: a quarter's firm topics clustered into themes whose ids hold across quarters, and the
firm x quarter x theme exposure panel. Pure code (numpy, scipy, pandas), no Dagster: the assets in
``ftm_assets.assets.themes`` call ``store.resolve``; ``readers`` reads the outputs back.

Modules: ``params`` (settings), ``cluster`` (anchored clustering), ``keywords`` (c-TF-IDF labels),
``registry`` (ids, anchors, births/deaths/splits), ``quarter`` (one quarter's themes), ``exposure`` (the
panel), ``chain`` (quarters in calendar order), ``store`` (storage root), ``quality`` (figures), ``plots``.
"""
