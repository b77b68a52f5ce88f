"""The live dashboard: one page, its static assets and the small JSON reads only it needs.

The page itself is plain HTML, CSS and JavaScript in ``static/`` (no build step, nothing
fetched from another origin); it reads the query API, ``/network`` and the alert stream of
the app that serves it.
"""
