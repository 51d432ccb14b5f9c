"""Stands in for the ``rfc3987-syntax`` package in the processes of ``./cours test``
only: the test command puts this folder first on their ``PYTHONPATH``.

``jsonschema`` imports ``rfc3987_syntax`` to check the ``iri`` format, and that package
builds 38 Lark parsers when it is imported: 1.7 s of CPU in each process that imports
``nbformat`` (pytest and its workers, JupyterLab, nbconvert, Quarto's Python, about
fifteen a run). No schema of ``nbformat`` or Jupyter uses that format (jsonschema#1428,
jupyter_server#1559). An ``ImportError`` is what ``jsonschema`` expects when the package
is absent: it then leaves that one format unchecked. Learners' environments keep the
package.
"""

raise ImportError(
    "rfc3987_syntax est écarté dans les processus de ./cours test "
    "(voir tests/sans_iri/rfc3987_syntax.py)"
)
