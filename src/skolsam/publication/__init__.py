"""Report sign-off and publication: drafts, an analyst's decision, published reports kept per term.

``store`` (where drafts and publications live, any fsspec location), ``provenance`` (build id, gate status
and headline of a term, from the audit trail), ``signoff`` (what the report DAG's tasks do) and
``announce`` (telling the recipients). Importing this package is light: no database driver, no fsspec,
until a function runs.
"""
