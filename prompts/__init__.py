"""Prompt templates (``*.md``) shared by the journeys and the MCP servers.

A package only so that the wheel ships the templates beside ``servers/`` (servers/prompts.py
reads them from this folder); it holds no code.
"""
