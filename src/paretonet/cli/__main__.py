from paretonet.cli import run

run()
