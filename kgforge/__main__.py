from kgforge.cli import run

run()
