"""logcache: refresh the log cache of a Datomic-on-object-store ETL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("logcache")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+local"
