"""Client: apicalls, the API's client (standard library and requests only; light).

May import: core.
"""
