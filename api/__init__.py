"""The REST API and web dashboard: a front door over ``tools`` like the MCP servers.

Routes validate their arguments, call the same ``tools`` functions the CLI and the MCP servers
call, and return the capability's contract model. The app is assembled in :mod:`api.main`.
"""
