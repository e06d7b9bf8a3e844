from logcache.cli import run

run()
