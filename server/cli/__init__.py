"""The server's `jitc` commands: administration and auditing on the server host, and the
clients that talk to a server (upload, download, export). `jitc.commands` imports each
module only when one of its commands runs."""
