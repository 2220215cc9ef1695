"""Access: who may see and change what. Users and their roles (passwords hashed with
argon2), service tokens and their scopes (stored as SHA-256), which role or scope each kind
of request needs, where the server may listen without an admin (binding), the
`users`/`tokens` commands of app.py, and the worklist's rule (who is left off the call
list, who owns each open call).

May import: core, store.
"""
