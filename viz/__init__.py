"""The workshop app: a Solara visual of one LA (with Mesa's parameter inputs), runnable offline.

    make viz            # or: cpabm viz [--port 8765] [--host 127.0.0.1]

``viz.workshop`` wraps the model for the app (levers, the twin run for the side-by-side
view, the followed family); ``viz.figures`` draws each view from a model, with no Solara;
``viz.components`` and ``viz.app`` are the Solara page; ``viz.offline_assets`` fills Solara's
CDN cache from npm so the page needs no internet. See docs/app.md.
"""
