"""Runbook step 2: the cache entries of the chosen transaction.

- `footers`: T, object count and bytes of each dataset, read from its Parquet footers.
- `import_csv`: the same entries taken from a CSV made by hand (the manual runbook's notebook).
"""
