"""The ``bean-ponto`` command line: argument parsing and output, over the library.

:mod:`~beancount_ponto.cli.main` holds the parser and the one-shot commands
(:mod:`~beancount_ponto.cli.accounts` those about the integration and its
links, :mod:`~beancount_ponto.cli.common` their output and client),
:mod:`~beancount_ponto.cli.run` the ``run`` command (logging, signals) over
:class:`beancount_ponto.runner.Runner`, :mod:`~beancount_ponto.cli.demo` the demo.
"""
