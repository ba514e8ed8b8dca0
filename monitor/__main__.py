"""``python -m monitor``: the ``cphpost-monitor`` command.

Guarded: a process pool's server process may import the main module, which must not run the
command again."""

from monitor.cli import main

if __name__ == "__main__":
    main()
