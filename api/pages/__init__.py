"""The dashboard: server-rendered pages over the same tools calls as the REST routes.

Every page works without JavaScript (forms post and redirect); htmx swaps rows in place and
console.js streams wave progress when scripts run. Filters live in the URL query string.
"""
