"""The book machinery: :mod:`~wordot.book.runner` executes the chapters with papermill into
``book/chapters`` and records a manifest; :mod:`~wordot.book.sphinx_ext` serves MathJax locally
so the rendered book shows math offline."""
