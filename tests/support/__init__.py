"""What several tests share: servers on loopback, the hooks' scripts, the demo's reference oracle."""
