"""``bordersim explore``: a page in the browser to replay the exodus under any rule set, against the archive.

Install with ``pip install 'bordersim[explore]'``. Modules: :mod:`.command` (the command and the
server), :mod:`.app` (the Solara page), :mod:`.session` (the page's model, stepped in a worker
thread), :mod:`.views` (what the page shows), :mod:`.figures` and :mod:`.map` (the figures),
:mod:`.bands` (background replicates: the calibrated baseline's band, paired comparisons),
:mod:`.settings` (scenario, timeline, levers), :mod:`.series` (reading the recorder and the
targets) and :mod:`._bordersim` (the only module importing the package's internals).
"""
